#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: offline_bundle
short_description: Build, verify and compare an offline bundle of the platform (charts, images as OCI layouts, files)
version_added: 0.2.0
description:
  - V(build) writes the bundle directory O(path) - each image of O(images) as an OCI image layout under
    C(images/<upstream name>/<tag>) (C(crane pull --format oci) by the digest its source resolves to, so an index
    stays whole), each chart archive of O(charts) under C(charts/), each file of O(files) under C(files/) - removes
    what the plan no longer names, and writes C(manifest.json) (every image's name, tag, digest and source, every
    chart's name and version, and the sha256 and size of every file). An image whose layout already holds the
    digest its source serves and matches the manifest is not pulled again.
  - V(verify) checks every file of the bundle against its manifest and fails naming each file that differs, is
    missing or is not listed, and each blob whose content is not the digest it is named by.
  - V(diff) lists the images, charts and files added, removed or changed from the bundle (or manifest) O(against) to
    the bundle O(path), for a change board.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: V(build) reads the sources and the bundle and reports what it would pull, copy and remove; V(verify) and
      V(diff) only read.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second V(build) with the same pins and sources pulls, copies and writes nothing.
options:
  action:
    description: What to do.
    type: str
    choices: [build, verify, diff]
    default: verify
  path:
    description: The bundle directory.
    type: path
    required: true
  images:
    description:
      - The images to bundle (V(build)), each a dictionary with C(image) (the upstream name with its tag),
        C(source) (where to read it), C(layout) (its directory in the bundle) and C(paths) (where the charts set it),
        as the filter P(magasin.platform.bundle_plan#filter) makes them.
    type: list
    elements: dict
    default: []
  charts:
    description: The chart archives to bundle (V(build)), each a dictionary with C(path) (a C(.tgz) that C(helm package) wrote).
    type: list
    elements: dict
    default: []
  files:
    description:
      - Other local files to bundle (V(build)) under C(files/), each a dictionary with C(path) and optionally C(name)
        (else the file's own name) - the helm, kubectl and k3s binaries, k3s's air-gap images, Python wheels.
    type: list
    elements: dict
    default: []
  against:
    description: For V(diff), the older bundle directory or its C(manifest.json).
    type: path
  crane_binary:
    description: Path of crane; else E(MAGASIN_CRANE_BINARY), then C(crane) on E(PATH).
    type: path
"""

EXAMPLES = r"""
- name: The bundle of the platform
  magasin.platform.offline_bundle:
    action: build
    path: /srv/magasin-bundle
    images: "{{ images.images | magasin.platform.bundle_plan }}"
    charts: [{path: /srv/charts/magasin/drill-0.9.0.tgz}]
    files: [{path: /usr/local/bin/helm}]

- name: The bundle is whole
  magasin.platform.offline_bundle:
    action: verify
    path: /media/transfer/magasin-bundle

- name: What changed since the last bundle
  magasin.platform.offline_bundle:
    action: diff
    path: /srv/magasin-bundle
    against: /srv/magasin-bundle-2026-11/manifest.json
"""

RETURN = r"""
manifest:
  description: The bundle's manifest (after V(build), the one written or in check mode the one that would be).
  returned: always
  type: dict
images:
  description: Per image its name, digest and action (V(pulled), V(present), V(pull) in check mode); V(build) only.
  returned: always
  type: list
  elements: dict
removed:
  description: The files V(build) removed (or would remove) because the plan no longer names them.
  returned: always
  type: list
  elements: str
problems:
  description: One line per file that differs from the manifest, naming it (V(verify) fails with them).
  returned: always
  type: list
  elements: str
changes:
  description: For V(diff), one line per image, chart or file added, removed or changed.
  returned: always
  type: list
  elements: str
"""

import json
import os
import shutil

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible_collections.magasin.platform.plugins.module_utils import _offline_bundle as bundle
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._crane import CraneClient
from ansible_collections.magasin.platform.plugins.module_utils._helm import local_chart_identity


def read_json(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


class BundleManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.root = self.params["path"]
        self.crane = None

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def verify(self):
        data = read_json(os.path.join(self.root, bundle.MANIFEST))
        if data is None:
            self.fail("%s has no readable %s: is it a bundle that playbooks/bundle.yml wrote?" % (self.root, bundle.MANIFEST))
        problems = bundle.verify(data, bundle.hash_tree(self.root))
        if problems:
            self.fail("the bundle %s does not match its manifest: %s" % (self.root, "; ".join(problems)),
                      problems=problems, manifest=data)
        self.module.exit_json(changed=False, manifest=data, images=[], removed=[], problems=[], changes=[])

    def diff(self):
        against = self.params["against"]
        if not against:
            self.fail("action diff needs against: the older bundle directory or its manifest.json")
        old = read_json(os.path.join(against, bundle.MANIFEST) if os.path.isdir(against) else against)
        new = read_json(os.path.join(self.root, bundle.MANIFEST))
        for name, data in ((against, old), (self.root, new)):
            if data is None:
                self.fail("%s holds no readable bundle manifest" % name)
        self.module.exit_json(changed=False, manifest=new, images=[], removed=[], problems=[],
                              changes=bundle.diff(old, new))

    def _layout_holds(self, image, digest, old, found):
        """Whether the bundle's layout of ``image`` already holds ``digest``, as its old manifest lists it."""
        entry = [i for i in (old or {}).get("images") or [] if i.get("image") == image["image"]]
        if not entry or entry[0].get("digest") != digest or entry[0].get("layout") != image["layout"]:
            return False
        listed = dict((f["path"], f) for f in old.get("files") or [] if f["path"].startswith(image["layout"] + "/"))
        have = dict((k, v) for k, v in found.items() if k.startswith(image["layout"] + "/"))
        return bool(listed) and all(have.get(k) == {"sha256": v["sha256"], "size": v["size"]} for k, v in listed.items())

    def _pull(self, image, digest):
        target = os.path.join(self.root, image["layout"])
        partial = target + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(os.path.dirname(partial), exist_ok=True)
        repo = image["source"].rsplit("@", 1)[0]
        if ":" in repo.rsplit("/", 1)[-1]:
            repo = repo.rsplit(":", 1)[0]
        self.crane.pull_layout("%s@%s" % (repo, digest), partial)
        try:
            landed = bundle.layout_digest(read_json(os.path.join(partial, "index.json")))
        except ValueError as exc:
            self.fail("the layout crane wrote for %s: %s" % (image["image"], exc))
        if landed != digest:
            self.fail("%s: the layout holds %s, not %s" % (image["image"], landed, digest))
        shutil.rmtree(target, ignore_errors=True)
        os.rename(partial, target)

    def _images(self, images, old, found):
        """Each image's digest at its source, pulled into its layout unless the bundle holds it already."""
        results, planned = [], []
        if images:
            self.crane = CraneClient(self.module, Connection(self.module))
        try:
            for item in images:
                digest = self.crane.digest(item["source"])
                if digest is None:
                    self.fail("the source registry does not hold %s (%s)" % (item["source"], ", ".join(item.get("paths") or [])),
                              images=results)
                held = self._layout_holds(item, digest, old, found)
                action = "present" if held else ("pull" if self.module.check_mode else "pulled")
                if action == "pulled":
                    self._pull(item, digest)
                results.append({"image": item["image"], "source": item["source"], "digest": digest, "action": action})
                planned.append(dict(item, digest=digest))
        except CliError as exc:
            self.crane.fail_from(exc, images=results)
        return results, planned

    def _copies(self, entries, found):
        """The charts and files whose bundle copy differs from their origin, copied (not in check mode)."""
        copies = []
        for entry in entries:
            origin = entry.get("origin") or entry["source"]
            if found.get(entry["path"], {}).get("sha256") != bundle.sha256_file(origin):
                copies.append(entry["path"])
                if not self.module.check_mode:
                    os.makedirs(os.path.dirname(os.path.join(self.root, entry["path"])), exist_ok=True)
                    shutil.copyfile(origin, os.path.join(self.root, entry["path"]))
        return copies

    def build(self):
        check = self.module.check_mode
        images = self.params["images"]
        for item in images:
            missing = [k for k in ("image", "source", "layout") if not item.get(k)]
            if missing:
                self.fail("every image needs image, source and layout (the filter bundle_plan makes them): %s lacks %s"
                          % (item, ", ".join(missing)))
        charts = []
        for item in self.params["charts"]:
            name, version, dummy = local_chart_identity(item["path"])
            charts.append(bundle.chart_entry(item["path"], name, version))
        try:
            files = [bundle.file_entry(f) for f in self.params["files"]]
        except ValueError as exc:
            self.fail(str(exc))
        old = read_json(os.path.join(self.root, bundle.MANIFEST))
        found = bundle.hash_tree(self.root) if os.path.isdir(self.root) else {}
        keep = bundle.planned_paths(images, charts, files)
        removed = sorted(p for p in found if not keep(p))
        results, planned = self._images(images, old, found)
        copies = self._copies(charts + files, found)
        if not check:
            for path in removed:
                os.remove(os.path.join(self.root, path))
            self._prune_dirs()
            found = bundle.hash_tree(self.root)
        charts = [dict((k, v) for k, v in c.items() if k != "origin") for c in charts]
        data = bundle.manifest(planned, charts, files, found)
        changed = bool(removed or copies or any(r["action"] != "present" for r in results) or old != data)
        if not check:
            if old != data:
                with open(os.path.join(self.root, bundle.MANIFEST), "w") as handle:
                    handle.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
            # found is the tree as written: what the manifest lists, and each blob against its name.
            problems = bundle.verify(data, found)
            if problems:
                self.fail("the bundle %s does not match the manifest just written: %s" % (self.root, "; ".join(problems)),
                          problems=problems)
        self.module.exit_json(changed=changed, manifest=data, images=results, removed=removed, copied=copies,
                              problems=[], changes=[])

    def _prune_dirs(self):
        for part in bundle.PARTS:
            top = os.path.join(self.root, part)
            for walked in os.walk(top, topdown=False):
                directory = walked[0]
                if directory != top and not os.listdir(directory):
                    os.rmdir(directory)

    def run(self):
        if self.params["action"] == "build":
            if not self.module.check_mode:
                os.makedirs(self.root, exist_ok=True)
            self.build()
        elif not os.path.isdir(self.params["path"]):
            self.fail("the bundle directory %s does not exist" % self.params["path"])
        elif self.params["action"] == "verify":
            self.verify()
        self.diff()


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            action=dict(type="str", choices=["build", "verify", "diff"], default="verify"),
            path=dict(type="path", required=True),
            images=dict(type="list", elements="dict", default=[]),
            charts=dict(type="list", elements="dict", default=[]),
            files=dict(type="list", elements="dict", default=[]),
            against=dict(type="path"),
            crane_binary=dict(type="path", fallback=(env_fallback, ["MAGASIN_CRANE_BINARY"])),
        ),
        supports_check_mode=True,
    )
    BundleManager(module).run()


if __name__ == "__main__":
    main()
