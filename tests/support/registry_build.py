"""A real OCI registry and its client, built from the Go module proxy, for the offline-site tests.

    python3 tests/support/registry_build.py build    build unless cached; print the binaries' paths

The CNCF distribution registry (github.com/distribution/distribution/v3, cmd/registry) and crane
(github.com/google/go-containerregistry, cmd/crane), pinned to tagged module versions, built and cached by
tests/support/go_build.py under
~/.cache/magasin-registry/<name>-<version>-<go version>/bin/ (or $XDG_CACHE_HOME), so CI builds
once. Measured on this 2-core machine under load: registry 249 s (module downloads included), crane 21 s.
"""

from __future__ import annotations

import sys

from go_build import GoBuild

PINS = {
    "registry": "github.com/distribution/distribution/v3/cmd/registry@v3.1.2",
    "crane": "github.com/google/go-containerregistry/cmd/crane@v0.22.1",
}

_BUILD = GoBuild("magasin-registry", PINS)
binary, build = _BUILD.binary, _BUILD.build

if __name__ == "__main__":
    sys.exit(_BUILD.main(sys.argv, __doc__))
