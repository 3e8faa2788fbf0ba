"""A real MinIO server and its client, built from the Go module proxy, for the smoke tests.

    python3 tests/support/minio_build.py build    build unless cached; print the binaries' paths

Pinned pseudo-versions of github.com/minio/minio and github.com/minio/mc (neither tags Go module
versions any more), built and cached by tests/support/go_build.py under
~/.cache/magasin-minio/<name>-<version>-<go version>/bin/ (or $XDG_CACHE_HOME), so CI builds once.
Measured on this 2-core machine under load: minio 422 s (7 min, module downloads included), mc 115 s.
"""

from __future__ import annotations

import sys

from go_build import GoBuild

PINS = {
    "minio": "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c",
    "mc": "github.com/minio/mc@v0.0.0-20250313080218-cf909e1063a9",
}

_BUILD = GoBuild("magasin-minio", PINS)
binary, build = _BUILD.binary, _BUILD.build

if __name__ == "__main__":
    sys.exit(_BUILD.main(sys.argv, __doc__))
