# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: backup and restore of a realm, as data.

Pure functions, unit-tested without a cluster: the Job that dumps the realm's PostgreSQL databases
(Superset, Dagster) and mirrors its MinIO buckets to a target bucket, writing a manifest of every
artifact's size and SHA-256; the Job that verifies a backup against its manifest and restores it into
the same or another realm; the Secret of credentials those Jobs read (by reference: no credential is
ever in a Job's args or plain env); the manifest's checks; and the encryption of the realm's Secrets
with a passphrase the user gives (AES-256-GCM, key from scrypt; ``cryptography``, which ansible-core
requires, so the controller has it).

The Jobs run ``roles/backup/files/magasin-backup.sh`` one step per container, in order (init
containers, then the last step as the container), sharing an emptyDir.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import hashlib
import json
import os
import re

from . import _values
from ._values import relocate

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
    HAS_CRYPTOGRAPHY = True
except ImportError:  # ansible-core requires it; a controller without it cannot seal Secrets
    HAS_CRYPTOGRAPHY = False

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "magasin-backup/1"
SECRETS_FILE = "secrets.enc"
SECRETS_FORMAT = "magasin-secrets/1"
CREDENTIALS_SECRET = "magasin-backup-credentials"
WORK = "/work"
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# The databases of the charts as this collection installs them: service, user, database, and the
# Secret (in the component's namespace) and key holding the user's password.
DATABASES = {
    "superset": {"service": "superset-postgresql", "port": 5432, "user": "superset", "database": "superset",
                 "secret": _values.SECRETS["superset_credentials"], "key": "password"},
    "dagster": {"service": "dagster-postgresql", "port": 5432, "user": "test", "database": "test",
                "secret": _values.SECRETS["dagster_postgresql"], "key": "postgresql-password"},
}
MINIO_ROOT = {"secret": _values.SECRETS["minio_root"], "access": "root-user", "secret_key": "root-password"}
_SECURITY = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
_POD_SECURITY = {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000,
                 "seccompProfile": {"type": "RuntimeDefault"}}
_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}


class BackupError(Exception):
    pass


def databases(model):
    """The selected components that have a PostgreSQL database of their own, in a fixed order."""
    return [c for c in ("superset", "dagster") if c in model["components"]]


def database(model, component):
    """{host, port, user, database, secret, key} of a component's database in a realm."""
    db = dict(DATABASES[component])
    db["host"] = "%s.%s.svc.cluster.local" % (db["service"], model["namespaces"][component])
    return db


def target(model, spec):
    """Where the backups go (or come from): {endpoint, bucket, prefix, external}; the realm's MinIO
    unless the user names an endpoint (then with keys of its own)."""
    spec = spec or {}
    endpoint = (spec.get("endpoint") or "").rstrip("/")
    return {"endpoint": endpoint or model["s3"]["endpoint"], "bucket": spec.get("bucket") or "magasin-backup",
            "prefix": (spec.get("prefix") or "").strip("/"), "external": bool(endpoint)}


def location(tgt, realm, backup_id):
    """The key prefix of one backup in the target bucket: [<prefix>/]<realm>/<id>."""
    return "/".join(p for p in (tgt["prefix"], realm, backup_id) if p)


PARTS = ("postgresql", "minio", "secrets")


def _problem(variable, message, example):
    return {"variable": variable, "message": message, "example": example}


def problems(model, spec):
    """What is wrong with a backup or restore request ({variable, message, example}; empty when nothing).
    ``spec`` as backup_job/restore_job take it, plus parts, passphrase (set or not) and dir."""
    out = []
    backup_id = str(spec.get("id") or "")
    if not ID_RE.match(backup_id):
        out.append(_problem("backup_id", "%r is not a backup id (1-63 letters, digits, '.', '_' or '-', starting with"
                            " a letter or digit)" % backup_id, "20261201T120000Z"))
    parts = list(spec.get("parts") or [])
    unknown = [p for p in parts if p not in PARTS]
    if unknown or not parts:
        out.append(_problem("backup_parts", "%s: choose from %s" % (", ".join(unknown) or "nothing chosen", ", ".join(PARTS)),
                            "[postgresql, minio]"))
    tgt = target(model, spec.get("target"))
    if not BUCKET_RE.match(tgt["bucket"]):
        out.append(_problem("backup_target", "bucket %r is not an S3 bucket name" % tgt["bucket"], "{bucket: magasin-backup}"))
    if not tgt["endpoint"] and set(parts) & {"postgresql", "minio"}:
        out.append(_problem("backup_target", "the realm has no MinIO (minio is not in magasin_components): name the"
                            " endpoint, bucket and keys of the target",
                            "{endpoint: 'https://s3.example.org', bucket: backups, access_key: ..., secret_key: ...}"))
    target_spec = spec.get("target") or {}
    if tgt["external"] and not (target_spec.get("access_key") and target_spec.get("secret_key")):
        out.append(_problem("backup_target", "an external endpoint needs access_key and secret_key",
                            "{endpoint: 'https://s3.example.org', access_key: ..., secret_key: ...}"))
    if "minio" in parts and "minio" not in model["components"]:
        out.append(_problem("backup_parts", "minio: the buckets are mirrored from the realm's MinIO, which is not in"
                            " magasin_components", "[postgresql]"))
    for name in spec.get("buckets") or []:
        if not BUCKET_RE.match(str(name)):
            out.append(_problem("backup_buckets", "%r is not an S3 bucket name" % name, "[magasin]"))
    for old, new in (spec.get("bucket_map") or {}).items():
        if not BUCKET_RE.match(str(new)):
            out.append(_problem("backup_restore_bucket_map", "%s: %r is not an S3 bucket name" % (old, new),
                                "{magasin: magasin}"))
    if "secrets" in parts:
        if not spec.get("passphrase"):
            out.append(_problem("backup_passphrase", "the realm's Secrets are encrypted with a passphrase you give"
                                " (at least 12 characters; or leave secrets out of backup_parts)",
                                "\"{{ vault_magasin_backup_passphrase }}\""))
        elif int(spec.get("passphrase_length") or len(str(spec["passphrase"]))) < 12:
            out.append(_problem("backup_passphrase", "at least 12 characters", "\"{{ vault_magasin_backup_passphrase }}\""))
        if not spec.get("dir"):
            out.append(_problem("backup_dir", "the sealed Secrets are written to (or read from) a directory on the"
                                " controller", "/srv/backups/magasin"))
    return out


def credential_sources(model, spec):
    """Keys of the credentials Secret the Jobs read, and where each comes from: [{key, namespace, secret,
    secret_key}] for keys copied from the realm's Secrets; the external target's keys come from the
    inventory (``target_keys``: True). The Jobs can only read Secrets of their own namespace."""
    tenant = model["namespaces"]["tenant"]
    out = []
    for component in databases(model):
        db = database(model, component)
        out.append({"key": component + "-password", "namespace": model["namespaces"][component],
                    "secret": db["secret"], "secret_key": db["key"]})
    if "minio" in model["components"]:
        out.append({"key": "realm-access-key", "namespace": tenant, "secret": MINIO_ROOT["secret"],
                    "secret_key": MINIO_ROOT["access"]})
        out.append({"key": "realm-secret-key", "namespace": tenant, "secret": MINIO_ROOT["secret"],
                    "secret_key": MINIO_ROOT["secret_key"]})
    return out


def job_namespace(model, spec):
    """The Jobs' namespace: the realm's tenant, else the first database's (a realm without MinIO)."""
    if (spec or {}).get("namespace"):
        return spec["namespace"]
    if "minio" in model["components"] or not databases(model):
        return model["namespaces"]["tenant"]
    return model["namespaces"][databases(model)[0]]


def _ref(key):
    return {"valueFrom": {"secretKeyRef": {"name": CREDENTIALS_SECRET, "key": key}}}


def _s3_env(side, endpoint, access, secret):
    """SIDE_URL, SIDE_ACCESS_KEY, SIDE_SECRET_KEY: the script makes mc's MC_HOST_<side> of them (env, not argv)."""
    return [{"name": side + "_URL", "value": endpoint}, dict(_ref(access), name=side + "_ACCESS_KEY"),
            dict(_ref(secret), name=side + "_SECRET_KEY")]


def _target_keys(tgt):
    return ("target-access-key", "target-secret-key") if tgt["external"] else ("realm-access-key", "realm-secret-key")


def _container(name, image, step, env):
    return {"name": name, "image": image, "command": ["/bin/sh", "-c", "__SCRIPT__", "magasin-backup", step],
            "env": [{"name": "STEP", "value": step}, {"name": "WORK", "value": WORK},
                    {"name": "HOME", "value": WORK}, {"name": "MC_CONFIG_DIR", "value": WORK + "/.mc"}] + env,
            "volumeMounts": [{"name": "work", "mountPath": WORK}],
            "securityContext": copy.deepcopy(_SECURITY), "resources": copy.deepcopy(_RESOURCES)}


def _pg_env(model, component, dump):
    db = database(model, component)
    return [{"name": "PGHOST", "value": db["host"]}, {"name": "PGPORT", "value": str(db["port"])},
            {"name": "PGUSER", "value": db["user"]}, {"name": "PGDATABASE", "value": db["database"]},
            {"name": "PGCONNECT_TIMEOUT", "value": "10"},
            dict(_ref(component + "-password"), name="PGPASSWORD"), {"name": "DUMP", "value": dump}]


def _job(model, spec, kind, steps, script, extra_labels):
    """A Job running ``steps`` in order (all but the last as init containers). Its name carries a digest
    of the pod template, so the same request is the same Job (not run twice) and another one runs anew."""
    containers = []
    for c in steps:
        c = copy.deepcopy(c)
        c["command"] = [script if part == "__SCRIPT__" else part for part in c["command"]]
        containers.append(c)
    pod = {"restartPolicy": "Never", "securityContext": copy.deepcopy(_POD_SECURITY),
           "volumes": [{"name": "work", "emptyDir": {}}], "containers": containers[-1:]}
    if len(containers) > 1:
        pod["initContainers"] = containers[:-1]
    digest = hashlib.sha256(json.dumps(pod, sort_keys=True).encode()).hexdigest()[:10]
    labels = dict(model["labels"], **{"app.kubernetes.io/component": kind})
    labels.update(extra_labels)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "magasin-%s-%s" % (kind, digest), "namespace": job_namespace(model, spec), "labels": labels},
        "spec": {"backoffLimit": int(spec.get("backoff_limit", 3)), "activeDeadlineSeconds": int(spec.get("deadline", 7200)),
                 "ttlSecondsAfterFinished": None,
                 "template": {"metadata": {"labels": {"app.kubernetes.io/component": kind}}, "spec": pod}},
    }


def _clean(job):
    if job["spec"].get("ttlSecondsAfterFinished") is None:
        job["spec"].pop("ttlSecondsAfterFinished")
    return job


def backup_job(model, spec, script):
    """The backup Job: pg_dump of each selected database (postgres image), then one mc step that copies
    the dumps, mirrors each bucket and writes the manifest under <target bucket>/<location>.

    ``spec``: {id, parts, target: {endpoint, bucket, prefix}, buckets: [...], images: {postgresql, mc}}."""
    registry = model.get("image_registry") or ""
    pg_image = relocate(spec["images"]["postgresql"], registry)
    mc_image = relocate(spec["images"]["mc"], registry)
    tgt = target(model, spec.get("target"))
    parts = spec.get("parts") or PARTS
    buckets = list(spec.get("buckets") or []) if "minio" in parts and "minio" in model["components"] else []
    steps = []
    for component in databases(model) if "postgresql" in parts else []:
        steps.append(_container("dump-" + component, pg_image, "pg-dump",
                                _pg_env(model, component, "%s/postgresql/%s.dump" % (WORK, component))))
    env = [{"name": "REALM", "value": model["realm"]}, {"name": "BACKUP_ID", "value": spec["id"]},
           {"name": "BUCKETS", "value": " ".join(buckets)}]
    if buckets:
        env += _s3_env("SRC", model["s3"]["endpoint"], "realm-access-key", "realm-secret-key")
    access, secret = _target_keys(tgt)
    env += _s3_env("DST", tgt["endpoint"], access, secret)
    env += [{"name": "DST_BUCKET", "value": tgt["bucket"]},
            {"name": "DST_PREFIX", "value": location(tgt, model["realm"], spec["id"])}]
    steps.append(_container("store", mc_image, "store", env))
    return _clean(_job(model, spec, "backup", steps, script, {"magasin.unicef.org/backup-id": spec["id"]}))


def restore_job(model, spec, script):
    """The restore Job: one mc step that verifies every artifact of the backup against its manifest
    (nothing is written before all match; a dump asked for and missing fails too), copies the dumps and
    mirrors each bucket into the realm's bucket of the same name (or ``bucket_map``'s), then pg_restore
    of each dump into this realm's database (objects of the dump dropped first, owners and grants of
    this realm kept).

    ``spec``: {id, from_realm, target, buckets, bucket_map, parts (postgresql, minio), images}."""
    registry = model.get("image_registry") or ""
    pg_image = relocate(spec["images"]["postgresql"], registry)
    mc_image = relocate(spec["images"]["mc"], registry)
    tgt = target(model, spec.get("target"))
    parts = spec.get("parts") or ["postgresql", "minio"]
    dumps = databases(model) if "postgresql" in parts else []
    buckets = list(spec.get("buckets") or []) if "minio" in parts and "minio" in model["components"] else []
    mapping = spec.get("bucket_map") or {}
    access, secret = _target_keys(tgt)
    env = [{"name": "BACKUP_ID", "value": spec["id"]},
           {"name": "SRC_BUCKET", "value": tgt["bucket"]},
           {"name": "SRC_PREFIX", "value": location(tgt, spec.get("from_realm") or model["realm"], spec["id"])},
           {"name": "DUMPS", "value": " ".join(dumps)},
           {"name": "BUCKET_MAP", "value": " ".join("%s=%s" % (b, mapping.get(b) or b) for b in buckets)}]
    env += _s3_env("SRC", tgt["endpoint"], access, secret)
    if "minio" in model["components"]:
        env += _s3_env("DST", model["s3"]["endpoint"], "realm-access-key", "realm-secret-key")
    steps = [_container("load", mc_image, "load", env)]
    for component in dumps:
        steps.append(_container("restore-" + component, pg_image, "pg-restore",
                                _pg_env(model, component, "%s/postgresql/%s.dump" % (WORK, component))))
    labels = {"magasin.unicef.org/backup-id": spec["id"]}
    return _clean(_job(model, spec, "restore", steps, script, labels))


# --- manifest ---------------------------------------------------------------------------------

def artifacts_by_kind(manifest):
    """{'postgresql': [component], 'minio': [bucket], 'secrets': bool} named by a manifest."""
    out = {"postgresql": [], "minio": [], "secrets": False}
    for item in (manifest or {}).get("artifacts") or []:
        parts = item["path"].split("/")
        if parts[0] == "postgresql" and parts[-1].endswith(".dump") and len(parts) == 2:
            out["postgresql"].append(parts[1][:-len(".dump")])
        elif parts[0] == "minio" and len(parts) > 2 and parts[1] not in out["minio"]:
            out["minio"].append(parts[1])
        elif item["path"] == SECRETS_FILE:
            out["secrets"] = True
    return out


def parse_manifest(text):
    """The manifest as a dict; BackupError naming what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BackupError("the manifest is not JSON: %s" % exc) from None
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise BackupError("not a magasin backup manifest (format %r, expected %r)"
                          % (data.get("format") if isinstance(data, dict) else None, MANIFEST_FORMAT))
    for item in data.get("artifacts") or []:
        if not (isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("size"), int)
                and re.match(r"^[0-9a-f]{64}$", str(item.get("sha256")))):
            raise BackupError("a manifest entry is not {path, size, sha256}: %r" % (item,))
        if item["path"].startswith("/") or ".." in item["path"].split("/"):
            raise BackupError("a manifest path leaves the backup: %r" % item["path"])
    return data


def file_digest(path, chunk=1 << 20):
    """(size, sha256 hex) of a file, read in chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
            size += len(block)
    return size, h.hexdigest()


def verify_dir(directory, manifest):
    """The mismatches of a backup directory against its manifest: [{path, problem}] (empty: all match).
    A file the manifest does not name is reported too (besides the manifest itself)."""
    out = []
    named = set()
    for item in manifest.get("artifacts") or []:
        named.add(item["path"])
        path = os.path.join(directory, *item["path"].split("/"))
        if not os.path.isfile(path):
            out.append({"path": item["path"], "problem": "missing"})
            continue
        size, digest = file_digest(path)
        if size != item["size"]:
            out.append({"path": item["path"], "problem": "size %s, manifest says %s" % (size, item["size"])})
        elif digest != item["sha256"]:
            out.append({"path": item["path"], "problem": "sha256 %s, manifest says %s" % (digest, item["sha256"])})
    for root, _dirs, files in os.walk(directory):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), directory).replace(os.sep, "/")
            if rel != MANIFEST and rel not in named:
                out.append({"path": rel, "problem": "not in the manifest"})
    return sorted(out, key=lambda p: p["path"])


# --- the realm's Secrets, encrypted -------------------------------------------------------------

_SCRYPT = {"n": 2 ** 15, "r": 8, "p": 1}


def _key(passphrase, salt, params):
    if not HAS_CRYPTOGRAPHY:
        raise BackupError("sealing the realm's Secrets needs the Python package cryptography on the controller")
    return Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"]).derive(passphrase.encode("utf-8"))


def seal(secrets, passphrase, realm):
    """The realm's Secrets ([{namespace, name, type, labels, data (base64 values)}]) as the bytes of an
    encrypted file: JSON {format, realm, kdf, salt, nonce, ciphertext}; AES-256-GCM with the realm and the
    format as associated data, the key from the passphrase by scrypt."""
    if len(passphrase or "") < 12:
        raise BackupError("the passphrase must have at least 12 characters")
    salt, nonce = os.urandom(16), os.urandom(12)
    plain = json.dumps({"secrets": secrets}, sort_keys=True).encode("utf-8")
    aad = ("%s:%s" % (SECRETS_FORMAT, realm)).encode("utf-8")
    box = AESGCM(_key(passphrase, salt, _SCRYPT)).encrypt(nonce, plain, aad)
    doc = {"format": SECRETS_FORMAT, "realm": realm, "kdf": dict(_SCRYPT, name="scrypt"),
           "salt": base64.b64encode(salt).decode(), "nonce": base64.b64encode(nonce).decode(),
           "ciphertext": base64.b64encode(box).decode()}
    return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode("utf-8")


def unseal(blob, passphrase):
    """(realm, secrets) of a file made by seal(); BackupError on a wrong passphrase or a changed file."""
    try:
        doc = json.loads(blob)
        if doc.get("format") != SECRETS_FORMAT:
            raise ValueError("format %r" % doc.get("format"))
        salt, nonce, box = (base64.b64decode(doc[k]) for k in ("salt", "nonce", "ciphertext"))
        params = doc["kdf"]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError("not a magasin secrets file: %s" % exc) from None
    aad = ("%s:%s" % (SECRETS_FORMAT, doc.get("realm"))).encode("utf-8")
    try:
        plain = AESGCM(_key(passphrase, salt, params)).decrypt(nonce, box, aad)
    except InvalidTag:
        raise BackupError("the secrets file does not open with this passphrase (wrong passphrase, or the file changed)") from None
    return doc["realm"], json.loads(plain)["secrets"]


def rehome(secrets, from_namespaces, to_namespaces, labels):
    """The sealed Secrets as manifests for another realm: each namespace mapped by its component key
    (tenant, superset...), the realm label replaced. Secrets of namespaces outside the realm are left out."""
    by_ns = dict((ns, key) for key, ns in from_namespaces.items() if key != "operator")
    out = []
    for s in secrets:
        key = by_ns.get(s["namespace"])
        if not key:
            continue
        meta_labels = dict(s.get("labels") or {})
        meta_labels.update(labels)
        out.append({"apiVersion": "v1", "kind": "Secret", "type": s.get("type") or "Opaque",
                    "metadata": {"name": s["name"], "namespace": to_namespaces[key], "labels": meta_labels},
                    "data": dict(s.get("data") or {})})
    return sorted(out, key=lambda m: (m["metadata"]["namespace"], m["metadata"]["name"]))
