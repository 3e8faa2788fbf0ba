#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: chart_images
short_description: Every image the planned releases would make a node pull, from their real charts
version_added: 0.2.0
description:
  - Renders each release with C(helm template) (hooks and subcharts included, values on stdin) and lists the image of
    every container, init container and ephemeral container of every pod template, the tenant's MinIO image and the
    sidecar image the MinIO operator injects into tenant pods.
  - With O(registry), renders through the collection's post-renderer, which relocates the images of the containers
    O(relocate) names (those a chart has no value for) and adds O(pull_secret) to every pod template, and reports
    every image the registry does not serve in RV(outside), with the chart path that sets it.
  - The post-renderer is written once to O(renderer_dir) on the controller (an executable for Helm 3, a
    C(postrenderer/v1) plugin for Helm 4); RV(post_renderer) and RV(helm_plugins) say how
    M(magasin.platform.helm_release) uses it.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Renders the same in check mode; it writes only its post-renderer to O(renderer_dir), a tool, not state.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything but its own post-renderer files, which it writes only when their content differs.
options:
  releases:
    description:
      - Releases to render, as the realm's release plans hold them - each a dictionary with C(key) (the chart key,
        V(drill), V(operator)...), C(name), C(namespace), C(chart), C(version), C(repo_url) and C(values); other keys
        are ignored.
    type: list
    elements: dict
    required: true
  job_images:
    description:
      - Images of the collection's own Jobs, each a dictionary with C(image) (before relocation), C(release),
        C(path) and C(variable) (the inventory variable that sets it); relocated to O(registry) as the roles do.
    type: list
    elements: dict
    default: []
  registry:
    description: The site registry (host[:port][/path]); empty lists the images without relocating any.
    type: str
    default: ""
  relocate:
    description:
      - Per chart key, the names of containers whose image the post-renderer relocates (no chart value sets it).
      - Empty means the collection's own list (C(POST_RENDERED_CONTAINERS) in C(module_utils/_values.py)).
    type: dict
    default: {}
  pull_secret:
    description: Name of an image pull secret the post-renderer adds to every pod template.
    type: str
    default: ""
  renderer_dir:
    description: Where the post-renderer is written on the controller.
    type: path
    default: ~/.cache/magasin-platform/post-renderer
"""

EXAMPLES = r"""
- name: Images of the planned releases
  magasin.platform.chart_images:
    releases: "{{ __magasin_plans | dict2items | map(attribute='value.releases') | flatten }}"
    registry: registry.site.example.org/magasin
    relocate: {drill: [zk-available]}
  register: __images

- name: Every image from the site registry
  ansible.builtin.assert:
    that: __images.outside | length == 0
"""

RETURN = r"""
images:
  description: Every image, with where it is set.
  returned: always
  type: list
  elements: dict
  sample: [{image: "r.site/m/busybox", release: drill, kind: StatefulSet, name: drillbit, field: initContainers,
            container: zk-available, path: StatefulSet/drillbit/initContainers/zk-available, hook: false}]
unique:
  description: The distinct images, sorted.
  returned: always
  type: list
  elements: str
outside:
  description: The entries of RV(images) the registry does not serve (empty without O(registry)).
  returned: always
  type: list
  elements: dict
problems:
  description: One line per entry of RV(outside), naming the image, the chart path that sets it and the fix.
  returned: always
  type: list
  elements: str
post_renderer:
  description: What to give M(magasin.platform.helm_release) as O(magasin.platform.helm_release#module:post_renderer).
  returned: when O(registry) is set
  type: str
post_renderer_args:
  description: Per chart key, the post-renderer's arguments.
  returned: when O(registry) is set
  type: dict
helm_plugins:
  description:
    - The E(HELM_PLUGINS) path list Helm 4 finds the post-renderer plugin in, before the plugins helm already finds
      (empty on Helm 3).
  returned: when O(registry) is set
  type: str
"""

import inspect
import json
import os
import sys

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils import _images, _values
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient, desired_chart

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

PLUGIN = "magasin-relocate"


def renderer_files(directory, python, source):
    """{path: (content, mode)} of the post-renderer: the script, a Helm 3 executable and a Helm 4 plugin. Pure."""
    script = os.path.join(directory, "relocate_images.py")
    plugin = {"apiVersion": "v1", "type": "postrenderer/v1", "name": PLUGIN, "version": "1.0.0", "runtime": "subprocess",
              "runtimeConfig": {"platformCommand": [{"command": python, "args": [script]}]}}
    return {
        script: (source, 0o644),
        os.path.join(directory, "relocate"): ("#!/bin/sh\nexec '%s' '%s' \"$@\"\n" % (python, script), 0o755),
        os.path.join(directory, "plugins", PLUGIN, "plugin.yaml"): (json.dumps(plugin, indent=2) + "\n", 0o644),
    }


def renderer_args(registry, containers, pull_secret):
    args = ["registry=" + registry] + ["container=" + c for c in containers]
    if pull_secret:
        args.append("pull-secret=" + pull_secret)
    return args


def template_args(release, chart, post_renderer=None, args=()):
    out = ["template", release["name"], chart["ref"], "--namespace", release["namespace"], "--values", "-",
           "--skip-schema-validation"]
    if chart["kind"] in ("repo", "oci") and chart.get("version"):
        out += ["--version", str(chart["version"])]
    if chart["kind"] == "repo":
        out += ["--repo", release["repo_url"]]
    if post_renderer:
        out += ["--post-renderer", post_renderer]
        for arg in args:
            out += ["--post-renderer-args", arg]
    return out


def write_files(files):
    for path, (content, mode) in files.items():
        current = None
        if os.path.exists(path):
            with open(path) as handle:
                current = handle.read()
        if current != content:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".tmp", "w") as handle:
                handle.write(content)
            os.chmod(path + ".tmp", mode)
            os.rename(path + ".tmp", path)


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            releases=dict(type="list", elements="dict", required=True),
            job_images=dict(type="list", elements="dict", default=[]),
            registry=dict(type="str", default=""),
            relocate=dict(type="dict", default={}),
            pull_secret=dict(type="str", default="", no_log=False),
            renderer_dir=dict(type="path", default="~/.cache/magasin-platform/post-renderer"),
        ),
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    params = module.params
    for i, release in enumerate(params["releases"]):
        missing = [k for k in ("key", "name", "namespace", "chart") if not release.get(k)]
        if missing:
            module.fail_json(msg="releases[%d] has no %s" % (i, ", ".join(missing)))
    helm = HelmClient(module, Connection(module))
    registry = params["registry"].rstrip("/")
    relocate = params["relocate"] or _values.POST_RENDERED_CONTAINERS
    result = dict(changed=False)
    post_renderer, per_key = None, {}
    try:
        if registry:
            directory = params["renderer_dir"]
            write_files(renderer_files(directory, sys.executable, inspect.getsource(_images)))
            if helm.major >= 4:
                rc, out, err = helm.run(["env", "HELM_PLUGINS"])
                ours = os.path.join(directory, "plugins")
                post_renderer, result["helm_plugins"] = PLUGIN, ":".join(p for p in (ours, out.strip()) if p)
                helm.environ = dict(helm.environ, HELM_PLUGINS=result["helm_plugins"])
            else:
                post_renderer, result["helm_plugins"] = os.path.join(directory, "relocate"), ""
            result["post_renderer"] = post_renderer
            for release in params["releases"]:
                per_key[release["key"]] = renderer_args(registry, relocate.get(release["key"]) or [], params["pull_secret"])
            result["post_renderer_args"] = per_key
        entries = []
        for release in params["releases"]:
            try:
                chart = desired_chart(release["chart"], release.get("repo_url"), release.get("version"))
            except ValueError as exc:
                module.fail_json(msg="release %s: %s" % (release["name"], exc))
            rc, out, err = helm.run(template_args(release, chart, post_renderer, per_key.get(release["key"], ())),
                                    data=json.dumps(release.get("values") or {}))
            entries += _images.images(list(yaml.safe_load_all(out)), release["key"])
    except CliError as exc:
        helm.fail_from(exc)
    for job in params["job_images"]:
        entries.append({"image": _values.relocate(str(job.get("image") or ""), registry), "release": job.get("release", ""),
                        "kind": "Job", "name": "", "field": "containers", "container": "", "path": job.get("path", ""),
                        "hook": False, "variable": job.get("variable", "")})
    result.update(images=entries, unique=_images.unique(entries),
                  outside=_images.outside(entries, registry) if registry else [],
                  problems=_images.problems(entries, registry) if registry else [])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
