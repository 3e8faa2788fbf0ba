#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: credentials
short_description: Keep generated credentials in a Kubernetes Secret, created once and never lost
version_added: 0.1.0
description:
  - Makes sure a Secret holds the named credentials.
  - A missing key is generated with Python's C(secrets) module, with the length and alphabet given for it.
  - A key that exists is never changed, unless it is listed in O(rotate) or a value is supplied for it.
  - A value supplied in O(keys) (from a vault or an AWX credential) wins and is stored.
  - A missing key can be adopted from another, existing Secret instead (O(adopt)), so a credential that an earlier
    installation kept elsewhere (a database password its volume was initialised with) is carried over, never
    generated anew.
  - Returns the Secret's data, base64-encoded as in the Secret itself, for the calling role to pass on. Call it
    with C(no_log=true) on the task, because its result holds the credentials.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details:
      - Reads the Secrets and writes nothing; RV(created), RV(rotated) and RV(adopted) say what would be
        generated or carried over.
      - RV(data) holds every key, as a real run would return it, so later tasks of a check run can use it; for the
        keys in RV(created) and RV(rotated) these are freshly generated would-be values that are not stored (a
        real run generates others).
  diff_mode:
    support: full
    details: Names the keys that would be added or changed; never shows a value.
  idempotent:
    support: full
    details: Existing keys are kept, so the second run reports no change and returns the same values.
options:
  name:
    description: Name of the Secret.
    type: str
    required: true
  namespace:
    description: Namespace of the Secret.
    type: str
    required: true
  create_namespace:
    description: Create the namespace if it does not exist.
    type: bool
    default: true
  keys:
    description: The credentials the Secret must hold.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Key in the Secret.
        type: str
        required: true
      length:
        description: Length of a generated value.
        type: int
        default: 32
      alphabet:
        description:
          - Characters of a generated value. V(alnum) letters and digits, V(hex) lowercase hexadecimal,
            V(lower) lowercase letters and digits (for names such as S3 access keys), V(urlsafe) letters, digits,
            C(-) and C(_); any other string is taken as the alphabet itself.
        type: str
        default: alnum
      value:
        description: A value supplied by the user. It wins over what is stored and is stored.
        type: str
  rotate:
    description: Keys to generate anew even though they exist.
    type: list
    elements: str
    default: []
  labels:
    description: Labels of the Secret.
    type: dict
    default: {}
  adopt:
    description:
      - Keys to take over from other Secrets when this Secret does not hold them yet, instead of generating them.
      - The value is taken when the source Secret exists and holds O(adopt[].secret_key); otherwise (no such Secret,
        or no such key in it) the key is generated as usual. Once stored here, the key is kept like any other.
      - A value supplied in O(keys) and a key listed in O(rotate) win over adoption.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: The key of this Secret (one of O(keys)).
        type: str
        required: true
      secret:
        description: Name of the existing Secret to take the value from.
        type: str
        required: true
      secret_key:
        description: Key in that Secret.
        type: str
        required: true
      namespace:
        description: Namespace of that Secret; by default O(namespace).
        type: str
"""

EXAMPLES = r"""
- name: MinIO root credentials for the realm
  magasin.platform.credentials:
    name: magasin-minio-root
    namespace: magasin-tenant
    keys:
      - name: user
        length: 20
        alphabet: lower
      - name: password
        length: 40
      - name: api_token
        value: "{{ vault_api_token | default(omit) }}"
  no_log: true
  register: __minio_credentials

- name: Superset's database password, carried over from the release that created it
  magasin.platform.credentials:
    name: magasin-superset
    namespace: magasin-superset
    keys:
      - name: postgres-password
    adopt:
      - key: postgres-password
        secret: superset-postgresql
        secret_key: postgres-password
  no_log: true

- name: Use one of them
  ansible.builtin.set_fact:
    __minio_root_password: "{{ __minio_credentials.data.password | b64decode }}"
  no_log: true
"""

RETURN = r"""
data:
  description:
    - The Secret's data after the task, base64-encoded. Register it under C(no_log).
    - In check mode, the keys that would be generated hold would-be values that are not stored.
  returned: success
  type: dict
created:
  description: Keys that were (or would be) generated because they were missing.
  returned: always
  type: list
  elements: str
rotated:
  description: Keys that were (or would be) generated anew because they were in O(rotate).
  returned: always
  type: list
  elements: str
adopted:
  description: Keys that were (or would be) taken over from another Secret (O(adopt)); names only.
  returned: always
  type: list
  elements: str
supplied:
  description: Keys whose supplied value was (or would be) stored because it differed.
  returned: always
  type: list
  elements: str
secret:
  description: Namespace and name of the Secret.
  returned: always
  type: str
"""

import base64
import secrets
import string

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient, list_items

ALPHABETS = {
    "alnum": string.ascii_letters + string.digits,
    "hex": "0123456789abcdef",
    "lower": string.ascii_lowercase + string.digits,
    "urlsafe": string.ascii_letters + string.digits + "-_",
}


# The manager of the bare Namespace a first credential makes when its namespace is missing.
NAMESPACE_FIELD_MANAGER = "magasin-platform-credentials"


def generate(length, alphabet):
    chars = ALPHABETS.get(alphabet, alphabet)
    return "".join(secrets.choice(chars) for dummy in range(length))


def plan_credentials(existing, keys, rotate, generator=generate, adoptable=None):
    """Decide the Secret's data. Pure but for ``generator``.

    existing: decoded current data (dict); keys: the ``keys`` option; rotate: key names; adoptable: {key: value}
    found in the Secrets named by ``adopt`` (decoded).
    Returns (data, created, rotated, supplied, adopted); data holds every key, decoded.
    """
    adoptable = adoptable or {}
    data = dict(existing)
    created, rotated, supplied, adopted = [], [], [], []
    for spec in keys:
        name = spec["name"]
        if spec.get("value") is not None:
            if existing.get(name) != spec["value"]:
                supplied.append(name)
            data[name] = spec["value"]
        elif name in rotate:
            rotated.append(name)
            data[name] = generator(spec.get("length") or 32, spec.get("alphabet") or "alnum")
        elif name in existing:
            continue
        elif name in adoptable:
            adopted.append(name)
            data[name] = adoptable[name]
        else:
            created.append(name)
            data[name] = generator(spec.get("length") or 32, spec.get("alphabet") or "alnum")
    return data, created, rotated, supplied, adopted


def adoption_sources(adopt, existing, default_namespace):
    """The Secrets to read for ``adopt``: {namespace: [secret names]}, only for keys not stored yet. Pure."""
    sources = {}
    for spec in adopt:
        if spec["key"] in existing:
            continue
        namespace = spec.get("namespace") or default_namespace
        names = sources.setdefault(namespace, [])
        if spec["secret"] not in names:
            names.append(spec["secret"])
    return sources


def adoptable_values(adopt, found, default_namespace):
    """{key: decoded value} for each ``adopt`` entry whose source Secret (in ``found``, by (namespace, name))
    holds its key. Pure."""
    out = {}
    for spec in adopt:
        source = found.get((spec.get("namespace") or default_namespace, spec["secret"]))
        if source is None or spec["key"] in out:
            continue
        encoded = (source.get("data") or {}).get(spec["secret_key"])
        if encoded is not None:
            out[spec["key"]] = decode_value(encoded, "%s/%s" % (source["metadata"].get("namespace"),
                                                                source["metadata"].get("name")), spec["secret_key"])
    return out


def decode_value(value, ref, key):
    try:
        return base64.b64decode(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        raise ValueError("Secret %s: key %s does not hold UTF-8 text; a credential must be text" % (ref, key)) from None


def decode_data(secret):
    meta = (secret or {}).get("metadata") or {}
    ref = "%s/%s" % (meta.get("namespace"), meta.get("name"))
    return dict((key, decode_value(value, ref, key)) for key, value in ((secret or {}).get("data") or {}).items())


def encode_data(data):
    return dict((k, base64.b64encode(v.encode("utf-8")).decode("ascii")) for k, v in data.items())


class CredentialsManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))
        self.ref = "%s/%s" % (self.params["namespace"], self.params["name"])

    def validate(self):
        names = [k["name"] for k in self.params["keys"]]
        dupes = sorted(set(n for n in names if names.count(n) > 1))
        if dupes:
            self.module.fail_json(msg="keys: %s listed more than once" % ", ".join(dupes))
        unknown = sorted(set(self.params["rotate"]) - set(names))
        if unknown:
            self.module.fail_json(msg="rotate: %s not among keys (%s)" % (", ".join(unknown), ", ".join(names)))
        unknown = sorted(set(a["key"] for a in self.params["adopt"]) - set(names))
        if unknown:
            self.module.fail_json(msg="adopt: %s not among keys (%s)" % (", ".join(unknown), ", ".join(names)))
        for spec in self.params["keys"]:
            if spec.get("length") is not None and spec["length"] < 8 and spec.get("value") is None:
                self.module.fail_json(msg="keys: %s has length %s; generated credentials need at least 8"
                                      % (spec["name"], spec["length"]))

    def run(self):
        self.validate()
        namespace, name = self.params["namespace"], self.params["name"]
        rc, out, err = self.kubectl.run(["get", "secret", name, "--namespace", namespace, "--output", "json",
                                         "--ignore-not-found"])
        current = self.kubectl.parse_json(out, ["get"])
        existing = self.decode(decode_data, current)
        self.kubectl.add_secrets(existing.values())
        self.kubectl.add_secrets(k.get("value") for k in self.params["keys"])
        adoptable = self.adoptable(existing)
        data, created, rotated, supplied, adopted = plan_credentials(
            existing, self.params["keys"], self.params["rotate"], adoptable=adoptable)
        labels = dict((k, str(v)) for k, v in self.params["labels"].items())
        current_labels = ((current or {}).get("metadata") or {}).get("labels") or {}
        labels_changed = any(current_labels.get(k) != v for k, v in labels.items())
        changed = bool(created or rotated or supplied or adopted or labels_changed or current is None)
        result = {"changed": changed, "created": created, "rotated": rotated, "supplied": supplied,
                  "adopted": adopted, "secret": self.ref}
        if self.module._diff:
            result["diff"] = {"before": "".join("%s: <kept>\n" % k for k in sorted(existing)),
                              "after": "".join("%s: %s\n" % (k, "<generated>" if k in created + rotated else
                                                             "<supplied>" if k in supplied else
                                                             "<adopted>" if k in adopted else "<kept>")
                                               for k in sorted(data))}
        if self.module.check_mode:
            # Would-be values for generated keys, so that later tasks of the check run have data to work with.
            result["data"] = encode_data(data)
            return result
        if changed:
            self.write(data, labels, current is None)
        result["data"] = encode_data(data)
        return result

    def decode(self, function, *args):
        try:
            return function(*args)
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))

    def adoptable(self, existing):
        """Read the Secrets named by ``adopt`` for keys not stored yet: one kubectl process per namespace."""
        adopt = self.params["adopt"]
        found = {}
        for namespace, names in adoption_sources(adopt, existing, self.params["namespace"]).items():
            items = self.kubectl.run_json(["get"] + ["secret/%s" % n for n in names] +
                                          ["--namespace", namespace, "--ignore-not-found", "--output", "json"])
            for item in list_items(items):
                found[(namespace, item["metadata"]["name"])] = item
        values = self.decode(adoptable_values, adopt, found, self.params["namespace"])
        self.kubectl.add_secrets(values.values())
        return values

    def write(self, data, labels, new):
        secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                  "metadata": {"name": self.params["name"], "namespace": self.params["namespace"],
                               "labels": labels},
                  "data": encode_data(data)}
        if new and self.params["create_namespace"]:
            # Under a field manager of its own: applied under the collection's, this bare Namespace would take
            # away the labels (Pod Security, realm) that the roles' namespace step applied under that manager.
            self.kubectl.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.params["namespace"]}}],
                               field_manager=NAMESPACE_FIELD_MANAGER)
        self.kubectl.apply([secret])


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            name=dict(type="str", required=True),
            namespace=dict(type="str", required=True),
            create_namespace=dict(type="bool", default=True),
            keys=dict(type="list", elements="dict", required=True, no_log=False, options=dict(
                name=dict(type="str", required=True),
                length=dict(type="int", default=32),
                alphabet=dict(type="str", default="alnum", no_log=False),
                value=dict(type="str", no_log=True),
            )),
            rotate=dict(type="list", elements="str", default=[], no_log=False),
            labels=dict(type="dict", default={}),
            adopt=dict(type="list", elements="dict", default=[], no_log=False, options=dict(
                key=dict(type="str", required=True, no_log=False),
                secret=dict(type="str", required=True, no_log=False),
                secret_key=dict(type="str", required=True, no_log=False),
                namespace=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    manager = CredentialsManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
