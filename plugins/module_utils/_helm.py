# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the helm client, its parsers, and release decisions.

The decisions (what a release needs, how a stuck release is recovered) are pure functions
of parsed helm output, so they are unit-tested without a cluster. ``helm status -o json``
is the one question asked of helm for a release: it carries the status, the revision, the
chart, the user-supplied values (``config``) and the description in which this collection
records the digest of a local chart's content.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import datetime
import hashlib
import io
import json
import os
import re
import tarfile

from ._cli import CliClient, CliError

PENDING = ("pending-install", "pending-upgrade", "pending-rollback")
DESCRIPTION_PREFIX = "magasin.platform"
DIGEST_RE = re.compile(r"chart-digest=(sha256:[0-9a-f]{64})")
CHART_KINDS = ("repo", "oci", "local", "tgz")
# Every status but uninstalled, by name: Helm 4 has no --all.
LIST_STATUSES = ["--deployed", "--failed", "--pending", "--superseded", "--uninstalling"]


class HelmClient(CliClient):
    binary_name = "helm"
    binary_option = "helm_binary"

    def __init__(self, module, connection):
        super(HelmClient, self).__init__(module, connection)
        self._version_text = None

    def version_text(self):
        """The version helm reports (``v3.17.2``); asked at most once per task."""
        if self._version_text is None:
            rc, out, err = self.run(["version", "--template", "{{.Version}}"])
            self._version_text = out.strip()
        return self._version_text

    def version(self):
        """The helm version as a tuple (major, minor, patch)."""
        return parse_version(self.version_text())

    @property
    def major(self):
        return self.version()[0]

    def status(self, name, namespace):
        """The release as helm stores it, or None when there is none."""
        rc, out, err = self.run(["status", name, "--namespace", namespace, "--output", "json"], ok_rcs=(0, 1))
        if rc == 1:
            if is_not_found(err):
                return None
            raise CliError(self.error_message(err, out), cmd=self.calls[-1], rc=rc, stderr=self.redact(err))
        return self.parse_json(out, ["status"])

    def release(self, name, namespace):
        """The parsed release, or None. ``helm status -o json`` lacks the chart (Helm 3 and 4
        alike; only install and upgrade print it), so one ``helm list`` adds chart name,
        version and app version: two processes in all."""
        release = parse_release(self.status(name, namespace))
        if release is not None and release["chart_name"] is None:
            release.update(self.list_entry(name, namespace))
        return release

    def list_entry(self, name, namespace):
        # Helm 4 dropped --all; naming every status works on both majors without asking
        # helm for its version.
        items = self.run_json(["list", "--namespace", namespace, "--filter", "^%s$" % re.escape(name)]
                              + LIST_STATUSES + ["--output", "json"]) or []
        for item in items:
            if item.get("name") == name:
                return parse_list_entry(item)
        return {}

    def history(self, name, namespace):
        return parse_history(self.run_json(["history", name, "--namespace", namespace, "--max", "50",
                                            "--output", "json"]) or [])


def is_not_found(stderr):
    return "not found" in (stderr or "").lower()


def parse_version(text):
    match = re.search(r"v?(\d+)\.(\d+)\.(\d+)", text or "")
    if not match:
        raise CliError("cannot read the helm version from %r" % (text or "")[:200])
    return tuple(int(x) for x in match.groups())


def parse_time(text):
    """Parse helm's RFC 3339 timestamps (nanoseconds, 'Z' or an offset) to an aware datetime."""
    if not text:
        return None
    match = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$", text.strip())
    if not match:
        return None
    base = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    fraction = match.group(2) or ""
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    zone = match.group(3) or "Z"
    if zone == "Z":
        offset = datetime.timedelta(0)
    else:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return (base.replace(microsecond=micro) - offset).replace(tzinfo=UTC)


class _UTC(datetime.tzinfo):
    def utcoffset(self, dt):
        return datetime.timedelta(0)

    def tzname(self, dt):
        return "UTC"

    def dst(self, dt):
        return datetime.timedelta(0)


UTC = _UTC()


def now_utc():
    return datetime.datetime.now(UTC)


def parse_release(data):
    """Reduce ``helm status -o json`` (Helm 3 and 4) to what decisions and results need."""
    if not data:
        return None
    info = data.get("info") or {}
    metadata = (data.get("chart") or {}).get("metadata") or {}
    description = info.get("description") or ""
    digest = DIGEST_RE.search(description)
    return {
        "name": data.get("name"),
        "namespace": data.get("namespace"),
        "revision": data.get("version"),
        "status": info.get("status"),
        "updated": info.get("last_deployed") or info.get("first_deployed"),
        "description": description,
        "chart_name": metadata.get("name"),
        "chart_version": metadata.get("version"),
        "app_version": metadata.get("appVersion"),
        "values": data.get("config") or {},
        "manifest": data.get("manifest") or "",
        "chart_digest": digest.group(1) if digest else None,
    }


def split_chart(chart):
    """'my-chart-1.2.3-rc1' -> ('my-chart', '1.2.3-rc1'), as helm list prints charts."""
    match = re.match(r"^(.+?)-(v?\d+(?:\.\d+)*(?:[-+].*)?)$", chart or "")
    return (match.group(1), match.group(2)) if match else (chart, None)


def parse_list_entry(item):
    """One item of ``helm list -o json``: chart name, version and app version."""
    name, version = split_chart(item.get("chart"))
    return {"chart_name": name, "chart_version": version, "app_version": item.get("app_version")}


def parse_history(items):
    """``helm history -o json``: [{revision, status, chart, app_version, updated, description}]."""
    out = []
    for item in items or []:
        out.append({
            "revision": item.get("revision"),
            "status": item.get("status"),
            "chart": item.get("chart"),
            "app_version": item.get("app_version"),
            "updated": item.get("updated"),
            "description": item.get("description"),
        })
    return sorted(out, key=lambda r: r["revision"] or 0)


def list_all_args(names=None):
    """argv of the one ``helm list`` over all namespaces; ``names`` narrows it to those release names."""
    args = ["list", "--all-namespaces", "--max", "0"] + LIST_STATUSES + ["--output", "json"]
    if names:
        args += ["--filter", "^(%s)$" % "|".join(re.escape(n) for n in names)]
    return args


def list_namespace_args(namespace, names=None):
    """argv of ``helm list`` in one namespace: what an account whose Secrets rights end at the realm's
    namespaces may run (``--all-namespaces`` lists Secrets cluster-wide)."""
    args = ["list", "--namespace", namespace, "--max", "0"] + LIST_STATUSES + ["--output", "json"]
    if names:
        args += ["--filter", "^(%s)$" % "|".join(re.escape(n) for n in names)]
    return args


def parse_releases(items, namespaces=None):
    """``helm list -A -o json`` to {"<ns>/<name>": {status, revision, chart_name, chart_version, app_version,
    updated}}, for the given namespaces only (all when None)."""
    out = {}
    for item in items or []:
        if namespaces is not None and item.get("namespace") not in namespaces:
            continue
        entry = parse_list_entry(item)
        revision = item.get("revision")
        entry.update(status=item.get("status"), updated=item.get("updated"),
                     revision=int(revision) if str(revision or "").isdigit() else revision)
        out["%s/%s" % (item.get("namespace"), item.get("name"))] = entry
    return out


def show_chart_args(chart, version=None, repo_url=None):
    """argv of ``helm show chart`` for any of the four chart sources; a local chart carries its own version."""
    args = ["show", "chart", chart]
    kind = classify_chart(chart, repo_url)
    if version and kind not in ("local", "tgz"):
        args += ["--version", str(version)]
    if repo_url:
        args += ["--repo", repo_url]
    return args


def chart_lookup(rc, out, err, version=None):
    """What ``helm show chart`` said about one chart: {found, name, version, error}. Pure.

    ``found`` is true when helm found the chart and (if a version was asked for) it is that version.
    """
    if rc != 0:
        lines = [line.strip() for line in (err or out or "").strip().splitlines() if line.strip()]
        return {"found": False, "name": None, "version": None, "error": lines[-1] if lines else "helm exited %s" % rc}
    fields = _chart_yaml_fields(out or "")
    name, found_version = fields.get("name"), fields.get("version")
    if not name or not found_version:
        return {"found": False, "name": name, "version": found_version,
                "error": "helm show chart printed no chart name and version"}
    if version and str(found_version) != str(version):
        return {"found": False, "name": name, "version": found_version,
                "error": "the chart found is %s %s, not version %s" % (name, found_version, version)}
    return {"found": True, "name": name, "version": found_version, "error": None}


def release_result(release):
    """What a task returns about a release: never its values."""
    if not release:
        return {}
    chart = None
    if release.get("chart_name"):
        chart = "%s-%s" % (release["chart_name"], release.get("chart_version"))
    return {
        "name": release.get("name"),
        "namespace": release.get("namespace"),
        "status": release.get("status"),
        "revision": release.get("revision"),
        "chart": chart,
        "chart_version": release.get("chart_version"),
        "app_version": release.get("app_version"),
    }


def merge_values(base, override):
    """Helm's merge of values files: maps merge recursively, anything else is replaced."""
    result = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge_values(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def normalize(data):
    """Values as helm stores them: JSON round trip (tuples to lists, numbers as JSON has them)."""
    return json.loads(json.dumps(data, sort_keys=True))


# --- charts ----------------------------------------------------------------------------


def classify_chart(chart, repo_url=None, exists=os.path.exists, isdir=os.path.isdir):
    """Which of the four chart sources ``chart`` names."""
    if chart.startswith("oci://"):
        return "oci"
    if repo_url:
        return "repo"
    if isdir(chart):
        return "local"
    if exists(chart) and (chart.endswith(".tgz") or chart.endswith(".tar.gz")):
        return "tgz"
    return None


def _chart_yaml_fields(text):
    """name and version from a Chart.yaml without needing PyYAML on the target."""
    fields = {}
    for line in text.splitlines():
        match = re.match(r"^(name|version|appVersion):\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
        if match:
            fields[match.group(1)] = match.group(2).strip()
    return fields


def local_chart_identity(path):
    """(name, version, digest) of a chart directory or archive; the digest covers every file."""
    digest = hashlib.sha256()
    chart_yaml = None
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in (".git",))
            for name in sorted(files):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, path).replace(os.sep, "/")
                with open(full, "rb") as handle:
                    content = handle.read()
                digest.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
                if rel == "Chart.yaml":
                    chart_yaml = content.decode("utf-8", "replace")
    else:
        with open(path, "rb") as handle:
            raw = handle.read()
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
            members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
            for member in members:
                content = tar.extractfile(member).read()
                rel = member.name.split("/", 1)[1] if "/" in member.name else member.name
                digest.update(rel.encode() + b"\0" + hashlib.sha256(content).digest())
                if rel == "Chart.yaml":
                    chart_yaml = content.decode("utf-8", "replace")
    if chart_yaml is None:
        raise ValueError("%s has no Chart.yaml; it is not a Helm chart" % path)
    fields = _chart_yaml_fields(chart_yaml)
    return fields.get("name"), fields.get("version"), "sha256:" + digest.hexdigest()


def desired_chart(chart, repo_url=None, version=None):
    """Describe the chart the task asks for: kind, name, version, digest (local content)."""
    kind = classify_chart(chart, repo_url)
    if kind is None:
        raise ValueError(
            "chart %r is not a directory, a .tgz file or an oci:// reference, and no repo_url was "
            "given. Give a chart name with repo_url (for example chart: drill, repo_url: "
            "https://unicef.github.io/magasin, version: 0.9.0), a path, or oci://registry/name." % chart)
    if kind == "repo":
        if not version:
            raise ValueError("chart %r from %s needs a pinned 'version' (for example version: 1.2.3)"
                             % (chart, repo_url))
        return {"kind": kind, "ref": chart, "name": chart, "version": version, "digest": None}
    if kind == "oci":
        name = chart.rstrip("/").rsplit("/", 1)[-1]
        tag = None
        if ":" in name:
            name, tag = name.split(":", 1)
        if not (version or tag):
            raise ValueError("chart %r needs a pinned 'version' (or a tag in the reference)" % chart)
        return {"kind": kind, "ref": chart, "name": name, "version": version or tag, "digest": None}
    name, chart_version, digest = local_chart_identity(chart)
    if version and version != chart_version:
        raise ValueError("chart %s is version %s, but version %s was asked for" % (chart, chart_version, version))
    return {"kind": kind, "ref": chart, "name": name, "version": chart_version, "digest": digest}


def description_for(chart):
    text = "%s: %s-%s" % (DESCRIPTION_PREFIX, chart["name"], chart["version"])
    if chart.get("digest"):
        text += " chart-digest=%s" % chart["digest"]
    return text


# --- decisions -----------------------------------------------------------------------


def release_differences(release, chart, values):
    """Why the release differs from what is wanted (empty list: it does not)."""
    reasons = []
    if release["chart_name"] != chart["name"]:
        reasons.append("chart %s -> %s" % (release["chart_name"], chart["name"]))
    if str(release["chart_version"]) != str(chart["version"]):
        reasons.append("chart version %s -> %s" % (release["chart_version"], chart["version"]))
    if chart.get("digest") and release.get("chart_digest") != chart["digest"]:
        reasons.append("chart content changed" if release.get("chart_digest") else
                       "chart content not recorded by this collection (last change made elsewhere)")
    if normalize(release["values"]) != normalize(values):
        reasons.append("values differ")
    return reasons


def last_good_revision(history, below=None):
    """The newest revision that was deployed successfully (deployed or superseded)."""
    good = [h["revision"] for h in history
            if h["status"] in ("deployed", "superseded") and (below is None or h["revision"] < below)]
    return max(good) if good else None


class StuckRelease(Exception):
    pass


def pending_recovery(release, history):
    """How a release left pending by a dead run is recovered. Pure.

    A pending upgrade or rollback is rolled back to the last deployed revision, which also reverts what the
    interrupted revision changed on the live objects; a release with no deployed revision (a first install
    that never finished) is uninstalled. Dropping only the pending revision's record instead, and upgrading
    from the deployed one, keeps those changes (Helm's three-way merge only reverts what the chart changed):
    a pod left unschedulable stays so.
    """
    status, revision = release["status"], release["revision"]
    if status == "uninstalling":
        return {"action": "install", "recover": [("uninstall", None)],
                "recovered": "uninstalled %s revision %s (its uninstall had not finished)" % (status, revision)}
    target = last_good_revision(history, below=revision)
    if status in ("pending-upgrade", "pending-rollback") and target is not None:
        return {"action": "upgrade", "recover": [("rollback", target)],
                "recovered": "rolled back %s revision %s to revision %s" % (status, revision, target)}
    return {"action": "install", "recover": [("uninstall", None)],
            "recovered": "uninstalled %s revision %s with no deployed revision to return to" % (status, revision)}


def plan_release(release, chart, values, state="present", history=None, now=None, pending_timeout=300):
    """Decide what to do with a release. Pure: no I/O.

    Returns a dict: ``action`` one of none/install/upgrade/uninstall, ``recover`` a list of
    steps to run first, ``reasons``, ``recovered`` (a sentence for the result). Raises StuckRelease
    for a pending release younger than ``pending_timeout`` seconds, since another run may be working
    on it right now (0: the caller knows none is, it holds the realm lock).
    """
    plan = {"action": "none", "recover": [], "reasons": [], "recovered": None}
    if state == "absent":
        if release is not None:
            plan["action"] = "uninstall"
            plan["reasons"].append("release exists with status %s" % release["status"])
        return plan
    if release is None:
        plan["action"] = "install"
        plan["reasons"].append("release does not exist")
        return plan
    status = release["status"]
    if status in PENDING or status == "uninstalling":
        updated = parse_time(release.get("updated"))
        age = (now - updated).total_seconds() if (now and updated) else None
        if pending_timeout > 0 and age is not None and age < pending_timeout:
            raise StuckRelease(
                "Release %s in namespace %s has been %s since %s (revision %s, %d seconds ago). Another "
                "helm operation may still be running. Wait until it finishes, or, if nothing is running, "
                "run again after %d seconds (pending_timeout) to recover it automatically, or %s by hand with "
                "'helm %s %s -n %s'."
                % (release["name"], release["namespace"], status, release.get("updated"), release["revision"],
                   int(age), pending_timeout, "uninstall it" if status == "uninstalling" else "roll back",
                   "uninstall" if status == "uninstalling" else "rollback", release["name"], release["namespace"]))
        plan.update(pending_recovery(release, history or []))
        plan["reasons"].append("release was %s" % status)
        return plan
    reasons = release_differences(release, chart, values)
    if status != "deployed":
        reasons.insert(0, "release status is %s" % status)
    if reasons:
        plan["action"] = "upgrade"
        plan["reasons"] = reasons
    return plan


# --- commands -----------------------------------------------------------------------------


def install_or_upgrade_args(action, name, namespace, chart, params, helm_major, dry_run=False):
    """argv (after the binary) for helm install/upgrade; values always come on stdin."""
    args = [action, name, chart["ref"], "--namespace", namespace, "--values", "-", "--output", "json",
            "--description", description_for(chart)]
    if chart["kind"] in ("repo", "oci") and chart.get("version"):
        args += ["--version", str(chart["version"])]
    if chart["kind"] == "repo":
        args += ["--repo", params["repo_url"]]
    if action == "install" and params.get("create_namespace"):
        args.append("--create-namespace")
    if action == "upgrade":
        args.append("--reset-values")
    if dry_run:
        args.append("--dry-run=server")
    elif params.get("wait") or params.get("atomic"):
        args.append("--wait")
        if params.get("wait_for_jobs"):
            args.append("--wait-for-jobs")
    if params.get("timeout"):
        args += ["--timeout", params["timeout"]]
    if params.get("atomic") and not dry_run:
        args.append("--rollback-on-failure" if helm_major >= 4 else "--atomic")
    if params.get("skip_crds"):
        args.append("--skip-crds")
    if params.get("skip_schema_validation"):
        args.append("--skip-schema-validation")
    if params.get("take_ownership"):
        args.append("--take-ownership")
    if params.get("post_renderer"):
        args += ["--post-renderer", params["post_renderer"]]
        for arg in params.get("post_renderer_args") or []:
            args += ["--post-renderer-args", arg]
    return args


def template_args(action, name, namespace, chart, params):
    """argv of the client-side render (``helm template``) that stands in for a server dry run; values on stdin."""
    args = ["template", name, chart["ref"], "--namespace", namespace, "--values", "-", "--no-hooks"]
    if chart["kind"] in ("repo", "oci") and chart.get("version"):
        args += ["--version", str(chart["version"])]
    if chart["kind"] == "repo":
        args += ["--repo", params["repo_url"]]
    if action == "upgrade":
        args.append("--is-upgrade")
    if params.get("skip_schema_validation"):
        args.append("--skip-schema-validation")
    if params.get("post_renderer"):
        args += ["--post-renderer", params["post_renderer"]]
        for arg in params.get("post_renderer_args") or []:
            args += ["--post-renderer-args", arg]
    return args


MISSING_KIND_RE = re.compile(r'no matches for kind "([^"]+)" in version "([^"]+)"')
NULL_FIELD_RE = re.compile(r'(\S+): Invalid value: "null"')
SSA_OBJECT_RE = re.compile(r"server-side apply failed for object (\S+) [^,]*, Kind=(\w+)")


def missing_kinds(text):
    """[(kind, apiVersion)] the API server does not serve yet, from helm's 'no matches for kind' error. Pure."""
    found = []
    for match in MISSING_KIND_RE.finditer(text or ""):
        if match.groups() not in found:
            found.append(match.groups())
    return found


def explain_error(text):
    """A sentence to add to a helm error that users misread, or None. Pure."""
    match = NULL_FIELD_RE.search(text or "")
    if match:
        field = match.group(1)
        obj = SSA_OBJECT_RE.search(text)
        where = "%s of %s %s" % (field, obj.group(2), obj.group(1)) if obj else field
        return ("The API server refused null for %s: the chart rendered that field empty because a value was not "
                "set, and Helm 4 applies objects server-side, where a schema that wants a string rejects null. Set "
                "the chart value that fills the field (for the MinIO tenant chart: tenant.pools[].storageClassName)."
                % where)
    kinds = missing_kinds(text)
    if kinds:
        return ("Kind %s is not served by the cluster: install the chart or release that brings its "
                "CustomResourceDefinition first." % ", ".join("%s (%s)" % k for k in kinds))
    return None


def uninstall_args(name, namespace, params):
    args = ["uninstall", name, "--namespace", namespace, "--wait"]
    if params.get("timeout"):
        args += ["--timeout", params["timeout"]]
    return args


def rollback_args(name, namespace, revision, params):
    args = ["rollback", name, str(revision), "--namespace", namespace, "--wait"]
    if params.get("timeout"):
        args += ["--timeout", params["timeout"]]
    return args
