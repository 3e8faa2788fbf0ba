# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: what a support bundle holds, how its secrets are masked and how it is packed.

Pure functions, unit-tested without a cluster. The module reads the realm's Secrets only to learn
the strings to mask (secret_strings); they never leave it. Masking is by value, over every file of
the bundle (logs, events, descriptions, helm notes), plus the base64 form of each value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import gzip
import io
import json
import re
import tarfile

from ._kubectl import readiness
from ._redact import MASK
from ._redact import secret_strings as values_secret_strings
from ._status import WORKLOADS, workload_readiness

# Keys of Secret data that locate or name something (the S3 endpoint, a host, a port), not credentials.
PUBLIC_KEYS = frozenset(["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "MAGASIN_S3_BUCKET", "DB_HOST",
                         "DB_PORT", "DB_NAME", "REDIS_HOST", "REDIS_PORT", "ca.crt", "namespace"])
# Words joined by dashes, dots or underscores are names (superset, magasin-superset), and digits alone are
# ports: masking them would blank every namespace of the bundle. Generated credentials never look like that.
NAME_RE = re.compile(r"^(?:[A-Za-z]+(?:[._-][A-Za-z]+)*|\d+)$")
MIN_LENGTH = 6
# `KEY=value`, `export KEY="value"`, `key: value`, `key = "value"` inside a multi-line value (config.env,
# HOCON, values.yaml), when the key names a credential.
ASSIGNMENT_RE = re.compile(r"""(?im)(?:^|[\s{,;])(?:export[ \t]+)?["']?([\w.-]+)["']?[ \t]*[=:][ \t]*["']?([^"'\s,}]+)""")
CREDENTIAL_WORDS = re.compile(r"(?i)pass|secret|token|key|user|access|auth|cookie|crypt|credential")
HELM_RELEASE_TYPE = "helm.sh/release.v1"
TRUNCATED = "[... %d bytes truncated from the head by the support bundle ...]\n"
NOTE_ROOM = 100
DEFAULT_LOG_BYTES = 1024 * 1024
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def _decode(value):
    try:
        return base64.b64decode(value).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def helm_release_values(data):
    """The user-supplied values of a helm release Secret's ``release`` key (base64 of gzipped JSON), or {}."""
    try:
        raw = base64.b64decode(base64.b64decode(data))
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8")).get("config") or {}
    except (ValueError, OSError, UnicodeDecodeError, AttributeError):
        return {}


def _credential(value):
    value = (value or "").strip()
    return len(value) >= MIN_LENGTH and not NAME_RE.match(value)


def value_strings(key, value):
    """The strings to mask in one decoded Secret value."""
    if key in PUBLIC_KEYS or value is None:
        return set()
    out = set()
    text = value.strip()
    if _credential(text):
        out.add(text)
    for match in ASSIGNMENT_RE.finditer(text):
        if CREDENTIAL_WORDS.search(match.group(1)) and _credential(match.group(2)):
            out.add(match.group(2))
    return out


def secret_strings(secrets):
    """Every string to mask, from the realm's Secret objects (``kubectl get secrets -o json`` items): each
    credential value, the secret-looking assignments inside multi-line values, the secret-looking values
    given to helm (from its release Secrets), and the base64 form of each."""
    found = set()
    for obj in secrets:
        data = obj.get("data") or {}
        if obj.get("type") == HELM_RELEASE_TYPE:
            found |= set(s for s in values_secret_strings(helm_release_values(data.get("release"))) if _credential(s))
            continue
        for key, encoded in data.items():
            found |= value_strings(key, _decode(encoded))
    found |= set(base64.b64encode(s.encode("utf-8")).decode("ascii") for s in list(found))
    return found


def mask(text, secrets):
    """text with every secret string (longest first) replaced by MASK."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret and secret in text:
            text = text.replace(secret, MASK)
    return text


def tail(text, limit):
    """At most ``limit`` bytes: the end of text (whole lines) after a note of what was cut from the head."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text, False
    room = max(0, limit - len((TRUNCATED % len(data)).encode("utf-8")))
    kept = data[len(data) - room:] if room else b""
    newline = kept.find(b"\n")
    if 0 <= newline < len(kept) - 1:
        kept = kept[newline + 1:]
    return TRUNCATED % (len(data) - len(kept)) + kept.decode("utf-8", "ignore"), True


def fit(files, logs, max_bytes, log_bytes=DEFAULT_LOG_BYTES):
    """Bound the bundle: the other files whole (each cut to its tail if it alone exceeds the budget), then the
    logs sharing what is left equally, each cut from its head. Returns ({path: text}, [truncated paths])."""
    out, cut = {}, []
    used = 0
    for path in sorted(files):
        text, was_cut = tail(files[path], max(1024, max_bytes // 4))
        out[path] = text
        used += len(text.encode("utf-8"))
        if was_cut:
            cut.append(path)
    # Room for the note of a log that gets no share at all, so the bound holds however many logs there are.
    budget = max(0, max_bytes - used - NOTE_ROOM * len(logs))
    pending = sorted(logs, key=lambda p: len(logs[p].encode("utf-8")))
    for index, path in enumerate(pending):
        share = min(log_bytes, budget // (len(pending) - index)) if budget else 0
        text, was_cut = tail(logs[path], share)
        if share == 0:
            text, was_cut = TRUNCATED % len(logs[path].encode("utf-8")), bool(logs[path])
        out[path] = text
        budget -= len(text.encode("utf-8"))
        if was_cut:
            cut.append(path)
    return out, sorted(cut)


def pack(files, root, mtime):
    """A gzipped tarball (bytes) of {relative path: text} under the directory ``root``; files mode 0600."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path in sorted(files):
            data = files[path].encode("utf-8")
            info = tarfile.TarInfo("%s/%s" % (root, path))
            info.size = len(data)
            info.mtime = mtime
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def not_ready(objects):
    """(kind, namespace, name) of the objects to describe: workloads, Jobs and claims not ready, and pods
    neither ready nor done."""
    refs = []
    for obj in objects:
        kind = obj.get("kind")
        if kind in WORKLOADS + ("Job", "PersistentVolumeClaim"):
            ready = workload_readiness(obj)[0]
        elif kind == "Pod":
            ready = readiness(obj)[0] or (obj.get("status") or {}).get("phase") == "Succeeded"
        else:
            continue
        if not ready:
            meta = obj.get("metadata") or {}
            refs.append((kind, meta.get("namespace"), meta.get("name")))
    return sorted(refs)


def log_targets(pods):
    """[(namespace, pod, container)] of every container (init containers too) of the pods."""
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            out.append((meta.get("namespace"), meta.get("name"), container.get("name")))
    return sorted(out)


def logs_args(namespace, pod, container, previous=False, tail_lines=10000):
    args = ["logs", "--namespace", namespace, pod, "--container", container, "--tail", str(tail_lines)]
    return args + ["--previous"] if previous else args


def describe_args(kind, namespace, name):
    return ["describe", kind.lower(), name, "--namespace", namespace]


def release_status(data):
    """The parts of ``helm status -o json`` worth a bundle: never ``config`` (the values) nor the manifest."""
    info = (data or {}).get("info") or {}
    return {"name": data.get("name"), "namespace": data.get("namespace"), "revision": data.get("version"),
            "status": info.get("status"), "first_deployed": info.get("first_deployed"),
            "last_deployed": info.get("last_deployed"), "description": info.get("description"),
            "notes": info.get("notes") or ""}


def events_text(objects):
    """Events as lines, oldest first: time, namespace, type, reason, object, message."""
    rows = []
    for ev in objects:
        if ev.get("kind") != "Event":
            continue
        inv = ev.get("involvedObject") or {}
        when = ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp") or ""
        fields = (when, (ev.get("metadata") or {}).get("namespace"), ev.get("type"), ev.get("reason"),
                  inv.get("kind"), inv.get("name"), ev.get("count") or 1, (ev.get("message") or "").strip())
        rows.append("%s %s %s %s %s/%s x%s: %s" % fields)
    return "\n".join(sorted(rows)) + ("\n" if rows else "")


def node_facts(nodes):
    """Nodes without their images (long lists) and managed fields: name, labels, taints, capacity, allocatable,
    conditions, node info."""
    out = []
    for node in nodes:
        meta = node.get("metadata") or {}
        status = node.get("status") or {}
        out.append({"name": meta.get("name"), "labels": meta.get("labels") or {},
                    "taints": (node.get("spec") or {}).get("taints") or [],
                    "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
                    "capacity": status.get("capacity") or {}, "allocatable": status.get("allocatable") or {},
                    "conditions": [dict((k, c.get(k)) for k in ("type", "status", "reason", "message"))
                                   for c in status.get("conditions") or []],
                    "node_info": status.get("nodeInfo") or {}})
    return out


def json_or_text(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def readme(realm, version, when):
    return ("magasin support bundle of realm %s, made %s by magasin.platform %s.\n\n"
            "status.json/status.txt  what realm_status reports (readiness and its causes)\n"
            "<component>/helm/       helm status and history of each release (never its values)\n"
            "<component>/events.txt  the events of the component's namespaces\n"
            "<component>/logs/       every container's current and previous log (cut from the head when long)\n"
            "<component>/describe/   kubectl describe of every object not ready\n"
            "cluster/                nodes, versions\n"
            "reports/                the run reports given\n\n"
            "Every value of the realm's Secrets (and what helm was given as a secret) is replaced by %s.\n"
            % (realm, when, version, MASK))
