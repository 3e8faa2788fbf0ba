#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: drill_query
short_description: Run one SQL statement on a magasin realm's Apache Drill and return the rows
version_added: 0.3.0
description:
  - Forwards a free local port on 127.0.0.1 to the realm's C(drill-service) (port 8047) with C(kubectl port-forward),
    POSTs the statement to Drill's REST API (C(/query.json)), returns the columns and rows, and stops the forward.
  - The forward lives only for the request; no port stays open after the task, also when it is killed.
  - Drill's web console and REST API have no login in magasin's chart; this module only reaches it from this machine.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: partial
    details: Statements that only read (SELECT, SHOW, DESCRIBE, EXPLAIN, VALUES, WITH) run in check mode too; any other is not sent.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: A statement's effect is Drill's; a read reports RV(ignore:changed=false), any other statement changed.
options:
  realm:
    description: The realm.
    type: str
    default: magasin
  sql:
    description: The SQL statement.
    type: str
    required: true
  limit:
    description: At most this many rows (Drill's C(autoLimit)); V(0) for no limit.
    type: int
    default: 1000
  timeout:
    description: Seconds to wait for Drill's answer.
    type: int
    default: 120
  start_timeout:
    description: Seconds to wait for the port-forward to listen.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Which schemas Drill knows
  magasin.platform.drill_query:
    realm: magasin
    sql: SHOW SCHEMAS
  register: __schemas
"""

RETURN = r"""
columns:
  description: The column names, in Drill's order.
  returned: success
  type: list
  elements: str
  sample: [SCHEMA_NAME]
rows:
  description: One dict per row, by column name.
  returned: success
  type: list
  elements: dict
  sample: [{SCHEMA_NAME: s3.root}]
row_count:
  description: How many rows.
  returned: success
  type: int
query_id:
  description: Drill's id of the query.
  returned: success
  type: str
sent:
  description: Whether the statement was sent (in check mode, only one that reads is).
  returned: success
  type: bool
table:
  description: The rows as aligned lines of text.
  returned: success
  type: list
  elements: str
"""

import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.magasin.platform.plugins.module_utils import _drill
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._forward import ForwardError, Forwards
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient
from ansible_collections.magasin.platform.plugins.module_utils._realm import realm_names


def http(method, url, body=None, timeout=60):
    """(status, text) of one request; HTTP errors are answers too (Drill's error body says why)."""
    try:
        with open_url(url, data=body, method=method, timeout=timeout, use_proxy=False,
                      headers={"Content-Type": "application/json", "Accept": "application/json"}) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


class DrillQueryManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))

    def run(self):
        sql = self.params["sql"]
        reads = _drill.read_only(sql)
        if self.module.check_mode and not reads:
            return {"changed": True, "sent": False, "columns": [], "rows": [], "row_count": 0,
                    "table": ["not sent in check mode: the statement may write"]}
        target = {"key": "drill", "namespace": realm_names(self.params["realm"])[2]["drill"],
                  "service": _drill.SERVICE, "port": _drill.PORT}
        with Forwards(self.kubectl, self.params["start_timeout"]) as held:
            try:
                port = held.start(target)
            except ForwardError as exc:
                self.module.fail_json(msg=exc.msg, command=exc.cmd)
            try:
                status, text = http("POST", "http://127.0.0.1:%s%s" % (port, _drill.QUERY_PATH),
                                    _drill.query_body(sql, self.params["limit"]), self.params["timeout"])
            except (OSError, urllib.error.URLError) as exc:
                self.module.fail_json(msg="no answer from Drill through the port-forward: %s" % exc)
        try:
            columns, rows, query_id = _drill.parse_query(status, text)
        except _drill.DrillError as exc:
            self.module.fail_json(msg=str(exc), sql=sql)
        return {"changed": not reads, "sent": True, "columns": columns, "rows": rows, "row_count": len(rows),
                "query_id": query_id, "table": _drill.table(columns, rows)}


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", default="magasin"),
            sql=dict(type="str", required=True),
            limit=dict(type="int", default=1000),
            timeout=dict(type="int", default=120),
            start_timeout=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    # The manager first: its clients wrap exit_json to add the process counts (module_utils/_cli.py).
    manager = DrillQueryManager(module)
    module.exit_json(**manager.run())


if __name__ == "__main__":
    main()
