"""kwok serves `kubectl port-forward`, `logs` and `exec` for its pods, from rules naming local processes.

Real: kubectl, the API server (its pod subresources and the proxy to the node's
kubelet endpoint), kwok's kubelet endpoint, and what answers: an HTTP server this
test starts on 127.0.0.1, a log file it writes, a local command. Simulated: the pod
(no container runs; kwok's rules say what stands behind it).
"""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from kwok_debug import applied, cluster_rules, cri_log, http_server  # noqa: E402


@pytest.fixture
def pod(kubectl_bin: Path, kubeconfig: Path):
    kubectl = [str(kubectl_bin), f"--kubeconfig={kubeconfig}"]
    ns = f"kwok-debug-{uuid.uuid4().hex[:6]}"
    subprocess.run([*kubectl, "create", "namespace", ns], check=True, capture_output=True)
    subprocess.run([*kubectl, "-n", ns, "run", "web", "--image=registry.k8s.io/pause:3.10", "--port=8080"],
                   check=True, capture_output=True)
    subprocess.run([*kubectl, "-n", ns, "wait", "--for=condition=Ready", "pod/web", "--timeout=60s"],
                   check=True, capture_output=True)
    yield kubectl, ns
    subprocess.run([*kubectl, "delete", "namespace", ns, "--wait=false"], check=False, capture_output=True)


def test_logs_exec_and_port_forward_reach_local_processes(pod, tmp_path: Path) -> None:
    kubectl, ns = pod
    log = cri_log(tmp_path / "web.log", ["first line", "second line"])
    (tmp_path / "marker.txt").write_text("exec ran here\n")
    with http_server("behind-web") as server, applied(kubectl, cluster_rules(
            ns, [ns], port=server.server_address[1], logs_file=log, exec_dir=tmp_path)):
        logs = subprocess.run([*kubectl, "-n", ns, "logs", "web"], capture_output=True, text=True, check=True)
        assert logs.stdout.splitlines() == ["first line", "second line"]
        previous = subprocess.run([*kubectl, "-n", ns, "logs", "web", "--previous"], capture_output=True, text=True,
                                  check=True)
        assert "second line" in previous.stdout

        ran = subprocess.run([*kubectl, "-n", ns, "exec", "web", "--", "cat", "marker.txt"], capture_output=True,
                             text=True, check=True)
        assert ran.stdout == "exec ran here\n"

        forward = subprocess.Popen([*kubectl, "-n", ns, "port-forward", "--address=127.0.0.1", "pod/web", ":8080"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = forward.stdout.readline()
            match = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", line)
            assert match, line + forward.stderr.read()
            with urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/health", timeout=10) as resp:
                assert b'"served_by": "behind-web"' in resp.read()
            assert server.paths == ["/health"]
        finally:
            forward.terminate()
            forward.wait(10)
