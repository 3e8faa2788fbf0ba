#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: api_ready
short_description: Wait until a Kubernetes API server reports ready
version_added: 0.3.0
description:
  - Asks the API server's C(/readyz) endpoint (C(kubectl get --raw=/readyz)) until it answers C(ok) or O(timeout)
    passes, through the kubectl client the other modules use. A server that is not listening yet counts as not
    ready.
  - Used by the k3s role on each server it starts, with the kubeconfig k3s writes and the kubectl link k3s installs.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Read-only; waits the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything; always RV(ignore:changed=false).
options:
  timeout:
    description: Seconds to wait in all.
    type: int
    default: 300
  delay:
    description: Seconds between two asks.
    type: int
    default: 5
"""

EXAMPLES = r"""
- name: Wait until k3s's API server is ready
  magasin.platform.api_ready:
    kubeconfig: /etc/rancher/k3s/k3s.yaml
    kubectl_binary: /usr/local/bin/kubectl
    timeout: 300
"""

RETURN = r"""
attempts:
  description: How many times the endpoint was asked.
  returned: always
  type: int
said:
  description: The last answer (C(ok) when ready, else the error).
  returned: always
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient


def main():
    module = AnsibleModule(
        argument_spec=connection_args(timeout=dict(type="int", default=300), delay=dict(type="int", default=5)),
        supports_check_mode=True,
    )
    kubectl = KubectlClient(module, Connection(module))
    deadline = time.monotonic() + module.params["timeout"]
    attempts = 0
    while True:
        attempts += 1
        ready, said = kubectl.readyz()
        if ready:
            module.exit_json(changed=False, attempts=attempts, said=said)
        if time.monotonic() + module.params["delay"] > deadline:
            module.fail_json(msg="the API server was not ready after %ss (%d asks); it last said: %s"
                                 % (module.params["timeout"], attempts, said), attempts=attempts, said=said)
        time.sleep(module.params["delay"])


if __name__ == "__main__":
    main()
