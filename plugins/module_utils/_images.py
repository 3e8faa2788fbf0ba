# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the images of rendered charts, and their relocation.

Pure functions over rendered manifests (lists of parsed YAML documents): every image of every
pod template (containers, init containers, ephemeral containers, hooks included), the images
the MinIO operator injects into tenant pods (its sidecar, ``OPERATOR_SIDECAR_IMAGE``, else the
operator's own image), and the tenant's MinIO image. Each image carries the chart path that
sets it (``kind/name/field/container``), so a preflight can name it.

The file is also the post-renderer that relocates the images a chart has no value for (it needs
only the standard library and PyYAML, no other module of the collection)::

    python _images.py registry=REGISTRY [container=NAME ...] [pull-secret=NAME]   < manifests > manifests

rewrites, in every pod template, the image of each container named ``container=`` to the
registry (Docker's rule, as ``relocate``), and with ``pull-secret=`` adds that image pull
secret to every pod template.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import re
import sys

try:
    import yaml
except ImportError:  # pragma: no cover - the controller has PyYAML (Ansible needs it)
    yaml = None

# Where each workload kind keeps its pod spec.
POD_SPEC_PATHS = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
# The MinIO operator (5.0) adds a sidecar and an init container to every tenant pod: the image of
# OPERATOR_SIDECAR_IMAGE in its environment, else its own.
SIDECAR_ENV = "OPERATOR_SIDECAR_IMAGE"

# Dask Gateway's API server reads the chart's values from its config file, the backend image included.
_GATEWAY_PROPERTIES = re.compile(r'^_PROPERTIES = json\.loads\(("(?:[^"\\]|\\.)*")\)', re.M)

_REGISTRY = re.compile(r"^([a-z0-9-]+[.:][^/]*/)?")


def relocate(image, registry):
    """``quay.io/minio/minio`` with registry ``r.example.org/m`` -> ``r.example.org/m/minio/minio``.

    The first path element is a registry when it holds a dot or a colon (Docker's rule); it is
    replaced, so Docker Hub names (``merlos/drill``, ``traefik``) keep their whole path.
    """
    if not registry:
        return image
    return _REGISTRY.sub(registry.rstrip("/") + "/", image, count=1)


def within(image, registry):
    """Whether ``image`` is served by ``registry`` (a host[:port][/path] prefix)."""
    return bool(registry) and image.startswith(registry.rstrip("/") + "/")


def canonical(image):
    """The fully qualified name: ``busybox`` -> ``docker.io/library/busybox:latest``."""
    name, sep, digest = image.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name.split("/", 1)[1]
    if not sep and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    return name + sep + digest


def split_image(image):
    """(repository, tag, digest) of a canonical or short reference; tag or digest may be ''."""
    name, dummy, digest = image.partition("@")
    repo, tag = name, ""
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    return repo, tag, digest


def _dig(doc, path):
    node = doc
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, dict) else None


def pod_specs(doc):
    """The pod spec of a workload document, or None."""
    if not isinstance(doc, dict) or doc.get("kind") not in POD_SPEC_PATHS:
        return None
    return _dig(doc, POD_SPEC_PATHS[doc["kind"]])


def _name_tag(image):
    if not isinstance(image, dict) or not image.get("name"):
        return ""
    return "%s:%s" % (image["name"], image["tag"]) if image.get("tag") else str(image["name"])


def spawned(doc):
    """[(field, container, image)] of the pods a hub or gateway spawns at run time, from the chart
    values it renders into its configuration: JupyterHub's notebooks (``singleuser.image``, and
    ``singleuser.networkTools.image`` for the metadata-blocking init container) and Dask Gateway's
    schedulers and workers (``gateway.backend.image``)."""
    out = []
    data = doc.get("data") or {}
    if doc.get("kind") == "Secret" and "values.yaml" in data and (doc.get("metadata") or {}).get("name") == "hub":
        single = (yaml.safe_load(base64.b64decode(data["values.yaml"])) or {}).get("singleuser") or {}
        out.append(("singleuser.image", "notebook (spawned by the hub)", _name_tag(single.get("image"))))
        if (single.get("cloudMetadata") or {}).get("blockWithIptables"):
            out.append(("singleuser.networkTools.image", "block-cloud-metadata (spawned by the hub)",
                        _name_tag((single.get("networkTools") or {}).get("image"))))
    if doc.get("kind") == "ConfigMap" and isinstance(data.get("dask_gateway_config.py"), str):
        match = _GATEWAY_PROPERTIES.search(data["dask_gateway_config.py"])
        if match:
            props = json.loads(json.loads(match.group(1)))
            backend = ((props.get("gateway") or {}).get("backend") or {})
            out.append(("gateway.backend.image", "scheduler and worker (spawned by the gateway)", _name_tag(backend.get("image"))))
    return [e for e in out if e[2]]


def images(docs, release=""):
    """Every image the documents of one release make a node pull: [{image, release, kind, name,
    field, container, path, hook}], in document order. ``path`` names where it is set
    (``StatefulSet/drill-zk/initContainers/zk-available``)."""
    out = []

    def add(doc, field, container, image, hook):
        meta = doc.get("metadata") or {}
        path = "%s/%s/%s/%s" % (doc.get("kind"), meta.get("name", ""), field, container)
        out.append({"image": str(image or ""), "release": release, "kind": doc.get("kind"), "name": meta.get("name", ""),
                    "field": field, "container": container, "path": path, "hook": hook})

    for doc in docs or []:
        if not isinstance(doc, dict):
            continue
        hook = bool(((doc.get("metadata") or {}).get("annotations") or {}).get("helm.sh/hook"))
        for field, container, image in spawned(doc):
            add(doc, field, container, image, hook)
        if doc.get("kind") == "Tenant" and isinstance(doc.get("spec"), dict):
            spec = doc["spec"]
            if spec.get("image"):
                add(doc, "spec", "image", spec["image"], hook)
            for c in ((spec.get("sideCars") or {}).get("containers") or []):
                add(doc, "sideCars", c.get("name", ""), c.get("image"), hook)
            continue
        spec = pod_specs(doc)
        if spec is None:
            continue
        for field in CONTAINER_FIELDS:
            for c in spec.get(field) or []:
                if not isinstance(c, dict):
                    continue
                add(doc, field, c.get("name", ""), c.get("image"), hook)
                sidecar = [e.get("value") for e in c.get("env") or [] if isinstance(e, dict) and e.get("name") == SIDECAR_ENV]
                if sidecar and sidecar[0]:
                    add(doc, "env", "%s/%s" % (c.get("name", ""), SIDECAR_ENV), sidecar[0], hook)
                elif split_image(str(c.get("image") or ""))[0].endswith("minio/operator") and "ui" not in (c.get("args") or []):
                    # Injected into tenant pods by the operator: its own image when the variable is unset.
                    add(doc, "env", "%s/%s" % (c.get("name", ""), SIDECAR_ENV), c.get("image"), hook)
    return out


def outside(entries, registry):
    """The entries whose image the registry does not serve (every entry when no registry is set)."""
    return [e for e in entries if not within(e["image"], registry)]


# The inventory variable holding each release's own values (merged last over the collection's).
VALUES_VARIABLES = {"operator": "minio_operator_values", "tenant": "minio_tenant_values", "drill": "drill_values",
                    "dagster": "dagster_values", "daskhub": "daskhub_values", "superset": "superset_values"}


def problems(entries, registry):
    """One line per image the site registry does not serve, naming the image, where it is set and the fix."""
    out = []
    for e in outside(entries, registry):
        variable = e.get("variable") or VALUES_VARIABLES.get(e["release"], "%s_values" % e["release"])
        out.append("image %s (release %s, %s) is not in the site registry %s: point it at %s/... in %s, or mirror "
                   "it and remove the override that names another registry"
                   % (e["image"] or "''", e["release"], e["path"], registry, registry.rstrip("/"), variable))
    return out


def unique(entries):
    """The distinct images, sorted."""
    return sorted(set(e["image"] for e in entries if e["image"]))


def source_ref(image, source=""):
    """Where the mirror reads an upstream image: the upstream itself, or a registry that holds the
    upstream images under their full names (``<source>/quay.io/minio/minio:TAG``)."""
    return source.rstrip("/") + "/" + canonical(image) if source else canonical(image)


def mirror_plan(public, site, source=""):
    """[{source, dest, paths}] from the same releases rendered without and with the site registry,
    paired by where each image is set, so each copy lands exactly where the cluster pulls from.
    Raises ValueError when the two renders differ in shape or two sources meet at one destination."""
    at = dict(((e["release"], e["path"]), e["image"]) for e in public)
    plan = {}
    for e in site:
        upstream = at.get((e["release"], e["path"]))
        if upstream is None:
            raise ValueError("%s of release %s has no image in the render without the site registry" % (e["path"], e["release"]))
        item = plan.setdefault(e["image"], {"source": source_ref(upstream, source), "dest": e["image"], "paths": []})
        if item["source"] != source_ref(upstream, source):
            raise ValueError("%s is the site's name of both %s and %s (%s)"
                             % (e["image"], item["source"], source_ref(upstream, source), e["path"]))
        item["paths"].append("%s: %s" % (e["release"], e["path"]))
    return [plan[k] for k in sorted(plan)]


def chart_archives(plans):
    """[{path}] of the planned releases' chart archives, once each (the mirror pushes them). Raises
    ValueError for a chart that is not a local archive: the mirror reads magasin_charts_dir."""
    out = []
    for plan in (plans or {}).values():
        for release in plan.get("releases") or []:
            chart = str(release.get("chart") or "")
            if not chart.endswith(".tgz") or "://" in chart:
                raise ValueError("chart %s of release %s is not a local archive: the mirror pushes the archives of "
                                 "magasin_charts_dir (set it, or magasin_mirror_charts: false)" % (chart, release.get("name")))
            if {"path": chart} not in out:
                out.append({"path": chart})
    return out


def relocate_docs(docs, registry, containers=(), pull_secret=""):
    """The documents with the images of the named containers relocated and, with ``pull_secret``,
    that pull secret in every pod template. Pure: the documents are changed in place and returned."""
    for doc in docs:
        spec = pod_specs(doc)
        if spec is None:
            continue
        for field in CONTAINER_FIELDS:
            for c in spec.get(field) or []:
                if isinstance(c, dict) and c.get("name") in containers and c.get("image") and not within(c["image"], registry):
                    c["image"] = relocate(str(c["image"]), registry)
        if pull_secret:
            secrets = spec.setdefault("imagePullSecrets", []) or []
            if {"name": pull_secret} not in secrets:
                secrets.append({"name": pull_secret})
            spec["imagePullSecrets"] = secrets
    return docs


def parse_args(argv):
    """``registry=R container=N ... pull-secret=S`` -> (registry, [containers], pull_secret)."""
    registry, containers, secret = "", [], ""
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in ("registry", "container", "pull-secret"):
            raise ValueError("unknown post-renderer argument %r (registry=, container=, pull-secret=)" % arg)
        if key == "registry":
            registry = value
        elif key == "container":
            containers.append(value)
        else:
            secret = value
    if not registry:
        raise ValueError("the post-renderer needs registry=<site registry>")
    return registry, containers, secret


def post_render(text, argv):
    """The post-renderer's whole work: manifests in, manifests out."""
    registry, containers, secret = parse_args(argv)
    docs = [d for d in yaml.safe_load_all(text) if d is not None]
    relocate_docs(docs, registry, containers, secret)
    return yaml.safe_dump_all(docs, default_flow_style=False, sort_keys=False)


if __name__ == "__main__":
    try:
        sys.stdout.write(post_render(sys.stdin.read(), sys.argv[1:]))
    except ValueError as exc:
        sys.stderr.write("post-renderer: %s\n" % exc)
        raise SystemExit(2) from None
