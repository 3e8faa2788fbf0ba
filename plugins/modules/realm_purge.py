#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: realm_purge
short_description: Delete, for good, the volumes, credentials or namespaces of uninstalled magasin components
version_added: 0.3.0
description:
  - Deletes what C(magasin_state=absent) keeps and C(magasin_purge) names, per component's namespace - its
    PersistentVolumeClaims (V(volumes)), the Secrets the collection made there, those carrying O(labels)
    (V(credentials)), or the namespace itself with everything in it (V(namespace)).
  - Deletes exactly what it lists in RV(deleted), consumers before MinIO, and nothing else. Objects that do not
    exist are not an error, so a second run has nothing to do.
  - Reads the cluster with three kubectl processes (namespaces; claims and labelled Secrets by name, never their
    data) and deletes with one more. Playbooks call it through C(magasin_purge), after the releases are gone and
    only once C(magasin_purge_confirm) names the realm (checked by the preflight).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Reads the cluster and returns in RV(deleted) what a real run would delete; deletes nothing.
  diff_mode:
    support: full
    details: The namespaces, claims and collection Secrets of the targeted namespaces, before and after, by name.
  idempotent:
    support: full
    details: What was deleted is no longer found, so the next run reports no change.
options:
  purge:
    description:
      - What may go, per component (V(minio), V(drill), V(dagster), V(daskhub), V(superset)), a list of
        V(volumes), V(credentials) and V(namespace); V(namespace) takes the namespace's claims and Secrets with it.
      - Components go consumers first and MinIO last, whatever the order here.
    type: dict
    required: true
  namespaces:
    description:
      - The realm's namespaces by key (V(tenant), V(drill), V(dagster), V(daskhub), V(superset)), as the realm
        model names them. MinIO's namespace is the tenant's; the shared operator's is never touched.
    type: dict
    required: true
  labels:
    description: The labels of the Secrets the collection made (the realm's labels); V(credentials) deletes those only.
    type: dict
    required: true
  timeout:
    description: Seconds to wait for the deletions (a namespace is gone once everything in it is).
    type: int
    default: 600
"""

EXAMPLES = r"""
- name: Delete the volumes and credentials of Superset and the namespace of daskhub
  magasin.platform.realm_purge:
    purge: {superset: [volumes, credentials], daskhub: [namespace]}
    namespaces: {tenant: magasin-tenant, drill: magasin-drill, dagster: magasin-dagster, daskhub: magasin-daskhub,
                 superset: magasin-superset}
    labels: {app.kubernetes.io/part-of: magasin, magasin.unicef.org/realm: magasin}
"""

RETURN = r"""
deleted:
  description: The objects deleted (in check mode, that would be), as C(namespace/Kind/name) or C(Namespace/name).
  returned: always
  type: list
  elements: str
  sample: [magasin-superset/PersistentVolumeClaim/data-superset-postgresql-0, Namespace/magasin-daskhub]
actions:
  description: The same, with the component each belongs to.
  returned: always
  type: list
  elements: dict
  sample: [{component: superset, kind: Secret, namespace: magasin-superset, name: magasin-superset-credentials}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _lifecycle, _validate
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient

CLAIM_COLUMNS = "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name,UID:.metadata.uid"
SECRET_COLUMNS = "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name"


def namespaces_args(names):
    return ["get"] + ["namespace/%s" % n for n in names] + ["--ignore-not-found", "--output", "name"]


def claims_args():
    return ["get", "persistentvolumeclaims", "--all-namespaces", "--no-headers", "--output", CLAIM_COLUMNS]


def secrets_args(selector):
    # Names only: the custom columns keep every Secret's data out of kubectl's output.
    return ["get", "secrets", "--all-namespaces", "--selector", selector, "--no-headers", "--output", SECRET_COLUMNS]


class PurgeManager:
    def __init__(self, module):
        self.module = module
        self.kubectl = KubectlClient(module, Connection(module))

    def observe(self, targets):
        names = sorted(set(t["namespace"] for t in targets))
        rc, out, err = self.kubectl.run(namespaces_args(names))
        existing = [line.split("/", 1)[1] for line in out.splitlines() if line.startswith("namespace/")]
        observed = {"namespaces": existing, "claims": [], "secrets": []}
        if existing:
            rc, out, err = self.kubectl.run(claims_args())
            observed["claims"] = _lifecycle.parse_columns(out, ("namespace", "name", "uid"))
            selector = _lifecycle.credential_selector(self.module.params["labels"])
            rc, out, err = self.kubectl.run(secrets_args(selector))
            observed["secrets"] = _lifecycle.parse_columns(out, ("namespace", "name"))
        return observed

    def run(self):
        params = self.module.params
        bad = _validate.check_purge(params["purge"])
        if bad:
            self.kubectl.fail("purge %s" % bad)
        if not params["labels"]:
            self.kubectl.fail("labels is empty: name the realm's labels, so that only the collection's Secrets are deleted")
        missing = sorted(set(_lifecycle.NAMESPACE_KEYS[c] for c in params["purge"]) - set(params["namespaces"]))
        if missing:
            self.kubectl.fail("namespaces names no %s namespace" % ", ".join(missing))
        targets = _lifecycle.purge_targets(params["namespaces"], params["purge"])
        if not targets:
            return {"changed": False, "actions": [], "deleted": []}
        observed = self.observe(targets)
        actions = _lifecycle.purge_actions(targets, observed)
        result = {"changed": bool(actions), "actions": actions,
                  "deleted": [_lifecycle.action_ref(a) for a in actions]}
        if self.module._diff:
            result["diff"] = _lifecycle.purge_diff(targets, observed, actions)
        if actions and not self.module.check_mode:
            self.kubectl.delete(_lifecycle.deletions(actions), wait=True, timeout=self.module.params["timeout"])
        return result


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            purge=dict(type="dict", required=True),
            namespaces=dict(type="dict", required=True),
            labels=dict(type="dict", required=True),
            timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    manager = PurgeManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
