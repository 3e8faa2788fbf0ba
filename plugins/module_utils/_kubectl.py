# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the kubectl client and its parsers.

Manifests always reach kubectl on stdin as JSON (``-f -``), never as files left on disk or
as argv, so Secret data stays off command lines.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ._cli import CliClient, CliError

FIELD_MANAGER = "magasin-platform"


class KubectlClient(CliClient):
    binary_name = "kubectl"
    binary_option = "kubectl_binary"

    def base_args(self):
        return [self.binary] + self.connection.kubectl_args()

    def client_version(self):
        """The version of the kubectl binary itself (``v1.37.1``); no cluster is asked."""
        data = self.run_json(["version", "--client", "--output", "json"]) or {}
        return (data.get("clientVersion") or {}).get("gitVersion")

    def readyz(self):
        """(ready, what the API server said) from its /readyz endpoint; a refused connection is not ready."""
        rc, out, err = self.run(["get", "--raw=/readyz"], check=False)
        said = (out or "").strip() if rc == 0 else self.error_message(err, out)
        return rc == 0 and said == "ok", said

    def get_objects(self, objects, namespace=None):
        """Live state of the given objects (missing ones are skipped)."""
        if not objects:
            return []
        args = ["get", "-f", "-", "--ignore-not-found", "--output", "json"]
        if namespace:
            args += ["--namespace", namespace]
        data = self.run_json(args, data=to_list_json(objects))
        return list_items(data)

    def diff(self, objects, namespace=None, field_manager=FIELD_MANAGER, force_conflicts=False):
        """Server-side dry-run diff: (changed, unified diff text). kubectl exits 1 on a difference."""
        args = ["diff", "-f", "-", "--server-side", "--field-manager", field_manager]
        if force_conflicts:
            args.append("--force-conflicts")
        if namespace:
            args += ["--namespace", namespace]
        rc, out, err = self.run(args, data=to_list_json(objects), ok_rcs=(0, 1))
        return rc == 1, out

    def apply(self, objects, namespace=None, field_manager=FIELD_MANAGER, force_conflicts=False, dry_run=False):
        args = ["apply", "-f", "-", "--server-side", "--field-manager", field_manager, "--output", "json"]
        if force_conflicts:
            args.append("--force-conflicts")
        if namespace:
            args += ["--namespace", namespace]
        if dry_run:
            args.append("--dry-run=server")
        return list_items(self.run_json(args, data=to_list_json(objects)))

    def delete(self, objects, namespace=None, wait=True, timeout=None):
        args = ["delete", "-f", "-", "--ignore-not-found", "--output", "name", "--wait=%s" % str(bool(wait)).lower()]
        if timeout:
            args.append("--timeout=%ss" % int(timeout))
        if namespace:
            args += ["--namespace", namespace]
        rc, out, err = self.run(args, data=to_list_json(objects))
        return [line.strip() for line in out.splitlines() if line.strip()]

    def wait(self, objects, condition, timeout, namespace=None):
        args = ["wait", "-f", "-", "--for", condition, "--timeout", "%ss" % int(timeout)]
        if namespace:
            args += ["--namespace", namespace]
        self.run(args, data=to_list_json(objects))


def to_list_json(objects):
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})


def list_items(data):
    if not data:
        return []
    if data.get("kind", "").endswith("List") and "items" in data:
        return list(data["items"])
    return [data]


def object_key(obj, default_namespace=None):
    """(group, kind, namespace, name) identifying an object; namespace None if not given."""
    api_version = obj.get("apiVersion", "")
    group = api_version.split("/")[0] if "/" in api_version else ""
    meta = obj.get("metadata") or {}
    return (group, obj.get("kind"), meta.get("namespace") or default_namespace, meta.get("name"))


def object_ref(obj):
    meta = obj.get("metadata") or {}
    ref = "%s/%s" % (obj.get("kind"), meta.get("name"))
    return "%s/%s" % (meta["namespace"], ref) if meta.get("namespace") else ref


def split_manifest(text, loader):
    """Split a multi-document YAML manifest into dicts using ``loader`` (yaml.safe_load_all)."""
    return [doc for doc in loader(text or "") if isinstance(doc, dict) and doc.get("kind")]


def _conditions(obj):
    return dict((c.get("type"), c.get("status")) for c in (obj.get("status") or {}).get("conditions") or [])


def readiness(obj):
    """(ready, reason) of a live object, by kind; kinds without a notion of readiness are ready."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        want = spec.get("replicas", 1)
        field = "availableReplicas" if kind == "Deployment" else "readyReplicas"
        have = status.get(field) or 0
        return have >= want, "%s/%s %s" % (have, want, field)
    if kind == "DaemonSet":
        want = status.get("desiredNumberScheduled") or 0
        have = status.get("numberReady") or 0
        return have >= want, "%s/%s ready" % (have, want)
    if kind == "Job":
        cond = _conditions(obj)
        if cond.get("Complete") == "True":
            return True, "complete"
        if cond.get("Failed") == "True":
            return False, "failed"
        return False, "running"
    if kind == "PersistentVolumeClaim":
        phase = status.get("phase")
        return phase == "Bound", phase or "unknown"
    if kind == "Pod":
        cond = _conditions(obj)
        return cond.get("Ready") == "True" or status.get("phase") == "Succeeded", status.get("phase") or "unknown"
    if kind == "CustomResourceDefinition":
        return _conditions(obj).get("Established") == "True", "established" if _conditions(obj).get(
            "Established") == "True" else "not established"
    if kind == "Service" and spec.get("type") == "LoadBalancer":
        ingress = (status.get("loadBalancer") or {}).get("ingress")
        return bool(ingress), "address assigned" if ingress else "waiting for an address"
    return True, "exists"


def parse_can_i(rc, out):
    """``kubectl auth can-i`` prints yes/no and exits 0/1."""
    return rc == 0 and out.strip().lower().startswith("yes")


def quantity_to_number(text):
    """Kubernetes quantities to numbers: CPU in cores, memory in bytes."""
    if text is None:
        return 0
    text = str(text).strip()
    match = re.match(r"^([0-9.]+)([a-zA-Z]*)$", text)
    if not match:
        raise CliError("cannot read the quantity %r" % text)
    number, suffix = float(match.group(1)), match.group(2)
    factors = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15,
               "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4, "Pi": 1024 ** 5}
    if suffix not in factors:
        raise CliError("unknown quantity suffix in %r" % text)
    return number * factors[suffix]


# --- what a cluster offers (cluster_info and realm_info) ---------------------------------

DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class",
                             "ingressclass.kubernetes.io/is-default-class")
CLASSES = "nodes,storageclasses.storage.k8s.io,ingressclasses.networking.k8s.io"


def is_default(obj):
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def parse_node(node):
    status = node.get("status") or {}
    conditions = dict((c.get("type"), c.get("status")) for c in status.get("conditions") or [])
    allocatable = status.get("allocatable") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    node_info = status.get("nodeInfo") or {}
    return {
        "name": node["metadata"]["name"],
        "ready": conditions.get("Ready") == "True",
        "schedulable": not (node.get("spec") or {}).get("unschedulable", False),
        "cpu": quantity_to_number(allocatable.get("cpu")),
        "memory": int(quantity_to_number(allocatable.get("memory"))),
        "architecture": labels.get("kubernetes.io/arch") or node_info.get("architecture"),
        "os": labels.get("kubernetes.io/os") or node_info.get("operatingSystem"),
        "labels": labels,
        "taints": (node.get("spec") or {}).get("taints") or [],
    }


def summarize(items):
    """Split a mixed kubectl List into nodes, storage classes and ingress classes. Pure."""
    nodes, storage, ingress = [], [], []
    for item in items:
        kind = item.get("kind")
        if kind == "Node":
            nodes.append(parse_node(item))
        elif kind == "StorageClass":
            storage.append({"name": item["metadata"]["name"], "provisioner": item.get("provisioner"),
                            "default": is_default(item)})
        elif kind == "IngressClass":
            ingress.append({"name": item["metadata"]["name"], "controller": (item.get("spec") or {}).get("controller"),
                            "default": is_default(item)})
    usable = [n for n in nodes if n["ready"] and n["schedulable"]]
    totals = {"nodes": len(usable), "cpu": sum(n["cpu"] for n in usable), "memory": sum(n["memory"] for n in usable)}
    defaults = [s["name"] for s in storage if s["default"]]
    return {"nodes": nodes, "totals": totals, "storage_classes": storage, "ingress_classes": ingress,
            "default_storage_class": defaults[0] if defaults else None}


def parse_server_version(data):
    server = (data or {}).get("serverVersion") or {}
    return {"git_version": server.get("gitVersion"),
            "major": int("".join(c for c in server.get("major", "0") if c.isdigit()) or 0),
            "minor": int("".join(c for c in server.get("minor", "0") if c.isdigit()) or 0)}


# --- what a realm has in the cluster (realm_info) ----------------------------------------

OPERATOR_ROLE = "minio-operator-role"
TENANT_CRD = "tenants.minio.min.io"


def helm_owner(obj):
    """{name, namespace} of the Helm release that owns an object, or None."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    name = annotations.get("meta.helm.sh/release-name")
    namespace = annotations.get("meta.helm.sh/release-namespace")
    return {"name": name, "namespace": namespace} if name and namespace else None


def parse_tenant(obj):
    """A MinIO Tenant's identity and pool layout (what MinIO cannot change afterwards)."""
    pools = []
    for pool in (obj.get("spec") or {}).get("pools") or []:
        claim = (pool.get("volumeClaimTemplate") or {}).get("spec") or {}
        pools.append({"servers": pool.get("servers"), "volumesPerServer": pool.get("volumesPerServer"),
                      "size": ((claim.get("resources") or {}).get("requests") or {}).get("storage"),
                      "storageClassName": claim.get("storageClassName")})
    meta = obj.get("metadata") or {}
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "pools": pools}


def parse_statefulset_claims(obj):
    """The volumeClaimTemplates of a StatefulSet (immutable once it exists): [{name, size, class}]."""
    claims = []
    for template in (obj.get("spec") or {}).get("volumeClaimTemplates") or []:
        spec = template.get("spec") or {}
        claims.append({"name": (template.get("metadata") or {}).get("name"),
                       "size": ((spec.get("resources") or {}).get("requests") or {}).get("storage"),
                       "class": spec.get("storageClassName")})
    return claims
