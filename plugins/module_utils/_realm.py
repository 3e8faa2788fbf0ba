# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the realm model, computed once per play.

The model is a plain dict (contract in docs/dev/realm-model.md): the realm's names and
namespaces, where every chart comes from, the S3 source and endpoints, the storage and
ingress classes, the sizing with the inventory's overrides, and what already exists in the
cluster that a release must keep (claims of StatefulSets, the tenant's pool, the operator
serving the cluster). It is a pure function of the inventory's settings and of what the
``realm_info`` module observed, so it is unit-tested without a cluster.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from . import _values

COMPONENTS = ("minio", "drill", "dagster", "daskhub", "superset")
PROFILES = ("lab", "small", "production")
NAMESPACE_KEYS = ("operator", "tenant", "drill", "dagster", "daskhub", "superset")

# The chart versions of this collection release (pinned once, in _values); a role's
# `<component>_chart_version` left empty means this version.
PINNED = _values.CHART_VERSIONS
# Charts of each component (release keys), in install order.
COMPONENT_CHARTS = {
    "minio": ("operator", "tenant"),
    "drill": ("drill",),
    "dagster": ("dagster",),
    "daskhub": ("daskhub",),
    "superset": ("superset",),
}
# The inventory variable prefix of each chart's settings.
CHART_VARS = {
    "operator": "minio_operator_chart",
    "tenant": "minio_tenant_chart",
    "drill": "drill_chart",
    "dagster": "dagster_chart",
    "daskhub": "daskhub_chart",
    "superset": "superset_chart",
}
DEFAULT_REPO = "https://unicef.github.io/magasin"
# CRDs a chart installs from its crds/ folder, cluster-wide. When they exist already (another realm, an earlier
# version), the release skips them: Helm 3 does so by itself, Helm 4 applies them server-side and collides with
# the existing ones (a conflict on .spec.versions when their versions differ).
CHART_CRDS = {"daskhub": ("daskclusters.gateway.dask.org", "ingressroutes.traefik.containo.us")}
OPERATOR_RELEASE = {"name": "operator", "namespace": "magasin-operator"}
S3_SECRET = "magasin-s3"


def realm_names(realm):
    """prefix, suffix and namespaces, as the magasin installer forms them:
    the realm is split at its last dash, namespaces are <prefix>-<component>[-<suffix>]."""
    if "-" in realm:
        prefix, suffix = realm.rsplit("-", 1)
    else:
        prefix, suffix = realm, ""
    tail = ("-" + suffix) if suffix else ""
    return prefix, suffix, dict((key, "%s-%s%s" % (prefix, key, tail)) for key in NAMESPACE_KEYS)


def chart_sources(settings):
    """Where each chart comes from: {key: {chart, version, repo_url, var}}.

    A chart's own reference (`<var>_ref`) wins, then magasin_charts_dir (archives named
    <chart>-<version>.tgz), then the chart repository (`<var>_repo`, else magasin_chart_repo);
    an ``oci://`` repository holds ``<repo>/<chart>`` at the version as tag.
    """
    charts_dir = (settings.get("magasin_charts_dir") or "").rstrip("/")
    default_repo = settings.get("magasin_chart_repo") or DEFAULT_REPO
    out = {}
    for key, var in CHART_VARS.items():
        version = str(settings.get(var + "_version") or PINNED[key])
        ref = settings.get(var + "_ref") or ""
        repo = settings.get(var + "_repo") or default_repo
        if ref:
            chart, repo_url = ref, ""
        elif charts_dir:
            chart, repo_url = "%s/%s-%s.tgz" % (charts_dir, key, version), ""
        elif repo.startswith("oci://"):
            # An OCI registry holds each chart as its own repository (helm push): no index to ask.
            chart, repo_url = "%s/%s" % (repo.rstrip("/"), key), ""
        else:
            chart, repo_url = key, repo
        out[key] = {"key": key, "chart": chart, "version": version, "repo_url": repo_url, "var": var,
                    "pinned": PINNED[key]}
    return out


def selected_charts(settings):
    """The chart sources of the selected components only, in install order."""
    sources = chart_sources(settings)
    keys = [key for component in COMPONENTS if component in (settings.get("magasin_components") or [])
            for key in COMPONENT_CHARTS[component]]
    return [sources[key] for key in keys]


def _existing_claims(observed):
    claims = {}
    for ref, sts in (observed.get("statefulsets") or {}).items():
        first = (sts.get("claims") or [None])[0]
        if first and first.get("size"):
            claims[ref] = {"size": first["size"], "class": first.get("class") or ""}
    return claims


def tenant_pool(model, tenant_name):
    """The first pool of the realm's existing Tenant (MinIO cannot reshape a pool), or None."""
    for tenant in model["existing"]["tenants"]:
        if tenant.get("namespace") == model["namespaces"]["tenant"] and tenant.get("name") == tenant_name:
            pools = tenant.get("pools") or []
            return copy.deepcopy(pools[0]) if pools else None
    return None


def daskhub_release(model, wanted=""):
    """The daskhub release name. The chart's ClusterRoles are named after the release, so
    outside the default realm it carries the realm, unless an installer-made `daskhub`
    release is there already."""
    if wanted:
        return wanted
    if model["default_realm"] or ("%s/daskhub" % model["namespaces"]["daskhub"]) in model["existing"]["releases"]:
        return "daskhub"
    return "daskhub-" + model["realm"]


def for_component(model, component, inputs):
    """The model with what only this component's inputs decide filled in (the existing
    tenant pool, the operator release, the daskhub release name)."""
    model = copy.deepcopy(model)
    if component == "minio":
        model["existing"]["tenant_pool"] = tenant_pool(model, inputs.get("tenant_name") or "myminio")
        if not model["existing"]["operator"]:
            model["operator"] = {"name": inputs.get("operator_release") or OPERATOR_RELEASE["name"],
                                 "namespace": inputs.get("operator_namespace") or OPERATOR_RELEASE["namespace"]}
            model["namespaces"]["operator"] = model["operator"]["namespace"]
    if component == "daskhub":
        model["existing"]["daskhub_release"] = daskhub_release(model, inputs.get("release") or "")
    return model


# The UIs an ingress can serve: the inventory's host variable of each.
UI_HOSTS = {"minio_api": "minio_api_host", "minio_console": "minio_console_host", "dagster": "dagster_webserver_host",
            "daskhub": "daskhub_host", "superset": "superset_host"}


def network_settings(settings):
    """Whether the realm gets NetworkPolicies (magasin_network_policies), the ingress controller's
    namespace ('' for any) and the UIs an ingress serves."""
    hosts = settings.get("hosts") or {}
    enabled = settings.get("magasin_network_policies", True)
    return {"enabled": enabled if isinstance(enabled, bool) else str(enabled).lower() in ("true", "yes", "1", "on"),
            "ingress_namespace": settings.get("magasin_ingress_namespace") or "",
            "ui": [ui for ui, var in UI_HOSTS.items() if hosts.get(var)]}


def realm_model(settings, observed, sizing=None):
    """The realm model from the inventory's settings and what realm_info observed.

    ``settings``: the magasin_* variables and the charts' `<var>_version|_repo|_ref` (set in
    an inventory, else empty: the pinned version from magasin_charts_dir or the repository).
    ``observed``: realm_info's result. ``sizing``: the merged sizing (``_values.sizing``).
    """
    realm = settings.get("magasin_realm") or "magasin"
    components = [c for c in COMPONENTS if c in (settings.get("magasin_components") or [])]
    prefix, suffix, namespaces = realm_names(realm)
    default_realm = realm == "magasin"
    operator = observed.get("operator") or OPERATOR_RELEASE
    namespaces["operator"] = operator["namespace"]
    storage_class = settings.get("magasin_storage_class") or observed.get("default_storage_class") or ""
    if "minio" in components:
        s3 = {"source": "minio", "endpoint": "http://minio.%s.svc.cluster.local" % namespaces["tenant"]}
    elif settings.get("magasin_s3_endpoint"):
        s3 = {"source": "external", "endpoint": settings["magasin_s3_endpoint"].rstrip("/")}
    else:
        s3 = {"source": "none", "endpoint": ""}
    s3.update({"bucket": settings.get("magasin_bucket") or "magasin", "secret": S3_SECRET,
               "ssl": s3["endpoint"].startswith("https://")})
    return {
        "realm": realm,
        "prefix": prefix,
        "suffix": suffix,
        "default_realm": default_realm,
        "profile": settings.get("magasin_profile") or "lab",
        "state": settings.get("magasin_state") or "present",
        "components": components,
        "namespaces": namespaces,
        "operator": {"name": operator["name"], "namespace": operator["namespace"]},
        "storage_class": storage_class,
        "ingress_class": settings.get("magasin_ingress_class") or "",
        "image_registry": (settings.get("magasin_image_registry") or "").rstrip("/"),
        "bucket": s3["bucket"],
        "s3": s3,
        "drill_url": ("http://drill-service.%s.svc.cluster.local:8047" % namespaces["drill"])
        if "drill" in components else "",
        "charts": chart_sources(settings),
        "sizing": copy.deepcopy(sizing or {}),
        "labels": {"app.kubernetes.io/part-of": "magasin", "magasin.unicef.org/realm": realm},
        "network": network_settings(settings),
        "existing": {
            "claims": _existing_claims(observed),
            "operator": copy.deepcopy(observed.get("operator")),
            "crds": list(observed.get("crds") or []),
            "tenants": copy.deepcopy(observed.get("tenants") or []),
            "tenant_pool": None,
            "daskhub_release": "daskhub" if default_realm else "daskhub-" + realm,
            "releases": copy.deepcopy(observed.get("releases") or {}),
        },
    }


def release_plan(model, component, values):
    """The releases of one component: [{key, name, namespace, chart, version, repo_url, values}]."""
    namespaces = model["namespaces"]
    names = {
        "operator": (model["operator"]["name"], model["operator"]["namespace"]),
        "tenant": ("tenant", namespaces["tenant"]),
        "drill": ("drill", namespaces["drill"]),
        "dagster": ("dagster", namespaces["dagster"]),
        "daskhub": (model["existing"]["daskhub_release"], namespaces["daskhub"]),
        "superset": ("superset", namespaces["superset"]),
    }
    plan = []
    for key in COMPONENT_CHARTS[component]:
        name, namespace = names[key]
        chart = model["charts"][key]
        plan.append({"key": key, "component": component, "name": name, "namespace": namespace,
                     "chart": chart["chart"], "version": chart["version"], "repo_url": chart["repo_url"],
                     "skip_crds": key in CHART_CRDS and all(c in model["existing"].get("crds", []) for c in CHART_CRDS[key]),
                     "values": values.get(key, {})})
    return plan


# Nodes a profile needs at least (production spreads replicas over nodes, and Drill's
# chart hard-codes one drillbit per node).
MIN_NODES = {"lab": 1, "small": 1, "production": 3}


def capacity_problem(plans, observed, profile):
    """'' when the selected components' requests fit the cluster's ready nodes, else why.

    ``plans``: {component: {"workloads": [{name, replicas, cpu, memory}]}} as computed from
    the final values (the user's overrides included); ``observed``: realm_info's result.
    """
    cpu = memory = largest = 0.0
    for plan in plans.values():
        for w in plan.get("workloads") or []:
            replicas = int(w.get("replicas") or 0)
            cpu += replicas * float(w.get("cpu") or 0)
            memory += replicas * float(w.get("memory") or 0)
            if replicas > 0:
                largest = max(largest, float(w.get("cpu") or 0))
    nodes = [n for n in (observed.get("cluster") or {}).get("nodes") or [] if n.get("ready")]
    have_cpu = sum(float(n.get("cpu") or 0) for n in nodes)
    have_memory = sum(float(n.get("memory") or 0) for n in nodes)
    largest_node = max([float(n.get("cpu") or 0) for n in nodes] or [0.0])
    need_nodes = MIN_NODES.get(profile, 1)
    if cpu <= have_cpu and memory <= have_memory and len(nodes) >= need_nodes and largest <= largest_node:
        return ""
    return ("magasin_profile %s with the selected components requests %.2f CPU and %.1f GiB (largest pod %.2f CPU) "
            "on at least %d node(s); the cluster has %d ready node(s) with %.2f CPU and %.1f GiB allocatable "
            "(largest node %.2f CPU). Choose a smaller profile or fewer components, e.g. magasin_profile: lab, "
            "or lower the requests in magasin_sizing (or set magasin_check_cluster_fit: false to skip this check)"
            % (profile, cpu, memory / 2 ** 30, largest, need_nodes, len(nodes), have_cpu, have_memory / 2 ** 30,
               largest_node))


def chart_problems(charts, found):
    """Each selected chart that realm_info could not find at the asked version, as a
    problem naming the inventory variable: [{variable, message, example}]."""
    problems = []
    for chart in charts:
        result = found.get(chart["key"]) or {}
        if result.get("found") and str(result.get("version")) == chart["version"] and result.get("name") == chart["key"]:
            continue
        where = ("the repository %s (%s_repo or magasin_chart_repo)" % (chart["repo_url"], chart["var"])
                 if chart["repo_url"] else chart["chart"])
        detail = result.get("error") or ("it holds %s %s" % (result.get("name"), result.get("version")))
        hint = (" (or put %s-%s.tgz into magasin_charts_dir)" % (chart["key"], chart["version"])
                if chart["chart"].endswith(".tgz") else "")
        problems.append({"variable": chart["var"] + "_version",
                         "message": "chart %s %s was not found in %s: %s%s. Use a version that exists there"
                                    % (chart["key"], chart["version"], where, detail.strip().splitlines()[-1]
                                       if detail.strip() else "?", hint),
                         "example": chart["pinned"]})
    return problems


def minio_user(consumer):
    """The MinIO user of one consumer component: its name, policy (read or readwrite) and Secret."""
    user = _values.S3_CONSUMERS[consumer]
    return {"consumer": consumer, "user": user["user"], "policy": user["policy"],
            "secret": _values.minio_user_secret(consumer)}


def minio_user_data(consumer, keys_results=None, own_result=None):
    """The Secret data (base64 keys) of one consumer's MinIO user: from the results of the minio role's loop
    over the realm's MinIO users (``keys_results``, its registered ``results``) when that loop made this
    user's Secret in this run, else from the consumer's own credentials result; {} when neither holds it. So
    a run that converges MinIO reads each consumer's keys once, not twice."""
    secret = minio_user(consumer)["secret"]
    for result in keys_results or []:
        if isinstance(result, dict) and (result.get("item") or {}).get("secret") == secret and result.get("data"):
            return dict(result["data"])
    return dict((own_result or {}).get("data") or {})


def summary_table(summary, model):
    """The table printed at the end of a run, from what the releases returned, and the
    warnings the roles recorded. A row names its component in ``component``, or, as
    helm_releases returns its releases, in ``key``."""
    fmt = "%-10s %-18s %-28s %-18s %-10s %s"
    lines = [fmt % ("COMPONENT", "RELEASE", "NAMESPACE", "CHART", "STATUS", "ACTION")]
    warnings = []
    for row in summary:
        if "warning" in row:
            warnings.append("WARNING: " + row["warning"])
            continue
        lines.append(fmt % (row.get("component") or row["key"], row["name"], row["namespace"], row.get("chart") or "-",
                            row.get("status") or "-", row.get("action") or "none"))
    return lines + warnings


def superset_admin_warning(model, admin_user):
    namespace = model["namespaces"]["superset"]
    return ("Superset in %s was adopted from a deployment whose database already had an admin account, "
            "so the init job did not set the generated password: the login is probably still the chart's "
            "admin/admin. Change it now to the generated one (read it with: kubectl -n %s get secret "
            "magasin-superset-credentials -o jsonpath='{.data.admin-password}' | base64 -d) by typing it at the "
            "prompt of: kubectl -n %s exec -it deploy/superset -- superset fab reset-password --username %s"
            % (namespace, namespace, namespace, admin_user))
