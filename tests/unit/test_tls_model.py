"""module_utils/_tls.py: the realm CA, the leaf certificates and the decisions over them (pure), the TLS checks,
and the ingress TLS values rendered with the REAL charts (helm template, offline).

tests/integration/test_tls.py proves the same on a converged realm: every Ingress's Secret verifies for its host."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml
from ansible_collections.magasin.platform.plugins.filter import realm as F
from ansible_collections.magasin.platform.plugins.filter import tls as TF
from ansible_collections.magasin.platform.plugins.module_utils import _tls as T
from ansible_collections.magasin.platform.plugins.module_utils import _values as V
from cryptography import x509

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO.parent / "shared" / "charts" / "magasin"
HELM4 = REPO / ".venv" / "bin" / "helm4"
NOW = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)
HOSTS = {"minio_api_host": "s3.tl.example.org", "minio_console_host": "minio.tl.example.org",
         "dagster_webserver_host": "dagster.tl.example.org", "daskhub_host": "jupyter.tl.example.org",
         "superset_host": "superset.tl.example.org"}
OBSERVED = {"cluster": {"nodes": []}, "default_storage_class": "standard", "operator": None, "tenants": [],
            "statefulsets": {}, "releases": {}, "charts": {}}


@pytest.fixture(scope="module")
def ca():
    return T.generate_ca("tl", now=NOW)


def days(n):
    return NOW + datetime.timedelta(days=n)


# --- certificates ---------------------------------------------------------------------------

def test_the_ca_is_a_ca_and_its_leaf_verifies_for_its_host_only(ca):
    cert, key = ca
    assert T.ca_problem(cert, key, NOW) is None
    parsed = x509.load_pem_x509_certificate(cert.encode())
    assert parsed.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    leaf, leaf_key = T.issue(cert, key, "superset.tl.example.org", now=NOW, days=365)
    assert T.verify_problem(leaf, cert, "superset.tl.example.org", NOW) is None
    assert "subjectAltName" in T.verify_problem(leaf, cert, "dagster.tl.example.org", NOW)
    other = T.generate_ca("other", now=NOW)[0]
    assert T.verify_problem(leaf, other, "superset.tl.example.org", NOW) is not None
    assert T.verify_problem(leaf, cert, "superset.tl.example.org", days(400)) is not None  # expired
    assert T.covered_hosts(x509.load_pem_x509_certificate(leaf.encode())) == ["superset.tl.example.org"]
    assert "PRIVATE KEY" in leaf_key and "PRIVATE KEY" not in leaf


def test_a_leaf_never_outlives_its_ca_and_is_not_issued_anew_for_ending_with_it():
    cert, key = T.generate_ca("short", now=NOW, days=10)
    leaf, leaf_key = T.issue(cert, key, "a.example.org", now=NOW, days=365)
    assert T.not_after(leaf) == T.not_after(cert)
    # Within the renewal window, but a new one would end at the same time: kept, not issued at every run.
    assert T.reissue_reason({"tls.crt": leaf, "tls.key": leaf_key}, cert, "a.example.org", now=NOW, renew_days=30) is None


def test_a_stored_leaf_is_kept_until_host_ca_or_time_says_otherwise(ca):
    cert, key = ca
    leaf, leaf_key = T.issue(cert, key, "bi.example.org", now=NOW)
    stored = {"tls.crt": leaf, "tls.key": leaf_key, "ca.crt": cert}
    data, action, reason = T.plan_leaf(stored, cert, key, "bi.example.org", now=NOW)
    assert (action, reason, data) == ("kept", None, stored)
    # the host changed
    data, action, reason = T.plan_leaf(stored, cert, key, "new.example.org", now=NOW)
    assert action == "reissued" and "subjectAltName" in reason
    assert T.verify_problem(data["tls.crt"], cert, "new.example.org", NOW) is None
    # near its end (renewal window), then inside it by a day
    assert T.plan_leaf(stored, cert, key, "bi.example.org", now=days(334), renew_days=30)[1] == "kept"
    data, action, reason = T.plan_leaf(stored, cert, key, "bi.example.org", now=days(336), renew_days=30)
    assert action == "reissued" and "within 30 days" in reason
    # another CA
    other, other_key = T.generate_ca("other", now=NOW)
    assert T.plan_leaf(stored, other, other_key, "bi.example.org", now=NOW)[1] == "reissued"
    # a key that is not the certificate's
    stray = T.issue(cert, key, "bi.example.org", now=NOW)[1]
    assert T.plan_leaf(dict(stored, **{"tls.key": stray}), cert, key, "bi.example.org", now=NOW)[2] == \
        "its key is not its certificate's"
    # nothing stored, or garbage
    assert T.plan_leaf(None, cert, key, "bi.example.org", now=NOW)[1:] == ("issued", "missing")
    assert T.plan_leaf({"tls.crt": "junk", "tls.key": "junk"}, cert, key, "bi.example.org", now=NOW)[1] == "reissued"


def test_a_sites_own_leaf_is_stored_as_given(ca):
    cert, key = ca
    leaf, leaf_key = T.issue(cert, key, "bi.example.org", now=NOW)
    own = {"cert": leaf, "key": leaf_key, "ca": cert}
    data, action = T.plan_leaf(None, "unused", "unused", "bi.example.org", supplied=own, now=NOW)[:2]
    assert action == "supplied" and data == {"tls.crt": leaf, "tls.key": leaf_key, "ca.crt": cert}
    assert T.plan_leaf(data, "unused", "unused", "bi.example.org", supplied=own, now=NOW)[1] == "kept"


def test_the_ca_is_made_once_then_kept_and_a_sites_ca_wins(ca):
    made = []

    def generator(realm, now):
        made.append(realm)
        return ca

    cert, key, action = T.plan_ca(None, None, "tl", NOW, generator)
    assert (action, made) == ("generated", ["tl"])
    stored = {"tls.crt": cert, "tls.key": key}
    assert T.plan_ca(stored, None, "tl", NOW, generator)[2] == "kept" and made == ["tl"]
    site = T.generate_ca("site", now=NOW)
    assert T.plan_ca(stored, {"cert": site[0], "key": site[1]}, "tl", NOW)[:3] == (site[0], site[1], "supplied")
    assert T.plan_ca({"tls.crt": site[0], "tls.key": site[1]}, {"cert": site[0], "key": site[1]}, "tl", NOW)[2] == "kept"
    # An unreadable stored CA is never replaced behind the user's back.
    with pytest.raises(ValueError, match="delete the Secret"):
        T.plan_ca({"tls.crt": cert, "tls.key": "broken"}, None, "tl", NOW, generator)
    assert made == ["tl"]


# --- checks ----------------------------------------------------------------------------------

def variables(problems):
    return [p["variable"] for p in problems]


def test_tls_checks_name_the_variable_and_the_fix(ca):
    cert, key = ca
    leaf, leaf_key = T.issue(cert, key, "superset.tl.example.org", now=NOW)
    assert T.validate({"magasin_tls_ca_cert": cert, "magasin_tls_ca_key": key, "magasin_tls_days": 365,
                       "magasin_tls_renew_days": 30,
                       "magasin_tls_certificates": {"superset.tl.example.org": {"cert": leaf, "key": leaf_key, "ca": cert}}},
                      HOSTS, NOW) == []
    assert variables(T.validate({"magasin_tls_ca_cert": cert}, HOSTS, NOW)) == ["magasin_tls_ca_key"]
    assert variables(T.validate({"magasin_tls_ca_key": key}, HOSTS, NOW)) == ["magasin_tls_ca_cert"]
    problems = T.validate({"magasin_tls_ca_cert": leaf, "magasin_tls_ca_key": leaf_key}, HOSTS, NOW)
    assert variables(problems) == ["magasin_tls_ca_cert"] and "not a CA" in problems[0]["message"]
    problems = T.validate({"magasin_tls_ca_cert": cert, "magasin_tls_ca_key": leaf_key}, HOSTS, NOW)
    assert "not the certificate's" in problems[0]["message"]
    problems = T.validate({"magasin_tls_ca_cert": "cert.pem", "magasin_tls_ca_key": key}, HOSTS, NOW)
    assert "PEM" in problems[0]["message"] and "lookup('file'" in problems[0]["fix"]
    assert variables(T.validate({"magasin_tls_days": "a year"}, HOSTS)) == ["magasin_tls_days"]
    assert variables(T.validate({"magasin_tls_days": 30, "magasin_tls_renew_days": 30}, HOSTS)) == ["magasin_tls_renew_days"]
    wrong_host = T.validate({"magasin_tls_certificates": {"dagster.tl.example.org": {"cert": leaf, "key": leaf_key}}}, HOSTS, NOW)
    assert variables(wrong_host) == ["magasin_tls_certificates[dagster.tl.example.org]"]
    assert "do not cover dagster.tl.example.org" in wrong_host[0]["message"]
    assert "names no ingress host" in T.validate({"magasin_tls_certificates": {"x.example.org": {}}}, HOSTS)[0]["message"]
    assert "needs cert and key" in T.validate({"magasin_tls_certificates": {"superset.tl.example.org": {"cert": leaf}}},
                                              HOSTS)[0]["message"]


def test_no_check_message_quotes_a_key(ca):
    cert, key = ca
    broken = key.replace("A", "B", 3)
    text = TF.tls_problems({"magasin_tls_ca_cert": cert, "magasin_tls_ca_key": broken}, HOSTS)
    assert text.startswith("magasin_tls_ca_cert: the private key")
    body = [line for line in key.splitlines() if "-----" not in line]
    assert not any(line in text for line in body)


# --- the plan and the rendered ingresses ----------------------------------------------------------

def model(components=V.COMPONENTS):
    return F.realm_model({"magasin_realm": "tl-x", "magasin_components": list(components), "magasin_profile": "lab",
                          "magasin_sizing": {}}, OBSERVED)


def test_the_plan_has_one_certificate_per_selected_host():
    plan = TF.tls_plan(model(["dagster", "superset"]), HOSTS, {"superset.tl.example.org": {"cert": "C", "key": "K"}})
    assert plan["ca"] == {"name": "magasin-tls-ca", "namespace": "tl-tenant-x"}
    assert plan["certificates"] == [
        {"host": "dagster.tl.example.org", "namespace": "tl-dagster-x", "secret": "magasin-tls-dagster"},
        {"host": "superset.tl.example.org", "namespace": "tl-superset-x", "secret": "magasin-tls-superset",
         "certificate": "C", "private_key": "K"}]
    assert [n["metadata"]["name"] for n in plan["namespaces"]] == ["tl-tenant-x", "tl-dagster-x", "tl-superset-x"]
    assert all(n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for n in plan["namespaces"])
    assert TF.tls_plan(model(), {}, {})["certificates"] == []


def helm_template(chart, version, namespace, values):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(values, f)
    try:
        argv = [str(HELM4), "template", chart, str(CHARTS / ("%s-%s.tgz" % (chart, version))), "--namespace", namespace,
                "--values", f.name]
        if chart == "dagster":
            argv.append("--skip-schema-validation")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    finally:
        os.unlink(f.name)
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


INPUTS = {"minio": {"api_host": HOSTS["minio_api_host"], "console_host": HOSTS["minio_console_host"]},
          "dagster": {"webserver_host": HOSTS["dagster_webserver_host"]}, "daskhub": {"host": HOSTS["daskhub_host"]},
          "superset": {"host": HOSTS["superset_host"]}}
RENDERS = [(c, v) for c in ("dagster", "daskhub", "superset") for v in (V.CHART_VERSIONS[c], V.PREVIOUS_CHART_VERSIONS[c])]
RENDERS.append(("tenant", V.CHART_VERSIONS["tenant"]))


@pytest.mark.skipif(not CHARTS.is_dir() or not HELM4.exists(), reason="needs ../shared/charts/magasin and .venv/bin/helm4")
@pytest.mark.parametrize("chart,version", RENDERS, ids=["%s-%s" % r for r in RENDERS])
def test_every_rendered_ingress_has_tls_for_its_host_from_the_planned_secret(chart, version):
    m = model()
    component = "minio" if chart == "tenant" else chart
    values = V.component_values(component, m, dict(INPUTS[component], chart_version=version))[chart]
    plan = TF.tls_plan(m, HOSTS)
    namespace = m["namespaces"][chart]
    secrets = dict((c["host"], c["secret"]) for c in plan["certificates"] if c["namespace"] == namespace)
    ingresses = [d for d in helm_template(chart, version, namespace, values) if d["kind"] == "Ingress"]
    assert len(ingresses) == len(secrets) >= 1
    for ingress in ingresses:
        hosts = [r["host"] for r in ingress["spec"]["rules"]]
        assert len(hosts) == 1 and hosts[0] in secrets
        assert ingress["spec"]["tls"] == [{"hosts": hosts, "secretName": secrets[hosts[0]]}]
