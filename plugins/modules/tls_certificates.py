#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: tls_certificates
short_description: Keep a realm's CA and one TLS certificate per ingress host in Kubernetes Secrets
version_added: 0.3.0
description:
  - Makes sure the realm CA Secret (O(ca)) holds a CA certificate and key, made once when it is missing and never
    made anew while it is readable, or the site's CA (O(ca_certificate), O(ca_private_key)), which wins.
  - Makes sure each of O(certificates) has a C(kubernetes.io/tls) Secret (C(tls.crt), C(tls.key), C(ca.crt)) in its
    namespace with a certificate for its host signed by that CA; it is issued anew only when the stored one does not
    verify for the host against the CA (a new host, another CA), cannot be read, or ends within O(renew_days). A
    site's own certificate for a host (O(certificates[].certificate)) is stored as given.
  - Publishes the CA certificate (public) as the ConfigMap O(ca_configmap) (key C(ca.crt)) in each certificate's
    namespace, for the clients of the realm's HTTPS endpoints, returns it as RV(ca_certificate) and writes it to
    O(ca_file).
  - No private key is ever in the result, the diff or a command line (they go to kubectl on stdin).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
requirements:
  - cryptography (a dependency of ansible-core)
attributes:
  check_mode:
    support: full
    details:
      - Reads the Secrets and writes nothing (no O(ca_file) either); RV(ca) and RV(certificates) say what would be
        made. A CA that would be generated is a would-be one in RV(ca_certificate) (a real run generates another).
  diff_mode:
    support: full
    details: Names the Secrets and what happens to each; never shows a key.
  idempotent:
    support: full
    details: Stored certificates that still verify for their host are kept, so a second run changes nothing.
options:
  realm:
    description: The realm, named in the CA's subject.
    type: str
    required: true
  ca:
    description: Where the realm CA is kept.
    type: dict
    required: true
    suboptions:
      name:
        description: Name of the Secret.
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
  ca_certificate:
    description: The site's CA certificate (PEM). With O(ca_private_key), used and stored instead of a generated CA.
    type: str
  ca_private_key:
    description: The private key (PEM, unencrypted) of O(ca_certificate).
    type: str
  certificates:
    description: One entry per ingress host.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description: The host (the certificate's only subject alternative name).
        type: str
        required: true
      namespace:
        description: Namespace of the Secret (the ingress's).
        type: str
        required: true
      secret:
        description: Name of the C(kubernetes.io/tls) Secret.
        type: str
        required: true
      certificate:
        description: The site's own certificate for the host (PEM), stored instead of one issued by the CA.
        type: str
      private_key:
        description: The private key of O(certificates[].certificate).
        type: str
      ca_certificate:
        description: The CA that signed O(certificates[].certificate), stored as C(ca.crt) (default the realm CA).
        type: str
  namespaces:
    description: Namespace objects applied with the Secrets when something is written (so a new realm's namespaces
      get their labels, as the roles would give them).
    type: list
    elements: dict
    default: []
  labels:
    description: Labels of the Secrets and ConfigMaps.
    type: dict
    default: {}
  ca_configmap:
    description: Name of the ConfigMap that publishes the CA certificate in each certificate's namespace.
    type: str
    default: magasin-tls-ca
  ca_file:
    description:
      - A file on the host that runs the module where the CA certificate (public) is written, mode 0644, its
        directory made if missing; only when its content differs. Unset writes none.
    type: path
  days:
    description: Validity of an issued certificate, in days (never beyond the CA's).
    type: int
    default: 365
  renew_days:
    description: A stored certificate that ends within this many days is issued anew.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: TLS of the realm's ingresses
  magasin.platform.tls_certificates:
    realm: magasin
    ca: {name: magasin-tls-ca, namespace: magasin-tenant}
    certificates:
      - {host: superset.example.org, namespace: magasin-superset, secret: magasin-tls-superset}
  no_log: true
  register: __tls

- name: Trust it
  ansible.builtin.copy:
    content: "{{ __tls.ca_certificate }}"
    dest: ~/.magasin/magasin-ca.crt
    mode: "0644"
"""

RETURN = r"""
ca_certificate:
  description: The realm CA's certificate (PEM, public).
  returned: success
  type: str
ca:
  description: What happened to the CA, C(kept), C(generated) or C(supplied), and its Secret.
  returned: success
  type: dict
ca_file:
  description: Whether O(ca_file) was (or would be) written.
  returned: when O(ca_file) is set
  type: bool
certificates:
  description: Per host, C(host), C(namespace), C(secret), C(action) (C(kept), C(issued), C(reissued),
    C(supplied)), C(reason) of a re-issue and C(not_after).
  returned: success
  type: list
  elements: dict
"""

import base64
import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils import _tls
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient

TLS_KEYS = ("tls.crt", "tls.key", "ca.crt")


def _decode(obj):
    out = {}
    for key, value in ((obj or {}).get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            out[key] = None
    return out


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _secret(name, namespace, labels, data):
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": dict((k, _b64(v)) for k, v in data.items())}


def _configmap(name, namespace, labels, ca_pem):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "data": {"ca.crt": ca_pem}}


def _differs(current, desired):
    """Whether a live object lacks the desired data, type or labels."""
    if current is None:
        return True
    labels = (current.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items()):
        return True
    if desired["kind"] == "Secret":
        return current.get("type") != desired["type"] or _decode(current) != _decode(desired)
    return (current.get("data") or {}) != desired["data"]


class TlsManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))
        self.labels = dict((k, str(v)) for k, v in self.params["labels"].items())

    def validate(self):
        p = self.params
        if bool(p.get("ca_certificate")) != bool(p.get("ca_private_key")):
            self.module.fail_json(msg="ca_certificate and ca_private_key go together: give both or neither")
        hosts = [c["host"] for c in p["certificates"]]
        dupes = sorted(set(h for h in hosts if hosts.count(h) > 1))
        if dupes:
            self.module.fail_json(msg="certificates: %s listed more than once" % ", ".join(dupes))
        if p["renew_days"] < 0 or p["days"] <= p["renew_days"]:
            self.module.fail_json(msg="days (%s) must be more than renew_days (%s)" % (p["days"], p["renew_days"]))
        if p.get("ca_certificate"):
            problem = _tls.ca_problem(p["ca_certificate"], p["ca_private_key"])
            if problem:
                self.module.fail_json(msg="ca_certificate: %s" % problem)
        for spec in p["certificates"]:
            if bool(spec.get("certificate")) != bool(spec.get("private_key")):
                self.module.fail_json(msg="certificates[%s]: certificate and private_key go together" % spec["host"])
            if spec.get("certificate"):
                problem = _tls.leaf_problem(spec["certificate"], spec["private_key"], spec["host"],
                                            spec.get("ca_certificate"))
                if problem:
                    self.module.fail_json(msg="certificates[%s]: %s" % (spec["host"], problem))

    def read(self):
        p = self.params
        wanted = [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": p["ca"]["name"], "namespace": p["ca"]["namespace"]}}]
        for spec in p["certificates"]:
            wanted.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": spec["secret"], "namespace": spec["namespace"]}})
        for namespace in sorted(set(s["namespace"] for s in p["certificates"])):
            wanted.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": p["ca_configmap"], "namespace": namespace}})
        live = {}
        for obj in self.kubectl.get_objects(wanted):
            meta = obj.get("metadata") or {}
            live[(obj.get("kind"), meta.get("namespace"), meta.get("name"))] = obj
            if obj.get("kind") == "Secret":
                self.kubectl.add_secrets((obj.get("data") or {}).values())
                self.kubectl.add_secrets(v for v in _decode(obj).values() if v)
        return live

    def run(self):
        if not _tls.HAS_CRYPTOGRAPHY:
            self.module.fail_json(msg=missing_required_lib("cryptography"), exception=str(_tls.CRYPTOGRAPHY_ERROR))
        self.validate()
        p = self.params
        live = self.read()
        ca_ref = p["ca"]
        ca_live = live.get(("Secret", ca_ref["namespace"], ca_ref["name"]))
        supplied = {"cert": p["ca_certificate"], "key": p["ca_private_key"]} if p.get("ca_certificate") else None
        try:
            ca_cert, ca_key, ca_action = _tls.plan_ca(_decode(ca_live) if ca_live else None, supplied, p["realm"])
        except ValueError as exc:
            self.module.fail_json(msg="Secret %s/%s: %s" % (ca_ref["namespace"], ca_ref["name"], exc))
        self.kubectl.add_secrets([ca_key, _b64(ca_key)])
        desired = [_secret(ca_ref["name"], ca_ref["namespace"], self.labels, {"tls.crt": ca_cert, "tls.key": ca_key})]
        results = []
        for spec in p["certificates"]:
            current = live.get(("Secret", spec["namespace"], spec["secret"]))
            own = {"cert": spec["certificate"], "key": spec["private_key"], "ca": spec.get("ca_certificate")} \
                if spec.get("certificate") else None
            data, action, reason = _tls.plan_leaf(_decode(current) if current else None, ca_cert, ca_key, spec["host"],
                                                  own, days=p["days"], renew_days=p["renew_days"])
            self.kubectl.add_secrets([data["tls.key"], _b64(data["tls.key"])])
            desired.append(_secret(spec["secret"], spec["namespace"], self.labels, data))
            results.append({"host": spec["host"], "namespace": spec["namespace"], "secret": spec["secret"],
                            "action": action, "reason": reason, "not_after": _tls.not_after(data["tls.crt"])})
        for namespace in sorted(set(s["namespace"] for s in p["certificates"])):
            desired.append(_configmap(p["ca_configmap"], namespace, self.labels, ca_cert))
        changes = [d for d in desired if _differs(live.get((d["kind"], d["metadata"]["namespace"], d["metadata"]["name"])), d)]
        result = {"changed": bool(changes), "ca_certificate": ca_cert,
                  "ca": {"action": ca_action, "secret": "%s/%s" % (ca_ref["namespace"], ca_ref["name"])},
                  "certificates": results}
        if self.module._diff:
            actions = dict(("%s/%s" % (r["namespace"], r["secret"]), r["action"]) for r in results)
            actions["%s/%s" % (ca_ref["namespace"], ca_ref["name"])] = ca_action
            result["diff"] = {
                "before": "".join("%s %s/%s\n" % (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"])
                                  for d in changes if (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"]) in live),
                "after": "".join("%s %s/%s: %s\n" % (d["kind"], d["metadata"]["namespace"], d["metadata"]["name"],
                                                     actions.get("%s/%s" % (d["metadata"]["namespace"], d["metadata"]["name"]),
                                                                 "updated"))
                                 for d in changes)}
        if changes and not self.module.check_mode:
            self.kubectl.apply(list(p["namespaces"]) + changes)
        if p.get("ca_file"):
            result["ca_file"] = self.write_ca_file(p["ca_file"], ca_cert)
            result["changed"] = result["changed"] or result["ca_file"]
        return result

    def write_ca_file(self, path, ca_cert):
        try:
            with open(path) as f:
                if f.read() == ca_cert:
                    return False
        except OSError:
            pass
        if self.module.check_mode:
            return True
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path + ".tmp", "w") as f:
                f.write(ca_cert)
            os.chmod(path + ".tmp", 0o644)
            os.replace(path + ".tmp", path)
        except OSError as exc:
            self.module.fail_json(msg="ca_file: cannot write %s: %s" % (path, exc))
        return True


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", required=True),
            ca=dict(type="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                namespace=dict(type="str", required=True),
            )),
            ca_certificate=dict(type="str"),
            ca_private_key=dict(type="str", no_log=True),
            certificates=dict(type="list", elements="dict", required=True, options=dict(
                host=dict(type="str", required=True),
                namespace=dict(type="str", required=True),
                secret=dict(type="str", required=True, no_log=False),
                certificate=dict(type="str"),
                private_key=dict(type="str", no_log=True),
                ca_certificate=dict(type="str"),
            )),
            namespaces=dict(type="list", elements="dict", default=[]),
            labels=dict(type="dict", default={}),
            ca_configmap=dict(type="str", default="magasin-tls-ca"),
            ca_file=dict(type="path"),
            days=dict(type="int", default=365),
            renew_days=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    manager = TlsManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
