"""tls_certificates' manager with a fake run_command: what it reads, decides and writes, and that no private key
is in its result, diff or argv (they go to kubectl on stdin only)."""

import base64
import json

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _tls as T
from ansible_collections.magasin.platform.plugins.modules import tls_certificates
from fake_module import FailJson, FakeModule

PARAMS = {"realm": "tl", "ca": {"name": "magasin-tls-ca", "namespace": "tl-tenant"}, "ca_certificate": None,
          "ca_private_key": None, "namespaces": [], "labels": {"magasin.unicef.org/realm": "tl"},
          "ca_configmap": "magasin-tls-ca", "ca_file": None, "days": 365, "renew_days": 30,
          "certificates": [{"host": "bi.tl.example.org", "namespace": "tl-superset", "secret": "magasin-tls-superset",
                            "certificate": None, "private_key": None, "ca_certificate": None}]}


def answers(live, applied):
    def get(cmd, data):
        return 0, json.dumps({"kind": "List", "items": list(live)}), ""

    def apply(cmd, data):
        applied.append(json.loads(data))
        return 0, json.dumps({"kind": "List", "items": json.loads(data)["items"]}), ""
    return [(lambda c: c[1] == "get", get), (lambda c: c[1] == "apply", apply)]


def run(params, live=(), check_mode=False, diff=True):
    applied = []
    module = FakeModule(params, answers(live, applied), check_mode=check_mode, diff=diff)
    return tls_certificates.TlsManager(module).run(), applied, module


def objects(applied):
    return [o for batch in applied for o in batch["items"]]


def decoded(obj):
    return dict((k, base64.b64decode(v).decode()) for k, v in obj["data"].items())


def keys_in(text, objs):
    return [o["metadata"]["name"] for o in objs if o["kind"] == "Secret" and decoded(o)["tls.key"] in text]


def test_a_fresh_realm_gets_a_ca_and_a_certificate_and_a_second_run_keeps_them(tmp_path):
    params = dict(PARAMS, ca_file=str(tmp_path / "sub" / "ca.crt"))
    result, applied, module = run(params)
    written = objects(applied)
    assert [(o["kind"], o["metadata"]["name"]) for o in written] == [
        ("Secret", "magasin-tls-ca"), ("Secret", "magasin-tls-superset"), ("ConfigMap", "magasin-tls-ca")]
    assert result["changed"] and result["ca"]["action"] == "generated"
    assert [c["action"] for c in result["certificates"]] == ["issued"]
    ca = decoded(written[0])
    leaf = decoded(written[1])
    assert written[1]["type"] == "kubernetes.io/tls" and leaf["ca.crt"] == ca["tls.crt"] == result["ca_certificate"]
    assert T.verify_problem(leaf["tls.crt"], ca["tls.crt"], "bi.tl.example.org") is None
    assert (tmp_path / "sub" / "ca.crt").read_text() == ca["tls.crt"] and result["ca_file"] is True
    # No key in the result, the diff or any argv; only on stdin.
    text = json.dumps(result) + json.dumps(module.commands)
    assert keys_in(text, written) == [] and "PRIVATE KEY" not in text
    # Again, against what was written: nothing changes, nothing is applied.
    again, applied2, dummy = run(params, live=written)
    assert not again["changed"] and applied2 == [] and again["ca_file"] is False
    assert again["ca"]["action"] == "kept" and [c["action"] for c in again["certificates"]] == ["kept"]


def test_check_mode_writes_nothing(tmp_path):
    result, applied, dummy = run(dict(PARAMS, ca_file=str(tmp_path / "ca.crt")), check_mode=True)
    assert result["changed"] and applied == [] and not (tmp_path / "ca.crt").exists()
    assert "Secret tl-superset/magasin-tls-superset: issued" in result["diff"]["after"]


def test_a_new_host_is_issued_anew_under_the_same_ca():
    applied = run(PARAMS)[1]
    written = objects(applied)
    params = dict(PARAMS, certificates=[dict(PARAMS["certificates"][0], host="new.tl.example.org")])
    result, applied2, dummy = run(params, live=written)
    assert result["ca"]["action"] == "kept" and result["certificates"][0]["action"] == "reissued"
    assert [o["metadata"]["name"] for o in objects(applied2)] == ["magasin-tls-superset"]


def test_bad_input_fails_before_reading_the_cluster():
    with pytest.raises(FailJson, match="ca_certificate and ca_private_key go together"):
        run(dict(PARAMS, ca_certificate="x"))
    cert, key = T.generate_ca("tl")
    with pytest.raises(FailJson, match="certificates.bi.tl.example.org.: the certificate is not a PEM"):
        run(dict(PARAMS, certificates=[dict(PARAMS["certificates"][0], certificate="junk", private_key=key)]))
    with pytest.raises(FailJson, match="days"):
        run(dict(PARAMS, days=10, renew_days=30))


def test_an_unreadable_stored_ca_fails_instead_of_being_replaced():
    broken = {"kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": "magasin-tls-ca", "namespace": "tl-tenant"},
              "data": {"tls.crt": base64.b64encode(b"junk").decode(), "tls.key": base64.b64encode(b"junk").decode()}}
    with pytest.raises(FailJson, match="delete the Secret"):
        run(PARAMS, live=[broken])
