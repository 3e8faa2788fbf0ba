"""Real processes behind kwok's pods: kwok's port-forward, logs and exec rules pointed at them.

The test cluster's kwok runs with --enable-crds for its debugging resources
(tests/cluster/harness.py), so `kubectl port-forward`, `kubectl logs` and
`kubectl exec` on a pod travel the real path -- kubectl, the API server, the
node's kubelet endpoint (kwok) -- and end at a local address, file or command
named by these rules. What answers is real (a server started by the test on
127.0.0.1); only the pod is simulated.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

API = "kwok.x-k8s.io/v1alpha1"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.dumps({"served_by": self.server.marker, "path": self.path}).encode()
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args) -> None:
        pass


@contextmanager
def http_server(marker: str) -> Iterator[http.server.ThreadingHTTPServer]:
    """An HTTP server on 127.0.0.1 (a free port) answering every GET with its marker and the path."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.marker = marker
    server.paths = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def cri_log(path: Path, lines: list[str]) -> Path:
    """A log file in the CRI format kwok's Logs rules read (the kubelet's format)."""
    path.write_text("".join(f"2026-01-01T00:00:{i:02d}.000000000Z stdout F {line}\n" for i, line in enumerate(lines)))
    return path


def cluster_rules(name: str, namespaces: list[str], port: int | None = None, logs_file: Path | None = None,
                  exec_dir: Path | None = None) -> list[dict]:
    """Cluster-wide rules for every pod of the namespaces: every port to 127.0.0.1:port, logs, exec."""
    selector = {"matchNamespaces": sorted(namespaces)}
    rules = []
    if port is not None:
        rules.append({"apiVersion": API, "kind": "ClusterPortForward", "metadata": {"name": name},
                      "spec": {"selector": selector, "forwards": [{"target": {"address": "127.0.0.1", "port": port}}]}})
    if logs_file is not None:
        rules.append({"apiVersion": API, "kind": "ClusterLogs", "metadata": {"name": name},
                      "spec": {"selector": selector, "logs": [{"logsFile": str(logs_file), "previousLogsFile": str(logs_file)}]}})
    if exec_dir is not None:
        rules.append({"apiVersion": API, "kind": "ClusterExec", "metadata": {"name": name},
                      "spec": {"selector": selector, "execs": [{"local": {"workDir": str(exec_dir)}}]}})
    return rules


@contextmanager
def applied(kubectl: list[str], objects: list[dict]) -> Iterator[None]:
    """kubectl apply the objects; delete them afterwards."""
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    subprocess.run([*kubectl, "apply", "-f", "-"], input=manifest, text=True, capture_output=True, check=True)
    try:
        yield
    finally:
        subprocess.run([*kubectl, "delete", "--ignore-not-found", "-f", "-"], input=manifest, text=True,
                       capture_output=True, check=False)
