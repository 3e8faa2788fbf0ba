#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: realm_status
short_description: Status of a magasin realm - releases, readiness and its causes, endpoints, where the credentials are
version_added: 0.3.0
description:
  - For each component of a realm - its Helm releases (name, chart, status), whether it is ready and, when not, why
    (release status, objects of a release's manifest missing from the cluster, workloads short of ready replicas
    with their pods' phase, failing conditions, containers' waiting reasons and Warning events), its in-cluster
    endpoints (Services) and ingress URLs, and the collection's Secrets in its namespaces with their key names
    and the command that reads each key.
  - Read-only. Per namespace of the realm two kubectl processes (every kind at once; the Secrets' key names) and
    one C(helm list), the same less the Secrets in the namespace of the shared MinIO operator's release (one
    C(kubectl get) of its ClusterRole finds it), and one C(helm get manifest) per release, run concurrently.
  - Never returns a secret value and never reads one - Secrets are listed by a go-template that prints their key
    names only.
  - The MinIO operator is one per cluster; when the realm has none of its own, the one serving the cluster
    (another realm's) is reported under C(minio) with C(shared=true).
  - Needs read access in the realm's namespaces (Secrets included) and in the operator release's namespace, and
    C(get) of the ClusterRole C(minio-operator-role); nothing is read across all namespaces
    (C(playbooks/access.yml) grants exactly that).
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
  realm:
    description: The realm; its namespaces are named as the magasin installer names them (C(ab-cd) gives C(ab-drill-cd)).
    type: str
    default: magasin
  components:
    description: The components to report, in the collection's order whatever the order given.
    type: list
    elements: str
    choices: [minio, drill, dagster, daskhub, superset]
    default: [minio, drill, dagster, daskhub, superset]
"""

EXAMPLES = r"""
- name: Status of the realm
  magasin.platform.realm_status:
    realm: magasin
  register: __status

- name: Show it
  ansible.builtin.debug:
    msg: "{{ __status.table }}"
"""

RETURN = r"""
ready:
  description: Whether every component reported is ready.
  returned: always
  type: bool
not_ready:
  description: The components that are not ready.
  returned: always
  type: list
  elements: str
  sample: [superset]
components:
  description:
    - By component - C(namespaces), C(releases) (name, namespace, chart, status, revision, updated, app_version),
      C(ready), C(problems) (one line per object not ready, with its causes), C(endpoints) (Services' in-cluster
      URLs), C(ingress_urls), and C(credentials) (namespace, secret, keys, and C(commands) - by key, the kubectl
      command that prints it).
  returned: always
  type: dict
  sample:
    superset:
      namespaces: [magasin-superset]
      releases: [{name: superset, namespace: magasin-superset, chart: superset-0.13.4, status: deployed}]
      ready: false
      problems: ["Deployment magasin-superset/superset: 0/1 availableReplicas -- pod superset-5d9-x Pending:
                  PodScheduled=False Unschedulable: 0/3 nodes are available: 3 node(s) didn't match Pod's node
                  affinity/selector."]
      endpoints: [{service: superset, namespace: magasin-superset, port: 8088, name: http,
                   url: "http://superset.magasin-superset.svc.cluster.local:8088"}]
      ingress_urls: []
      credentials: [{namespace: magasin-superset, secret: magasin-superset-credentials, keys: [admin-password],
                     commands: {admin-password: "kubectl -n magasin-superset get secret magasin-superset-credentials
                                                 -o jsonpath='{.data.admin-password}' | base64 -d"}}]
table:
  description: The same as lines of text for people.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _status
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient
from ansible_collections.magasin.platform.plugins.module_utils._realm import COMPONENTS

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None


class RealmStatusManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        connection = Connection(module)
        self.kubectl = KubectlClient(module, connection)
        self.helm = HelmClient(module, connection)

    def run(self):
        result = _status.collect(self.kubectl, self.helm, self.params["realm"], self.params["components"],
                                 yaml.safe_load_all)[0]
        result["table"] = _status.table(result)
        result["changed"] = False
        return result


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", default="magasin"),
            components=dict(type="list", elements="str", choices=list(COMPONENTS), default=list(COMPONENTS)),
        ),
        supports_check_mode=True,
    )
    manager = RealmStatusManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
