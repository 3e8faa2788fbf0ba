"""Real servers and clients for the tests, built from the Go module proxy and cached (minio_build.py,
registry_build.py name what they build).

`go install module@version` with GOFLAGS=-mod=mod, CGO off, trimmed, into
~/.cache/<cache>/<name>-<version>-<go version>/bin/ (or $XDG_CACHE_HOME), so CI builds each once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


class GoBuild:
    def __init__(self, cache: str, pins: dict[str, str]):
        self.cache = cache
        self.pins = pins  # name -> module@version

    def cache_root(self) -> Path:
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / self.cache

    def binary(self, name: str, go: str | None = None) -> Path:
        version = self.pins[name].split("@", 1)[1]
        return self.cache_root() / f"{name}-{version}-{go or go_version()}" / "bin" / name

    def build(self, name: str) -> Path:
        """The binary, built first unless cached."""
        go = go_version()
        path = self.binary(name, go)
        if os.access(path, os.X_OK):
            return path
        path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod -trimpath -buildvcs=false", CGO_ENABLED="0",
                   GOWORK="off", GOBIN=str(path.parent))
        started = time.monotonic()
        print(f"building {self.pins[name]} (minutes the first time)", file=sys.stderr, flush=True)
        subprocess.run(["go", "install", self.pins[name]], env=env, check=True)
        print(f"built {name} in {time.monotonic() - started:.0f} s: {path}", file=sys.stderr, flush=True)
        return path

    def main(self, argv: list[str], usage: str) -> int:
        """`<script> build`: build what is not cached, print every binary's path."""
        if argv[1:] != ["build"]:
            print(usage, file=sys.stderr)
            return 2
        for name in self.pins:
            print(self.build(name))
        return 0
