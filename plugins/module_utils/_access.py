# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the least-privilege account of a realm (playbooks/access.yml).

Pure functions: the ServiceAccount, its token Secret, the realm's namespaces, and the RBAC objects that give it
exactly what the collection's playbooks do with a realm, and the token kubeconfig. What each right is for:

- In each of the realm's namespaces, everything (a RoleBinding to a ClusterRole of ``*``): the charts create
  Roles there (Drill's ZooKeeper and drillbit Roles grant ``*``; JupyterHub's hub Role manages pods and Secrets),
  and Kubernetes lets an account create a Role only with rights it holds itself. Helm keeps its release records
  there as Secrets.
- Cluster-wide, read only: nodes, namespaces, StorageClasses, IngressClasses, CustomResourceDefinitions,
  StatefulSets and MinIO Tenants (realm_info: capacity, classes, the CRDs, the claims of StatefulSets, every
  realm's Tenant), and the ClusterRole ``minio-operator-role`` by name (whose Helm annotations say where the
  shared operator's release is). No Secret, Pod or ConfigMap is readable outside the realm.
- The realm's namespaces by name: patch, update, delete (labels, Pod Security). They are created here (all six,
  since realm_info reads every one of them), so the account needs no right to create namespaces.
- The realm lock: the Lease ``magasin-realm-<realm>`` in ``default`` (get, update, patch, delete by name; create,
  which Kubernetes cannot restrict to a name).
- The shared MinIO operator in another realm's namespace: read only there (Helm's release record is a Secret;
  the status reads its workloads).
- When the realm owns the operator (no other realm's serves the cluster): its CRDs and its ClusterRoles and
  ClusterRoleBindings by name, with ``escalate`` and ``bind`` on those names only (the operator's ClusterRole
  reads Secrets cluster-wide; whoever may install the operator may act as it). Likewise Dask Gateway's and the
  JupyterHub user scheduler's cluster objects when daskhub is selected.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ._realm import NAMESPACE_KEYS, OPERATOR_RELEASE, realm_names

OPERATOR_CRDS = ("tenants.minio.min.io", "policybindings.sts.min.io")
OPERATOR_ROLES = ("console-sa-role", "minio-operator-role")
OPERATOR_BINDINGS = ("console-sa-binding", "minio-operator-binding")
DASKHUB_CRDS = tuple("%s.%s" % (kind, group)
                     for group in ("traefik.io", "traefik.containo.us")
                     for kind in ("ingressroutes", "ingressroutetcps", "ingressrouteudps", "middlewares",
                                  "middlewaretcps", "serverstransports", "tlsoptions", "tlsstores",
                                  "traefikservices")) + ("daskclusters.gateway.dask.org",)
LOCK_NAMESPACE = "default"
RBAC = "rbac.authorization.k8s.io/v1"
READ = ["get", "list", "watch"]
# What the status and support bundle read in the shared operator's namespace (_status.KINDS), and Helm's records.
OPERATOR_READ = [
    {"apiGroups": [""], "resources": ["secrets", "pods", "pods/log", "services", "events", "persistentvolumeclaims",
                                      "configmaps"], "verbs": READ},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": READ},
    {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": READ},
    {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": READ},
]


def daskhub_cluster_names(release):
    """The ClusterRoles (and their ClusterRoleBindings, of the same names) daskhub 2024.1.0 makes for a release."""
    return ["controller-%s-dask-gateway" % release, "api-%s-dask-gateway" % release,
            "traefik-%s-dask-gateway" % release, "%s-user-scheduler" % release]


def access_names(realm, account=""):
    account = account or "magasin-%s" % realm
    return {"account": account, "token": "%s-token" % account, "realm_role": "%s-realm" % account,
            "cluster_role": "%s-cluster" % account, "lock_role": "%s-lock" % account,
            "operator_role": "%s-operator" % account, "lease": "magasin-realm-%s" % realm}


def realm_access_namespaces(realm):
    """Every namespace of the realm (realm_info reads all of them, whatever is selected), in the installer's order."""
    namespaces = realm_names(realm)[2]
    return [namespaces[k] for k in NAMESPACE_KEYS]


def cluster_rules(namespaces, owns_operator, daskhub_release="", labelled=()):
    """The ClusterRole's rules: cluster-wide reads, the realm's namespaces by name (and the shared operator's, only
    to label it for Pod Security, as the minio role does), and the cluster objects of the charts the realm installs
    (by name)."""
    rules = [
        {"apiGroups": [""], "resources": ["nodes", "namespaces"], "verbs": READ},
        {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": READ},
        {"apiGroups": ["networking.k8s.io"], "resources": ["ingressclasses"], "verbs": READ},
        {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"], "verbs": READ},
        {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": READ},
        {"apiGroups": ["minio.min.io"], "resources": ["tenants"], "verbs": READ},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["get"],
         "resourceNames": ["minio-operator-role"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch", "update", "delete"],
         "resourceNames": list(namespaces)},
    ]
    if labelled:
        rules.append({"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"], "resourceNames": list(labelled)})
    crds, roles, bindings = [], [], []
    if owns_operator:
        crds += OPERATOR_CRDS
        roles += OPERATOR_ROLES
        bindings += OPERATOR_BINDINGS
    if daskhub_release:
        crds += DASKHUB_CRDS
        roles += daskhub_cluster_names(daskhub_release)
        bindings += daskhub_cluster_names(daskhub_release)
    if crds:
        rules += [{"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                   "verbs": ["create"]},
                  {"apiGroups": ["apiextensions.k8s.io"], "resources": ["customresourcedefinitions"],
                   "verbs": ["patch", "update", "delete"], "resourceNames": sorted(crds)}]
    if roles:
        # list and watch: Helm 4 waits on every object it applied through watches (kstatus), which resourceNames
        # cannot narrow; RBAC definitions hold no credential.
        rules += [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles", "clusterrolebindings"],
                   "verbs": ["create", "list", "watch"]},
                  {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"],
                   "verbs": ["get", "patch", "update", "delete", "escalate", "bind"], "resourceNames": sorted(roles)},
                  {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterrolebindings"],
                   "verbs": ["get", "patch", "update", "delete"], "resourceNames": sorted(bindings)}]
    return rules


def access_objects(realm, components, operator_namespace="", account="", daskhub_release="", labels=None,
                   manage_operator=False):
    """Every object of the realm's account, in the order to apply them.

    operator_namespace: the namespace of the MinIO operator release that serves the cluster, "" when there is
    none. Then the realm that selects minio installs it (into the shared default namespace, magasin-operator) and
    gets the rights for it; otherwise the operator's namespace is read only, unless it is one of the realm's.
    manage_operator: the realm's converge may upgrade the shared operator (another realm's), which a realm does when
    the operator's chart or values it computes differ from the installed ones: the same rights as installing it."""
    names = access_names(realm, account)
    labels = dict(labels or {"app.kubernetes.io/part-of": "magasin", "magasin.unicef.org/realm": realm})
    owns_operator = "minio" in components and (not operator_namespace or manage_operator)
    operator_ns = operator_namespace or OPERATOR_RELEASE["namespace"]
    realm_ns = realm_access_namespaces(realm)
    full = realm_ns + ([operator_ns] if owns_operator and operator_ns not in realm_ns else [])
    read_only = [] if operator_ns in full else [operator_ns]
    # A namespace that does not exist cannot hold a RoleBinding: a missing operator namespace is made too; an
    # existing one (another realm's) is never re-applied with this realm's labels.
    created = realm_ns + ([operator_ns] if operator_ns not in realm_ns and not operator_namespace else [])
    subject = [{"kind": "ServiceAccount", "name": names["account"], "namespace": LOCK_NAMESPACE}]

    def meta(name, namespace=None):
        out = {"name": name, "labels": dict(labels)}
        if namespace:
            out["namespace"] = namespace
        return out

    def binding(kind, name, namespace, role_kind, role):
        return {"apiVersion": RBAC, "kind": kind, "metadata": meta(name, namespace), "subjects": subject,
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role}}

    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": meta(ns)} for ns in created]
    objects += [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(names["account"], LOCK_NAMESPACE)},
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
         "metadata": dict(meta(names["token"], LOCK_NAMESPACE),
                          annotations={"kubernetes.io/service-account.name": names["account"]})},
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": meta(names["realm_role"]),
         "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]},
        {"apiVersion": RBAC, "kind": "ClusterRole", "metadata": meta(names["cluster_role"]),
         "rules": cluster_rules(created, owns_operator, daskhub_release if "daskhub" in components else "",
                                [ns for ns in full + read_only if ns not in created])},
        binding("ClusterRoleBinding", names["cluster_role"], None, "ClusterRole", names["cluster_role"]),
        {"apiVersion": RBAC, "kind": "Role", "metadata": meta(names["lock_role"], LOCK_NAMESPACE),
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
                   {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                    "verbs": ["get", "update", "patch", "delete"], "resourceNames": [names["lease"]]}]},
        binding("RoleBinding", names["lock_role"], LOCK_NAMESPACE, "Role", names["lock_role"]),
    ]
    objects += [binding("RoleBinding", names["account"], ns, "ClusterRole", names["realm_role"]) for ns in full]
    for ns in read_only:
        objects += [{"apiVersion": RBAC, "kind": "Role", "metadata": meta(names["operator_role"], ns),
                     "rules": OPERATOR_READ},
                    binding("RoleBinding", names["operator_role"], ns, "Role", names["operator_role"])]
    return objects


def token_kubeconfig(server, ca_data, token, name):
    """A kubeconfig for a ServiceAccount token; ca_data is the CA certificate's bytes (PEM)."""
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": name, "cluster": {"server": server,
                                                "certificate-authority-data": base64.b64encode(ca_data).decode()}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
