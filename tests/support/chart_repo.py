"""Serve a directory of chart archives (with its index.yaml) as a Helm chart repository.

    python3 tests/support/chart_repo.py serve --dir DIR --port N [--host 127.0.0.1]
    python3 tests/support/chart_repo.py package --out DIR --charts-dir DIR [--helm PATH]

`serve` serves an existing chart repository directory -- such as
../shared/charts/magasin, the real magasin charts -- over HTTP on 127.0.0.1 until
SIGINT or SIGTERM; its first line on stdout is the repository URL, so a caller
that asked for port 0 learns the port the system chose. `package` runs
`helm package` for every chart under --charts-dir into DIR and writes
DIR/index.yaml with `helm repo index` (for purpose-built test charts only).

From Python (a pytest fixture, say) use the `serving()` context manager: the
server then runs in a thread of the caller and is gone when the block ends.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"


class ChartRepoError(RuntimeError):
    """A helm command failed; the message carries its argv and output."""


def find_helm(explicit: str | None = None) -> str:
    """--helm, then $HELM, then `helm` on PATH, then the project's .venv."""
    candidates = [explicit, os.environ.get("HELM"), shutil.which("helm")]
    candidates += [str(REPO_ROOT / ".venv" / "bin" / name) for name in ("helm3", "helm4", "helm")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise ChartRepoError("no helm binary found: pass --helm or set HELM")


def chart_dirs(charts_dir: Path) -> list[Path]:
    return sorted(p.parent for p in charts_dir.glob("*/Chart.yaml"))


def _run(argv: Sequence[str]) -> str:
    proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ChartRepoError(
            f"{' '.join(argv)} failed (rc={proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout


def package(out: Path, charts_dir: Path, helm: str | None = None) -> list[Path]:
    """Package every chart into `out` and index it; returns the archives."""
    helm_bin = find_helm(helm)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    charts = chart_dirs(charts_dir)
    if not charts:
        raise ChartRepoError(f"no charts under {charts_dir}")
    for chart in charts:
        _run([helm_bin, "package", str(chart), "--destination", str(out)])
    _run([helm_bin, "repo", "index", str(out)])
    return sorted(out.glob("*.tgz"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        if os.environ.get("CHART_REPO_VERBOSE"):
            super().log_message(format, *args)


def _make_server(directory: Path, port: int, host: str) -> http.server.ThreadingHTTPServer:
    directory = Path(directory).resolve()
    if not (directory / "index.yaml").is_file():
        raise ChartRepoError(f"{directory} has no index.yaml: not a chart repository directory")
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


@contextlib.contextmanager
def serving(directory: Path, port: int = 0, host: str = LOOPBACK) -> Iterator[str]:
    """Serve `directory` in a background thread; yields the repository URL."""
    server = _make_server(directory, port, host)
    thread = threading.Thread(target=server.serve_forever, name="chart-repo", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def serve(directory: Path, port: int, host: str = LOOPBACK) -> None:
    """Serve in the foreground until SIGINT/SIGTERM, then return."""
    server = _make_server(directory, port, host)

    def _stop(signum: int, frame: object) -> None:
        # shutdown() blocks until serve_forever returns, so not from its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(f"http://{host}:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_pkg = sub.add_parser("package", help="helm package every chart and write index.yaml")
    p_pkg.add_argument("--out", required=True, type=Path)
    p_pkg.add_argument("--charts-dir", type=Path, required=True)
    p_pkg.add_argument("--helm", help="helm binary (default: $HELM, PATH, .venv)")
    p_srv = sub.add_parser("serve", help="serve a chart repository directory over HTTP")
    p_srv.add_argument("--dir", required=True, type=Path)
    p_srv.add_argument("--port", required=True, type=int, help="0 picks a free port")
    p_srv.add_argument("--host", default=LOOPBACK)
    args = parser.parse_args(argv)
    try:
        if args.command == "package":
            for archive in package(args.out, args.charts_dir, args.helm):
                print(archive)
        else:
            serve(args.dir, args.port, args.host)
    except (ChartRepoError, OSError) as exc:
        print(f"chart_repo.py: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
