"""TLS of every ingress of a converged realm, checked on the real API server with openssl (issue 15).

One realm `tl1` with every component that has an ingress, each with its host set: MinIO's API and console
(two Ingresses of the tenant chart), Dagster's webserver, Daskhub's JupyterHub and Superset -- five Ingresses of
four charts -- and an IngressClass of the test's own; Helm 4 unless MAGASIN_HELM=3 (TLS does not depend on the
Helm major). Every version of those charts' ingress keys is also rendered in tests/unit/test_tls_model.py.

- converged once: every Ingress of the realm has spec.tls for its host, naming a kubernetes.io/tls Secret of
  its namespace whose certificate `openssl verify -verify_hostname` accepts against the realm CA (from the CA
  Secret, the file the run wrote and the ConfigMap published beside each ingress: the same certificate);
- converged again: changed=0 and the same CA and certificates (nothing issued anew);
- the tls_certificates module given a site's CA (made here by openssl) for the realm's Secrets, in the four steps
  (check, apply, idempotent check, idempotent apply: tests/integration/playbooks/tls_certificates.yml): the CA
  Secret holds it and every certificate is issued anew under it (a third converge would cost a minute more);
- no private key in any run's output.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible_run import run_playbook
from realms import helm4_unless_asked, leaks, namespaces

REALM = "tl1"
NS = namespaces(REALM)
INGRESS_CLASS = "tl1-ingress"
HOSTS = {"minio_api_host": "s3.tl1.example.org", "minio_console_host": "minio.tl1.example.org",
         "dagster_webserver_host": "dagster.tl1.example.org", "daskhub_host": "hub.tl1.example.org",
         "superset_host": "superset.tl1.example.org"}
COMPONENTS = ["minio", "dagster", "daskhub", "superset"]
INGRESS_KEYS = ("tenant", "dagster", "daskhub", "superset")
PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "tls_certificates.yml"


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def site_ca(work: Path) -> tuple[str, str]:
    """A site's CA, as a site would make it (openssl, RSA), independent of the collection's code."""
    proc = openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "site-ca.key", "-out", "site-ca.crt",
                   "-days", "400", "-subj", "/O=Site/CN=Site TLS CA", "-addext", "basicConstraints=critical,CA:TRUE",
                   "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return (work / "site-ca.crt").read_text(), (work / "site-ca.key").read_text()


def state(cluster) -> dict:
    """The realm's Ingresses, the Secrets they name, the CA Secret and the published CA ConfigMaps."""
    out = {"ingresses": [], "secrets": {}, "configmaps": {}}
    for key in INGRESS_KEYS:
        ns = NS[key]
        out["ingresses"] += cluster.items("ingresses", ns)
        for secret in cluster.items("secrets", ns):
            if secret.get("type") == "kubernetes.io/tls":
                out["secrets"][(ns, secret["metadata"]["name"])] = {
                    k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        for cm in cluster.items("configmaps", ns):
            if cm["metadata"]["name"] == "magasin-tls-ca":
                out["configmaps"][ns] = cm["data"]["ca.crt"]
    out["ca"] = out["secrets"].get((NS["tenant"], "magasin-tls-ca"))
    return out


@pytest.fixture(scope="module")
def realm(cluster, site_dir, helm_bin, kubectl_bin, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "ingress TLS does not depend on the Helm major")
    work = tmp_path_factory.mktemp("tl1")
    cluster.teardown(REALM)
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    ingress_class = {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
                     "metadata": {"name": INGRESS_CLASS}, "spec": {"controller": "example.org/tl1-none"}}
    subprocess.run([str(cluster.kubectl_bin), "apply", "-f", "-"], env=env, input=json.dumps(ingress_class),
                   capture_output=True, text=True, timeout=60, check=True)
    extra = {"magasin_realm": REALM, "magasin_components": COMPONENTS, "magasin_ingress_class": INGRESS_CLASS,
             "magasin_tls_ca_file": str(work / "realm-ca.crt"), **HOSTS}
    try:
        out = {"work": work, "runs": []}
        first = site_dir("site.yml", extra)
        out["runs"].append(first)
        if first.rc == 0:
            out["first"] = state(cluster)
            out["ca_file"] = (work / "realm-ca.crt").read_text() if (work / "realm-ca.crt").is_file() else ""
            second = site_dir("site.yml", extra)
            out["runs"].append(second)
            out["second_run"], out["second"] = second, state(cluster)
            cert, key = site_ca(work)
            out["site_ca"] = cert
            out["site_key"] = key
            # The key goes in a vars file, not on the command line.
            (work / "site-ca.json").write_text(json.dumps({"site_ca_cert": cert, "site_ca_key": key}))
            certificates = [{"host": i["spec"]["rules"][0]["host"], "namespace": i["metadata"]["namespace"],
                             "secret": i["spec"]["tls"][0]["secretName"]} for i in out["first"]["ingresses"]]
            third = run_playbook(PLAYBOOK, {"kubeconfig": str(cluster.kubeconfig), "kubectl_binary": str(kubectl_bin),
                                            "realm": REALM, "ca_namespace": NS["tenant"], "certificates": certificates},
                                 "-e", f"@{work / 'site-ca.json'}")
            out["runs"].append(third)
            out["site_run"], out["site"] = third, state(cluster)
        yield out
    finally:
        cluster.teardown(REALM)
        subprocess.run([str(cluster.kubectl_bin), "delete", "ingressclass", INGRESS_CLASS, "--ignore-not-found"], env=env,
                       capture_output=True, text=True, timeout=60, check=False)


def verify(work: Path, ca: str, leaf: str, host: str) -> subprocess.CompletedProcess:
    (work / "ca.pem").write_text(ca)
    (work / "leaf.pem").write_text(leaf)
    return openssl("verify", "-CAfile", "ca.pem", "-purpose", "sslserver", "-verify_hostname", host, "leaf.pem", cwd=work)


def assert_ingresses_verify(realm: dict, st: dict, ca: str) -> None:
    hosts = sorted(r["host"] for i in st["ingresses"] for r in i["spec"]["rules"])
    assert hosts == sorted(HOSTS.values())
    for ingress in st["ingresses"]:
        ns, name = ingress["metadata"]["namespace"], ingress["metadata"]["name"]
        host = ingress["spec"]["rules"][0]["host"]
        tls = [t for t in ingress["spec"].get("tls") or [] if host in t.get("hosts", [])]
        assert len(tls) == 1, f"{ns}/{name}: spec.tls does not cover {host}: {ingress['spec'].get('tls')}"
        secret = st["secrets"].get((ns, tls[0]["secretName"]))
        assert secret, f"{ns}/{name}: no kubernetes.io/tls Secret {tls[0]['secretName']} in {ns}"
        proc = verify(realm["work"], ca, secret["tls.crt"], host)
        assert proc.returncode == 0, f"{ns}/{name} ({host}): {proc.stdout}{proc.stderr}"
        assert secret["ca.crt"] == ca
        # Another host is refused: the check can fail.
        assert verify(realm["work"], ca, secret["tls.crt"], "other.tl1.example.org").returncode != 0


def test_the_realm_converges_with_tls(realm: dict):
    realm["runs"][0].ok()


def test_every_ingress_has_a_certificate_for_its_host_from_the_realm_ca(realm: dict):
    st = realm["first"]
    assert st["ca"], "no CA Secret magasin-tls-ca in the tenant namespace"
    ca = st["ca"]["tls.crt"]
    assert_ingresses_verify(realm, st, ca)
    # The CA, for clients to trust: the file the run wrote and the ConfigMap beside each ingress.
    assert realm["ca_file"] == ca
    assert st["configmaps"] == {NS[key]: ca for key in INGRESS_KEYS}


def test_a_second_run_changes_nothing_and_issues_nothing(realm: dict):
    run = realm["second_run"].ok()
    assert run.changed == 0, run.output[-6000:]
    assert realm["second"]["secrets"] == realm["first"]["secrets"]


def test_a_sites_ca_signs_every_certificate(realm: dict):
    run = realm["site_run"]
    assert run.rc == 0, run.output[-6000:]
    st = realm["site"]
    assert st["ca"]["tls.crt"] == realm["site_ca"]
    assert_ingresses_verify(realm, st, realm["site_ca"])
    for key, secret in st["secrets"].items():
        if key[1] != "magasin-tls-ca":
            assert secret["tls.crt"] != realm["first"]["secrets"][key]["tls.crt"], key


def test_no_private_key_in_any_output(realm: dict):
    keys = [s["tls.key"] for st in (realm.get("first"), realm.get("site")) if st for s in st["secrets"].values()]
    keys.append(realm.get("site_key") or "")
    assert len(keys) > 2
    text = "\n".join(run.output for run in realm["runs"])
    bodies = [line for key in keys for line in key.splitlines() if line and "-----" not in line]
    assert leaks(text, keys) == [] and [b for b in bodies if b in text] == []
