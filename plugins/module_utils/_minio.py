# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the declared content of a realm's MinIO and the Job that applies it.

Pure functions over the realm model and the minio role's settings (``minio_buckets``,
``minio_policies``, ``minio_users``, ``minio_rotate_keys``): the content as the setup script
reads it (roles/minio/files/minio-setup.sh), the users whose keys the role keeps in Secrets, and
the Job, named after a digest of its pod template and of the users' key versions, so that it runs
anew exactly when its input changes (a key rotation included). The checks of these settings are
in _validate.py; what is here assumes they passed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from . import _values
from ._values import relocate

ACCESS_KEY = "CONSOLE_ACCESS_KEY"
SECRET_KEY = "CONSOLE_SECRET_KEY"
# MinIO's own policies, which a user may name without declaring them.
CANNED_POLICIES = ("consoleAdmin", "diagnostics", "readonly", "readwrite", "writeonly")
COMPONENT_LABEL = "minio-setup"
CONTENT_LABEL = "magasin.unicef.org/minio-content"
USER_LABEL = "magasin.unicef.org/minio-user"
SIZE_UNITS = {"": 1, "B": 1, "KB": 10 ** 3, "MB": 10 ** 6, "GB": 10 ** 9, "TB": 10 ** 12, "PB": 10 ** 15,
              "KI": 2 ** 10, "MI": 2 ** 20, "GI": 2 ** 30, "TI": 2 ** 40, "PI": 2 ** 50,
              "KIB": 2 ** 10, "MIB": 2 ** 20, "GIB": 2 ** 30, "TIB": 2 ** 40, "PIB": 2 ** 50}


def builtin_users():
    """Names of the consumers' users (drill, dagster, notebooks), which the inventory cannot declare."""
    return sorted(c["user"] for c in _values.S3_CONSUMERS.values())


def builtin_policies(bucket):
    """The consumers' policies on the realm's bucket: {name: document}."""
    arn = "arn:aws:s3:::" + bucket
    return {
        "magasin-read-" + bucket: {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"], "Resource": [arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [arn + "/*"]}]},
        "magasin-readwrite-" + bucket: {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:*"], "Resource": [arn, arn + "/*"]}]},
    }


def parse_size(value):
    """Bytes of a quota: an integer, or a number with a unit (10GiB, 500MB, 1.5TiB); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a size")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative")
        return value
    if not isinstance(value, str):
        raise ValueError("not a size")
    text = value.strip().replace(" ", "")
    number = text.rstrip("KMGTPIBkmgtpib")
    unit = text[len(number):].upper()
    if unit not in SIZE_UNITS or not number:
        raise ValueError("unknown unit")
    try:
        amount = float(number)
    except ValueError:
        raise ValueError("not a number") from None
    if amount < 0:
        raise ValueError("negative")
    return int(amount * SIZE_UNITS[unit])


def _bool(value, default=False):
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "y", "true", "t", "on", "1")
    return bool(value)


def _policy_document(document):
    return json.loads(document) if isinstance(document, str) else document


def _policy_spec(spec):
    """(state, document) of one minio_policies value: a policy document, or {state: absent}."""
    if isinstance(spec, dict) and set(spec) == {"state"}:
        return spec["state"], None
    return "present", _policy_document(spec)


def _user_spec(spec):
    """{policies, state} of one minio_users value: a list of policies, or {policies, state}."""
    if isinstance(spec, (list, tuple)):
        return {"policies": list(spec), "state": "present"}
    spec = spec or {}
    policies = spec.get("policies") or []
    return {"policies": [policies] if isinstance(policies, str) else list(policies), "state": spec.get("state") or "present"}


def content(model, settings):
    """The realm's MinIO content: {buckets, policies, users}, each a list in the order the script applies it.

    The realm's bucket (magasin_bucket) and the selected consumers' users and policies always come
    first; a minio_buckets entry of the same name sets the realm bucket's options."""
    settings = settings or {}
    bucket = model["bucket"]
    declared = dict((b["name"], b) for b in settings.get("minio_buckets") or [])
    buckets = []
    for name in [bucket] + [b["name"] for b in settings.get("minio_buckets") or [] if b["name"] != bucket]:
        entry = declared.get(name)
        if entry is None:
            # Only created: its versioning and quota are left as they are.
            buckets.append({"name": name, "state": "present", "versioning": None, "quota": None,
                            "object_lock": False, "purge": False})
            continue
        quota = entry.get("quota")
        buckets.append({"name": name, "state": entry.get("state") or "present",
                        "versioning": _bool(entry.get("versioning")) or _bool(entry.get("object_lock")),
                        "quota": parse_size(quota) if quota not in (None, "", 0) else 0,
                        "object_lock": _bool(entry.get("object_lock")), "purge": _bool(entry.get("purge"))})
    consumers = [c for c in model.get("components") or [] if c in _values.S3_CONSUMERS]
    policies = [{"name": name, "state": "present", "document": doc, "builtin": True}
                for name, doc in sorted(builtin_policies(bucket).items())]
    for name, spec in sorted((settings.get("minio_policies") or {}).items()):
        state, document = _policy_spec(spec)
        policies.append({"name": name, "state": state, "document": document, "builtin": False})
    users = []
    for consumer in consumers:
        user = _values.S3_CONSUMERS[consumer]
        users.append({"name": user["user"], "state": "present", "builtin": True, "rotate": False,
                      "policies": ["magasin-%s-%s" % (user["policy"], bucket)],
                      "secret": _values.SECRETS["minio_user"] % user["user"]})
    rotate = set(settings.get("minio_rotate_keys") or [])
    for name, spec in sorted((settings.get("minio_users") or {}).items()):
        spec = _user_spec(spec)
        users.append({"name": name, "state": spec["state"], "builtin": False, "policies": spec["policies"],
                      "rotate": name in rotate and spec["state"] == "present",
                      "secret": _values.SECRETS["minio_user"] % name})
    return {"buckets": buckets, "policies": policies, "users": users}


def key_users(model, settings):
    """The users whose keys the role keeps (present ones): [{name, secret, rotate, builtin}]."""
    return [{"name": u["name"], "secret": u["secret"], "rotate": u["rotate"], "builtin": u["builtin"]}
            for u in content(model, settings)["users"] if u["state"] == "present"]


def removed_users(model, settings):
    """The Secrets of the users named for removal, which go once the Job has removed them from MinIO
    (as definitions to delete)."""
    return [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": u["secret"], "namespace": model["namespaces"]["tenant"]}}
            for u in content(model, settings)["users"] if u["state"] == "absent"]


def key_version(name, access_key, secret_key):
    """A digest of one user's keys: it changes when they do, and tells nothing about them."""
    text = "\0".join([name, access_key, secret_key])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _bucket_line(bucket):
    versioning = "-" if bucket["versioning"] is None else ("on" if bucket["versioning"] else "off")
    quota = "-" if bucket["quota"] is None else str(bucket["quota"])
    return " ".join([bucket["name"], bucket["state"], versioning, quota, "on" if bucket["object_lock"] else "off",
                     "yes" if bucket["purge"] else "no"])


def script_env(model, content_):
    """The environment of the setup script: literal content, and keys by Secret reference.

    MAGASIN_BUCKETS: lines `name state versioning(on|off|-) quota(bytes|0 for none|-) lock(on|off) purge(yes|no)`;
    MAGASIN_POLICIES: lines `index name state`, the document in MAGASIN_POLICY_<index>;
    MAGASIN_USERS: lines `index name state policies(comma-separated|-)`, the keys in
    MAGASIN_USER_<index>_ACCESS_KEY and _SECRET_KEY (optional references for a user named for removal,
    whose Secret goes after the Job)."""
    root = _values.SECRETS["minio_root"]
    env = [
        {"name": "MINIO_ENDPOINT", "value": model["s3"]["endpoint"]},
        {"name": "MINIO_ROOT_USER", "valueFrom": {"secretKeyRef": {"name": root, "key": "root-user"}}},
        {"name": "MINIO_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": root, "key": "root-password"}}},
        {"name": "MAGASIN_BUCKETS", "value": "\n".join(_bucket_line(b) for b in content_["buckets"])},
    ]
    lines = []
    for index, policy in enumerate(content_["policies"], 1):
        lines.append("%d %s %s" % (index, policy["name"], policy["state"]))
        if policy["state"] == "present":
            env.append({"name": "MAGASIN_POLICY_%d" % index,
                        "value": json.dumps(policy["document"], sort_keys=False, separators=(",", ":"))})
    env.append({"name": "MAGASIN_POLICIES", "value": "\n".join(lines)})
    lines = []
    for index, user in enumerate(content_["users"], 1):
        lines.append("%d %s %s %s" % (index, user["name"], user["state"], ",".join(user["policies"]) or "-"))
        for key, var in ((ACCESS_KEY, "ACCESS_KEY"), (SECRET_KEY, "SECRET_KEY")):
            ref = {"name": user["secret"], "key": key}
            if user["state"] == "absent":
                ref["optional"] = True
            env.append({"name": "MAGASIN_USER_%d_%s" % (index, var), "valueFrom": {"secretKeyRef": ref}})
    env.append({"name": "MAGASIN_USERS", "value": "\n".join(lines)})
    return env


def setup_job(model, settings, script, image, key_versions=None):
    """The Job that applies the content. Its name and its label CONTENT_LABEL carry a digest of the pod
    template and of the present users' key versions ({user: key_version}), so a changed content or a
    rotated key makes a new Job (a Job's template is immutable) and an unchanged one is left alone."""
    content_ = content(model, settings)
    pod = {
        "restartPolicy": "OnFailure",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "mc",
            "image": relocate(image, model["image_registry"]),
            # Pod Security `restricted`.
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "command": ["/bin/sh", "-c", script],
            "env": script_env(model, content_),
            "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        }],
    }
    present = set(u["name"] for u in content_["users"] if u["state"] == "present")
    versions = dict((k, v) for k, v in (key_versions or {}).items() if k in present)
    digest = hashlib.sha256(json.dumps({"pod": pod, "keys": versions}, sort_keys=True).encode()).hexdigest()[:10]
    labels = dict(model["labels"], **{"app.kubernetes.io/component": COMPONENT_LABEL, CONTENT_LABEL: digest})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "magasin-minio-setup-" + digest, "namespace": model["namespaces"]["tenant"],
                     "labels": labels},
        "spec": {
            "backoffLimit": 20,
            "activeDeadlineSeconds": 1800,
            "template": {"metadata": {"labels": {"app.kubernetes.io/component": COMPONENT_LABEL}}, "spec": pod},
        },
    }
