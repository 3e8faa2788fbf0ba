"""A real OCI registry and its client, built from the Go module proxy, for the offline-site tests.

    python3 tests/support/registry_build.py build    build unless cached; print the binaries' paths

The CNCF distribution registry (github.com/distribution/distribution/v3, cmd/registry) and crane
(github.com/google/go-containerregistry, cmd/crane), pinned to tagged module versions, built with
`go install module/cmd/x@version` (GOFLAGS=-mod=mod, CGO off, trimmed) and cached under
~/.cache/magasin-registry/<name>-<version>-<go version>/bin/ (or $XDG_CACHE_HOME), so CI builds
once. Measured on this 2-core machine under load: registry 249 s (module downloads included), crane 21 s.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

PINS = {
    "registry": "github.com/distribution/distribution/v3/cmd/registry@v3.1.2",
    "crane": "github.com/google/go-containerregistry/cmd/crane@v0.22.1",
}


def cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "magasin-registry"


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()


def binary(name: str, go: str | None = None) -> Path:
    module = PINS[name]
    return cache_root() / f"{name}-{module.split('@', 1)[1]}-{go or go_version()}" / "bin" / name


def build(name: str) -> Path:
    """The binary, built first unless cached."""
    go = go_version()
    path = binary(name, go)
    if os.access(path, os.X_OK):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, GOTOOLCHAIN="local", GOFLAGS="-mod=mod -trimpath -buildvcs=false", CGO_ENABLED="0",
               GOWORK="off", GOBIN=str(path.parent))
    started = time.monotonic()
    print(f"building {PINS[name]} (minutes the first time)", file=sys.stderr, flush=True)
    subprocess.run(["go", "install", PINS[name]], env=env, check=True)
    print(f"built {name} in {time.monotonic() - started:.0f} s: {path}", file=sys.stderr, flush=True)
    return path


def main(argv: list[str]) -> int:
    if argv[1:] != ["build"]:
        print(__doc__, file=sys.stderr)
        return 2
    for name in PINS:
        print(build(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
