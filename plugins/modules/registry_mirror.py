#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: registry_mirror
short_description: Copy images by digest and push charts as OCI artifacts into a site registry
version_added: 0.2.0
description:
  - Each image is read by digest from its source (C(crane digest)) and copied with C(crane copy) to its destination,
    keeping the destination's tag, unless the destination already holds that digest; the copy is then read back and
    must resolve to the same digest.
  - Each chart archive is pushed with C(helm push) to an C(oci://) repository unless the registry already holds that
    chart version with the archive's own bytes (its layer digest is the archive's sha256).
  - Registry credentials and certificate authorities come from the environment as crane and helm read them
    (C(~/.docker/config.json), C(helm registry login), E(SSL_CERT_FILE)).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Reads both sides and reports what would be copied or pushed.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second run copies and pushes nothing.
options:
  images:
    description:
      - Images to copy, each a dictionary with C(source) and C(dest) (references with a tag).
      - From an offline bundle, C(layout) (the image's OCI layout directory) and C(digest) (what the bundle's manifest
        names) as well; the layout is pushed with C(crane push). The filter P(magasin.platform.bundle_sources#filter)
        adds them after M(magasin.platform.offline_bundle) verified the bundle.
    type: list
    elements: dict
    default: []
  charts:
    description: Chart archives to push, each a dictionary with C(path) (a C(.tgz) that C(helm package) wrote).
    type: list
    elements: dict
    default: []
  chart_repo:
    description: The C(oci://) repository the charts go to (each chart lands at C(<chart_repo>/<name>:<version>)).
    type: str
    default: ""
  crane_binary:
    description: Path of crane; else E(MAGASIN_CRANE_BINARY), then C(crane) on E(PATH).
    type: path
"""

EXAMPLES = r"""
- name: Images and charts into the site registry
  magasin.platform.registry_mirror:
    images:
      - source: quay.io/minio/minio:RELEASE.2023-11-15T20-43-25Z
        dest: registry.site.example.org/magasin/minio/minio:RELEASE.2023-11-15T20-43-25Z
    charts:
      - path: /srv/charts/magasin/drill-0.9.0.tgz
    chart_repo: oci://registry.site.example.org/magasin/charts
"""

RETURN = r"""
images:
  description: Per image its source, destination, digest and action (V(copied), V(present), or V(copy) in check mode).
  returned: always
  type: list
  elements: dict
charts:
  description: Per chart its reference in the registry, digest and action (V(pushed), V(present), V(push) in check mode).
  returned: always
  type: list
  elements: dict
"""

import hashlib

from ansible.module_utils.basic import AnsibleModule, env_fallback
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._crane import CraneClient
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient, local_chart_identity


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            images=dict(type="list", elements="dict", default=[]),
            charts=dict(type="list", elements="dict", default=[]),
            chart_repo=dict(type="str", default=""),
            crane_binary=dict(type="path", fallback=(env_fallback, ["MAGASIN_CRANE_BINARY"])),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["charts"] and not params["chart_repo"].startswith("oci://"):
        module.fail_json(msg="chart_repo must be an oci:// repository (oci://registry.site.example.org/magasin/charts)")
    connection = Connection(module)
    crane = CraneClient(module, connection) if params["images"] or params["charts"] else None
    images, charts = [], []
    try:
        for item in params["images"]:
            if not item.get("source") or not item.get("dest"):
                module.fail_json(msg="every image needs a source and a dest: %s" % item)
            if item.get("layout"):
                # From an offline bundle (verified before): the layout holds the digest its manifest names.
                source = item.get("digest")
                if not source:
                    module.fail_json(msg="image %s from the layout %s needs the digest the bundle's manifest names"
                                     % (item["dest"], item["layout"]), images=images)
            else:
                source = crane.digest(item["source"])
            if source is None:
                module.fail_json(msg="the source registry does not hold %s" % item["source"], images=images)
            present = crane.digest(item["dest"]) == source
            action = "present" if present else ("copy" if module.check_mode else "copied")
            if action == "copied" and item.get("layout"):
                crane.push_layout(item["layout"], item["dest"])
            elif action == "copied":
                # By digest: what was read is what lands, under the destination's tag.
                crane.run(["copy", item["source"].rsplit(":", 1)[0] + "@" + source if "@" not in item["source"] else item["source"],
                           item["dest"]])
            if action == "copied":
                landed = crane.digest(item["dest"])
                if landed != source:
                    module.fail_json(msg="%s resolves to %s after the copy, not %s" % (item["dest"], landed, source), images=images)
            images.append({"source": item["source"], "dest": item["dest"], "digest": source, "action": action})
        helm = HelmClient(module, connection) if params["charts"] else None
        for item in params["charts"]:
            name, version, dummy = local_chart_identity(item["path"])
            ref = "%s/%s:%s" % (params["chart_repo"].rstrip("/")[len("oci://"):], name, version)
            sha = sha256_file(item["path"])
            present = sha in (crane.layers(ref) or [])
            action = "present" if present else ("push" if module.check_mode else "pushed")
            if action == "pushed":
                helm.run(["push", item["path"], params["chart_repo"].rstrip("/")])
                if sha not in (crane.layers(ref) or []):
                    module.fail_json(msg="%s does not hold %s after helm push" % (ref, item["path"]), charts=charts)
            charts.append({"path": item["path"], "ref": "oci://" + ref, "digest": sha, "action": action})
    except CliError as exc:
        (crane or CraneClient(module, connection)).fail_from(exc, images=images, charts=charts)
    changed = any(i["action"] in ("copied", "copy") for i in images) or any(c["action"] in ("pushed", "push") for c in charts)
    module.exit_json(changed=changed, images=images, charts=charts)


if __name__ == "__main__":
    main()
