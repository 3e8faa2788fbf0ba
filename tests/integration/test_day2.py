"""Day-2 playbooks on a converged realm: status.yml (and ui.yml, support_bundle.yml below).

Real: the control plane, helm and the real magasin charts, the collection's modules and
playbooks, kubectl (its port-forward through the API server and kwok's kubelet endpoint),
and the HTTP server behind the pods, which this test starts on 127.0.0.1. Simulated: the
pods (kwok; no container runs) -- so "not ready" is made in ways the API shows: a
nodeSelector no node matches (the new pod stays Pending with a FailedScheduling event) and a
deleted Service.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from kwok_debug import applied, cluster_rules, http_server
from realms import REPO_ROOT, VENV_BIN, helm4_unless_asked, leaks, namespaces, operator_made, secret_strings

REALM = "day2"
NS = namespaces(REALM)
RELEASES = {("operator", "operator"), ("tenant", "tenant"), ("drill", "drill"), ("dagster", "dagster"),
            ("daskhub", f"daskhub-{REALM}"), ("superset", "superset")}
SECRETS = {"magasin-minio-root", "magasin-minio-env-configuration", "magasin-minio-user-drill",
           "magasin-drill-storage-plugin", "magasin-dagster-postgresql", "magasin-daskhub-credentials",
           "magasin-superset-credentials", "magasin-superset-env", "magasin-s3"}


@pytest.fixture(scope="module")
def realm(site_dir, cluster, helm_bin) -> dict:
    """The realm `day2` with every component, converged with site.yml from the real charts."""
    helm4_unless_asked(helm_bin, "status and ui read the realm through realm_status and kubectl; test_modules covers both majors' helm output")
    run = site_dir("site.yml", {"magasin_realm": REALM})
    assert run.rc == 0, run.output[-6000:]
    values = cluster.secret_values(REALM)
    # Key names are what status prints on purpose; the realm's config Secrets (hub values) name them too.
    key_names = {where.rsplit("/", 1)[-1] for where in values}
    return {"strings": sorted(secret_strings(values) - key_names), "values": values}


def status(site_dir, tmp_path: Path, *args: str, **extra):
    out = tmp_path / f"status-{time.monotonic_ns()}.json"
    run = site_dir("playbooks/status.yml", {"magasin_realm": REALM, "magasin_status_file": str(out), **extra}, *args)
    return run, (json.loads(out.read_text()) if out.exists() else None)


def until(check, timeout: float = 60.0) -> None:
    """Poll a condition the API server reports (rollout fields have no `kubectl wait` condition)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.5)


def test_status_of_a_converged_realm(realm, site_dir, tmp_path):
    run, report = status(site_dir, tmp_path)
    assert run.rc == 0, run.output[-6000:]
    assert report["ready"] is True and report["not_ready"] == []
    found = {(key, rel["name"]) for comp in report["components"].values() for rel in comp["releases"]
             for key in NS if NS[key] == rel["namespace"]}
    shared_operator = [rel for rel in report["components"]["minio"]["releases"] if rel["shared"]]
    assert found | {("operator", r["name"]) for r in shared_operator} >= RELEASES, found
    assert all(rel["status"] == "deployed" for comp in report["components"].values() for rel in comp["releases"])
    for component, entry in report["components"].items():
        assert entry["endpoints"], component
    assert "http://superset.day2-superset.svc.cluster.local:8088" in \
        [e["url"] for e in report["components"]["superset"]["endpoints"]]
    secrets = {c["secret"] for comp in report["components"].values() for c in comp["credentials"]}
    assert secrets >= SECRETS
    admin = next(c for c in report["components"]["superset"]["credentials"]
                 if c["secret"] == "magasin-superset-credentials")
    assert admin["commands"]["admin-password"] == ("kubectl -n day2-superset get secret magasin-superset-credentials "
                                                   "-o jsonpath='{.data.admin-password}' | base64 -d")
    assert "CREDENTIALS" in run.output and "day2-superset/magasin-superset-credentials" in run.output
    assert leaks(run.output + json.dumps(report), realm["strings"]) == []

    check, report_check = status(site_dir, tmp_path, "--check")
    assert check.rc == 0 and report_check["ready"] is True


def test_status_names_a_pending_pod_and_a_deleted_service(realm, site_dir, cluster, tmp_path):
    ns = NS["superset"]
    cluster.kubectl("-n", ns, "patch", "deployment", "superset", "--type=merge", "-p",
                    json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"magasin.test/no-such": "node"}}}}}))
    try:
        until(lambda: (cluster.kubectl_json("-n", ns, "get", "deployment", "superset").get("status") or {})
              .get("unavailableReplicas"))
        run, report = status(site_dir, tmp_path)
        assert run.rc != 0
        assert report["not_ready"] == ["superset"]
        problem = " ".join(report["components"]["superset"]["problems"])
        assert "Deployment day2-superset/superset" in problem and "Unschedulable" in problem, problem
        assert "superset not ready" in run.output and "didn't match Pod's node affinity/selector" in run.output

        warned = status(site_dir, tmp_path, magasin_status_warn_only=True)[0]
        assert warned.rc == 0 and "WARNING: not ready: superset" in warned.output
    finally:
        cluster.kubectl("-n", ns, "rollout", "undo", "deployment/superset")
        cluster.kubectl("-n", ns, "rollout", "status", "deployment/superset", "--timeout=120s")

    manifest = cluster.helm("get", "manifest", "superset", "--namespace", ns).stdout
    service = next(d for d in yaml.safe_load_all(manifest)
                   if d and d["kind"] == "Service" and d["metadata"]["name"] == "superset")
    cluster.kubectl("-n", ns, "delete", "service", "superset", "--wait=true")
    try:
        run, report = status(site_dir, tmp_path)
        assert run.rc != 0 and report["not_ready"] == ["superset"]
        assert "Service day2-superset/superset: missing (in release superset's manifest, not in the cluster)" in \
            report["components"]["superset"]["problems"]
    finally:
        subprocess.run([str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}", "-n", ns, "create", "-f", "-"],
                       input=json.dumps(service), text=True, check=True, capture_output=True)
    run = status(site_dir, tmp_path)[0]
    assert run.rc == 0, run.output[-3000:]


# --------------------------------------------------------------------------- ui.yml

UI = ["minio", "minio-api", "drill", "dagster", "daskhub", "superset"]
URL_RE = re.compile(r"^\s*-?\s*'?(\S+)\s+(http://127\.0\.0\.1:(\d+)(\S*)) -> service (\S+)", re.MULTILINE)


def listeners() -> str:
    return subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout


def forwards_of_realm() -> list[str]:
    """kubectl port-forward processes into the realm's namespaces, wherever they came from."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"port-forward" in argv and any(a.startswith(REALM.encode() + b"-") for a in argv):
                found.append(b" ".join(argv).decode())
    return found


def test_ui_forwards_every_ui_to_127_0_0_1_and_leaves_nothing(realm, site_dir, cluster, tmp_path):
    kubectl = [str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}"]
    with http_server("behind-the-realm") as server, \
            applied(kubectl, operator_made(NS["tenant"])), \
            applied(kubectl, cluster_rules(f"{REALM}-ui", list(NS.values()), port=server.server_address[1])):
        cluster.kubectl("-n", NS["tenant"], "wait", "--for=condition=Ready", "pod/myminio-pool-0-0", "--timeout=60s")
        extra = {"magasin_realm": REALM, "component": UI, "magasin_ui_duration": 25,
                 "magasin_kubeconfig": str(cluster.kubeconfig), "magasin_charts_dir": ""}
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/ui.yml",
                                 "--extra-vars", json.dumps(extra)], cwd=REPO_ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = ""
        try:
            for line in proc.stdout:
                output += line
                if "Ctrl-C stops every forward" in line:
                    break
            urls = {m.group(1): (m.group(2), int(m.group(3)), m.group(4)) for m in URL_RE.finditer(output)}
            assert sorted(urls) == sorted(UI), output
            # The URLs are printed just before the task that holds them starts listening on those ports.
            until(lambda: all(f"127.0.0.1:{port} " in listeners() for _url, port, _path in urls.values()), timeout=30)
            listening = listeners()
            for key, (url, port, path) in urls.items():
                with urllib.request.urlopen(url, timeout=10) as resp:
                    body = json.loads(resp.read())
                assert body == {"served_by": "behind-the-realm", "path": path}, key
                sockets = [ln.split()[3] for ln in listening.splitlines() if ln.split()[3].endswith(f":{port}")]
                assert sockets == [f"127.0.0.1:{port}"], (key, sockets)
            assert "Secret magasin-superset-credentials" in output
            assert leaks(output, realm["strings"]) == []
        finally:
            rest = proc.communicate(timeout=120)[0]
            output += rest
        assert proc.returncode == 0, output[-4000:]
    assert forwards_of_realm() == []
    for _url, port, _path in urls.values():
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"


def test_ui_refuses_every_interface_unless_asked(realm, site_dir):
    run = site_dir("playbooks/ui.yml", {"magasin_realm": REALM, "component": "drill", "magasin_ui_address": "0.0.0.0",
                                        "magasin_ui_duration": 0})
    assert run.rc != 0 and "address 0.0.0.0 listens on every interface" in run.output
    assert forwards_of_realm() == []
