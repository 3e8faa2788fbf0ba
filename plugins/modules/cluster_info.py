#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: cluster_info
short_description: What a Kubernetes cluster offers, for preflight checks
version_added: 0.1.0
description:
  - Reports the Kubernetes version; the nodes with their allocatable CPU and memory, architecture and readiness;
    the StorageClasses and which is the default; the IngressClasses; the API groups served; the current context
    and API server; and whether the caller may create cluster-scoped objects.
  - Read-only. Five kubectl processes, whatever the size of the cluster.
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
    details: Never changes anything; always RV(ignore:changed=false).
options: {}
"""

EXAMPLES = r"""
- name: Read the cluster
  magasin.platform.cluster_info:
    kubeconfig: ~/.kube/config
  register: __cluster

- name: Require a default StorageClass
  ansible.builtin.assert:
    that: __cluster.default_storage_class is not none
    fail_msg: The cluster has no default StorageClass; set magasin_storage_class to one of
      {{ __cluster.storage_classes | map(attribute='name') | join(', ') }}.
"""

RETURN = r"""
version:
  description: Server version.
  returned: always
  type: dict
  sample: {git_version: v1.37.2, major: 1, minor: 37}
nodes:
  description: Nodes with allocatable resources (CPU in cores, memory in bytes).
  returned: always
  type: list
  elements: dict
  sample: [{name: node-1, ready: true, schedulable: true, cpu: 8.0, memory: 34359738368, architecture: amd64,
            os: linux, labels: {}, taints: []}]
totals:
  description: Sums over the ready, schedulable nodes.
  returned: always
  type: dict
  sample: {nodes: 3, cpu: 24.0, memory: 103079215104}
storage_classes:
  description: StorageClasses with their provisioner and whether each is the default.
  returned: always
  type: list
  elements: dict
default_storage_class:
  description: Name of the default StorageClass, or null.
  returned: always
  type: str
ingress_classes:
  description: IngressClasses with their controller and whether each is the default.
  returned: always
  type: list
  elements: dict
api_groups:
  description: API group versions served (C(kubectl api-versions)).
  returned: always
  type: list
  elements: str
context:
  description: The kubeconfig context in use.
  returned: always
  type: str
server:
  description: The API server URL of that context.
  returned: always
  type: str
can_create_cluster_scoped:
  description: Whether the caller may create ClusterRoles and CustomResourceDefinitions.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import (
    CLASSES,
    KubectlClient,
    list_items,
    parse_can_i,
    parse_server_version,
    summarize,
)


def parse_config_view(config):
    """Context and server from ``kubectl config view --minify -o json``."""
    context = (config or {}).get("current-context")
    clusters = (config or {}).get("clusters") or []
    server = clusters[0].get("cluster", {}).get("server") if clusters else None
    return context, server


def gather(kubectl):
    info = {"changed": False}
    info["version"] = parse_server_version(kubectl.run_json(["version", "--output", "json"]))
    items = list_items(kubectl.run_json(["get", CLASSES, "--output", "json"]))
    info.update(summarize(items))
    rc, out, err = kubectl.run(["api-versions"])
    info["api_groups"] = sorted(line.strip() for line in out.splitlines() if line.strip())
    info["context"], info["server"] = parse_config_view(
        kubectl.run_json(["config", "view", "--minify", "--output", "json"]))
    rc, out, err = kubectl.run(["auth", "can-i", "create", "clusterroles.rbac.authorization.k8s.io"], ok_rcs=(0, 1))
    can_roles = parse_can_i(rc, out)
    info["can_create_cluster_scoped"] = can_roles
    return info


def main():
    module = AnsibleModule(argument_spec=connection_args(), supports_check_mode=True)
    kubectl = KubectlClient(module, Connection(module))
    try:
        module.exit_json(**gather(kubectl))
    except CliError as exc:
        kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
