# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the machine-readable run report of a converge.

Pure functions. The report is assembled at the end of playbooks/magasin.yml from what the run
already holds (the inventory's settings, the realm model, realm_info's result and what each
release returned): nothing asks helm or the API server again. It never holds a value: no chart
values, no Secret data, no setting whose name looks like a credential; the objects a release
changed are named by kind and name only. Contract: docs/schemas/run-report.schema.json.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import re

SCHEMA = "magasin.platform/run-report/v1"
ACTIONS = ("install", "upgrade", "uninstall", "none")
TOOLS = ("helm", "kubectl")
# Settings whose name says they hold a credential never reach the report (magasin_s3_secret_key...).
SECRET_SETTING_RE = re.compile(r"(?i)pass|secret|token|access_key|credential")
# Connection settings name files and binaries of the machine that ran, not selections.
SELECTIONS = ("magasin_realm", "magasin_components", "magasin_profile", "magasin_state")


def archive_digest(path):
    """'sha256:<hex>' of a chart archive (the .tgz helm installs), or None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (IOError, OSError):
        return None
    return "sha256:" + digest.hexdigest()


def index_digest(index, name, version):
    """'sha256:<hex>' of one chart version as a chart repository's index.yaml records it, or None."""
    for entry in ((index or {}).get("entries") or {}).get(name) or []:
        if str(entry.get("version")) == str(version) and entry.get("digest"):
            return "sha256:" + str(entry["digest"]).rsplit(":", maxsplit=1)[-1]
    return None


def _object_key(doc):
    meta = doc.get("metadata") or {}
    kind = doc.get("kind") or "?"
    if meta.get("namespace"):
        return "%s/%s/%s" % (kind, meta["namespace"], meta.get("name") or "?")
    return "%s/%s" % (kind, meta.get("name") or "?")


def object_changes(before, after):
    """The objects of a release added, changed and removed between two parsed manifests (lists of dicts), each
    named ``Kind/name`` (``Kind/namespace/name`` when the manifest names a namespace): never a value. An object
    is changed when anything of it differs, compared by a digest of its canonical JSON."""
    def digests(docs):
        return dict((_object_key(d), hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest())
                    for d in docs or [] if isinstance(d, dict) and d)
    old, new = digests(before), digests(after)
    return {"added": sorted(k for k in new if k not in old),
            "changed": sorted(k for k in new if k in old and new[k] != old[k]),
            "removed": sorted(k for k in old if k not in new)}


def _counts(processes):
    processes = processes or {}
    return dict((tool, int(processes.get(tool) or 0)) for tool in TOOLS)


def parse_tally(text):
    """The process counts of every module run of a converge, from its tally file (module_utils/_cli.py
    append_tally: one JSON object per line). A line that is not a JSON object (one cut short by a killed
    module) is skipped."""
    counts = []
    for line in (text or "").splitlines():
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            counts.append(_counts(data))
    return counts


def _seconds(value):
    try:
        return round(float(value), 3)
    except (TypeError, ValueError):
        return None


def _timestamp(value):
    """A datetime from an ISO 8601 text (as now().isoformat() writes it), naive values taken as UTC."""
    if isinstance(value, datetime.datetime):
        stamp = value
    else:
        text = str(value or "").replace("Z", "+00:00")
        try:
            stamp = datetime.datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f")
        except ValueError:
            stamp = datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    return stamp.replace(tzinfo=None)


def settings_of(settings):
    """The inventory's non-secret settings: every global whose name does not look like a credential, the
    ingress hosts, and nothing the machine that ran it decides (kubeconfig, binaries)."""
    out = {}
    for key, value in sorted((settings or {}).items()):
        if key in SELECTIONS or SECRET_SETTING_RE.search(key):
            continue
        if key in ("magasin_kubeconfig", "magasin_context", "magasin_helm_binary", "magasin_kubectl_binary"):
            continue
        if isinstance(value, str) and value == "":
            continue
        out[key] = value
    return out


def chart_entries(model, observed):
    """Per chart the run read (realm_info's charts): key, name, version, where it came from and its digest."""
    found = (observed or {}).get("charts") or {}
    sources = (model or {}).get("charts") or {}
    out = []
    for key in sorted(found, key=lambda k: list(sources).index(k) if k in sources else len(sources)):
        seen, source = found[key] or {}, sources.get(key) or {}
        out.append({"key": key, "name": seen.get("name") or key,
                    "version": str(seen.get("version") or source.get("version") or ""),
                    "source": source.get("chart") or "", "repo_url": source.get("repo_url") or None,
                    "digest": seen.get("digest"), "digest_source": seen.get("digest_source")})
    return out


def release_entry(row):
    """One release of the report from what its task returned (a summary row)."""
    action = row.get("action") or "none"
    objects = row.get("objects")
    if objects is not None:
        objects = dict((k, sorted(objects.get(k) or [])) for k in ("added", "changed", "removed"))
    return {"component": row.get("component") or row.get("key") or "", "name": row.get("name") or "",
            "namespace": row.get("namespace") or "", "chart": row.get("chart") or None,
            "status": row.get("status") or "unknown", "action": action if action in ACTIONS else "none",
            "reasons": [str(r) for r in row.get("reasons") or []], "recovered": row.get("recovered") or None,
            "objects": objects, "duration": _seconds(row.get("duration", row.get("seconds"))),
            "processes": _counts(row.get("processes"))}


def run_report(settings, model, observed, summary, finished, check_mode=False, tally=None):
    """The run report (a dict that json.dumps writes), from the inventory's settings, the realm model,
    realm_info's result (``observed``), the summary rows the release tasks recorded, the time the report is
    made (ISO 8601, UTC) and whether the run was a check run. The process totals: with ``tally`` (the text of
    the run's tally file, one line per module run), those of every module call of the run; without one (a
    tally that could not be written), those of the results the report holds: realm_info and the releases."""
    settings, model, observed = settings or {}, model or {}, observed or {}
    releases = [release_entry(row) for row in summary or [] if "warning" not in row]
    warnings = [str(row["warning"]) for row in summary or [] if "warning" in row]
    calls = parse_tally(tally)
    if not calls:
        calls = ([_counts(observed.get("processes"))] if observed.get("processes") is not None else []) + \
            [r["processes"] for r in releases]
    total = _counts({})
    for counts in calls:
        for tool, n in counts.items():
            total[tool] += n
    counted = len(calls)
    started = observed.get("started")
    duration = None
    if started:
        duration = round((_timestamp(finished) - _timestamp(started)).total_seconds(), 3)
    actions = dict((a, sum(1 for r in releases if r["action"] == a)) for a in ACTIONS)
    return {
        "schema": SCHEMA,
        "realm": model.get("realm") or settings.get("magasin_realm") or "magasin",
        "check_mode": bool(check_mode),
        "started": started or None,
        "finished": str(finished),
        "changed": any(r["action"] != "none" for r in releases),
        "selections": {
            "realm": model.get("realm") or settings.get("magasin_realm") or "magasin",
            "components": list(model.get("components") or settings.get("magasin_components") or []),
            "profile": model.get("profile") or settings.get("magasin_profile") or "lab",
            "state": model.get("state") or settings.get("magasin_state") or "present",
            "settings": settings_of(settings),
        },
        "charts": chart_entries(model, observed),
        "releases": releases,
        "actions": actions,
        "durations": {"total": duration, "read": _seconds(observed.get("duration")),
                      "releases": round(sum(r["duration"] or 0 for r in releases), 3)},
        "processes": dict(total, module_calls=counted),
        "warnings": warnings,
    }
