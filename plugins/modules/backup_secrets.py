#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: backup_secrets
short_description: The Secrets of a magasin backup - the Jobs' credentials, and the realm's Secrets sealed with a passphrase
version_added: 0.4.0
description:
  - V(credentials) copies what the backup and restore Jobs need (the databases' passwords, the realm's MinIO root
    keys, an external target's keys) into one Secret in the Jobs' namespace, C(magasin-backup-credentials), since a
    pod reads Secrets of its own namespace only. The Jobs take every value from it by reference.
  - V(seal) reads every Secret of the realm (labelled C(magasin.unicef.org/realm)) in its namespaces and writes them
    encrypted with the passphrase (AES-256-GCM, key by scrypt) to O(path)/C(secrets.enc), with a C(manifest.json)
    of its size and SHA-256.
  - V(unseal) verifies O(path) against its manifest first, then decrypts the Secrets and applies them to this realm
    (another realm's namespaces are mapped to this one's, its realm label replaced).
  - No value is ever returned, shown in a diff or passed on a command line (kubectl reads manifests from stdin).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Reads the Secrets and the files; writes nothing (V(unseal) runs a server-side dry run).
  diff_mode:
    support: full
    details: Names the Secrets and keys that would change, never a value.
  idempotent:
    support: partial
    details: V(credentials) and V(unseal) change nothing when the Secrets hold the values already; V(seal) writes a new
      file each run (a new salt), so it always reports a change.
options:
  action:
    description: What to do.
    type: str
    required: true
    choices: [credentials, seal, unseal]
  realm:
    description: The realm.
    type: str
    default: magasin
  components:
    description: The realm's components.
    type: list
    elements: str
    default: []
  namespace:
    description: The Jobs' namespace (V(credentials)); by default the realm's tenant namespace.
    type: str
  target_access_key:
    description: Access key of an external target (V(credentials)).
    type: str
  target_secret_key:
    description: Secret key of an external target (V(credentials)).
    type: str
  passphrase:
    description: The passphrase (V(seal), V(unseal)); at least 12 characters.
    type: str
  path:
    description: The controller directory of the sealed Secrets (V(seal), V(unseal)).
    type: path
  backup_id:
    description: The backup's id, written into the manifest (V(seal)).
    type: str
    default: ""
  labels:
    description: Labels of the credentials Secret and of restored Secrets.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Seal the realm's Secrets
  magasin.platform.backup_secrets:
    action: seal
    realm: magasin
    components: [minio, superset]
    passphrase: "{{ vault_backup_passphrase }}"
    path: /srv/backups/magasin/20261201T120000Z
"""

RETURN = r"""
secrets:
  description: The Secrets sealed or applied, as namespace/name.
  returned: seal, unseal
  type: list
  elements: str
keys:
  description: The keys of the credentials Secret (never their values).
  returned: credentials
  type: list
  elements: str
file:
  description: The sealed file - path, size and sha256.
  returned: seal
  type: dict
"""

import base64
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _backup
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient
from ansible_collections.magasin.platform.plugins.module_utils._realm import realm_names


class BackupSecretsManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))
        self.namespaces = realm_names(self.params["realm"])[2]
        self.model = {"namespaces": self.namespaces, "components": list(self.params["components"])}
        self.cache = {}

    def secret(self, namespace, name, cached=False):
        """A Secret's base64 data, or None; every decoded value is masked in any error."""
        if cached and (namespace, name) in self.cache:
            return self.cache[(namespace, name)]
        rc, out, err = self.kubectl.run(["get", "secret", name, "--namespace", namespace, "--ignore-not-found",
                                         "--output", "json"])
        data = (json.loads(out).get("data") or {}) if out.strip() else None
        self.kubectl.add_secrets(base64.b64decode(v).decode("utf-8", "replace") for v in (data or {}).values())
        self.cache[(namespace, name)] = data
        return data

    def fail(self, msg):
        self.module.fail_json(msg=self.kubectl.redact(msg))

    def apply_secrets(self, manifests):
        """(changed names, diff lines): each Secret applied unless it holds the same data already."""
        changed, lines = [], []
        for m in manifests:
            meta = m["metadata"]
            live = self.secret(meta["namespace"], meta["name"])
            if live == m["data"]:
                continue
            keys = sorted(k for k in set(m["data"]) | set(live or {}) if (live or {}).get(k) != m["data"].get(k))
            changed.append("%s/%s" % (meta["namespace"], meta["name"]))
            lines.append("%s %s/%s: %s" % ("create" if live is None else "update", meta["namespace"], meta["name"],
                                           ", ".join(keys)))
        todo = [m for m in manifests if "%s/%s" % (m["metadata"]["namespace"], m["metadata"]["name"]) in changed]
        if todo:
            self.kubectl.apply(todo, dry_run=self.module.check_mode, force_conflicts=True)
        return changed, lines

    def credentials(self):
        namespace = self.params["namespace"] or self.namespaces["tenant"]
        data, missing = {}, []
        for source in _backup.credential_sources(self.model, {}):
            live = self.secret(source["namespace"], source["secret"], cached=True)
            if live is None or source["secret_key"] not in live:
                missing.append("%s/%s key %s" % (source["namespace"], source["secret"], source["secret_key"]))
                continue
            data[source["key"]] = live[source["secret_key"]]
        if missing and self.module.check_mode:
            # A restore's unsealed Secrets are not there in check mode: say so, and what would be made.
            self.module.warn("not found (yet): %s" % "; ".join(missing))
            return {"changed": True, "keys": sorted(data), "missing": missing,
                    "diff": {"prepared": "create or update %s/%s" % (namespace, _backup.CREDENTIALS_SECRET)}}
        if missing:
            self.fail("the realm's Secrets the backup needs are missing (is the realm %s installed with these components?): %s"
                      % (self.params["realm"], "; ".join(missing)))
        for key, param in (("target-access-key", "target_access_key"), ("target-secret-key", "target_secret_key")):
            if self.params[param]:
                data[key] = base64.b64encode(self.params[param].encode("utf-8")).decode()
        manifest = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": _backup.CREDENTIALS_SECRET, "namespace": namespace,
                                 "labels": dict(self.params["labels"], **{"app.kubernetes.io/component": "backup"})},
                    "data": data}
        changed, lines = self.apply_secrets([manifest])
        return {"changed": bool(changed), "keys": sorted(data), "diff": {"prepared": "\n".join(lines)}}

    def realm_secrets(self):
        out = []
        for key in sorted(set(self.namespaces) - {"operator"}):
            namespace = self.namespaces[key]
            data = self.kubectl.run_json(["get", "secrets", "--namespace", namespace, "--selector",
                                          "magasin.unicef.org/realm=%s" % self.params["realm"], "--output", "json"])
            for item in data.get("items") or []:
                meta = item["metadata"]
                if meta["name"] == _backup.CREDENTIALS_SECRET:
                    continue
                out.append({"namespace": meta["namespace"], "name": meta["name"], "type": item.get("type") or "Opaque",
                            "labels": meta.get("labels") or {}, "data": item.get("data") or {}})
        return out

    def passphrase(self):
        if not self.params["passphrase"]:
            self.fail("a passphrase is needed to %s the realm's Secrets (magasin_backup_passphrase)" % self.params["action"])
        return self.params["passphrase"]

    def seal(self):
        path = self.params["path"]
        if not path:
            self.fail("path is required to seal the realm's Secrets (magasin_backup_dir)")
        found = self.realm_secrets()
        names = ["%s/%s" % (s["namespace"], s["name"]) for s in found]
        kept = self.sealed_already(path)
        if kept:
            # The same backup id is the same backup: its sealed Secrets are kept as they are.
            return {"changed": False, "secrets": kept, "file": self.file_info(path)}
        if self.module.check_mode:
            return {"changed": True, "secrets": names, "diff": {"prepared": "seal %s" % ", ".join(names)}}
        try:
            blob = _backup.seal(found, self.passphrase(), self.params["realm"])
        except _backup.BackupError as exc:
            self.fail(str(exc))
        os.makedirs(path, exist_ok=True)
        target = os.path.join(path, _backup.SECRETS_FILE)
        with open(target + ".part", "wb") as f:
            f.write(blob)
        os.chmod(target + ".part", 0o600)
        os.replace(target + ".part", target)
        info = self.file_info(path)
        size, digest = info["size"], info["sha256"]
        manifest = {"format": _backup.MANIFEST_FORMAT, "realm": self.params["realm"], "id": self.params["backup_id"],
                    "artifacts": [{"path": _backup.SECRETS_FILE, "size": size, "sha256": digest}]}
        with open(os.path.join(path, _backup.MANIFEST), "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.write("\n")
        return {"changed": True, "secrets": names, "file": info}

    def file_info(self, path):
        target = os.path.join(path, _backup.SECRETS_FILE)
        size, digest = _backup.file_digest(target)
        return {"path": target, "size": size, "sha256": digest}

    def sealed_already(self, path):
        """The names of the Secrets sealed in ``path`` when it holds a backup that matches its manifest and
        opens with the passphrase; else None."""
        try:
            with open(os.path.join(path, _backup.MANIFEST)) as f:
                manifest = _backup.parse_manifest(f.read())
            if _backup.verify_dir(path, manifest):
                return None
            with open(os.path.join(path, _backup.SECRETS_FILE), "rb") as f:
                _realm, sealed = _backup.unseal(f.read(), self.passphrase())
        except (IOError, OSError, _backup.BackupError):
            return None
        return ["%s/%s" % (s["namespace"], s["name"]) for s in sealed]

    def unseal(self):
        path = self.params["path"]
        if not path or not os.path.isfile(os.path.join(path, _backup.MANIFEST)):
            self.fail("no backup manifest at %s (magasin_backup_dir)" % os.path.join(path or "", _backup.MANIFEST))
        try:
            with open(os.path.join(path, _backup.MANIFEST)) as f:
                manifest = _backup.parse_manifest(f.read())
            problems = _backup.verify_dir(path, manifest)
            if problems:
                raise _backup.BackupError("%s does not match its manifest, nothing restored: %s" % (path, "; ".join(
                    "%s: %s" % (p["path"], p["problem"]) for p in problems)))
            with open(os.path.join(path, _backup.SECRETS_FILE), "rb") as f:
                realm, sealed = _backup.unseal(f.read(), self.passphrase())
        except (_backup.BackupError, IOError) as exc:
            self.fail(str(exc))
        for s in sealed:
            self.kubectl.add_secrets(base64.b64decode(v).decode("utf-8", "replace") for v in s["data"].values())
        manifests = _backup.rehome(sealed, realm_names(realm)[2], self.namespaces, self.params["labels"])
        missing = sorted(set(m["metadata"]["namespace"] for m in manifests) - self.existing_namespaces())
        if missing and not self.module.check_mode:
            self.kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in missing])
        changed, lines = self.apply_secrets([m for m in manifests if m["metadata"]["namespace"] not in missing]
                                            if self.module.check_mode else manifests)
        changed += ["%s/%s" % (m["metadata"]["namespace"], m["metadata"]["name"]) for m in manifests
                    if self.module.check_mode and m["metadata"]["namespace"] in missing]
        return {"changed": bool(changed), "secrets": sorted(changed), "diff": {"prepared": "\n".join(lines)}}

    def existing_namespaces(self):
        data = self.kubectl.run_json(["get", "namespaces", "--output", "json"])
        return set(i["metadata"]["name"] for i in data.get("items") or [])

    def run(self):
        return getattr(self, self.params["action"])()


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            action=dict(type="str", required=True, choices=["credentials", "seal", "unseal"]),
            realm=dict(type="str", default="magasin"),
            components=dict(type="list", elements="str", default=[]),
            namespace=dict(type="str"),
            target_access_key=dict(type="str", no_log=True),
            target_secret_key=dict(type="str", no_log=True),
            passphrase=dict(type="str", no_log=True),
            path=dict(type="path"),
            backup_id=dict(type="str", default=""),
            labels=dict(type="dict", default={}),
        ),
        supports_check_mode=True,
    )
    manager = BackupSecretsManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
