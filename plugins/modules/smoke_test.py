#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: smoke_test
short_description: Prove a magasin realm works - S3 with each consumer's own keys, each UI's health, Drill's storage, Superset's databases
version_added: 0.3.0
description:
  - Through port-forwards on 127.0.0.1 (held for the checks only), checks that
    each S3 consumer reaches the realm's MinIO with its own keys and only as its policy says - Dagster and the
    notebooks write, read back and delete an object under C(magasin-smoke/); Drill lists the bucket and reads what a
    writer wrote but may not write;
    each UI answers its health path (MinIO's C(/minio/health/live), Drill's C(/status), Dagster's C(/server_info),
    JupyterHub's C(/hub/health), Superset's C(/health));
    Drill lists its S3 storage plugin, enabled (C(/storage.json));
    Superset's database list (C(/api/v1/database/), after logging in as its admin) names the Drill database.
  - The keys are read from the realm's Secrets inside the module and never returned; requests are signed with
    AWS Signature Version 4 from the standard library (no boto3).
  - Reports every check, and which components failed; a failure names the component and why.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: none
    details: The S3 checks write and delete an object; in check mode nothing is run.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: The object written is deleted; always RV(ignore:changed=false).
options:
  realm:
    description: The realm.
    type: str
    default: magasin
  components:
    description: The components to check.
    type: list
    elements: str
    choices: [minio, drill, dagster, daskhub, superset]
    default: [minio, drill, dagster, daskhub, superset]
  bucket:
    description: The realm's bucket.
    type: str
    default: magasin
  region:
    description: The S3 region requests are signed for.
    type: str
    default: us-east-1
  tenant_name:
    description: The MinIO Tenant's name.
    type: str
    default: myminio
  drill_s3_plugin:
    description: The name of Drill's S3 storage plugin.
    type: str
    default: s3
  superset_drill_database_name:
    description: The name of Superset's database entry for Drill.
    type: str
    default: Drill
  superset_admin_user:
    description: Superset's admin user.
    type: str
    default: admin
  timeout:
    description: Seconds to wait for each answer.
    type: int
    default: 30
  start_timeout:
    description: Seconds to wait for each port-forward to listen.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Smoke test of the realm
  magasin.platform.smoke_test:
    realm: magasin
  register: __smoke
"""

RETURN = r"""
ok:
  description: Whether every check passed.
  returned: success
  type: bool
failed_components:
  description: The components with a failed check.
  returned: success
  type: list
  elements: str
checks:
  description: Every check - component, check, ok, detail.
  returned: success
  type: list
  elements: dict
  sample: [{component: drill, check: "S3 PUT magasin-smoke/drill-x.txt as drill (may not write)", ok: true,
            detail: "HTTP 403 AccessDenied (expected 403)"}]
table:
  description: The checks as lines for people.
  returned: success
  type: list
  elements: str
"""

import base64
import datetime
import hashlib
import json
import urllib.error
import uuid

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.magasin.platform.plugins.module_utils import _drill, _sigv4, _smoke, _ui, _values
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._forward import ForwardError, Forwards
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient
from ansible_collections.magasin.platform.plugins.module_utils._realm import COMPONENTS, realm_names

ATTEMPTS = 3


def http(method, url, body=None, headers=None, timeout=30):
    """(status, text); HTTP errors are answers; no answer at all is status 0 with the reason. A connection that
    kubectl port-forward drops before any answer is tried again (up to ATTEMPTS): the requests are idempotent."""
    reason = ""
    for _attempt in range(ATTEMPTS):
        try:
            with open_url(url, data=body, method=method, headers=headers or {}, timeout=timeout, use_proxy=False,
                          follow_redirects="none") as resp:
                return resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode("utf-8", "replace")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            reason = "no answer after %s attempts: %s" % (ATTEMPTS, exc)
    return 0, reason


class SmokeTestManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))
        self.namespaces = realm_names(self.params["realm"])[2]
        self.checks = []

    def secret(self, namespace, name):
        """A Secret's decoded data, for this module's requests only; every value is masked in any error."""
        rc, out, err = self.kubectl.run(["get", "secret", name, "--namespace", namespace, "--output", "json"],
                                        check=False)
        if rc != 0:
            return None, self.kubectl.redact(err).strip()
        data = dict((k, base64.b64decode(v).decode("utf-8", "replace"))
                    for k, v in (json.loads(out).get("data") or {}).items())
        self.kubectl.add_secrets(data.values())
        return data, ""

    def forward(self, held, key):
        target = _ui.targets(self.params["realm"], [key], self.params["tenant_name"],
                             self.params["superset_admin_user"])[0]
        try:
            return "http://127.0.0.1:%s" % held.start(target)
        except ForwardError as exc:
            self.checks.append(_smoke.check(key.split("-")[0], "port-forward to %s" % target["service"], False,
                                            exc.msg))
            return None

    def s3(self, endpoint, components, run_id):
        keys = {}
        for component, user, _policy in _smoke.consumers(components):
            data, err = self.secret(self.namespaces["tenant"], _values.SECRETS["minio_user"] % user)
            if data is None:
                self.checks.append(_smoke.check(component, "S3 keys of %s" % user, False, err))
            else:
                keys[user] = (data.get("CONSOLE_ACCESS_KEY", ""), data.get("CONSOLE_SECRET_KEY", ""))
        written = {}
        for step in _smoke.s3_steps(components, self.params["bucket"], run_id):
            if step["user"] not in keys or (step["needs"] and step["needs"] not in written):
                continue
            body = _smoke.s3_body(step, run_id)
            url = _smoke.s3_url(endpoint, self.params["bucket"], step["key"])
            headers = _sigv4.sign(step["method"], url, keys[step["user"]][0], keys[step["user"]][1],
                                  datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ"),
                                  region=self.params["region"], payload_hash=hashlib.sha256(body).hexdigest())
            headers.pop("host")
            status, text = http(step["method"], url, body or None, headers, self.params["timeout"])
            if step["method"] == "PUT" and status == 200:
                written[step["key"]] = body.decode("utf-8")
            self.checks.append(_smoke.s3_check(step, status, text, written.get(step["key"])))

    def health(self, component, base, path):
        status, text = http("GET", base + path, timeout=self.params["timeout"])
        self.checks.append(_smoke.check(component, "health %s" % path, status == 200,
                                        "HTTP %s" % status if status else text))

    def drill_storage(self, base):
        status, text = http("GET", base + _drill.STORAGE_PATH, timeout=self.params["timeout"])
        try:
            plugins = _drill.parse_storage(status, text)
        except _drill.DrillError as exc:
            self.checks.append(_smoke.check("drill", "Drill lists its storage plugins", False, str(exc)))
            return
        self.checks.append(_smoke.storage_check(plugins, self.params["drill_s3_plugin"]))

    def superset_databases(self, base):
        name = self.params["superset_drill_database_name"]
        what = "Superset lists the database %s" % name
        data, err = self.secret(self.namespaces["superset"], _values.SECRETS["superset_credentials"])
        if data is None:
            self.checks.append(_smoke.check("superset", what, False, err))
            return
        login = json.dumps({"username": self.params["superset_admin_user"], "password": data.get("admin-password", ""),
                            "provider": "db", "refresh": False}).encode("utf-8")
        status, text = http("POST", base + "/api/v1/security/login", login, {"Content-Type": "application/json"},
                            self.params["timeout"])
        token = (json.loads(text).get("access_token") if status == 200 else None) or ""
        if not token:
            self.checks.append(_smoke.check("superset", what, False, "login as %s: HTTP %s"
                                            % (self.params["superset_admin_user"], status)))
            return
        self.kubectl.add_secrets([token])
        status, text = http("GET", base + "/api/v1/database/", headers={"Authorization": "Bearer " + token},
                            timeout=self.params["timeout"])
        names = _smoke.superset_databases(text) if status == 200 else []
        self.checks.append(_smoke.check("superset", what, name in names,
                                        "HTTP %s; databases: %s" % (status, ", ".join(str(n) for n in names) or "none")))

    def run(self):
        components = [c for c in COMPONENTS if c in self.params["components"]]
        run_id = uuid.uuid4().hex[:10]
        with Forwards(self.kubectl, self.params["start_timeout"]) as held:
            if "minio" in components:
                endpoint = self.forward(held, "minio-api")
                if endpoint:
                    self.health("minio", endpoint, _smoke.HEALTH["minio"])
                    self.s3(endpoint, components, run_id)
            for component in components:
                if component == "minio":
                    continue
                base = self.forward(held, component)
                if not base:
                    continue
                self.health(component, base, _smoke.HEALTH[component])
                if component == "drill":
                    self.drill_storage(base)
                if component == "superset":
                    self.superset_databases(base)
        checks = [dict(c, detail=self.kubectl.redact(c["detail"])) for c in self.checks]
        ok, failed, table = _smoke.report(checks)
        return {"changed": False, "ok": ok, "failed_components": failed, "checks": checks, "table": table}


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", default="magasin"),
            components=dict(type="list", elements="str", choices=list(COMPONENTS), default=list(COMPONENTS)),
            bucket=dict(type="str", default="magasin"),
            region=dict(type="str", default="us-east-1"),
            tenant_name=dict(type="str", default="myminio"),
            drill_s3_plugin=dict(type="str", default="s3"),
            superset_drill_database_name=dict(type="str", default="Drill"),
            superset_admin_user=dict(type="str", default="admin"),
            timeout=dict(type="int", default=30),
            start_timeout=dict(type="int", default=30),
        ),
        supports_check_mode=False,
    )
    manager = SmokeTestManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
