#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: access_kubeconfig
short_description: Write a kubeconfig file for a ServiceAccount's token, readable by its owner only
version_added: 0.2.0
description:
  - Reads the token and CA certificate of a ServiceAccount token Secret (type C(kubernetes.io/service-account-token),
    filled in by the cluster's token controller, waited for up to O(wait_timeout) seconds) and writes a kubeconfig
    file with them and the API server of the current connection (or O(server)), with mode C(0600).
  - Used by C(playbooks/access.yml) to hand out the realm's least-privilege account.
  - The token is never returned, printed or put on a command line; the result names the file, the server and the
    account only.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Reads the Secret and the file, writes nothing; RV(ignore:changed) says whether the file would change.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The file is rewritten only when its content (or its mode) would change.
options:
  name:
    description: Name of the token Secret.
    type: str
    required: true
  namespace:
    description: Namespace of the token Secret (and of the ServiceAccount).
    type: str
    required: true
  path:
    description: Where to write the kubeconfig. Its directory must exist.
    type: path
    required: true
  server:
    description: API server URL to write; default the server of the current connection's kubeconfig context.
    type: str
  wait_timeout:
    description: Seconds to wait for the token controller to fill the Secret in.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Token kubeconfig of the realm's account
  magasin.platform.access_kubeconfig:
    name: magasin-aw1-token
    namespace: default
    path: /home/ops/aw1.kubeconfig
"""

RETURN = r"""
path:
  description: The kubeconfig file.
  returned: always
  type: str
server:
  description: The API server it names.
  returned: always
  type: str
account:
  description: The ServiceAccount the token is of (C(<namespace>/<name>)).
  returned: always
  type: str
"""

import base64
import json
import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils._access import token_kubeconfig
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient


def current_server(config):
    """The server of ``kubectl config view --minify -o json``."""
    clusters = (config or {}).get("clusters") or []
    return clusters[0].get("cluster", {}).get("server") if clusters else None


class AccessKubeconfigManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))

    def token(self):
        name, namespace = self.params["name"], self.params["namespace"]
        deadline = time.monotonic() + self.params["wait_timeout"]
        while True:
            rc, out, err = self.kubectl.run(["get", "secret", name, "--namespace", namespace, "--output", "json"],
                                            check=False)
            if rc != 0 and "NotFound" not in err and "not found" not in err:
                self.module.fail_json(msg="reading Secret %s/%s failed: %s" % (namespace, name, self.kubectl.redact(err)))
            if rc == 0:
                secret = json.loads(out)
                data = secret.get("data") or {}
                if data.get("token") and data.get("ca.crt"):
                    token = base64.b64decode(data["token"]).decode()
                    self.kubectl.add_secrets([token, data["token"]])
                    account = (secret.get("metadata") or {}).get("annotations", {}).get(
                        "kubernetes.io/service-account.name")
                    return token, base64.b64decode(data["ca.crt"]), account
            if time.monotonic() >= deadline:
                self.module.fail_json(msg="Secret %s/%s holds no token after %ss: is it of type "
                                          "kubernetes.io/service-account-token with the annotation "
                                          "kubernetes.io/service-account.name of an existing ServiceAccount?"
                                          % (namespace, name, self.params["wait_timeout"]))
            time.sleep(1)

    def run(self):
        server = self.params["server"] or current_server(
            self.kubectl.run_json(["config", "view", "--minify", "--output", "json"]))
        if not server:
            self.module.fail_json(msg="no API server in the current kubeconfig context: set 'server'")
        token, ca_data, account = self.token()
        text = json.dumps(token_kubeconfig(server, ca_data, token, "magasin-%s" % account), indent=2) + "\n"
        path = self.params["path"]
        current = None
        if os.path.exists(path):
            with open(path) as handle:
                current = handle.read()
        changed = current != text or (os.stat(path).st_mode & 0o777) != 0o600
        if changed and not self.module.check_mode:
            directory = os.path.dirname(os.path.abspath(path))
            fd, tmp = tempfile.mkstemp(prefix=".kubeconfig-", dir=directory)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
                os.replace(tmp, path)
            except Exception:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        return {"changed": changed, "path": path, "server": server,
                "account": "%s/%s" % (self.params["namespace"], account)}


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            path=dict(type="path", required=True),
            server=dict(type="str"),
            wait_timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    manager = AccessKubeconfigManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
