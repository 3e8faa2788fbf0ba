"""One way to the cluster: a full converge with only AWX's bearer-token credential (issue 10).

AWX's "OpenShift or Kubernetes API Bearer Token" credential injects K8S_AUTH_HOST,
K8S_AUTH_API_KEY and K8S_AUTH_SSL_CA_CERT (and K8S_AUTH_VERIFY_SSL) into the job's
environment, and nothing else. Here the realm `awx-a` is converged with exactly that: a
ServiceAccount bound to cluster-admin, a one-hour token for it, the test cluster's CA written to
a file and its server URL; magasin_kubeconfig is cleared (inventories/local sets it to the admin
kubeconfig) and KUBECONFIG points at a decoy: a kubeconfig whose server is a TCP listener of this
test on 127.0.0.1 that records every connection. Every read and write of the roles goes through
the collection's modules, so the converge must succeed, the decoy must see no connection, and the
token must never be printed (one run is -vvv). Then the realm is removed the same way.

On Helm 4, or Helm 3 with MAGASIN_HELM=3: the connection reaches both majors the same way (the
module tests cover both).
The test's own set-up (the ServiceAccount, the token, the checks) uses kubectl and helm with the
admin kubeconfig directly; only the roles may not.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from realms import PINS, REPO_ROOT, VENV_BIN, Run, helm4_unless_asked, namespaces

REALM = "awx-a"
ACCOUNT = "magasin-awx-test"
ACCOUNT_NS = "default"
# Variables AWX's other credential types, or the user's shell, may set: none may take part.
FOREIGN_ENV = ("K8S_AUTH_KUBECONFIG", "K8S_AUTH_CONTEXT", "K8S_AUTH_USERNAME", "K8S_AUTH_PASSWORD",
               "K8S_AUTH_CERT_FILE", "K8S_AUTH_KEY_FILE", "HELM_KUBECONTEXT", "HELM_KUBETOKEN",
               "HELM_KUBEAPISERVER", "HELM_KUBECAFILE", "MAGASIN_KUBECONFIG")


class Decoy:
    """A TCP listener on 127.0.0.1 that accepts, records the peer and hangs up: the cluster the default
    kubeconfig names, which nothing may reach."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.peers: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="decoy", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.peers.append(peer)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def decoy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Decoy, Path]]:
    listener = Decoy()
    path = tmp_path_factory.mktemp("decoy") / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "decoy",
        "clusters": [{"name": "decoy",
                      "cluster": {"server": f"https://127.0.0.1:{listener.port}", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "decoy", "user": {"token": "decoy-token-not-a-secret"}}],
        "contexts": [{"name": "decoy", "context": {"cluster": "decoy", "user": "decoy"}}],
    }))
    # The decoy works: kubectl with the default config reaches it (and fails), and it records that.
    subprocess.run([str(VENV_BIN / "kubectl"), "get", "namespaces", "--request-timeout=5s"],
                   env=dict(os.environ, KUBECONFIG=str(path)), capture_output=True, check=False, timeout=60)
    deadline = time.monotonic() + 5
    while not listener.peers and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listener.peers, "the decoy saw nothing from kubectl with the decoy kubeconfig: the test would prove nothing"
    listener.peers.clear()
    yield listener, path
    listener.close()


@pytest.fixture(scope="module")
def awx_credential(cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """What AWX's bearer-token credential injects, for a ServiceAccount bound to cluster-admin."""
    cluster.kubectl("delete", "clusterrolebinding", ACCOUNT, "--ignore-not-found")
    cluster.kubectl("delete", "serviceaccount", ACCOUNT, "--namespace", ACCOUNT_NS, "--ignore-not-found")
    cluster.kubectl("create", "serviceaccount", ACCOUNT, "--namespace", ACCOUNT_NS)
    cluster.kubectl("create", "clusterrolebinding", ACCOUNT, "--clusterrole=cluster-admin",
                    f"--serviceaccount={ACCOUNT_NS}:{ACCOUNT}")
    token = cluster.kubectl("create", "token", ACCOUNT, "--namespace", ACCOUNT_NS, "--duration", "1h").stdout.strip()
    assert token

    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next((c["context"] for c in admin["contexts"] if c["name"] == admin["current-context"]), None)
    assert context, "the admin kubeconfig has no current context"
    server = next((c["cluster"] for c in admin["clusters"] if c["name"] == context["cluster"]), None)
    assert server, "the admin kubeconfig has no cluster for its context"
    ca = tmp_path_factory.mktemp("awx") / "ca.crt"
    if "certificate-authority-data" in server:
        ca.write_bytes(base64.b64decode(server["certificate-authority-data"]))
    else:
        ca.write_bytes((cluster.kubeconfig.parent / server["certificate-authority"]).read_bytes())
    yield {"K8S_AUTH_HOST": server["server"], "K8S_AUTH_API_KEY": token, "K8S_AUTH_SSL_CA_CERT": str(ca),
           "K8S_AUTH_VERIFY_SSL": "true"}
    cluster.kubectl("delete", "clusterrolebinding", ACCOUNT, "--ignore-not-found")
    cluster.kubectl("delete", "serviceaccount", ACCOUNT, "--namespace", ACCOUNT_NS, "--ignore-not-found")


def run_as_awx(credential: dict[str, str], decoy_kubeconfig: Path, extra: dict, *args: str) -> Run:
    """ansible-playbook -i inventories/local site.yml with the AWX credential's environment only."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV and not k.startswith("K8S_AUTH_")}
    env.update(credential, KUBECONFIG=str(decoy_kubeconfig), ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"),
               ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "site.yml", "--extra-vars", json.dumps(extra),
           *args]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    run = Run(proc.returncode, proc.stdout + proc.stderr, cmd, time.monotonic() - started)
    print(f"[awx] {run.seconds:6.0f}s rc={run.rc} {' '.join(args)} {json.dumps(extra)[:160]}")
    return run


@pytest.fixture(scope="module")
def awx_realm(cluster, helm_bin: Path, kubectl_bin: Path, charts_dir: Path, awx_credential, decoy) -> dict:
    helm4_unless_asked(helm_bin, "both majors take the same kubeconfig from the modules (test_modules runs both)")
    listener, decoy_kubeconfig = decoy
    cluster.teardown(REALM)
    extra = {"magasin_kubeconfig": "", "magasin_realm": REALM, "magasin_charts_dir": str(charts_dir),
             "magasin_helm_binary": str(helm_bin), "magasin_kubectl_binary": str(kubectl_bin)}
    runs = {"first": run_as_awx(awx_credential, decoy_kubeconfig, extra)}
    runs["second"] = run_as_awx(awx_credential, decoy_kubeconfig, extra, "-vvv")
    releases = cluster.releases()
    runs["absent"] = run_as_awx(awx_credential, decoy_kubeconfig, {**extra, "magasin_state": "absent"})
    after = [r for r in cluster.releases() if r["namespace"] in namespaces(REALM).values()]
    peers = list(listener.peers)
    cluster.teardown(REALM)  # whatever a failed run left
    return {"runs": runs, "releases": releases, "releases_after": after, "peers": peers,
            "token": awx_credential["K8S_AUTH_API_KEY"]}


def test_converges_with_the_awx_credential_only(awx_realm: dict):
    first, second = awx_realm["runs"]["first"], awx_realm["runs"]["second"]
    first.ok()
    assert first.changed > 0
    second.ok()
    assert second.changed == 0, second.output[-8000:]
    ns = namespaces(REALM)
    deployed = {(r["namespace"], r["chart"]) for r in awx_realm["releases"] if r["status"] == "deployed"}
    for chart, version in PINS.items():
        if chart == "operator":  # the cluster's one MinIO operator, maybe another realm's
            assert any(d[1] == f"operator-{version}" for d in deployed), sorted(deployed)
            continue
        assert (ns[chart], f"{chart}-{version}") in deployed, f"{chart} {version} not deployed in {ns[chart]}"


def test_removes_with_the_awx_credential_only(awx_realm: dict):
    assert awx_realm["runs"]["absent"].ok().changed > 0
    assert [(r["namespace"], r["name"]) for r in awx_realm["releases_after"]
            if not r["chart"].startswith("operator-")] == []


def test_nothing_reaches_the_default_kubeconfig(awx_realm: dict):
    assert awx_realm["peers"] == [], f"the decoy cluster (KUBECONFIG) was reached from {awx_realm['peers']}"


def test_token_never_printed(awx_realm: dict):
    assert "-vvv" in awx_realm["runs"]["second"].argv
    token = awx_realm["token"]
    for name, run in awx_realm["runs"].items():
        assert token not in run.output, f"the {name} run printed the bearer token"
        assert token[-24:] not in run.output, f"the {name} run printed part of the bearer token"
