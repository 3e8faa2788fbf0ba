#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: support_bundle
short_description: A tarball of what a person helping with a magasin realm needs - logs, events, helm history - with every secret masked
version_added: 0.3.0
description:
  - Writes a gzipped tarball with, per component of the realm, every container's current and previous log
    (C(kubectl logs), C(--previous)), the events of its namespaces, C(helm status) and C(helm history) of each
    release (never its values - C(helm get values) is not run, and the C(config) and manifest of C(helm status)
    are dropped), and C(kubectl describe) of every object not ready; the realm's status as M(magasin.platform.realm_status)
    reports it; the nodes and the cluster's and tools' versions; the collection's version; and the run reports given.
  - Every known secret value is masked in every file - the values of the realm's Secrets (read inside the module for
    that only, never returned), the secret-looking assignments inside multi-line ones, the secret-looking values
    helm was given, and the base64 form of each.
  - Size bounded by O(max_bytes) (uncompressed); long logs keep their tail (cut from the head, with a note).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Reads the cluster and reports what the bundle would hold; writes no file.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run writes a new bundle (the cluster is only read).
options:
  realm:
    description: The realm.
    type: str
    default: magasin
  components:
    description: The components to include.
    type: list
    elements: str
    choices: [minio, drill, dagster, daskhub, superset]
    default: [minio, drill, dagster, daskhub, superset]
  dest:
    description: Directory the bundle is written to (created, mode 0700); its name is C(magasin-support-<realm>-<UTC time>.tar.gz).
    type: path
    required: true
  max_bytes:
    description: Upper bound of the bundle's uncompressed size; the logs share what the other files leave.
    type: int
    default: 52428800
  log_bytes:
    description: Upper bound of one log; a longer one keeps its tail.
    type: int
    default: 1048576
  tail_lines:
    description: Lines of each log asked of kubectl (C(--tail)).
    type: int
    default: 10000
  collection_version:
    description: The collection's version, recorded in the bundle.
    type: str
    default: unknown
  reports:
    description: Files (run reports, a status JSON file) to include, masked like the rest; missing ones are noted.
    type: list
    elements: path
    default: []
"""

EXAMPLES = r"""
- name: Support bundle of the realm
  magasin.platform.support_bundle:
    realm: magasin
    dest: /tmp
  register: __bundle
"""

RETURN = r"""
path:
  description: The bundle written (in check mode, the one that would be).
  returned: always
  type: str
  sample: /tmp/magasin-support-magasin-20261201T103000Z.tar.gz
files:
  description: The bundle's files, relative to its top directory.
  returned: always
  type: list
  elements: str
uncompressed_bytes:
  description: Bytes of the bundle's files.
  returned: always
  type: int
compressed_bytes:
  description: Bytes of the tarball (0 in check mode).
  returned: always
  type: int
truncated:
  description: Files cut from the head to fit the bounds.
  returned: always
  type: list
  elements: str
masked:
  description: How many distinct secret strings were masked wherever found (a count, never a value).
  returned: always
  type: int
not_ready:
  description: The components not ready.
  returned: always
  type: list
  elements: str
"""

import datetime
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _bundle, _status
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient, list_items
from ansible_collections.magasin.platform.plugins.module_utils._realm import COMPONENTS

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None

MAX_THREADS = 4


def _dump(data):
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


class SupportBundleManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        connection = Connection(module)
        self.kubectl = KubectlClient(module, connection)
        self.helm = HelmClient(module, connection)

    def output(self, client, args, ok_rcs=(0,)):
        """stdout of a read, or the reason it gave none (a pod with no previous container, a describe that races
        a deletion): a bundle keeps what it can get."""
        rc, out, err = client.run(args, check=False)
        return out if rc in ok_rcs else "(%s %s: exit %s) %s\n" % (client.binary_name, args[0], rc, err.strip())

    def secrets(self, namespaces):
        """The strings to mask. The Secrets are read here only; no value leaves this method but as a mask."""
        # One read per namespace: an account whose Secret rights end at the realm's namespaces may run it.
        items = [o for namespace in sorted(namespaces) for o in list_items(self.kubectl.run_json(
            ["get", "secrets", "--namespace", namespace, "--output", "json"]))]
        found = _bundle.secret_strings(items)
        self.kubectl.add_secrets(found)
        self.helm.add_secrets(found)
        return found

    def run(self):
        realm = self.params["realm"]
        components = [c for c in COMPONENTS if c in self.params["components"]]
        by_component = _status.component_namespaces(realm, components)
        report, items, releases = _status.collect(self.kubectl, self.helm, realm, components, yaml.safe_load_all)
        owner = dict((ns, c) for c, nss in by_component.items() for ns in nss)
        for key in releases:
            namespace = key.split("/", 1)[0]
            if namespace not in owner:
                owner[namespace] = "minio"  # the shared operator, in another realm's namespace
        secrets = self.secrets(set(owner))
        files, logs = self.read(report, items, releases, by_component, owner)
        return self.write(realm, components, report, files, logs, secrets)

    def read(self, report, items, releases, by_component, owner):
        """{path: text} of the bundle's files and of its logs, unmasked."""
        files = {"status.json": _dump(report), "status.txt": "\n".join(_status.table(report)) + "\n"}
        logs = {}
        with ThreadPoolExecutor(max_workers=MAX_THREADS) as pool:
            nodes = pool.submit(self.kubectl.run_json, ["get", "nodes", "--output", "json"])
            versions = pool.submit(self.kubectl.run, ["version", "--output", "json"], check=False)
            helm_version = pool.submit(self.output, self.helm, ["version", "--short"])
            helm = {}
            for key in releases:
                namespace, name = key.split("/", 1)
                helm[key] = (pool.submit(self.helm.run, ["status", name, "--namespace", namespace, "--output", "json"],
                                         check=False),
                             pool.submit(self.output, self.helm, ["history", name, "--namespace", namespace,
                                                                  "--output", "json"]))
            pods = [o for o in items if o.get("kind") == "Pod" and o["metadata"]["namespace"] in owner]
            wanted_logs = {}
            for namespace, pod, container in _bundle.log_targets(pods):
                base = "%s/logs/%s/%s/%s" % (owner[namespace], namespace, pod, container)
                for previous in (False, True):
                    args = _bundle.logs_args(namespace, pod, container, previous, self.params["tail_lines"])
                    wanted_logs[base + (".previous.log" if previous else ".log")] = pool.submit(
                        self.output, self.kubectl, args)
            described = {}
            for kind, namespace, name in _bundle.not_ready([o for o in items if o["metadata"]["namespace"] in owner]):
                path = "%s/describe/%s-%s-%s.txt" % (owner[namespace], kind.lower(), namespace, name)
                described[path] = pool.submit(self.output, self.kubectl, _bundle.describe_args(kind, namespace, name))
            for key, (status, history) in helm.items():
                namespace, name = key.split("/", 1)
                rc, out, err = status.result()
                data = _bundle.release_status(json.loads(out)) if rc == 0 and out.strip() else {"error": err.strip()}
                files["%s/helm/%s-%s-status.json" % (owner[namespace], namespace, name)] = _dump(data)
                files["%s/helm/%s-%s-history.json" % (owner[namespace], namespace, name)] = history.result()
            for component, nss in by_component.items():
                files["%s/events.txt" % component] = _bundle.events_text(
                    [o for o in items if o["metadata"]["namespace"] in nss])
            files.update((path, future.result()) for path, future in described.items())
            logs.update((path, future.result()) for path, future in wanted_logs.items())
            files["cluster/nodes.json"] = _dump(_bundle.node_facts(list_items(nodes.result())))
            files["cluster/versions.json"] = _dump({"kubectl_and_server": _bundle.json_or_text(versions.result()[1]),
                                                    "helm": helm_version.result().strip()})
        return files, logs

    def write(self, realm, components, report, files, logs, secrets):
        now = datetime.datetime.now(datetime.timezone.utc)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        files["version.json"] = _dump({"collection": "magasin.platform",
                                       "collection_version": self.params["collection_version"],
                                       "realm": realm, "components": components, "made": now.isoformat()})
        files["README.txt"] = _bundle.readme(realm, self.params["collection_version"], now.isoformat())
        for report_path in self.params["reports"]:
            name = "reports/%s" % os.path.basename(report_path)
            if os.path.isfile(report_path):
                with open(report_path, "r", errors="replace") as handle:
                    files[name] = handle.read()
            else:
                files[name + ".missing"] = "%s did not exist when the bundle was made\n" % report_path
        files = dict((p, _bundle.mask(t, secrets)) for p, t in files.items())
        logs = dict((p, _bundle.mask(t, secrets)) for p, t in logs.items())
        content, truncated = _bundle.fit(files, logs, self.params["max_bytes"], self.params["log_bytes"])
        root = "magasin-support-%s-%s" % (realm, stamp)
        path = os.path.join(self.params["dest"], root + ".tar.gz")
        result = {"changed": not self.module.check_mode, "path": path, "files": sorted(content),
                  "truncated": truncated, "masked": len(secrets), "not_ready": report["not_ready"],
                  "uncompressed_bytes": sum(len(t.encode("utf-8")) for t in content.values()), "compressed_bytes": 0}
        if self.module.check_mode:
            return result
        data = _bundle.pack(content, root, int(time.time()))
        os.makedirs(self.params["dest"], mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        result["compressed_bytes"] = len(data)
        return result


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", default="magasin"),
            components=dict(type="list", elements="str", choices=list(COMPONENTS), default=list(COMPONENTS)),
            dest=dict(type="path", required=True),
            max_bytes=dict(type="int", default=_bundle.DEFAULT_MAX_BYTES),
            log_bytes=dict(type="int", default=_bundle.DEFAULT_LOG_BYTES),
            tail_lines=dict(type="int", default=10000),
            collection_version=dict(type="str", default="unknown"),
            reports=dict(type="list", elements="path", default=[]),
        ),
        supports_check_mode=True,
    )
    manager = SupportBundleManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
