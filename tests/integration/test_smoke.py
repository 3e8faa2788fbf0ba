"""Smoke tests (site.yml with magasin_smoke_test: true, and smoke.yml) on a converged realm, end to end.

Real: the control plane, helm and the real magasin charts (realm `smk`, converged with site.yml), the
collection's modules and playbooks, kubectl port-forward through the API server and kwok's kubelet
endpoint, and behind the tenant's pod a REAL MinIO server (github.com/minio/minio built from the Go
module proxy, tests/support/minio_build.py) on 127.0.0.1, run with the realm's root credentials and set
up by the collection's own roles/minio/files/minio-setup.sh with a real mc, with the environment of
the realm's setup Job (its bucket, policies and the consumers' users and keys) -- so every S3 allow and
deny below is MinIO's own decision on requests signed by the collection's SigV4 signer. Behind the UI
pods: small HTTP servers of this test answering the health paths, Drill's /storage.json and
Superset's login and database list (which checks the realm's admin password). Simulated: the pods
(kwok; no container runs) and what the MinIO operator would create (it does not run on kwok): the
tenant's pool pod and its `minio` and console Services, made here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import minio_build
import pytest
import yaml
from day2_servers import api_server
from kwok_debug import API, applied, cluster_rules
from realms import REPO_ROOT, env_of, helm4_unless_asked, leaks, namespaces, operator_made, secret_strings

# Run alone after the two pytest-xdist workers of `make pytest` (tests/integration/conftest.py ALONE_MARKER).
pytestmark = pytest.mark.alone

REALM = "smk"
NS = namespaces(REALM)
RUN_ID_RE = re.compile(r"-[0-9a-f]{10}\.txt")
SETUP_SCRIPT = REPO_ROOT / "roles" / "minio" / "files" / "minio-setup.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def realm(site_dir, cluster, helm_bin) -> dict:
    helm4_unless_asked(helm_bin, "the smoke test reaches the realm with kubectl only")
    run = site_dir("site.yml", {"magasin_realm": REALM})
    assert run.rc == 0, run.output[-6000:]
    values = cluster.secret_values(REALM)
    key_names = {where.rsplit("/", 1)[-1] for where in values}
    return {"strings": sorted(secret_strings(values) - key_names)}


@pytest.fixture(scope="module")
def minio(realm, cluster, tmp_path_factory):
    """A real MinIO on 127.0.0.1 with the realm's root credentials, set up by the collection's setup script."""
    tmp = tmp_path_factory.mktemp("minio")
    server_bin, mc_bin = minio_build.build("minio"), minio_build.build("mc")
    root = cluster.secret(NS["tenant"], "magasin-minio-root")
    s3_port, console_port = free_port(), free_port()
    env = dict(os.environ, MINIO_ROOT_USER=root["root-user"], MINIO_ROOT_PASSWORD=root["root-password"])
    proc = subprocess.Popen([str(server_bin), "server", str(tmp / "data"), "--address", f"127.0.0.1:{s3_port}",
                             "--console-address", f"127.0.0.1:{console_port}", "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{s3_port}/minio/health/live", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "MinIO did not start"
                time.sleep(0.5)
        # The realm's setup Job, as the cluster holds it: its container's environment, resolved like the kubelet.
        jobs = [j for j in cluster.items("jobs", NS["tenant"]) if j["metadata"]["name"].startswith("magasin-minio-setup")]
        assert jobs, f"no setup Job in {NS['tenant']}"
        job = jobs[0]
        job_env = env_of(cluster, NS["tenant"], job["spec"]["template"]["spec"]["containers"][0])
        job_env["MINIO_ENDPOINT"] = f"http://127.0.0.1:{s3_port}"
        mc_env = dict(os.environ, **job_env, PATH=f"{mc_bin.parent}:{os.environ['PATH']}", MC_CONFIG_DIR=str(tmp / "mc"))
        setup = subprocess.run(["sh", str(SETUP_SCRIPT)], env=mc_env, capture_output=True, text=True, timeout=120,
                               check=False)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        yield {"s3": s3_port, "console": console_port, "mc": [str(mc_bin)], "mc_env": mc_env}
    finally:
        proc.terminate()
        proc.wait(20)


def ui_servers(cluster):
    admin = cluster.secret(NS["superset"], "magasin-superset-credentials")["admin-password"]
    token = secrets.token_hex(16)

    def login(_headers, body):
        sent = json.loads(body)
        if sent.get("username") == "admin" and sent.get("password") == admin and sent.get("provider") == "db":
            return 200, {"access_token": token}
        return 401, {"message": "Not authorized"}

    def databases(headers, _body):
        if headers.get("Authorization") != f"Bearer {token}":
            return 401, {"msg": "Missing Authorization Header"}
        return 200, {"count": 1, "result": [{"id": 1, "database_name": "Drill", "backend": "drill"}]}

    return {
        "drill": {("GET", "/status"): (200, {"status": "Running!"}),
                  ("GET", "/storage.json"): (200, [{"name": "s3", "config": {"type": "file", "enabled": True}},
                                                   {"name": "cp", "config": {"type": "file", "enabled": True}}])},
        "dagster": {("GET", "/server_info"): (200, {"dagster_webserver_version": "1.9.3"})},
        "daskhub": {("GET", "/hub/health"): (200, {})},
        "superset": {("GET", "/health"): (200, "OK"), ("POST", "/api/v1/security/login"): login,
                     ("GET", "/api/v1/database/"): databases},
    }


@pytest.fixture(scope="module")
def backends(minio, cluster):
    """kwok's port-forward rules: the tenant's pod to the real MinIO, each UI namespace to its server."""
    kubectl = [str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}"]
    tenant_rule = {"apiVersion": API, "kind": "ClusterPortForward", "metadata": {"name": f"{REALM}-smoke-tenant"},
                   "spec": {"selector": {"matchNamespaces": [NS["tenant"]]},
                            "forwards": [{"ports": [9000], "target": {"address": "127.0.0.1", "port": minio["s3"]}},
                                         {"ports": [9090], "target": {"address": "127.0.0.1", "port": minio["console"]}}]}}
    routes = ui_servers(cluster)
    with api_server(routes["drill"]) as drill, api_server(routes["dagster"]) as dagster, \
            api_server(routes["daskhub"]) as daskhub, api_server(routes["superset"]) as superset:
        servers = {"drill": drill, "dagster": dagster, "daskhub": daskhub, "superset": superset}
        rules = [tenant_rule] + [rule for name, server in servers.items()
                                 for rule in cluster_rules(f"{REALM}-smoke-{name}", [NS[name]], port=server.server_address[1])]
        with applied(kubectl, operator_made(NS["tenant"])), applied(kubectl, rules):
            cluster.kubectl("-n", NS["tenant"], "wait", "--for=condition=Ready", "pod/myminio-pool-0-0", "--timeout=60s")
            yield servers


def flat(text: str) -> str:
    """Output with the callback's line wrapping undone (and every run of blanks made one)."""
    return " ".join(text.split())


def smoke(site_dir, tmp_path: Path, *args: str, **extra):
    out = tmp_path / f"smoke-{time.monotonic_ns()}.json"
    run = site_dir("playbooks/smoke.yml", {"magasin_realm": REALM, "magasin_smoke_file": str(out), **extra}, *args)
    return run, (json.loads(out.read_text()) if out.exists() else None)


def failed(report: dict) -> list[tuple[str, str, str]]:
    return [(c["component"], c["check"], c["detail"]) for c in report["checks"] if not c["ok"]]


def test_site_with_smoke_test_passes_on_a_good_realm(realm, minio, backends, site_dir, tmp_path):
    out = tmp_path / "smoke.json"
    run = site_dir("site.yml", {"magasin_realm": REALM, "magasin_smoke_test": True, "magasin_smoke_file": str(out)})
    assert run.rc == 0, run.output[-6000:]
    report = json.loads(out.read_text())
    assert report["ok"] is True and failed(report) == []
    checks = {(c["component"], RUN_ID_RE.sub("-ID.txt", c["check"])): c["detail"] for c in report["checks"]}
    assert checks[("drill", "S3 PUT magasin-smoke/drill-ID.txt as drill (may not write)")] == \
        "HTTP 403 AccessDenied (expected 403)"
    for user, writer in (("dagster", "dagster"), ("notebooks", "daskhub")):
        assert checks[("drill", f"S3 GET magasin-smoke/{user}-ID.txt as drill (reads what {writer} wrote)")] == \
            "read back what was written"
    assert checks[("drill", "S3 GET bucket listing as drill (lists the bucket)")] == "HTTP 200 (expected 200)"
    for component, user in (("dagster", "dagster"), ("daskhub", "notebooks")):
        key = f"magasin-smoke/{user}-ID.txt as {user}"
        assert checks[(component, f"S3 PUT {key} (writes)")] == "HTTP 200 (expected 200)"
        assert checks[(component, f"S3 GET {key} (reads back)")] == "read back what was written"
        assert checks[(component, f"S3 DELETE {key} (deletes)")] == "HTTP 204 (expected 204)"
    for component, path in (("minio", "/minio/health/live"), ("drill", "/status"), ("dagster", "/server_info"),
                            ("daskhub", "/hub/health"), ("superset", "/health")):
        assert checks[(component, f"health {path}")] == "HTTP 200"
    assert checks[("drill", "Drill lists the storage plugin s3")] == "plugin s3 enabled (file)"
    assert checks[("superset", "Superset lists the database Drill")] == "HTTP 200; databases: Drill"
    assert "ok drill S3 PUT magasin-smoke/drill-" in flat(run.output)
    assert leaks(run.output + out.read_text(), realm["strings"]) == []
    # MinIO itself: nothing left under magasin-smoke/ (the writers deleted what they wrote).
    listed = subprocess.run([*minio["mc"], "ls", "--recursive", "magasin/magasin/magasin-smoke/"], env=minio["mc_env"],
                            capture_output=True, text=True, check=True)
    assert listed.stdout.strip() == ""

    checked, report = smoke(site_dir, tmp_path, "--check")
    assert checked.rc == 0 and report is None and "smoke test not run in check mode" in checked.output


def test_smoke_fails_naming_the_component_whose_keys_are_wrong(realm, minio, backends, site_dir, cluster, tmp_path):
    name = "magasin-minio-user-dagster"
    original = cluster.secret(NS["tenant"], name)["CONSOLE_SECRET_KEY"]
    cluster.kubectl("-n", NS["tenant"], "patch", "secret", name, "--type=merge", "-p",
                    json.dumps({"stringData": {"CONSOLE_SECRET_KEY": "wrong-" + secrets.token_hex(8)}}))
    try:
        run, report = smoke(site_dir, tmp_path)
    finally:
        cluster.kubectl("-n", NS["tenant"], "patch", "secret", name, "--type=merge", "-p",
                        json.dumps({"stringData": {"CONSOLE_SECRET_KEY": original}}))
    assert run.rc != 0
    assert report["failed_components"] == ["dagster"], failed(report)
    assert "smoke test failed for dagster:" in flat(run.output)
    assert all("SignatureDoesNotMatch" in detail for _c, what, detail in failed(report) if "PUT" in what)
    assert leaks(run.output, realm["strings"]) == []
    assert smoke(site_dir, tmp_path)[0].rc == 0


def test_smoke_fails_naming_the_component_whose_service_is_gone(realm, minio, backends, site_dir, cluster, tmp_path):
    ns = NS["drill"]
    manifest = cluster.helm("get", "manifest", "drill", "--namespace", ns).stdout
    service = next(d for d in yaml.safe_load_all(manifest)
                   if d and d["kind"] == "Service" and d["metadata"]["name"] == "drill-service")
    cluster.kubectl("-n", ns, "delete", "service", "drill-service", "--wait=true")
    try:
        run, report = smoke(site_dir, tmp_path)
    finally:
        subprocess.run([str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}", "-n", ns, "create", "-f", "-"],
                       input=json.dumps(service), text=True, check=True, capture_output=True)
    assert run.rc != 0
    assert report["failed_components"] == ["drill"], failed(report)
    assert "smoke test failed for drill:" in flat(run.output)
    (only,) = failed(report)
    assert only[1] == "port-forward to drill-service" and "drill-service" in only[2], only
    assert smoke(site_dir, tmp_path)[0].rc == 0
