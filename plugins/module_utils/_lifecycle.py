# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: what an uninstall keeps and what a purge removes. Pure.

``magasin_state: absent`` uninstalls the releases and keeps every volume claim, every Secret
the collection made and the namespaces that hold them, so a reinstall finds its data and its
credentials. ``magasin_purge`` names, per component, what may go as well:

- ``volumes``: every PersistentVolumeClaim in the component's namespace (the data);
- ``credentials``: the Secrets the collection made there (labelled with the realm);
- ``namespace``: the namespace itself, and with it everything left in it.

A component's namespace is its own (MinIO's is the tenant namespace; the shared operator's is
never purged). Removal goes consumers first and MinIO last, as the releases do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

PURGE_KINDS = ("volumes", "credentials", "namespace")
# Consumers first, the S3 store they read last: the reverse of the install order.
REMOVAL_ORDER = ("superset", "daskhub", "dagster", "drill", "minio")
NAMESPACE_KEYS = {"minio": "tenant", "drill": "drill", "dagster": "dagster", "daskhub": "daskhub",
                  "superset": "superset"}


def credential_selector(labels):
    """The label selector of the Secrets the collection made in a realm (its model's ``labels``)."""
    return ",".join("%s=%s" % (k, v) for k, v in sorted((labels or {}).items()))


def purge_targets(namespaces, purge):
    """[{component, namespace, kinds}] of ``magasin_purge`` over the realm's namespaces (the model's
    ``namespaces``: tenant, drill, ...), in removal order.

    ``purge`` is already validated (known components and kinds). Kinds keep PURGE_KINDS' order;
    a component with no kind is left out.
    """
    purge = purge or {}
    targets = []
    for component in REMOVAL_ORDER:
        kinds = [k for k in PURGE_KINDS if k in (purge.get(component) or [])]
        if kinds:
            targets.append({"component": component, "namespace": namespaces[NAMESPACE_KEYS[component]], "kinds": kinds})
    return targets


def purge_actions(targets, observed):
    """The objects to delete, in order, from the targets and what the cluster holds.

    ``observed``: {"namespaces": [names], "claims": [{namespace, name, uid}], "secrets": [{namespace, name}]}
    (the Secrets already narrowed to the collection's labels). Returns [{component, kind, namespace, name}]
    (``namespace`` None for a Namespace): per target its claims, then its Secrets, then its namespace; a
    namespace that goes takes its claims and Secrets with it, so they are listed and deleted by it. Nothing is
    listed that the cluster does not hold, so a second purge has nothing to do.
    """
    existing = set(observed.get("namespaces") or [])
    actions = []
    for target in targets:
        namespace, kinds, component = target["namespace"], target["kinds"], target["component"]
        if namespace not in existing:
            continue
        if "volumes" in kinds or "namespace" in kinds:
            actions += [{"component": component, "kind": "PersistentVolumeClaim", "namespace": namespace,
                         "name": c["name"]} for c in sorted(observed.get("claims") or [], key=lambda c: c["name"])
                        if c.get("namespace") == namespace]
        if "credentials" in kinds or "namespace" in kinds:
            actions += [{"component": component, "kind": "Secret", "namespace": namespace, "name": s["name"]}
                        for s in sorted(observed.get("secrets") or [], key=lambda s: s["name"])
                        if s.get("namespace") == namespace]
        if "namespace" in kinds:
            actions.append({"component": component, "kind": "Namespace", "namespace": None, "name": namespace})
    return actions


def deletions(actions):
    """The objects kubectl deletes for the actions: a namespace's own contents go with it."""
    doomed = set(a["name"] for a in actions if a["kind"] == "Namespace")
    out = []
    for action in actions:
        if action["kind"] != "Namespace" and action["namespace"] in doomed:
            continue
        meta = {"name": action["name"]}
        if action["namespace"]:
            meta["namespace"] = action["namespace"]
        out.append({"apiVersion": "v1", "kind": action["kind"], "metadata": meta})
    return out


def action_ref(action):
    """``namespace/Kind/name`` (``Namespace/name``): how a result and a diff name an object."""
    ref = "%s/%s" % (action["kind"], action["name"])
    return "%s/%s" % (action["namespace"], ref) if action["namespace"] else ref


def purge_diff(targets, observed, actions):
    """before/after of the targeted namespaces: the namespaces, claims and collection Secrets, by reference."""
    wanted = set(t["namespace"] for t in targets)
    before = sorted(
        ["Namespace/%s" % n for n in observed.get("namespaces") or [] if n in wanted]
        + ["%s/PersistentVolumeClaim/%s" % (c["namespace"], c["name"]) for c in observed.get("claims") or []
           if c.get("namespace") in wanted]
        + ["%s/Secret/%s" % (s["namespace"], s["name"]) for s in observed.get("secrets") or []
           if s.get("namespace") in wanted])
    gone = set(action_ref(a) for a in actions)
    return {"before": "\n".join(before) + ("\n" if before else ""),
            "after": "".join(ref + "\n" for ref in before if ref not in gone)}


def parse_columns(text, fields):
    """Rows of ``kubectl get -o custom-columns=... --no-headers`` as dicts of ``fields`` (``<none>`` -> None)."""
    rows = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) != len(fields) or line.startswith("No resources found"):
            continue
        rows.append(dict((field, None if parts[i] == "<none>" else parts[i]) for i, field in enumerate(fields)))
    return rows
