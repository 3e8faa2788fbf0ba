#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: helm_releases
short_description: Make several Helm releases match their charts and values, concurrently where their order allows
version_added: 0.3.0
description:
  - Does for each entry of O(releases) what M(magasin.platform.helm_release) does for one release (the same
    decisions, recovery, check mode and diff), in one task. A release starts as soon as the releases it comes
    after (O(releases[].after)) have succeeded, so independent releases install, upgrade or wait side by side,
    at most O(max_parallel) at a time.
  - A release that fails does not stop the others; the releases that come after it are skipped. The task fails
    at the end, naming every failed or skipped release with its error, and returns what happened to each.
  - Values reach helm on standard input, never on the command line, and the result never holds them.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: As M(magasin.platform.helm_release), release by release.
  diff_mode:
    support: full
    details: The values and manifest diffs of every release that would change, in the order of O(releases), masked
      as M(magasin.platform.helm_release) masks them.
  idempotent:
    support: full
    details: A second run with the same arguments reports no change and makes no new revision.
options:
  releases:
    description: The releases, each with the options of M(magasin.platform.helm_release) that it needs.
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description: Names the release in O(releases[].after) and in the result; defaults to O(releases[].name).
        type: str
      after:
        description: Keys of the releases that must have succeeded before this one starts.
        type: list
        elements: str
        default: []
      name:
        description: Release name.
        type: str
        required: true
      namespace:
        description: Namespace of the release.
        type: str
        required: true
      state:
        description: V(present) installs or upgrades; V(absent) uninstalls.
        type: str
        choices: [present, absent]
        default: present
      chart:
        description: As M(magasin.platform.helm_release)'s O(magasin.platform.helm_release#module:chart).
        type: str
      repo_url:
        description: Chart repository URL.
        type: str
      version:
        description: Chart version.
        type: str
      values:
        description: Values.
        type: dict
        default: {}
      values_files:
        description: Values files on the host that runs the task, merged in order before O(releases[].values).
        type: list
        elements: path
        default: []
      create_namespace:
        description: Create the namespace when installing.
        type: bool
        default: true
      wait:
        description: Wait until the release's workloads are ready.
        type: bool
        default: true
      wait_for_jobs:
        description: With O(releases[].wait), also wait for the release's Jobs.
        type: bool
        default: false
      timeout:
        description: How long helm waits for each operation, as a Go duration.
        type: str
        default: 10m
      atomic:
        description: Roll back (or uninstall, for a first install) when the operation fails.
        type: bool
        default: false
      skip_crds:
        description: Do not install the chart's C(crds/) directory.
        type: bool
        default: false
      skip_schema_validation:
        description: Do not validate values against the chart's schema.
        type: bool
        default: false
      take_ownership:
        description: Adopt existing objects that no release owns (Helm 3.17 and later).
        type: bool
        default: false
      post_renderer:
        description: Post-renderer. An executable path on Helm 3, a post-renderer plugin name on Helm 4.
        type: str
      post_renderer_args:
        description: Arguments for O(releases[].post_renderer).
        type: list
        elements: str
        default: []
      pending_timeout:
        description: Seconds after which a release left pending is recovered (V(0) - at once, see M(magasin.platform.helm_release)).
        type: int
        default: 300
      pending_wait:
        description: Seconds to wait for a pending release, not old enough to recover, to end or grow old.
        type: int
        default: 0
  max_parallel:
    description: How many releases helm works on at the same time.
    type: int
    default: 4
"""

EXAMPLES = r"""
- name: The MinIO operator, its tenant, then Drill and Superset side by side
  magasin.platform.helm_releases:
    releases:
      - {name: operator, namespace: magasin-operator, chart: /srv/charts/operator-5.0.11.tgz}
      - {name: tenant, namespace: magasin-tenant, chart: /srv/charts/tenant-5.0.11.tgz, after: [operator]}
      - {name: drill, namespace: magasin-drill, chart: /srv/charts/drill-0.9.0.tgz, after: [tenant]}
      - {name: superset, namespace: magasin-superset, chart: /srv/charts/superset-0.13.4.tgz, after: [tenant],
         wait_for_jobs: true}
"""

RETURN = r"""
releases:
  description: Per release, in the order of O(releases), what M(magasin.platform.helm_release) returns, and
    C(key), C(failed), C(msg) (when failed or skipped), C(skipped) (the reason) and C(seconds).
  returned: always
  type: list
  elements: dict
  sample:
    - {key: drill, name: drill, namespace: magasin-drill, action: none, status: deployed, chart: drill-0.9.0,
       changed: false, failed: false, seconds: 0.4}
seconds:
  description: Wall time of the task's helm work.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient, explain_error
from ansible_collections.magasin.platform.plugins.module_utils._release import (
    HAS_YAML,
    RELEASE_OPTIONS,
    HelmReleaseManager,
    ReleaseError,
)
from ansible_collections.magasin.platform.plugins.module_utils._schedule import order_problems, run_steps

# Each entry: what helm_release takes, and where it stands in the order.
ENTRY_OPTIONS = dict(RELEASE_OPTIONS, key=dict(type="str", no_log=False),
                     after=dict(type="list", elements="str", default=[]))


class HelmReleasesManager:
    def __init__(self, module):
        self.module = module
        self.steps = []
        for entry in module.params["releases"]:
            step = dict(entry, key=entry.get("key") or entry["name"])
            if step["state"] == "present" and not step.get("chart"):
                module.fail_json(msg="releases: %s has state present but no chart" % step["key"])
            self.steps.append(step)
        problems = order_problems(self.steps)
        if problems:
            module.fail_json(msg="releases: %s" % "; ".join(problems))
        self.managers = {}
        # Resolves the helm binary here, in the main thread, where a missing one can still end the module.
        HelmClient(module, Connection(module))

    def release(self, step):
        # Connection options are the module's; the rest are the entry's.
        params = dict(self.module.params, **step)
        manager = HelmReleaseManager(self.module, params)
        self.managers[step["key"]] = manager
        return manager.run()

    def run(self):
        start = time.monotonic()
        outcomes = run_steps(self.steps, self.release, workers=self.module.params["max_parallel"])
        results, diffs, failures = [], [], []
        for step in self.steps:
            key = step["key"]
            outcome = outcomes[key]
            result = {"key": key, "name": step["name"], "namespace": step["namespace"], "changed": False,
                      "failed": not outcome["ok"], "seconds": round(outcome["seconds"], 3)}
            if outcome["ok"]:
                value = dict(outcome["value"])
                diffs.extend(value.pop("diff", []))
                result.update(value)
            elif "skipped" in outcome:
                result.update(skipped=outcome["skipped"], msg="not attempted: %s" % outcome["skipped"])
            else:
                result.update(self.failure(key, outcome["error"]))
            if result["failed"]:
                failures.append("%s (%s/%s): %s" % (key, step["namespace"], step["name"], result["msg"]))
            results.append(result)
        answer = {"changed": any(r.get("changed") for r in results), "releases": results,
                  "seconds": round(time.monotonic() - start, 3)}
        if self.module._diff and diffs:
            answer["diff"] = diffs
        if failures:
            msg = "%d of %d releases failed: %s" % (len(failures), len(results), " | ".join(failures))
            self.module.fail_json(msg=msg, **answer)
        return answer

    def failure(self, key, exc):
        manager = self.managers.get(key)
        redact = manager.helm.redact if manager else (lambda text: text)
        if isinstance(exc, ReleaseError):
            return dict(exc.result, msg=redact(exc.msg))
        if isinstance(exc, CliError):
            hint = explain_error(exc.msg)
            msg = "%s\n%s" % (exc.msg, hint) if hint else exc.msg
            return {"msg": redact(msg), "command": exc.cmd, "rc": exc.rc, "stderr": exc.stderr}
        return {"msg": redact("%s: %s" % (type(exc).__name__, exc))}


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            releases=dict(type="list", elements="dict", required=True, options=ENTRY_OPTIONS),
            max_parallel=dict(type="int", default=4),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    # The manager first: its clients wrap exit_json to add the process counts (module_utils/_cli.py).
    manager = HelmReleasesManager(module)
    module.exit_json(**manager.run())


if __name__ == "__main__":
    main()
