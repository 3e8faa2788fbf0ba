"""Real HTTP servers on 127.0.0.1 for the day-2 tests, speaking the components' own API shapes.

kwok's PortForward rules point the realm's pods at them (tests/support/kwok_debug.py), so the
collection's modules reach them through kubectl port-forward and the real API server. What answers
is a process of the test, not the component: Drill's /query.json is served by SQLite (the SQL really
runs, the rows are its answer, in Drill's JSON shape), and the UIs' health and list paths answer as
each component documents them.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Handler(http.server.BaseHTTPRequestHandler):
    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method: str, body: str | None) -> None:
        self.server.requests.append((method, self.path, body))
        route = self.server.routes.get((method, self.path.split("?", 1)[0]))
        if method == "POST" and self.path == "/query.json" and self.server.sql:
            self.reply(*drill_query(json.loads(body)))
        elif route is None:
            self.reply(404, {"error": f"no route {method} {self.path}"})
        else:
            self.reply(*(route(self.headers, body) if callable(route) else route))

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.route("GET", None)

    def do_POST(self) -> None:  # noqa: N802
        self.route("POST", self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())

    def log_message(self, *_args) -> None:
        pass


def drill_query(request: dict) -> tuple[int, dict]:
    """Run the statement with SQLite; answer as Drill 1.21's /query.json does (values as strings)."""
    if request.get("queryType") != "SQL":
        return 400, {"errorMessage": "queryType must be SQL"}
    conn = sqlite3.connect(":memory:")
    try:
        cur = conn.execute(request["query"])
        columns = [d[0] for d in cur.description or []]
        limit = int(request.get("autoLimit") or 0)
        fetched = cur.fetchmany(limit) if limit else cur.fetchall()
    except sqlite3.Error as exc:
        return 200, {"queryId": "1a2b-fail", "queryState": "FAILED",
                     "errorMessage": f"PARSE ERROR: {exc}\n\n[Error Id: 1a2b ]"}
    finally:
        conn.close()
    rows = [{c: (None if v is None else str(v)) for c, v in zip(columns, row, strict=True)} for row in fetched]
    return 200, {"queryId": "1a2b-3c4d", "columns": columns, "rows": rows,
                 "metadata": ["VARCHAR"] * len(columns), "queryState": "COMPLETED", "attemptedAutoLimit": limit}


@contextmanager
def api_server(routes: dict | None = None, sql: bool = False) -> Iterator[http.server.ThreadingHTTPServer]:
    """An HTTP server on 127.0.0.1 (a free port): routes {(method, path): (status, JSON body), or a function of
    (headers, body) returning them}; with sql, POST /query.json as Drill. Every request is kept in .requests."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes = dict(routes or {})
    server.sql = sql
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def port_forward_rule(namespace: str, pod: str, port: int) -> dict:
    """A kwok PortForward for one pod (it has the pod's name): every port of it to 127.0.0.1:port."""
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward", "metadata": {"name": pod, "namespace": namespace},
            "spec": {"forwards": [{"target": {"address": "127.0.0.1", "port": port}}]}}
