# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: one Helm release made to match a chart and values.

The decisions live in _helm.py (plan_release and friends); this is the part that reads the
release, runs helm and builds the result and the diff. helm_release drives one release,
helm_releases several, concurrently where their order allows: so it raises ReleaseError
instead of ending the module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ._cli import CliError
from ._connection import Connection
from ._helm import (
    HelmClient,
    StuckRelease,
    desired_chart,
    install_or_upgrade_args,
    merge_values,
    missing_kinds,
    now_utc,
    parse_release,
    plan_release,
    release_result,
    rollback_args,
    template_args,
    uninstall_args,
)
from ._redact import mask_manifest, mask_values, secret_strings
from ._report import object_changes

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False


# The options of one release, as helm_release takes them and as each entry of helm_releases does.
RELEASE_OPTIONS = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    chart=dict(type="str"),
    repo_url=dict(type="str"),
    version=dict(type="str"),
    values=dict(type="dict", default={}),
    values_files=dict(type="list", elements="path", default=[]),
    create_namespace=dict(type="bool", default=True),
    wait=dict(type="bool", default=True),
    wait_for_jobs=dict(type="bool", default=False),
    timeout=dict(type="str", default="10m"),
    atomic=dict(type="bool", default=False),
    skip_crds=dict(type="bool", default=False),
    skip_schema_validation=dict(type="bool", default=False),
    take_ownership=dict(type="bool", default=False),
    post_renderer=dict(type="str"),
    post_renderer_args=dict(type="list", elements="str", default=[]),
    pending_timeout=dict(type="int", default=300),
    pending_wait=dict(type="int", default=0),
)


class ReleaseError(Exception):
    """A release that cannot be made; ``result`` is what is known of it (never values)."""

    def __init__(self, msg, result=None):
        super(ReleaseError, self).__init__(msg)
        self.msg = msg
        self.result = result or {}


def manifest_docs(text):
    """The objects of a manifest (helm's multi-document YAML)."""
    return [d for d in yaml.safe_load_all(text or "") if isinstance(d, dict)]


def yaml_dump(data):
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=True)


class HelmReleaseManager:
    def __init__(self, module, params=None):
        self.module = module
        self.params = module.params if params is None else params
        self.name = self.params["name"]
        self.namespace = self.params["namespace"]
        self.helm = HelmClient(module, Connection(module))
        self.result = {"changed": False, "name": self.name, "namespace": self.namespace, "action": "none",
                       "reasons": [], "recovered": None}

    def desired_values(self):
        values = {}
        for path in self.params["values_files"]:
            if not os.path.isfile(path):
                raise ReleaseError("values file %s does not exist (values_files)" % path)
            with open(path) as handle:
                loaded = yaml.safe_load(handle) or {}
            if not isinstance(loaded, dict):
                raise ReleaseError("values file %s does not hold a mapping (values_files)" % path)
            values = merge_values(values, loaded)
        return merge_values(values, self.params["values"])

    def run(self):
        """The release made to match; the result says what was done, which objects that added, changed or removed
        (by kind and name) and how many helm processes it took, for the run report."""
        try:
            return self.converge()
        finally:
            self.result["processes"] = {"helm": len(self.helm.calls), "kubectl": 0}

    def converge(self):
        chart, values = None, {}
        if self.params["state"] == "present":
            try:
                chart = desired_chart(self.params["chart"], self.params["repo_url"], self.params["version"])
            except (ValueError, OSError) as exc:
                raise ReleaseError("chart: %s" % exc) from None
            values = self.desired_values()
        self.helm.add_secrets(secret_strings(values))
        # A pending release another run may be working on (the shared MinIO operator) is waited for, up to
        # pending_wait seconds: it ends, or grows old enough (pending_timeout) to be recovered.
        deadline = time.monotonic() + (self.params.get("pending_wait") or 0)
        while True:
            current = self.helm.release(self.name, self.namespace)
            if current:
                self.helm.add_secrets(secret_strings(current["values"]))
            history = None
            if current and (current["status"] or "").startswith("pending"):
                history = self.helm.history(self.name, self.namespace)
            try:
                plan = plan_release(current, chart, values, self.params["state"], history, now_utc(),
                                    self.params["pending_timeout"])
                break
            except StuckRelease as exc:
                if time.monotonic() >= deadline:
                    raise ReleaseError(str(exc), release_result(current)) from None
                time.sleep(2)
        self.result.update(release_result(current) or {"status": "absent"})
        self.result.update(action=plan["action"], reasons=plan["reasons"], recovered=plan["recovered"])
        if plan["action"] == "none":
            self.result["objects"] = object_changes([], [])
            return self.result
        self.result["changed"] = True
        if plan["action"] == "uninstall":
            return self.uninstall(current)
        return self.apply(plan, current, chart, values)

    def uninstall(self, current):
        if self.module._diff:
            charts = (chart_label(current), "none")
            self.result["diff"] = [self.values_diff(current["values"], {}, charts),
                                   self.manifest_diff(current["manifest"], "", charts)]
        if not self.module.check_mode:
            self.helm.run(uninstall_args(self.name, self.namespace, self.params))
        self.result.update(status="absent", objects=object_changes(manifest_docs(current["manifest"]), []))
        return self.result

    def apply(self, plan, current, chart, values):
        action = plan["action"]
        major = self.check_features()
        before_values = current["values"] if current else {}
        before_manifest = current["manifest"] if current else ""
        if self.module.check_mode:
            self.result["status"] = "deployed"
            after_manifest = ""
            if not plan["recover"]:
                # Render for real (server dry run) so that the prediction fails where the run would. A stuck
                # release cannot be rendered against: helm refuses while an operation is pending.
                after_manifest = self.dry_run(action, chart, values, major)
        else:
            for step, revision in plan["recover"]:
                if step == "rollback":
                    self.helm.run(rollback_args(self.name, self.namespace, revision, self.params))
                else:
                    self.helm.run(uninstall_args(self.name, self.namespace, self.params))
            released = self.helm_json(install_or_upgrade_args(action, self.name, self.namespace, chart,
                                                              self.params, major), values)
            release = parse_release(released)
            if release and release["chart_name"] is None:
                release.update(self.helm.list_entry(self.name, self.namespace))
            self.result.update(release_result(release))
            after_manifest = release["manifest"] if release else ""
        # A check run that would recover a stuck release renders nothing to compare with.
        predicted = not (self.module.check_mode and plan["recover"])
        self.result["objects"] = (object_changes(manifest_docs(before_manifest), manifest_docs(after_manifest))
                                  if predicted else None)
        if self.module._diff:
            # The headers name both charts: not every chart labels its objects with its version.
            charts = (chart_label(current), "%s-%s" % (chart["name"], chart["version"]))
            self.result["diff"] = [self.values_diff(before_values, values, charts),
                                   self.manifest_diff(before_manifest, after_manifest, charts)]
        return self.result

    def dry_run(self, action, chart, values, major):
        """The manifest a server dry run renders. When the server does not serve a kind of the chart yet (a
        CustomResourceDefinition that an earlier release of the same check run would install), render
        client-side instead and say so: the prediction is then changed, with a diff, not a failure."""
        try:
            rendered = self.helm_json(install_or_upgrade_args(action, self.name, self.namespace, chart, self.params,
                                                              major, dry_run=True), values)
        except CliError as exc:
            kinds = missing_kinds(exc.msg)
            if not kinds:
                raise
            self.module.warn(
                "%s/%s: the server-side dry run of the %s failed because the cluster does not serve %s yet (its "
                "CustomResourceDefinition is installed by another release, for example an operator that this check "
                "run only predicts). Rendered client-side with helm template instead: objects of that kind were not "
                "validated by the API server." % (self.namespace, self.name, action,
                                                  ", ".join("%s (%s)" % k for k in kinds)))
            self.result["rendered"] = "client"
            rc, out, err = self.helm.run(template_args(action, self.name, self.namespace, chart, self.params),
                                         data=json.dumps(values))
            return out
        self.result["rendered"] = "server"
        return rendered.get("manifest", "") if rendered else ""

    def check_features(self):
        """Ask helm its version only when an option depends on it; fail early where it is too old."""
        needs = [(option, minimum) for option, minimum in FEATURES if self.params[option]]
        if not needs and not self.params["atomic"]:
            return 3
        version = self.helm.version()
        for option, minimum in needs:
            if version < minimum:
                raise ReleaseError("%s needs Helm %s or later; %s is %s. Upgrade helm or drop %s."
                                   % (option, ".".join(map(str, minimum)), self.helm.binary,
                                      ".".join(map(str, version)), option))
        return version[0]

    def helm_json(self, args, values):
        rc, out, err = self.helm.run(args, data=json.dumps(values))
        return self.helm.parse_json(out, args)

    def values_diff(self, before, after, charts):
        return {"before_header": "%s/%s values (helm, %s)" % (self.namespace, self.name, charts[0]),
                "after_header": "%s/%s values (wanted, %s)" % (self.namespace, self.name, charts[1]),
                "before": self.helm.redact(yaml_dump(mask_values(before))) if before else "",
                "after": self.helm.redact(yaml_dump(mask_values(after))) if after else ""}

    def manifest_diff(self, before, after, charts):
        return {"before_header": "%s/%s manifest (deployed, %s)" % (self.namespace, self.name, charts[0]),
                "after_header": "%s/%s manifest (rendered, %s)" % (self.namespace, self.name, charts[1]),
                "before": self.render_manifest(before), "after": self.render_manifest(after)}

    def render_manifest(self, text):
        docs = [d for d in yaml.safe_load_all(text or "") if isinstance(d, dict)]
        secrets = set()
        masked = [mask_manifest(d, secrets) for d in docs]
        self.helm.add_secrets(secrets)
        masked.sort(key=lambda d: (d.get("kind") or "", (d.get("metadata") or {}).get("name") or ""))
        return self.helm.redact("".join("---\n" + yaml_dump(d) for d in masked))


FEATURES = (("take_ownership", (3, 17, 0)), ("skip_schema_validation", (3, 16, 0)))


def chart_label(release):
    """'drill-0.7.2' for a release, 'none' when there is none."""
    if not release or not release.get("chart_name"):
        return "none"
    return "%s-%s" % (release["chart_name"], release.get("chart_version"))
