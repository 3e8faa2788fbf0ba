#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: helm_release
short_description: Install, upgrade, recover or remove a Helm release, precisely and quietly
version_added: 0.1.0
description:
  - Makes a Helm release match a chart and values, with Helm 3 (3.16 or later) or Helm 4.
  - A release that needs nothing costs two helm processes, C(helm status) (values, status, manifest, description)
    and C(helm list) (chart and app version, which the status output lacks). The helm version is asked only when an
    option depends on it, and at most once.
  - V(changed) is true exactly when the release would change, that is when the chart name or version differs, the
    values differ from the values helm stored (also after an upgrade made by hand), the content of a local chart
    directory or archive changed, or the release is not C(deployed).
  - Stuck releases are recovered. A C(failed) release is upgraded. A C(pending-install), C(pending-upgrade) or
    C(pending-rollback) release is an operation that never finished (its run was killed); a pending upgrade or
    rollback is rolled back to the last deployed revision (which also reverts what the interrupted revision had
    changed on the live objects) and then upgraded; one with no deployed revision is uninstalled and installed
    again. Because a pending state can also mean that another run is working right now, a release is recovered
    only when its pending revision is older than O(pending_timeout); otherwise the task fails and says what is
    pending, since when, and what to do. V(0) recovers at once - for a run that holds the realm's lock (M(magasin.platform.realm_lock)).
  - Values reach helm on standard input, never on the command line. The task result never holds the values.
  - O(values) is not a C(no_log) option (that would mask every matching string in every result, and hide the
    diff). When the values hold a credential, set C(no_log) on the task, or better, hand the chart the name of a
    Secret made with M(magasin.platform.credentials).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details:
      - Reads the release, decides, and renders the chart with C(--dry-run=server) when it would change, so a
        missing chart version or a schema error fails in check mode as it would for real. Nothing is changed.
      - When the server cannot dry-run the chart because it does not serve one of its kinds yet (a
        CustomResourceDefinition that an earlier release of the same run installs, such as the MinIO operator's
        Tenant), the chart is rendered client-side with C(helm template) instead, the task reports a change with
        a diff, and a warning says so.
  diff_mode:
    support: full
    details: Shows the values diff and the manifest diff, with values under keys that look like a password, secret,
      token or key masked, Secret data masked, and every such value masked wherever else it appears.
  idempotent:
    support: full
    details: A second run with the same arguments reports no change and makes no new revision.
options:
  name:
    description: Release name.
    type: str
    required: true
  namespace:
    description: Namespace of the release.
    type: str
    required: true
  state:
    description:
      - V(present) installs or upgrades the release; V(absent) uninstalls it (with C(--wait)).
    type: str
    choices: [present, absent]
    default: present
  chart:
    description:
      - The chart. A chart name together with O(repo_url); a local chart directory; a C(.tgz) archive as
        C(helm package) writes it; or an C(oci://) reference.
      - Required when O(state=present).
    type: str
  repo_url:
    description:
      - Chart repository URL, passed to helm with C(--repo), so no C(helm repo add) state is needed where the task
        runs (an AWX execution environment, for example).
    type: str
  version:
    description:
      - Chart version. Required with O(repo_url) (pin your charts), optional with an C(oci://) reference that
        carries a tag; for a local chart it is checked against its C(Chart.yaml).
    type: str
  values:
    description:
      - Values, merged over O(values_files).
      - Merge order, later wins, maps merge key by key and anything else is replaced, as helm merges C(-f) files,
        O(values_files) in the order given, then O(values).
    type: dict
    default: {}
  values_files:
    description: Values files on the host that runs the task, merged in order before O(values).
    type: list
    elements: path
    default: []
  create_namespace:
    description: Create the namespace when installing, if it does not exist.
    type: bool
    default: true
  wait:
    description: Wait until the release's workloads are ready (C(--wait)).
    type: bool
    default: true
  wait_for_jobs:
    description: With O(wait), also wait for the release's Jobs to complete.
    type: bool
    default: false
  timeout:
    description: How long helm waits for each operation, as a Go duration (V(10m), V(90s)).
    type: str
    default: 10m
  atomic:
    description:
      - Roll back (or uninstall, for a first install) when the operation fails. C(--atomic) on Helm 3,
        C(--rollback-on-failure) on Helm 4. Implies O(wait).
    type: bool
    default: false
  skip_crds:
    description: Do not install the chart's C(crds/) directory.
    type: bool
    default: false
  skip_schema_validation:
    description:
      - Do not validate values against the chart's C(values.schema.json) (Helm 3.16 and later). Needed offline for
        charts whose schema refers to remote definitions.
    type: bool
    default: false
  take_ownership:
    description: Adopt existing objects that no release owns (Helm 3.17 and later).
    type: bool
    default: false
  post_renderer:
    description:
      - Post-renderer. An executable path on Helm 3, a post-renderer plugin name on Helm 4.
    type: str
  post_renderer_args:
    description: Arguments for O(post_renderer).
    type: list
    elements: str
    default: []
  pending_timeout:
    description:
      - Seconds after which a release left pending (by an interrupted run) is recovered. A younger pending
        release makes the task fail, since another run may be working on it. V(0) recovers it at once, whatever its
        age, when the caller knows no run can be working on it (it holds the realm's lock).
    type: int
    default: 300
  pending_wait:
    description:
      - Seconds to wait, when the release is pending and younger than O(pending_timeout) (another run may be working
        on it), for that operation to end or to grow old enough to be recovered, before failing. For a release
        shared by several realms, such as the MinIO operator, which a realm's lock does not cover.
    type: int
    default: 0
"""

EXAMPLES = r"""
- name: Drill from the magasin chart repository
  magasin.platform.helm_release:
    name: drill
    namespace: magasin-drill
    chart: drill
    repo_url: https://unicef.github.io/magasin
    version: 0.9.0
    values:
      drill:
        count: 1
    wait: true

- name: The same chart from a directory of packaged charts (offline)
  magasin.platform.helm_release:
    name: drill
    namespace: magasin-drill
    chart: /srv/charts/drill-0.9.0.tgz

- name: Remove a release
  magasin.platform.helm_release:
    name: drill
    namespace: magasin-drill
    state: absent

- name: Connection options once for every module of the collection
  module_defaults:
    group/magasin.platform.k8s:
      kubeconfig: "{{ playbook_dir }}/.cluster/kubeconfig"
      context: magasin
  block:
    - name: Superset
      magasin.platform.helm_release:
        name: superset
        namespace: magasin-superset
        chart: oci://registry.example.org/charts/superset
        version: 0.13.4
        atomic: true
"""

RETURN = r"""
name:
  description: Release name.
  returned: always
  type: str
namespace:
  description: Release namespace.
  returned: always
  type: str
status:
  description: Release status after the task (predicted in check mode); V(absent) when there is none.
  returned: always
  type: str
  sample: deployed
revision:
  description: Release revision after the task (the current one in check mode).
  returned: when the release exists
  type: int
chart:
  description: Chart name and version, as C(helm list) shows them.
  returned: when the release exists
  type: str
  sample: drill-0.9.0
chart_version:
  description: Chart version.
  returned: when the release exists
  type: str
app_version:
  description: The chart's application version.
  returned: when the release exists
  type: str
action:
  description: What was done (or would be, in check mode).
  returned: always
  type: str
  sample: upgrade
reasons:
  description: Why the release was changed. Never holds values.
  returned: always
  type: list
  elements: str
  sample: [values differ]
rendered:
  description:
    - In check mode, how the predicted manifest was rendered - V(server) (a server-side dry run) or V(client)
      (C(helm template), when the cluster does not serve a kind of the chart yet; a warning says which).
  returned: in check mode, when the release would be installed or upgraded
  type: str
  sample: server
recovered:
  description: How a stuck release was recovered, if it was.
  returned: always
  type: str
  sample: rolled back pending-upgrade revision 3 to revision 2
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import explain_error
from ansible_collections.magasin.platform.plugins.module_utils._release import (
    HAS_YAML,
    RELEASE_OPTIONS,
    HelmReleaseManager,
    ReleaseError,
)


def main():
    module = AnsibleModule(
        argument_spec=connection_args(**RELEASE_OPTIONS),
        required_if=[("state", "present", ["chart"])],
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    manager = HelmReleaseManager(module)
    try:
        module.exit_json(**manager.run())
    except ReleaseError as exc:
        module.fail_json(msg=manager.helm.redact(exc.msg), **exc.result)
    except CliError as exc:
        hint = explain_error(exc.msg)
        if hint:
            exc.msg = "%s\n%s" % (exc.msg, hint)
        manager.helm.fail_from(exc, **{k: v for k, v in manager.result.items() if k != "changed"})


if __name__ == "__main__":
    main()
