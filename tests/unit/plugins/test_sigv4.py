"""SigV4 signing (module_utils/_sigv4.py) against AWS's published test vectors."""

import hashlib

from ansible_collections.magasin.platform.plugins.module_utils import _sigv4 as v

# The AWS SigV4 test suite's credentials (docs.aws.amazon.com, "Signature Version 4 test suite").
ACCESS = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def test_get_vanilla():
    """aws-sig-v4-test-suite/get-vanilla: GET / on example.amazonaws.com, service 'service'."""
    headers = v.sign("GET", "https://example.amazonaws.com/", ACCESS, SECRET, "20150830T123600Z",
                     region="us-east-1", service="service")
    request, signed = v.canonical_request("GET", "/", "", {"Host": "example.amazonaws.com",
                                                           "X-Amz-Date": "20150830T123600Z"}, v.EMPTY_SHA256)
    assert request == ("GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
                       + v.EMPTY_SHA256)
    assert hashlib.sha256(request.encode()).hexdigest() == \
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")


def test_signing_key_of_the_iam_example():
    """The derived key of AWS's documented IAM example (20150830, us-east-1, iam)."""
    assert v.signing_key(SECRET, "20150830", "us-east-1", "iam").hex() == \
        "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_s3_signs_the_payload_hash_and_encodes_the_path_once():
    body = b"hello"
    headers = v.sign("PUT", "http://127.0.0.1:9000/magasin/smoke/a b.txt", "k", "s", "20261201T000000Z",
                     payload_hash=hashlib.sha256(body).hexdigest())
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date," in headers["Authorization"]
    request = v.canonical_request("PUT", "/magasin/smoke/a b.txt", "", {"host": "h"}, "x")[0]
    assert request.splitlines()[1] == "/magasin/smoke/a%20b.txt"
    assert v.canonical_query("b=2&a=1&c=") == "a=1&b=2&c="
