#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tools_info
short_description: The versions of the helm and kubectl binaries the collection's modules run
version_added: 0.3.0
description:
  - Asks each binary for its own version (C(helm version), C(kubectl version --client)), through the same clients
    the other modules use, so it reports the binaries they would run (O(helm_binary), O(kubectl_binary), else
    PATH). No cluster is asked.
  - Read-only. One process per tool asked.
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
options:
  tools:
    description: Which tools to ask.
    type: list
    elements: str
    choices: [helm, kubectl]
    default: [helm, kubectl]
"""

EXAMPLES = r"""
- name: The versions of the tools just installed
  magasin.platform.tools_info:
    helm_binary: /usr/local/bin/helm
    kubectl_binary: /usr/local/bin/kubectl
  register: __tools
"""

RETURN = r"""
helm:
  description: The helm binary and the version it reports.
  returned: when helm is asked
  type: dict
  sample: {path: /usr/local/bin/helm, version: v3.17.2}
kubectl:
  description: The kubectl binary and its client version.
  returned: when kubectl is asked
  type: dict
  sample: {path: /usr/local/bin/kubectl, version: v1.37.1}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient


def main():
    module = AnsibleModule(
        argument_spec=connection_args(tools=dict(type="list", elements="str", choices=["helm", "kubectl"],
                                                 default=["helm", "kubectl"])),
        supports_check_mode=True,
    )
    connection = Connection(module)
    result = {"changed": False}
    client = None
    try:
        if "helm" in module.params["tools"]:
            client = HelmClient(module, connection)
            result["helm"] = {"path": client.binary, "version": client.version_text()}
        if "kubectl" in module.params["tools"]:
            client = KubectlClient(module, connection)
            result["kubectl"] = {"path": client.binary, "version": client.client_version()}
    except CliError as exc:
        client.fail_from(exc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
