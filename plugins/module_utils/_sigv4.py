# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: AWS Signature Version 4 for S3 requests from Python's standard library.

Pure functions, unit-tested against AWS's published test vector (the get-vanilla case of the SigV4
test suite). Enough for the smoke test's PUT/GET/DELETE of one object and the S3 calls a module
makes, so the controller needs no boto3. Header values and query strings are signed as given; S3
paths are encoded once (S3 does not double-encode, unlike the other services).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key, date, region, service):
    """The derived key of one day, region and service."""
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def canonical_query(query):
    pairs = []
    for item in query.split("&") if query else []:
        name, _sep, value = item.partition("=")
        pairs.append((quote(name, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join("%s=%s" % pair for pair in sorted(pairs))


def canonical_request(method, path, query, headers, payload_hash):
    """(canonical request, signed header names) -- headers is {name: value}, names in any case."""
    lowered = dict((k.lower().strip(), " ".join(str(v).strip().split())) for k, v in headers.items())
    names = sorted(lowered)
    text = "\n".join([method.upper(), quote(path or "/", safe="/-_.~"), canonical_query(query),
                      "".join("%s:%s\n" % (n, lowered[n]) for n in names), ";".join(names), payload_hash])
    return text, ";".join(names)


def sign(method, url, access_key, secret_key, amz_date, region="us-east-1", service="s3", headers=None,
         payload_hash=None):
    """The headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256 (S3) and Authorization.

    amz_date: 'YYYYMMDDTHHMMSSZ' (UTC). payload_hash: hex SHA-256 of the body (EMPTY_SHA256 for none).
    """
    parts = urlsplit(url)
    out = dict(headers or {})
    out["host"] = parts.netloc
    out["x-amz-date"] = amz_date
    if service == "s3":
        out["x-amz-content-sha256"] = payload_hash or EMPTY_SHA256
    request, signed = canonical_request(method, parts.path, parts.query, out, payload_hash or EMPTY_SHA256)
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(request.encode("utf-8")).hexdigest()])
    signature = hmac.new(signing_key(secret_key, amz_date[:8], region, service), to_sign.encode("utf-8"),
                         hashlib.sha256).hexdigest()
    out["Authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ALGORITHM, access_key, scope, signed, signature)
    return out
