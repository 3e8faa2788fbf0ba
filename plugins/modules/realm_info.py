#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: realm_info
short_description: Everything a magasin realm needs to know about the cluster and its Helm releases, in one task
version_added: 0.2.0
description:
  - Reads, in one task, what the realm model is computed from - the Kubernetes version, the nodes and their
    allocatable resources, the StorageClasses and IngressClasses, the Helm release of the MinIO operator that
    serves the cluster, every MinIO Tenant and its pools, the volume claim templates of the realm's StatefulSets,
    the realm's Helm releases - and checks that each chart version asked for exists where it is taken from.
  - Read-only. Three kubectl processes and one C(helm list) per namespace, plus one C(helm show chart) per chart in O(charts),
    whatever the size of the cluster; they run concurrently where they do not depend on each other. A chart from a
    repository also costs one read of that repository's C(index.yaml) (for its digest), once per repository.
  - Reaches the cluster through the connection options every module of the collection shares, so it honours
    C(K8S_AUTH_*) (an AWX bearer token) like the modules that change the cluster.
  - Returns no secret value; Secrets are not read at all.
  - Reads cluster-wide only nodes, StorageClasses, IngressClasses, the CRDs it names, StatefulSets and Tenants. Helm's
    release Secrets are listed in O(namespaces) and in the namespace of the MinIO operator's release only, one
    C(helm list) each, so an account whose Secret rights end at the realm's namespaces can run it
    (C(playbooks/access.yml)).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Read-only; runs the same in check mode, so later tasks of a check run see the real cluster.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything; always RV(ignore:changed=false).
options:
  namespaces:
    description:
      - The realm's namespaces. RV(statefulsets) and RV(releases) are reported for these namespaces only.
      - Namespaces that do not exist are not an error.
    type: list
    elements: str
    default: []
  release_names:
    description:
      - Report only releases with these names (in O(namespaces)). All releases of O(namespaces) when omitted.
    type: list
    elements: str
  charts:
    description:
      - Charts to look up, each with one C(helm show chart). The result says for each whether that version exists
        where it is taken from.
    type: list
    elements: dict
    default: []
    suboptions:
      key:
        description: Name of this chart's entry in RV(charts).
        type: str
        required: true
      chart:
        description:
          - A chart name together with O(charts[].repo_url), a local chart directory, a C(.tgz) archive or an
            C(oci://) reference, as for M(magasin.platform.helm_release).
        type: str
        required: true
      version:
        description:
          - The chart version wanted. For a repository or an C(oci://) reference helm is asked for this version;
            a local chart is compared with the version in its C(Chart.yaml).
        type: str
      repo_url:
        description: Chart repository URL (C(--repo)), so no C(helm repo add) state is needed.
        type: str
"""

EXAMPLES = r"""
- name: What the realm finds in the cluster
  magasin.platform.realm_info:
    namespaces: [magasin-operator, magasin-tenant, magasin-drill, magasin-superset]
    charts:
      - key: drill
        chart: drill
        version: 0.9.0
        repo_url: https://unicef.github.io/magasin
      - key: tenant
        chart: /srv/charts/tenant-5.0.11.tgz
        version: 5.0.11
  register: __realm

- name: Every chart version exists
  ansible.builtin.assert:
    that: __realm.charts | dict2items | rejectattr('value.found') | list | length == 0
    fail_msg: "{{ __realm.charts | dict2items | rejectattr('value.found') | map(attribute='value.error') | join('; ') }}"
"""

RETURN = r"""
cluster:
  description:
    - The Kubernetes server version; the nodes with their allocatable CPU (cores) and memory (bytes); sums over
      the nodes that are ready and schedulable.
  returned: always
  type: dict
  sample:
    version: {major: 1, minor: 37, git_version: v1.37.2}
    nodes: [{name: node-1, ready: true, schedulable: true, cpu: 8.0, memory: 34359738368, arch: amd64, os: linux}]
    totals: {nodes: 1, cpu: 8.0, memory: 34359738368}
storage_classes:
  description: StorageClasses with their provisioner and whether each is the default.
  returned: always
  type: list
  elements: dict
  sample: [{name: standard, default: true, provisioner: rancher.io/local-path}]
default_storage_class:
  description: Name of the default StorageClass, or V("") when there is none.
  returned: always
  type: str
ingress_classes:
  description: IngressClasses with their controller and whether each is the default.
  returned: always
  type: list
  elements: dict
  sample: [{name: nginx, default: false, controller: k8s.io/ingress-nginx}]
operator:
  description:
    - Name and namespace of the Helm release that owns the ClusterRole C(minio-operator-role), that is the MinIO
      operator serving the cluster, whichever realm installed it; null when there is none (or it is not managed
      by Helm, which is warned about).
  returned: always
  type: dict
  sample: {name: operator, namespace: magasin-operator}
crds:
  description:
    - Which of the cluster-wide CustomResourceDefinitions the realm's charts depend on exist (the Tenant's, and those
      daskhub installs from its C(crds/) folder).
  returned: always
  type: list
  elements: str
  sample: [daskclusters.gateway.dask.org, ingressroutes.traefik.containo.us, tenants.minio.min.io]
tenants:
  description:
    - Every MinIO Tenant in the cluster with the layout of its pools (which MinIO cannot change afterwards).
      Empty when the Tenant CRD is not installed.
  returned: always
  type: list
  elements: dict
  sample: [{namespace: magasin-tenant, name: magasin,
            pools: [{servers: 1, volumesPerServer: 4, size: 10Gi, storageClassName: standard}]}]
statefulsets:
  description:
    - The StatefulSets of O(namespaces), by C(namespace/name), with their volume claim templates (immutable once
      the StatefulSet exists). C(class) is null when the template names no StorageClass.
  returned: always
  type: dict
  sample: {magasin-superset/superset-postgresql: {claims: [{name: data, size: 8Gi, class: standard}]}}
releases:
  description:
    - The Helm releases of O(namespaces), and the operator's release, by C(namespace/name), whatever their
      status (pending and failed releases included).
  returned: always
  type: dict
  sample: {magasin-drill/drill: {status: deployed, revision: 2, chart_name: drill, chart_version: 0.9.0,
                                 app_version: 1.21.1, updated: "2026-11-26 12:17:45.593439127 +0000 UTC"}}
charts:
  description:
    - For each entry of O(charts), by its key - whether that chart version exists where it is taken from, the
      name and version helm found, and helm's error (or the version mismatch) when it was not found.
    - C(digest), for the run report, is the SHA-256 of the chart archive - of the C(.tgz) file itself
      (C(digest_source=archive)), or as the chart repository's C(index.yaml) records it (C(digest_source=index),
      one read of the index per repository). Null for a chart directory or an C(oci://) reference, or when the
      index names no digest.
  returned: always
  type: dict
  sample: {drill: {found: true, name: drill, version: 0.9.0, error: null, digest: "sha256:4f1c...", digest_source: archive},
           tenant: {found: false, name: tenant, version: 5.0.11, error: "the chart found is tenant 5.0.11, not version 5.0.12",
                    digest: null, digest_source: null}}
started:
  description: When the module started to read (ISO 8601, UTC), where the run report's durations begin.
  returned: always
  type: str
  sample: "2026-12-01T12:31:10.002991"
"""

import datetime
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url
from ansible_collections.magasin.platform.plugins.module_utils import _realm
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._helm import (
    HelmClient,
    chart_lookup,
    classify_chart,
    list_namespace_args,
    parse_releases,
    show_chart_args,
)
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import (
    CLASSES,
    OPERATOR_ROLE,
    TENANT_CRD,
    KubectlClient,
    helm_owner,
    list_items,
    parse_server_version,
    parse_statefulset_claims,
    parse_tenant,
    summarize,
)
from ansible_collections.magasin.platform.plugins.module_utils._report import archive_digest, index_digest

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

NODE_FIELDS = ("name", "ready", "schedulable", "cpu", "memory", "arch", "os")
# Cluster-wide CRDs that a chart installs from its crds/ folder (daskhub's Dask Gateway and Traefik), reported in
# RV(crds): Helm 4 applies crds/ server-side and collides with CRDs of another version that exist already, where
# Helm 3 skipped them; a release then installs with --skip-crds, as Helm 3 would.
CHART_CRDS = tuple(name for names in _realm.CHART_CRDS.values() for name in names)
MAX_THREADS = 4


def owner_args():
    """The operator's ClusterRole, the Tenant CRD and CHART_CRDS, in one get; any may be missing."""
    return (["get", "clusterroles.rbac.authorization.k8s.io/%s" % OPERATOR_ROLE]
            + ["customresourcedefinitions.apiextensions.k8s.io/%s" % name for name in (TENANT_CRD,) + CHART_CRDS]
            + ["--ignore-not-found", "--output", "json"])


def objects_args(with_statefulsets, with_tenants):
    """Nodes, classes and (when asked) StatefulSets and Tenants: one get over all namespaces."""
    kinds = CLASSES + (",statefulsets.apps" if with_statefulsets else "") + (",%s" % TENANT_CRD if with_tenants else "")
    return ["get", kinds, "--all-namespaces", "--output", "json"]


def parse_owners(items):
    """(operator release or None, Tenant CRD exists, ClusterRole exists) from owner_args' output. Pure."""
    operator, crd, role = None, False, False
    for item in items:
        if item.get("kind") == "ClusterRole":
            role = True
            operator = helm_owner(item)
        elif item.get("kind") == "CustomResourceDefinition" and (item.get("metadata") or {}).get("name") == TENANT_CRD:
            crd = True
    return operator, crd, role


def parse_crds(items):
    """The names of the CustomResourceDefinitions among owner_args' output, sorted. Pure."""
    return sorted((item.get("metadata") or {}).get("name") for item in items
                  if item.get("kind") == "CustomResourceDefinition")


def release_namespaces(namespaces, operator):
    """The namespaces whose Helm releases are listed: the realm's and the operator release's, once each. Pure.

    When the operator serving the cluster lives elsewhere (an adopted installer's namespace), the shared default
    one (magasin-operator) is not listed: no release of the realm's goes there, and a realm's least-privilege
    account (playbooks/access.yml) may not read it."""
    default = _realm.OPERATOR_RELEASE["namespace"]
    out = list(dict.fromkeys(ns for ns in namespaces
                             if not (operator and ns == default and operator["namespace"] != default)))
    if operator and operator["namespace"] not in out:
        out.append(operator["namespace"])
    return out


def realm_facts(version, owners, objects, releases, namespaces):
    """The module's result from parsed kubectl and helm output. Pure.

    version: ``kubectl version -o json``; owners: the items of owner_args; objects: the items of objects_args;
    releases: ``helm list -A -o json``; namespaces: the realm's namespaces.
    """
    operator = parse_owners(owners)[0]
    summary = summarize(objects)
    nodes = [dict((k, n["architecture"] if k == "arch" else n.get(k)) for k in NODE_FIELDS) for n in summary["nodes"]]
    statefulsets, tenants = {}, []
    wanted = set(namespaces)
    for item in objects:
        meta = item.get("metadata") or {}
        if item.get("kind") == "StatefulSet" and meta.get("namespace") in wanted:
            statefulsets["%s/%s" % (meta["namespace"], meta["name"])] = {"claims": parse_statefulset_claims(item)}
        elif item.get("kind") == "Tenant":
            tenants.append(parse_tenant(item))
    operator_key = "%s/%s" % (operator["namespace"], operator["name"]) if operator else None
    found = dict((key, release) for key, release in parse_releases(releases).items()
                 if key.split("/", 1)[0] in wanted or key == operator_key)
    return {
        "cluster": {"version": parse_server_version(version), "nodes": nodes, "totals": summary["totals"]},
        "storage_classes": [{"name": s["name"], "default": s["default"], "provisioner": s["provisioner"]}
                            for s in summary["storage_classes"]],
        "default_storage_class": summary["default_storage_class"] or "",
        "ingress_classes": summary["ingress_classes"],
        "operator": operator,
        "crds": parse_crds(owners),
        "tenants": tenants,
        "statefulsets": statefulsets,
        "releases": found,
    }


def read_index(repo_url):
    """A chart repository's index.yaml, parsed (None without PyYAML)."""
    if not HAS_YAML:
        return None
    text = open_url(repo_url.rstrip("/") + "/index.yaml", timeout=30).read()
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


class RealmInfoManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        connection = Connection(module)
        self.kubectl = KubectlClient(module, connection)
        self.helm = HelmClient(module, connection)
        self.indexes = {}
        self.indexes_lock = threading.Lock()
        self.read_index = read_index

    def validate(self):
        keys = [c["key"] for c in self.params["charts"]]
        dupes = sorted(set(k for k in keys if keys.count(k) > 1))
        if dupes:
            self.module.fail_json(msg="charts: key %s listed more than once" % ", ".join(dupes))

    def show_chart(self, spec):
        rc, out, err = self.helm.run(show_chart_args(spec["chart"], spec.get("version"), spec.get("repo_url")),
                                     check=False)
        found = chart_lookup(rc, out, self.helm.redact(err), spec.get("version"))
        found.update(digest=None, digest_source=None)
        if found["found"]:
            found.update(self.digest(spec, found))
        return found

    def digest(self, spec, found):
        """The chart archive's SHA-256: of the .tgz itself, or from its repository's index.yaml (read once)."""
        kind = classify_chart(spec["chart"], spec.get("repo_url"))
        if kind == "tgz":
            digest = archive_digest(spec["chart"])
            return {"digest": digest, "digest_source": "archive" if digest else None}
        if kind == "repo":
            digest = index_digest(self.index(spec["repo_url"]), found["name"], found["version"])
            return {"digest": digest, "digest_source": "index" if digest else None}
        return {}

    def index(self, repo_url):
        with self.indexes_lock:
            if repo_url not in self.indexes:
                try:
                    self.indexes[repo_url] = self.read_index(repo_url)
                except Exception as exc:  # pylint: disable=broad-except
                    self.indexes[repo_url] = None
                    self.module.warn("the index of %s could not be read for the run report's chart digests: %s"
                                     % (repo_url, exc))
            return self.indexes[repo_url]

    def run(self):
        started = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).isoformat()
        self.validate()
        charts = self.params["charts"]
        namespaces = self.params["namespaces"]
        with ThreadPoolExecutor(max_workers=MAX_THREADS) as pool:
            version = pool.submit(self.kubectl.run_json, ["version", "--output", "json"])
            owners = pool.submit(self.kubectl.run_json, owner_args())
            lookups = [(spec["key"], pool.submit(self.show_chart, spec)) for spec in charts]
            owner_items = list_items(owners.result())
            operator, has_crd, has_role = parse_owners(owner_items)
            releases = [pool.submit(self.helm.run_json, list_namespace_args(namespace, self.params["release_names"]))
                        for namespace in release_namespaces(namespaces, operator)]
            objects = list_items(self.kubectl.run_json(objects_args(bool(namespaces), has_crd)))
            listed = [item for future in releases for item in future.result() or []]
            result = realm_facts(version.result(), owner_items, objects, listed, namespaces)
            result["charts"] = dict((key, future.result()) for key, future in lookups)
        if has_role and result["operator"] is None:
            self.module.warn("ClusterRole %s exists but no Helm release owns it (no meta.helm.sh annotations): a "
                             "MinIO operator was installed without Helm. A Helm release of the operator would "
                             "collide with it." % OPERATOR_ROLE)
        result["changed"] = False
        result["started"] = started
        return result


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            namespaces=dict(type="list", elements="str", default=[]),
            release_names=dict(type="list", elements="str"),
            charts=dict(type="list", elements="dict", default=[], options=dict(
                key=dict(type="str", required=True, no_log=False),
                chart=dict(type="str", required=True),
                version=dict(type="str"),
                repo_url=dict(type="str"),
            )),
        ),
        supports_check_mode=True,
    )
    manager = RealmInfoManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
