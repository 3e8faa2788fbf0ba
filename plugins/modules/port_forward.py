#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: port_forward
short_description: Forward the UIs (and MinIO's S3 API) of a magasin realm to local ports for a while, then stop
version_added: 0.3.0
description:
  - Starts one C(kubectl port-forward) per component asked for, to the Service its UI is behind, listening on
    O(address) (V(127.0.0.1) unless named), on a free local port chosen by kubectl unless O(local_ports) names one.
  - Waits until each listens, holds them for O(duration) seconds (or until interrupted), then stops every kubectl
    it started; none outlives the task, also when the task is interrupted or killed (on Linux the children get
    SIGTERM when the module process dies).
  - With O(duration=0) the forwards are started, checked and stopped at once - so a play can print the URLs
    before a second task holds them on the same ports.
  - Reaches the cluster through the connection options every module of the collection shares.
  - Returns where each login is (Secret and key), never a password.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Changes nothing in the cluster; runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Always RV(ignore:changed=false).
options:
  realm:
    description: The realm (its namespaces are named as the installer names them).
    type: str
    default: magasin
  components:
    description: What to forward - each component's UI; V(minio) is MinIO's console, V(minio-api) its S3 API.
    type: list
    elements: str
    choices: [minio, minio-api, drill, dagster, daskhub, superset]
    required: true
  address:
    description:
      - Local address to listen on. Only V(127.0.0.1) by default; an address of every interface (V(0.0.0.0),
        V(::)) is refused unless O(allow_all_interfaces=true), since it opens the UIs to the network.
    type: str
    default: 127.0.0.1
  allow_all_interfaces:
    description: Allow O(address) to be V(0.0.0.0) or V(::).
    type: bool
    default: false
  local_ports:
    description: Local port by component; the others get a free port.
    type: dict
    default: {}
  duration:
    description: Seconds to hold the forwards; V(0) checks that each starts and stops it at once.
    type: int
    default: 0
  tenant_name:
    description: The MinIO Tenant's name (its console Service is C(<tenant_name>-console)).
    type: str
    default: myminio
  superset_admin_user:
    description: Superset's admin user name, for the login hint.
    type: str
    default: admin
  start_timeout:
    description: Seconds to wait for each kubectl to listen.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Superset and MinIO's S3 API on 127.0.0.1 for an hour
  magasin.platform.port_forward:
    components: [superset, minio-api]
    duration: 3600
"""

RETURN = r"""
forwards:
  description: One per component - key, namespace, service, remote port, address, local port, url, login hint.
  returned: always
  type: list
  elements: dict
  sample: [{key: superset, namespace: magasin-superset, service: superset, port: 8088, address: 127.0.0.1,
            local_port: 41234, url: "http://127.0.0.1:41234/login/",
            login: "user admin; password: key admin-password of Secret magasin-superset-credentials (kubectl ...)"}]
lines:
  description: One line per forward for people - URL, Service, where the login is.
  returned: always
  type: list
  elements: str
held:
  description: Seconds the forwards were held.
  returned: always
  type: float
"""

import signal
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _ui
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._forward import ForwardError, Forwards
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient


class PortForwardManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))

    def run(self):
        problem = _ui.address_problem(self.params["address"], self.params["allow_all_interfaces"])
        if problem:
            self.module.fail_json(msg=problem)
        forwards = []
        started = time.monotonic()
        with Forwards(self.kubectl, self.params["start_timeout"]) as held:
            for target in _ui.targets(self.params["realm"], self.params["components"], self.params["tenant_name"],
                                      self.params["superset_admin_user"]):
                try:
                    port = held.start(target, self.params["address"],
                                      (self.params["local_ports"] or {}).get(target["key"], 0))
                except ForwardError as exc:
                    self.module.fail_json(msg=exc.msg, command=exc.cmd)
                forwards.append(dict(target, address=self.params["address"], local_port=port,
                                     url=_ui.url(target, self.params["address"], port)))
            started = time.monotonic()
            deadline = started + self.params["duration"]
            while time.monotonic() < deadline:
                gone = held.gone()
                if gone:
                    self.module.fail_json(msg="a port-forward stopped early (exit %s): %s" % (
                        gone[0].returncode, " ".join(gone[0].args[-2:])), forwards=forwards)
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        return {"changed": False, "forwards": forwards, "lines": [_ui.line(f) for f in forwards],
                "held": round(time.monotonic() - started, 1)}


def _interrupt(signum, frame):
    raise KeyboardInterrupt()


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", default="magasin"),
            components=dict(type="list", elements="str", choices=list(_ui.TARGETS), required=True),
            address=dict(type="str", default=_ui.DEFAULT_ADDRESS),
            allow_all_interfaces=dict(type="bool", default=False),
            local_ports=dict(type="dict", default={}),
            duration=dict(type="int", default=0),
            tenant_name=dict(type="str", default="myminio"),
            superset_admin_user=dict(type="str", default="admin"),
            start_timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    manager = PortForwardManager(module)
    # SIGTERM (a cancelled AWX job) ends the hold like Ctrl-C does; leaving the Forwards block stops the children.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        module.exit_json(**manager.run())
    except KeyboardInterrupt:
        module.fail_json(msg="interrupted; every port-forward was stopped")


if __name__ == "__main__":
    main()
