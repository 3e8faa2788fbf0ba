# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the crane client (github.com/google/go-containerregistry/cmd/crane).

Registry credentials and certificate authorities come from the environment as crane reads them
(``~/.docker/config.json``, ``SSL_CERT_FILE``); nothing secret goes on argv.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ._cli import CliClient, CliError

NOT_FOUND = ("MANIFEST_UNKNOWN", "NAME_UNKNOWN", "404")


class CraneClient(CliClient):
    binary_name = "crane"
    binary_option = "crane_binary"

    def digest(self, ref):
        """The digest ``ref`` resolves to, or None when the registry does not hold it."""
        rc, out, err = self.run(["digest", ref], check=False)
        if rc != 0:
            if any(word in err for word in NOT_FOUND) or "not found" in err.lower():
                return None
            raise CliError(self.error_message(err, out), cmd=self.calls[-1], rc=rc, stderr=self.redact(err))
        return out.strip()

    def layers(self, ref):
        rc, out, dummy = self.run(["manifest", ref], check=False)
        if rc != 0:
            return None
        return [layer.get("digest") for layer in (json.loads(out).get("layers") or [])]

    def pull_layout(self, ref, path):
        """``ref`` (by digest: what was read is what lands) as an OCI image layout in directory ``path``; a
        multi-platform index is kept whole, so its digest is the one the registry serves."""
        self.run(["pull", "--format", "oci", ref, path])

    def push_layout(self, path, ref):
        """The single image (or index) of the OCI layout ``path`` to ``ref``."""
        self.run(["push", path, ref])
