#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: helm_release_info
short_description: A Helm release's status, chart, and the readiness of every object it made
version_added: 0.1.0
description:
  - Reads one release with C(helm status) and its objects with one C(kubectl get), and reports each object's
    readiness (Deployments and StatefulSets available, Jobs complete, PVCs bound, CRDs established, and so on).
  - Values only on request (O(show_values)), and then masked.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything.
options:
  name:
    description: Release name.
    type: str
    required: true
  namespace:
    description: Release namespace.
    type: str
    required: true
  objects:
    description: Report the release's objects and their readiness (one kubectl process).
    type: bool
    default: true
  show_values:
    description:
      - Return the user-supplied values of the release as RV(release_values), with values under secret-looking keys
        masked.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: How is Drill doing
  magasin.platform.helm_release_info:
    name: drill
    namespace: magasin-drill
  register: __drill

- name: Every object ready
  ansible.builtin.assert:
    that: __drill.ready
    fail_msg: "Not ready: {{ __drill.objects | rejectattr('ready') | map(attribute='ref') | join(', ') }}"
"""

RETURN = r"""
exists:
  description: Whether the release exists.
  returned: always
  type: bool
status:
  description: Release status, or V(absent).
  returned: always
  type: str
revision:
  description: Current revision.
  returned: when the release exists
  type: int
chart:
  description: Chart name and version.
  returned: when the release exists
  type: str
chart_version:
  description: Chart version.
  returned: when the release exists
  type: str
app_version:
  description: Application version of the chart.
  returned: when the release exists
  type: str
objects:
  description: The release's objects with their readiness; missing objects are reported as not ready.
  returned: when the release exists and O(objects=true)
  type: list
  elements: dict
  sample: [{ref: magasin-drill/StatefulSet/drillbit, kind: StatefulSet, name: drillbit, namespace: magasin-drill,
            exists: true, ready: true, reason: 1/1 readyReplicas}]
ready:
  description: Whether the release is deployed and every object is ready.
  returned: always
  type: bool
release_values:
  description: User-supplied values, masked. (Not C(values), which Jinja would take for the method of a dictionary.)
  returned: when O(show_values=true) and the release exists
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient, release_result
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import (
    KubectlClient,
    object_key,
    readiness,
    split_manifest,
)
from ansible_collections.magasin.platform.plugins.module_utils._redact import mask_values

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False


def object_readiness(manifest_objects, live_objects, namespace):
    """Pair each manifest object with its live copy and judge readiness. Pure."""
    live = dict((object_key(o), o) for o in live_objects)
    out = []
    for obj in manifest_objects:
        key = object_key(obj, namespace)
        found = live.get(key) or live.get(key[:2] + (None, key[3]))
        if found is not None:
            key = object_key(found)
        ready, reason = readiness(found) if found is not None else (False, "missing")
        ref = "/".join(str(p) for p in (key[2], key[1], key[3]) if p)
        out.append({"ref": ref, "kind": key[1], "name": key[3], "namespace": key[2],
                    "exists": found is not None, "ready": ready, "reason": reason})
    return out


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            objects=dict(type="bool", default=True),
            show_values=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    connection = Connection(module)
    helm = HelmClient(module, connection)
    kubectl = KubectlClient(module, connection)
    name, namespace = module.params["name"], module.params["namespace"]
    try:
        release = helm.release(name, namespace)
        if release is None:
            module.exit_json(changed=False, exists=False, status="absent", ready=False, name=name,
                             namespace=namespace)
        result = dict(changed=False, exists=True, **release_result(release))
        ready = release["status"] == "deployed"
        if module.params["objects"]:
            manifest = split_manifest(release["manifest"], yaml.safe_load_all)
            live = kubectl.get_objects(manifest, namespace)
            result["objects"] = object_readiness(manifest, live, namespace)
            ready = ready and all(o["ready"] for o in result["objects"])
        result["ready"] = ready
        if module.params["show_values"]:
            result["release_values"] = mask_values(release["values"])
        module.exit_json(**result)
    except CliError as exc:
        helm.fail_from(exc)


if __name__ == "__main__":
    main()
