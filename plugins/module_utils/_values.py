# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: chart values as pure functions of the realm model.

Everything here is data or a pure function (no cluster, no Ansible): the sizing of every
workload per component and profile, Kubernetes quantity parsing, the names of the Secrets the
roles create, one function per component turning the realm model (see the lead's ``_realm``)
and the role's own inputs into chart values, and ``workloads()``, which reads the requests
back from the final values (the user's ``<role>_values`` merged in) for the capacity check.

Every key set here was read in the real chart templates of the pinned versions (operator and
tenant 5.0.11, drill 0.9.0, dagster 1.9.3, daskhub 2024.1.0, superset 0.13.4) and of the
previous release (drill 0.7.2, dagster 1.7.16, daskhub 2023.1.0, superset 0.12.6); the unit
tests render both with ``helm template``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import math
import re

try:
    from urllib.parse import urlparse
except ImportError:  # pragma: no cover - Python 2 managed nodes never import this file's callers
    from urlparse import urlparse  # type: ignore[no-redef]

from ._images import relocate  # noqa: F401 (the roles' and tests' name for it)

COMPONENTS = ("minio", "drill", "dagster", "daskhub", "superset")
PROFILES = ("lab", "small", "production")

# The chart versions the collection deploys (one place), and the previous release the
# upgrade test starts from.
CHART_VERSIONS = {"operator": "5.0.11", "tenant": "5.0.11", "drill": "0.9.0", "dagster": "1.9.3",
                  "daskhub": "2024.1.0", "superset": "0.13.4"}
PREVIOUS_CHART_VERSIONS = {"drill": "0.7.2", "dagster": "1.7.16", "daskhub": "2023.1.0", "superset": "0.12.6"}

SPREAD_WEIGHT = 100


# --- sizing -------------------------------------------------------------------------------

def _w(replicas, cpu_request, memory_request, cpu_limit=None, memory_limit=None, **extra):
    out = {"replicas": replicas, "requests": {"cpu": cpu_request, "memory": memory_request}}
    if cpu_limit is not None:
        out["limits"] = {"cpu": cpu_limit, "memory": memory_limit}
    out.update(extra)
    return out


# Component x profile x workload. The MinIO operator is shared by every realm of a cluster,
# so its sizing is not here but in OPERATOR_SIZING (independent of any realm's profile).
# Drill's chart sets no container resources: its requests are the budget the capacity check
# counts, and max_memory becomes DRILL_MAX_MEMORY.
DEFAULT_SIZING = {
    "minio": {
        "lab": {"pool": _w(1, "250m", "512Mi", "1", "1Gi", volumes_per_server=1, size="10Gi")},
        "small": {"pool": _w(1, "1", "2Gi", "2", "4Gi", volumes_per_server=4, size="50Gi")},
        "production": {"pool": _w(4, "2", "8Gi", "4", "16Gi", volumes_per_server=4, size="100Gi")},
    },
    "drill": {
        "lab": {"drillbit": _w(1, "500m", "2Gi", max_memory="2Gi"), "zookeeper": _w(1, "100m", "256Mi")},
        "small": {"drillbit": _w(1, "1", "4Gi", max_memory="4Gi"), "zookeeper": _w(1, "250m", "512Mi")},
        "production": {"drillbit": _w(3, "4", "16Gi", max_memory="12Gi"), "zookeeper": _w(1, "500m", "1Gi")},
    },
    "dagster": {
        "lab": {"webserver": _w(1, "100m", "256Mi", "500m", "512Mi"), "daemon": _w(1, "100m", "256Mi", "500m", "512Mi"),
                "user_code": _w(1, "100m", "256Mi", "500m", "512Mi"), "run": _w(0, "100m", "256Mi", "1", "1Gi"),
                "postgresql": _w(1, "100m", "256Mi", "500m", "512Mi", size="2Gi")},
        "small": {"webserver": _w(1, "250m", "512Mi", "1", "1Gi"), "daemon": _w(1, "250m", "512Mi", "1", "1Gi"),
                  "user_code": _w(1, "250m", "512Mi", "1", "1Gi"), "run": _w(0, "250m", "512Mi", "2", "2Gi"),
                  "postgresql": _w(1, "250m", "512Mi", "1", "1Gi", size="8Gi")},
        # user_code replicas: the chart hard-codes one replica per user deployment.
        "production": {"webserver": _w(2, "500m", "1Gi", "2", "2Gi"), "daemon": _w(1, "500m", "1Gi", "2", "2Gi"),
                       "user_code": _w(1, "500m", "1Gi", "2", "2Gi"), "run": _w(0, "500m", "1Gi", "4", "4Gi"),
                       "postgresql": _w(1, "1", "2Gi", "2", "4Gi", size="50Gi")},
    },
    "daskhub": {
        "lab": {"hub": _w(1, "100m", "256Mi", "500m", "512Mi"), "proxy": _w(1, "100m", "256Mi", "500m", "512Mi"),
                "gateway": _w(1, "100m", "256Mi", "500m", "512Mi"), "controller": _w(1, "100m", "256Mi", "500m", "512Mi"),
                "traefik": _w(1, "100m", "256Mi", "500m", "512Mi"), "user_scheduler": _w(0, "50m", "128Mi", "250m", "256Mi"),
                "notebook": _w(0, 0.25, "1G", "1", "2G", storage="2Gi"), "dask_worker": _w(0, "1", "2G", "1", "2G"),
                "hub_db": {"replicas": 0, "size": "1Gi"}},
        "small": {"hub": _w(1, "250m", "512Mi", "1", "1Gi"), "proxy": _w(1, "100m", "256Mi", "500m", "512Mi"),
                  "gateway": _w(1, "100m", "256Mi", "500m", "512Mi"), "controller": _w(1, "100m", "256Mi", "500m", "512Mi"),
                  "traefik": _w(1, "100m", "256Mi", "500m", "512Mi"), "user_scheduler": _w(0, "50m", "128Mi", "250m", "256Mi"),
                  "notebook": _w(0, 0.5, "2G", "2", "4G", storage="10Gi"), "dask_worker": _w(0, "1", "4G", "2", "4G"),
                  "hub_db": {"replicas": 0, "size": "1Gi"}},
        "production": {"hub": _w(1, "500m", "1Gi", "2", "2Gi"), "proxy": _w(1, "250m", "512Mi", "1", "1Gi"),
                       "gateway": _w(2, "250m", "512Mi", "1", "1Gi"), "controller": _w(1, "250m", "512Mi", "1", "1Gi"),
                       "traefik": _w(2, "250m", "512Mi", "1", "1Gi"), "user_scheduler": _w(2, "100m", "256Mi", "500m", "512Mi"),
                       "notebook": _w(0, "1", "4G", "4", "8G", storage="20Gi"), "dask_worker": _w(0, "2", "8G", "2", "8G"),
                       "hub_db": {"replicas": 0, "size": "5Gi"}},
    },
    "superset": {
        "lab": {"node": _w(1, "250m", "512Mi", "1", "1Gi"), "worker": _w(1, "250m", "512Mi", "1", "1Gi"),
                "init": _w(0, "100m", "256Mi", "1", "1Gi"), "postgresql": _w(1, "100m", "256Mi", "500m", "512Mi", size="2Gi"),
                "redis": _w(1, "50m", "64Mi", "250m", "256Mi")},
        "small": {"node": _w(1, "500m", "1Gi", "2", "2Gi"), "worker": _w(1, "500m", "1Gi", "2", "2Gi"),
                  "init": _w(0, "100m", "256Mi", "1", "1Gi"), "postgresql": _w(1, "250m", "512Mi", "1", "1Gi", size="8Gi"),
                  "redis": _w(1, "100m", "128Mi", "500m", "512Mi")},
        "production": {"node": _w(2, "1", "2Gi", "2", "4Gi"), "worker": _w(2, "1", "2Gi", "2", "4Gi"),
                       "init": _w(0, "250m", "512Mi", "1", "1Gi"), "postgresql": _w(1, "1", "2Gi", "2", "4Gi", size="50Gi"),
                       "redis": _w(1, "500m", "512Mi", "1", "1Gi")},
    },
}

# The shared MinIO operator (and its console): cluster-level, the same whichever realm runs,
# so realms of different profiles converge. One replica: the chart's required pod
# anti-affinity would leave a second one pending on a one-node cluster. Overridable by the
# minio role's input ``operator_sizing`` (inventory ``minio_operator_sizing``).
OPERATOR_SIZING = {
    "operator": _w(1, "100m", "128Mi", "500m", "256Mi"),
    "console": _w(1, "50m", "64Mi", "250m", "256Mi"),
}


def merge(base, override):
    """Recursive dict merge (helm's semantics for maps: override wins, lists replaced); new objects."""
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def sizing(profile, overrides=None):
    """Sizing of every component for ``profile``, with the inventory's ``magasin_sizing`` merged in.

    ``overrides`` is ``{component: {workload: {...}}}``; an unknown profile, component or
    workload raises ValueError naming the inventory path.
    """
    if profile not in PROFILES:
        raise ValueError("magasin_profile: unknown profile %r, expected one of %s" % (profile, ", ".join(PROFILES)))
    out = {component: copy.deepcopy(DEFAULT_SIZING[component][profile]) for component in COMPONENTS}
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise ValueError("magasin_sizing: expected a dict {component: {workload: {...}}}, got %s" % type(overrides).__name__)
    for component, workloads_ in overrides.items():
        if component not in out:
            raise ValueError("magasin_sizing.%s: unknown component, expected one of %s" % (component, ", ".join(COMPONENTS)))
        if not isinstance(workloads_, dict):
            raise ValueError("magasin_sizing.%s: expected a dict {workload: {...}}" % component)
        for workload, value in workloads_.items():
            if workload not in out[component]:
                raise ValueError("magasin_sizing.%s.%s: unknown workload, expected one of %s"
                                 % (component, workload, ", ".join(sorted(out[component]))))
            if not isinstance(value, dict):
                raise ValueError("magasin_sizing.%s.%s: expected a dict such as {replicas: 1, requests: {cpu: 500m, memory: 1Gi}}"
                                 % (component, workload))
            out[component][workload] = merge(out[component][workload], value)
    return out


# --- quantities ---------------------------------------------------------------------------

_SUFFIXES = {
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
}
_QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?(Ki|Mi|Gi|Ti|Pi|Ei|[numkKMGTPE])?\s*$")


def quantity(q):
    """A Kubernetes quantity (``500m``, ``1.5``, ``2Gi``, ``1e3``, ``129M``) as a float; ValueError on nonsense."""
    if isinstance(q, bool) or q is None:
        raise ValueError("not a quantity: %r" % (q,))
    if isinstance(q, (int, float)):
        if q < 0 or not math.isfinite(q):
            raise ValueError("not a quantity: %r" % (q,))
        return float(q)
    if not isinstance(q, str):
        raise ValueError("not a quantity: %r" % (q,))
    match = _QUANTITY.match(q)
    if not match:
        raise ValueError("not a quantity: %r (examples: 500m, 2, 512Mi, 1Gi, 1G)" % (q,))
    number, exponent, suffix = match.groups()
    if exponent is not None and suffix:
        raise ValueError("not a quantity: %r (an exponent and a suffix together)" % (q,))
    value = float(number) * (10 ** int(exponent) if exponent else 1)
    return value * _SUFFIXES[suffix or ""]


def cpu(q):
    """CPU quantity in cores (float): ``cpu('250m') == 0.25``."""
    return quantity(q)


def memory(q):
    """Memory quantity in bytes (int, rounded up as Kubernetes does): ``memory('1Ki') == 1024``."""
    return int(math.ceil(quantity(q) - 1e-9))


# --- secrets ------------------------------------------------------------------------------

# Names of the Secrets the roles create; the values below refer to them by name only.
SECRETS = {
    "minio_root": "magasin-minio-root",                     # root-user, root-password
    "minio_config": "magasin-minio-env-configuration",      # config.env (export MINIO_ROOT_USER=...)
    "minio_user": "magasin-minio-user-%s",                  # CONSOLE_ACCESS_KEY, CONSOLE_SECRET_KEY (per consumer)
    "s3": "magasin-s3",                                     # S3_SECRET_KEYS, in each consumer's namespace
    "drill_plugin": "magasin-drill-storage-plugin",         # DRILL_PLUGIN_KEY
    "dagster_postgresql": "magasin-dagster-postgresql",     # postgresql-password
    "daskhub_credentials": "magasin-daskhub-credentials",   # notebook-password, gateway-api-token
    "superset_credentials": "magasin-superset-credentials",  # password, postgres-password, redis-password, secret-key, admin-password
    "superset_env": "magasin-superset-env",                 # DB_*, REDIS_*, SUPERSET_SECRET_KEY, SUPERSET_ADMIN_PASSWORD
}
# The kubernetes.io/tls Secret of each ingress (tls.crt, tls.key, ca.crt; the tls_certificates module), in the
# UI's namespace, and the realm CA's (in the tenant namespace). Every ingress the values render names its own.
TLS_SECRETS = {"minio_api": "magasin-tls-minio-api", "minio_console": "magasin-tls-minio-console",
               "dagster": "magasin-tls-dagster", "daskhub": "magasin-tls-daskhub", "superset": "magasin-tls-superset"}
TLS_CA_SECRET = "magasin-tls-ca"
SECRET_KEYS = {
    "minio_root": ["root-user", "root-password"],
    "minio_config": ["config.env"],
    "minio_user": ["CONSOLE_ACCESS_KEY", "CONSOLE_SECRET_KEY"],
    "s3": ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "MAGASIN_S3_BUCKET"],
    "drill_plugin": ["storage-plugins-override.conf"],
    "dagster_postgresql": ["postgresql-password"],
    "daskhub_credentials": ["notebook-password", "gateway-api-token"],
    "superset_credentials": ["password", "postgres-password", "redis-password", "secret-key", "admin-password"],
    "superset_env": ["DB_HOST", "DB_PORT", "DB_USER", "DB_PASS", "DB_NAME", "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD",
                     "SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD"],
}
S3_SECRET_KEYS = SECRET_KEYS["s3"]
DRILL_PLUGIN_KEY = "storage-plugins-override.conf"

# Components whose workloads read S3, with the MinIO user each one gets and its policy.
# Helm leaves an object carrying this annotation behind on uninstall (and adopts it again on install).
KEEP_ANNOTATION = {"helm.sh/resource-policy": "keep"}

S3_CONSUMERS = {
    "drill": {"user": "drill", "policy": "read"},
    "dagster": {"user": "dagster", "policy": "readwrite"},
    "daskhub": {"user": "notebooks", "policy": "readwrite"},
}


def minio_user_secret(consumer):
    """Name of the Secret holding the MinIO keys of a consumer component (``drill`` -> ``magasin-minio-user-drill``)."""
    return SECRETS["minio_user"] % S3_CONSUMERS[consumer]["user"]


# --- helpers ------------------------------------------------------------------------------

def version_tuple(version):
    """``'2024.1.0'`` -> (2024, 1, 0); pre-release and build suffixes are ignored."""
    parts = []
    for part in str(version).lstrip("v").split("+", 1)[0].split("-", 1)[0].split("."):
        parts.append(int(part) if part.isdigit() else 0)
    return tuple(parts)


def _chart_version(chart, inputs, chart_version):
    return str(chart_version or (inputs or {}).get("chart_version") or CHART_VERSIONS[chart])


# Containers whose image no chart value sets: the collection's post-renderer relocates them
# (plugins/module_utils/_images.py), per release key.
POST_RENDERED_CONTAINERS = {"drill": ["zk-available"], "dagster": ["check-db-ready"]}


def _resources(workload):
    out = {}
    for key in ("requests", "limits"):
        if workload.get(key):
            out[key] = copy.deepcopy(workload[key])
    return out


def _spread(labels):
    return {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": SPREAD_WEIGHT, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                                      "labelSelector": {"matchLabels": dict(labels)}}}]}}


def _production(model):
    return model.get("profile") == "production"


def _s3_enabled(model):
    return (model.get("s3") or {}).get("source", "none") in ("minio", "external")


def _s3_secret(model):
    return (model.get("s3") or {}).get("secret") or SECRETS["s3"]


def _claim(model, namespace, statefulset):
    """The claim size/class of a StatefulSet that exists already, else None (its templates are immutable)."""
    return ((model.get("existing") or {}).get("claims") or {}).get("%s/%s" % (namespace, statefulset))


def _storage(model, namespace, statefulset, size, size_key="size", class_key="storageClass"):
    """Persistence values: an existing StatefulSet's claim as it is, else the profile's size and the realm's class."""
    existing = _claim(model, namespace, statefulset)
    if existing:
        out = {size_key: existing["size"]}
        if existing.get("class"):
            out[class_key] = existing["class"]
        return out
    return {size_key: size, class_key: _storage_class(model)}


def _storage_class(model):
    storage_class = model.get("storage_class")
    if not isinstance(storage_class, str) or not storage_class:
        raise ValueError("the realm model has no storage class (magasin_storage_class, else the cluster's default)")
    return storage_class


def _drill_host(model):
    url = model.get("drill_url") or ""
    return urlparse(url).hostname if url else ""


def restricted_container(**extra):
    """A container securityContext that passes Pod Security `restricted` (with a non-root user)."""
    out = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}
    out.update(extra)
    return out


# Pods that read the realm's S3 (and Drill) carry this label; the NetworkPolicies select them by it.
S3_CLIENT_LABELS = {"magasin.unicef.org/s3-client": "true"}


def egress_rules(model):
    """Egress from pods reading the realm's MinIO and Drill (notebooks), for the selected ones only."""
    namespaces = model.get("namespaces") or {}
    rules = []
    if "minio" in model.get("components", []):
        rules.append({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespaces["tenant"]}}}],
                      "ports": [{"port": 9000, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}]})
    if "drill" in model.get("components", []) and model.get("drill_url"):
        rules.append({"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespaces["drill"]}}}],
                      "ports": [{"port": 8047, "protocol": "TCP"}, {"port": 31010, "protocol": "TCP"}]})
    return rules


# --- minio --------------------------------------------------------------------------------

def operator_values(model, inputs=None):
    """Values of the shared MinIO operator: OPERATOR_SIZING (+ ``inputs['operator_sizing']``), never the realm's profile.

    ``console_enabled`` and the image registry are cluster-level here too: realms sharing an
    operator must agree on them.
    """
    inputs = inputs or {}
    size = merge(OPERATOR_SIZING, inputs.get("operator_sizing") or {})
    values = {
        "operator": {"replicaCount": size["operator"]["replicas"], "resources": _resources(size["operator"]),
                     "containerSecurityContext": restricted_container()},
        "console": {"enabled": bool(inputs.get("console_enabled", True)), "replicaCount": size["console"]["replicas"],
                    "resources": _resources(size["console"]), "containerSecurityContext": restricted_container()},
    }
    registry = model.get("image_registry")
    if registry:
        values["operator"]["image"] = {"repository": relocate("quay.io/minio/operator", registry)}
        values["console"]["image"] = {"repository": relocate("quay.io/minio/operator", registry)}
        # The operator injects its sidecar into tenant pods; 5.0's is its own image. The chart's env default is kept.
        values["operator"]["env"] = [{"name": "OPERATOR_STS_ENABLED", "value": "on"},
                                     {"name": "OPERATOR_SIDECAR_IMAGE",
                                      "value": relocate("quay.io/minio/operator:v%s" % CHART_VERSIONS["operator"], registry)}]
    return values


def tenant_values(model, inputs=None):
    """Values of the realm's tenant chart (5.0.11).

    Credentials only through the chart's existingSecret path: ``secrets.existingSecret`` true
    stops the chart rendering its own ``config.env`` Secret, and its inline default keys
    (minio/minio123) are blanked so they are neither rendered nor stored in the release;
    ``tenant.configuration.name`` names the role's Secret (SECRETS['minio_config']).
    ``storageClassName`` is always a string (the chart renders it unconditionally and the real
    CRD rejects null). A tenant that exists keeps its pool layout: MinIO cannot reshape pools.
    """
    inputs = inputs or {}
    pool_size = model["sizing"]["minio"]["pool"]
    name = inputs.get("tenant_name") or "myminio"
    pool = {
        "name": "pool-0",
        "servers": pool_size["replicas"],
        "volumesPerServer": pool_size["volumes_per_server"],
        "size": pool_size["size"],
        "storageClassName": _storage_class(model),
        "resources": _resources(pool_size),
        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "fsGroupChangePolicy": "OnRootMismatch",
                            "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        # The operator gives MinIO's sidecar and init containers this one too.
        "containerSecurityContext": restricted_container(runAsUser=1000, runAsGroup=1000, runAsNonRoot=True),
    }
    if _production(model):
        pool["affinity"] = _spread({"v1.min.io/tenant": name})
    existing = (model.get("existing") or {}).get("tenant_pool")
    if existing:
        for key in ("servers", "volumesPerServer", "size"):
            if existing.get(key) not in (None, ""):
                pool[key] = existing[key]
        if isinstance(existing.get("storageClassName"), str) and existing["storageClassName"]:
            pool["storageClassName"] = existing["storageClassName"]
    values = {
        "secrets": {"existingSecret": True, "name": "", "accessKey": "", "secretKey": ""},
        "existingSecret": {"name": SECRETS["minio_config"]},
        "tenant": {
            "name": name,
            "configuration": {"name": SECRETS["minio_config"]},
            "certificate": {"requestAutoCert": False},
            "buckets": [{"name": model.get("bucket") or "magasin"}],
            "pools": [pool],
        },
        "ingress": {"api": {"enabled": bool(inputs.get("api_host"))}, "console": {"enabled": bool(inputs.get("console_host"))}},
    }
    for key in ("api", "console"):
        host = inputs.get(key + "_host")
        if host:
            values["ingress"][key].update({"host": host, "ingressClassName": model.get("ingress_class") or "",
                                           "tls": [{"hosts": [host], "secretName": TLS_SECRETS["minio_" + key]}]})
    registry = model.get("image_registry")
    if registry:
        values["tenant"]["image"] = {"repository": relocate("quay.io/minio/minio", registry)}
    return values


def _minio(model, inputs, chart_version=None):
    return {"operator": operator_values(model, inputs), "tenant": tenant_values(model, inputs)}


# --- drill --------------------------------------------------------------------------------

_DRILL_IMAGES = {"0.7.2": ("merlos/drill:1.21.2", "merlos/zookeeper:3.9.2"),
                 "0.9.0": ("merlos/drill:1.21.2-2024-12", "merlos/zookeeper:3.9.3")}


def _drill(model, inputs, chart_version=None):
    """Values of the drill chart (0.9.0; 0.7.2 renders the same keys).

    The chart sets no container resources and runs one drillbit per node (its own required
    pod anti-affinity, which is also the production spreading). The sizing budget the capacity
    check counts travels in the values under ``magasin.requests`` (a key the chart ignores);
    ``workloads()`` reads it back. Drill reads S3 through the storage-plugin Secret
    (SECRETS['drill_plugin'], content from drill_storage_plugin()); ``inputs['plugin_checksum']``,
    when given, becomes a pod annotation so the drillbits restart when the plugin changes
    (0.9.0 only: 0.7.2 has no pod annotations). Images: ``drill.image`` and ``zookeeper.image``
    are relocated; the ``zk-available`` init container's ``busybox`` has no key.
    """
    version = _chart_version("drill", inputs, chart_version)
    size = model["sizing"]["drill"]
    drillbit, zookeeper = size["drillbit"], size["zookeeper"]
    values = {
        "drill": {
            "count": drillbit["replicas"],
            "memory": drillbit.get("max_memory") or drillbit["requests"]["memory"],
            "volumes": {"add": True, "drillStorage": {"override": _s3_enabled(model), "secretName": SECRETS["drill_plugin"],
                                                      "subPath": DRILL_PLUGIN_KEY}},
        },
        "magasin": {"requests": {"drillbit": copy.deepcopy(drillbit["requests"]),
                                 "zookeeper": copy.deepcopy(zookeeper["requests"])}},
    }
    if _s3_enabled(model) and inputs.get("plugin_checksum") and version_tuple(version) >= (0, 8):
        values["drill"]["podAnnotations"] = {"magasin.unicef.org/storage-plugin-checksum": str(inputs["plugin_checksum"])}
    registry = model.get("image_registry")
    if registry:
        drill_image, zk_image = _DRILL_IMAGES.get(version, _DRILL_IMAGES[CHART_VERSIONS["drill"]])
        values["drill"]["image"] = relocate(drill_image, registry)
        values["zookeeper"] = {"image": relocate(zk_image, registry)}
    return values


def drill_storage_plugin(model, inputs, access_key, secret_key):
    """Content of Drill's ``storage-plugins-override.conf`` (HOCON; JSON is a subset) for the realm's S3.

    The keys are the drill consumer's MinIO user (or the external endpoint's keys): the caller
    puts the result in SECRETS['drill_plugin'] under DRILL_PLUGIN_KEY, with no_log.
    """
    inputs = inputs or {}
    s3 = model.get("s3") or {}
    endpoint = s3.get("endpoint") or ""
    ssl = bool(s3.get("ssl")) if "ssl" in s3 else endpoint.startswith("https://")
    plugin = {
        "type": "file",
        "connection": "s3a://%s" % (s3.get("bucket") or model.get("bucket") or "magasin"),
        "config": {
            "fs.s3a.endpoint": endpoint,
            "fs.s3a.access.key": access_key,
            "fs.s3a.secret.key": secret_key,
            "fs.s3a.path.style.access": "true",
            "fs.s3a.connection.ssl.enabled": "true" if ssl else "false",
        },
        "workspaces": {"root": {"location": "/", "writable": False, "defaultInputFormat": None, "allowAccessOutsideWorkspace": False}},
        "formats": {"parquet": {"type": "parquet"}, "json": {"type": "json", "extensions": ["json"]},
                    "csv": {"type": "text", "extensions": ["csv"], "delimiter": ",", "extractHeader": True}},
        "enabled": True,
    }
    return json.dumps({"storage": {inputs.get("s3_plugin") or "s3": plugin}}, indent=2, sort_keys=True) + "\n"


# --- dagster ------------------------------------------------------------------------------

DAGSTER_DEFAULT_USER_DEPLOYMENTS = [{
    "name": "k8s-example-user-code-1",
    "image": {"repository": "docker.io/dagster/user-code-example", "pullPolicy": "IfNotPresent"},
    "dagsterApiGrpcArgs": ["--python-file", "/example_project/example_repo/repo.py"],
    "port": 3030,
}]


def _dagster(model, inputs, chart_version=None):
    """Values of the dagster chart (1.9.3 and 1.7.16: same keys; both need --skip-schema-validation offline).

    PostgreSQL's password only by Secret reference: the chart's own Secret is not generated,
    ``global.postgresqlSecretName`` and the subchart's ``existingSecret`` name
    SECRETS['dagster_postgresql'] (key ``postgresql-password``), and the chart's default
    password ``test`` is blanked. The user name and database stay the chart's (``test``), as the
    installer created them. User code and the run launcher take the S3 Secret by envFrom and
    MAGASIN_DRILL_URL when Drill is selected. The chart runs exactly one replica of each user
    deployment and of the daemon (hard-coded). Images relocated: webserver, daemon,
    pipelineRun, busybox, the PostgreSQL StatefulSet (``postgresql.image.registry``) and its
    volume-permissions init container; NOT relocatable: the ``check-db-ready`` init containers
    of the webserver and daemon, which take ``postgresql.image.repository``/``tag`` without a
    registry (relocating it would double the registry of the StatefulSet), and user code
    images, which are the user's own (the chart's example image is relocated).
    """
    inputs = inputs or {}
    size = model["sizing"]["dagster"]
    namespace = model["namespaces"]["dagster"]
    production = _production(model)
    env = [{"name": "MAGASIN_DRILL_URL", "value": model["drill_url"]}] if model.get("drill_url") else []
    env_secrets = [{"name": _s3_secret(model)}] if _s3_enabled(model) else []
    spread = _spread({"app.kubernetes.io/instance": "dagster"}) if production else {}
    deployments = []
    registry = model.get("image_registry")
    for deployment in inputs.get("user_deployments") or DAGSTER_DEFAULT_USER_DEPLOYMENTS:
        d = copy.deepcopy(deployment)
        if registry and d.get("image", {}).get("repository") == "docker.io/dagster/user-code-example":
            d["image"]["repository"] = relocate(d["image"]["repository"], registry)
        d["env"] = list(d.get("env") or []) + env
        d["envSecrets"] = list(d.get("envSecrets") or []) + env_secrets
        d.setdefault("resources", _resources(size["user_code"]))
        if production:
            d.setdefault("affinity", _spread({"component": "user-deployments", "deployment": d.get("name", "")}))
        d["labels"] = merge(d.get("labels") or {}, S3_CLIENT_LABELS)
        deployments.append(d)
    values = {
        "telemetry": {"enabled": False},
        "generatePostgresqlPasswordSecret": False,
        "global": {"postgresqlSecretName": SECRETS["dagster_postgresql"]},
        "postgresql": {
            "existingSecret": SECRETS["dagster_postgresql"],
            # The schema wants a string; with existingSecret nothing reads it.
            "postgresqlPassword": "",
            "persistence": _storage(model, namespace, "dagster-postgresql", size["postgresql"]["size"]),
            "resources": _resources(size["postgresql"]),
        },
        "dagsterWebserver": {"replicaCount": size["webserver"]["replicas"], "resources": _resources(size["webserver"]),
                             "affinity": spread},
        "dagsterDaemon": {"resources": _resources(size["daemon"]), "affinity": spread},
        "dagster-user-deployments": {"deployments": deployments},
        "runLauncher": {"config": {"k8sRunLauncher": {
            "envSecrets": env_secrets,
            "envVars": ["%s=%s" % (e["name"], e["value"]) for e in env],
            # The NetworkPolicies select the run pods by these.
            "labels": dict(S3_CLIENT_LABELS, component="dagster-run"),
            "resources": _resources(size["run"]),
        }}},
    }
    host = inputs.get("webserver_host")
    if host:
        values["ingress"] = {"enabled": True, "ingressClassName": model.get("ingress_class") or None,
                             "dagsterWebserver": {"host": host, "path": "/", "pathType": "Prefix",
                                                  "tls": {"enabled": True, "secretName": TLS_SECRETS["dagster"]}}}
    if registry:
        for key in ("dagsterWebserver", "dagsterDaemon"):
            values[key]["image"] = {"repository": relocate("docker.io/dagster/dagster-celery-k8s", registry)}
        values["pipelineRun"] = {"image": {"repository": relocate("docker.io/dagster/user-code-example", registry)}}
        values["busybox"] = {"image": {"repository": relocate("docker.io/busybox", registry)}}
        values["postgresql"]["image"] = {"registry": registry.rstrip("/")}
        values["postgresql"]["volumePermissions"] = {"image": {"registry": registry.rstrip("/")}}
    return values


# --- daskhub ------------------------------------------------------------------------------

# Runs in the hub after the chart's own configuration (extraConfig keys run sorted): the
# notebook login and the Dask Gateway service token come from the role's Secret through
# environment variables, so neither is ever in the chart's values or its `hub` Secret.
_DASKHUB_CREDENTIALS_CONFIG = """\
import os
c.DummyAuthenticator.password = os.environ["MAGASIN_NOTEBOOK_PASSWORD"]
for service in c.JupyterHub.services:
    if service.get("name") == "dask-gateway":
        service["api_token"] = os.environ["MAGASIN_GATEWAY_API_TOKEN"]
"""


# Dask schedulers and workers read S3 like the notebooks: the same label selects them.
_DASK_CLUSTER_LABELS_CONFIG = """\
c.KubeClusterConfig.scheduler_extra_pod_labels = {"magasin.unicef.org/s3-client": "true"}
c.KubeClusterConfig.worker_extra_pod_labels = {"magasin.unicef.org/s3-client": "true"}
"""


def _secret_env(secret, key):
    return {"valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _daskhub(model, inputs, chart_version=None):
    """Values of the daskhub chart (2024.1.0: jupyterhub 3.2.1 + dask-gateway 2023.9.0; 2023.1.0: 2.0.0 + 2023.1.1).

    No credential inline: the hub reads the notebook password and the gateway token from
    SECRETS['daskhub_credentials'] (``hub.extraEnv`` secretKeyRef + an ``extraConfig`` step),
    and Dask Gateway reads the same token through ``apiTokenFromSecretName``/``Key``. The
    notebooks get the S3 Secret key by key (``singleuser.extraEnv`` secretKeyRef) and
    MAGASIN_DRILL_URL. Images relocated: hub, proxy, notebook, network tools, user scheduler,
    placeholder, image awaiter and pause, gateway, backend, controller, traefik (every image
    of both versions has a key).
    """
    inputs = inputs or {}
    size = model["sizing"]["daskhub"]
    namespace = model["namespaces"]["daskhub"]
    credentials = SECRETS["daskhub_credentials"]
    single_env = {}
    if _s3_enabled(model):
        for key in S3_SECRET_KEYS:
            single_env[key] = _secret_env(_s3_secret(model), key)
    if model.get("drill_url"):
        single_env["MAGASIN_DRILL_URL"] = model["drill_url"]
    hub_db = _storage(model, namespace, "hub-db-dir", size["hub_db"]["size"], size_key="storage", class_key="storageClassName")
    # The hub database is a chart-owned PVC: without this, `helm uninstall` deletes it
    # (magasin_state: absent keeps every volume; magasin_purge removes it).
    hub_db["annotations"] = dict(KEEP_ANNOTATION)
    notebook = size["notebook"]
    jupyterhub = {
        "hub": {
            "config": {"JupyterHub": {"authenticator_class": "dummy"},
                       "Authenticator": {"admin_users": list(inputs.get("admin_users") or ["admin"])}},
            "extraEnv": {"MAGASIN_NOTEBOOK_PASSWORD": _secret_env(credentials, "notebook-password"),
                         "MAGASIN_GATEWAY_API_TOKEN": _secret_env(credentials, "gateway-api-token")},
            "extraConfig": {"90-magasin-credentials": _DASKHUB_CREDENTIALS_CONFIG},
            "resources": _resources(size["hub"]),
            "db": {"pvc": hub_db},
        },
        "proxy": {"chp": {"resources": _resources(size["proxy"])}},
        "singleuser": {
            "extraEnv": single_env,
            "extraLabels": dict(S3_CLIENT_LABELS),
            "networkPolicy": {"egress": egress_rules(model)},
            "cpu": {"guarantee": cpu(notebook["requests"]["cpu"]), "limit": cpu(notebook["limits"]["cpu"])},
            "memory": {"guarantee": notebook["requests"]["memory"], "limit": notebook["limits"]["memory"]},
            "storage": {"capacity": notebook["storage"], "dynamic": {"storageClass": _storage_class(model)}},
        },
        "scheduling": {"userScheduler": {"enabled": size["user_scheduler"]["replicas"] > 0,
                                         "replicas": max(size["user_scheduler"]["replicas"], 1),
                                         "resources": _resources(size["user_scheduler"])}},
        # The image pre-puller waits for every node to pull the notebook image: not for a lab.
        "prePuller": {"hook": {"enabled": model.get("profile") != "lab"}, "continuous": {"enabled": model.get("profile") != "lab"}},
    }
    worker = size["dask_worker"]
    gateway = {
        "gateway": {
            "replicas": size["gateway"]["replicas"],
            "resources": _resources(size["gateway"]),
            "auth": {"type": "jupyterhub", "jupyterhub": {"apiTokenFromSecretName": credentials,
                                                          "apiTokenFromSecretKey": "gateway-api-token"}},
            "extraConfig": {"90-magasin-labels": _DASK_CLUSTER_LABELS_CONFIG},
            "backend": {"worker": {"cores": {"request": cpu(worker["requests"]["cpu"]), "limit": cpu(worker["limits"]["cpu"])},
                                   "memory": {"request": worker["requests"]["memory"], "limit": worker["limits"]["memory"]}}},
        },
        "controller": {"resources": _resources(size["controller"])},
        "traefik": {"replicas": size["traefik"]["replicas"], "resources": _resources(size["traefik"])},
    }
    if _production(model):
        gateway["gateway"]["affinity"] = _spread({"app.kubernetes.io/component": "gateway"})
        gateway["traefik"]["affinity"] = _spread({"app.kubernetes.io/component": "traefik"})
    host = inputs.get("host")
    if host:
        jupyterhub["ingress"] = {"enabled": True, "ingressClassName": model.get("ingress_class") or None, "hosts": [host],
                                 "tls": [{"hosts": [host], "secretName": TLS_SECRETS["daskhub"]}]}
    registry = model.get("image_registry")
    if registry:
        def name(image):
            return {"image": {"name": relocate(image, registry)}}
        jupyterhub["hub"]["image"] = name("quay.io/jupyterhub/k8s-hub")["image"]
        jupyterhub["proxy"]["chp"]["image"] = name("quay.io/jupyterhub/configurable-http-proxy")["image"]
        jupyterhub["singleuser"]["image"] = name("pangeo/base-notebook")["image"]
        jupyterhub["singleuser"]["networkTools"] = name("quay.io/jupyterhub/k8s-network-tools")
        jupyterhub["scheduling"]["userScheduler"]["image"] = name("registry.k8s.io/kube-scheduler")["image"]
        jupyterhub["scheduling"]["userPlaceholder"] = name("registry.k8s.io/pause")
        jupyterhub["prePuller"]["hook"]["image"] = name("quay.io/jupyterhub/k8s-image-awaiter")["image"]
        jupyterhub["prePuller"]["pause"] = name("registry.k8s.io/pause")
        gateway["gateway"]["image"] = name("ghcr.io/dask/dask-gateway-server")["image"]
        gateway["gateway"]["backend"]["image"] = name("ghcr.io/dask/dask-gateway")["image"]
        gateway["controller"]["image"] = name("ghcr.io/dask/dask-gateway-server")["image"]
        gateway["traefik"]["image"] = name("traefik")["image"]
    return {"jupyterhub": jupyterhub, "dask-gateway": gateway}


# --- superset -----------------------------------------------------------------------------

# Public defaults of the charts' SECRET_KEY (0.13.4 in configOverrides.secret, 0.12.6 in
# extraSecretEnv), and the config line that replaces them.
SUPERSET_PUBLIC_SECRET_KEYS = ("ON_MAGASIN_PROD_CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
                               "LNS78tGfwCYyiIggQxLBviTT83itPTgbho822Wr9IWjo/cNcojL/CZK5",
                               "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET")
_SUPERSET_SECRET_KEY_CONFIG = 'SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]\n'


def _superset(model, inputs, chart_version=None):
    """Values of the superset chart (0.13.4; 0.12.6 differs in the replica keys and the SECRET_KEY default).

    Every pod takes DB_*, REDIS_*, SUPERSET_SECRET_KEY and SUPERSET_ADMIN_PASSWORD from
    SECRETS['superset_env'] (``envFromSecret``); PostgreSQL and Redis take theirs from
    SECRETS['superset_credentials'] (bitnami ``existingSecret``). The chart's public
    SECRET_KEY is replaced (0.13.4: ``configOverrides.secret`` itself, as overrides render in
    key order and the chart's would win; 0.12.6: removed from ``extraSecretEnv`` by a null),
    the chart's own env Secret is not rendered (0.13.4 ``secretEnv.create``; 0.12.6 always
    renders it, with blanked passwords), and the admin password is the shell variable the init
    Job expands from the env Secret. Images relocated: superset, the dockerize init image,
    PostgreSQL and Redis (bitnami ``image.registry``).
    """
    inputs = inputs or {}
    version = version_tuple(_chart_version("superset", inputs, chart_version))
    size = model["sizing"]["superset"]
    namespace = model["namespaces"]["superset"]
    production = _production(model)
    drill = bool(model.get("drill_url"))
    credentials = SECRETS["superset_credentials"]

    def replicas(n):
        return {"replicas": {"enabled": True, "replicaCount": n}} if version >= (0, 13) else {"replicaCount": n}

    packages = []
    if drill:
        packages.append(inputs.get("drill_driver") or "sqlalchemy-drill==1.1.5")
    if version >= (0, 13):
        # Superset 4.1's image has no PostgreSQL driver (the chart's own bootstrap installs it).
        packages.append("psycopg2-binary")
    bootstrap = "#!/bin/bash\n"
    if packages:
        # An offline site names its own package index (superset_pip_index_url): PyPI is never asked then.
        index = " --index-url '%s'" % inputs["pip_index_url"] if inputs.get("pip_index_url") else ""
        bootstrap += "pip install --no-cache-dir%s %s\n" % (index, " ".join("'%s'" % p for p in packages))
    bootstrap += 'if [ ! -f ~/bootstrap ]; then echo "Running Superset as $(id -u)" > ~/bootstrap; fi\n'

    node = {"connections": {"db_pass": "", "redis_password": "set-in-%s" % SECRETS["superset_env"]},
            "resources": _resources(size["node"])}
    node.update(replicas(size["node"]["replicas"]))
    worker = {"resources": _resources(size["worker"])}
    worker.update(replicas(size["worker"]["replicas"]))
    if production:
        node["affinity"] = _spread({"app": "superset", "release": "superset"})
        worker["affinity"] = _spread({"app": "superset-worker", "release": "superset"})
    values = {
        "envFromSecret": SECRETS["superset_env"],
        "supersetNode": node,
        "supersetWorker": worker,
        "init": {
            "resources": _resources(size["init"]),
            "adminUser": {"username": inputs.get("admin_user") or "admin", "email": inputs.get("admin_email") or "admin@example.org",
                          # Expanded by the init script's shell from envFromSecret.
                          "password": '"$SUPERSET_ADMIN_PASSWORD"'},
        },
        "configOverrides": {"secret": _SUPERSET_SECRET_KEY_CONFIG},
        "bootstrapScript": bootstrap,
        "extraConfigs": {},
        "postgresql": {
            "auth": {"existingSecret": credentials, "username": "superset", "database": "superset", "password": ""},
            "primary": {"persistence": _storage(model, namespace, "superset-postgresql", size["postgresql"]["size"]),
                        "resources": _resources(size["postgresql"])},
        },
        "redis": {
            "auth": {"enabled": True, "existingSecret": credentials, "existingSecretPasswordKey": "redis-password", "password": ""},
            "master": {"resources": _resources(size["redis"])},
        },
    }
    if version >= (0, 13):
        values["secretEnv"] = {"create": False}
    else:
        values["extraSecretEnv"] = {"SUPERSET_SECRET_KEY": None}
    if drill:
        uri = "drill+sadrill://%s:8047/%s?use_ssl=False" % (_drill_host(model), inputs.get("drill_schema") or "s3")
        datasources = {"databases": [{"database_name": inputs.get("drill_database_name") or "Drill", "sqlalchemy_uri": uri,
                                      "expose_in_sqllab": True, "allow_ctas": False, "allow_cvas": False, "allow_dml": False,
                                      "tables": []}]}
        values["extraConfigs"] = {"import_datasources.yaml": json.dumps(datasources, indent=2, sort_keys=True) + "\n"}
    host = inputs.get("host")
    if host:
        values["ingress"] = {"enabled": True, "ingressClassName": model.get("ingress_class") or None, "hosts": [host],
                             "tls": [{"hosts": [host], "secretName": TLS_SECRETS["superset"]}]}
    registry = model.get("image_registry")
    if registry:
        values["image"] = {"repository": relocate("apachesuperset.docker.scarf.sh/apache/superset", registry)}
        values["initImage"] = {"repository": relocate("apache/superset", registry)}
        values["postgresql"]["image"] = {"registry": registry.rstrip("/")}
        values["redis"]["image"] = {"registry": registry.rstrip("/")}
    return values


# --- entry points -------------------------------------------------------------------------

_BUILDERS = {"minio": _minio, "drill": _drill, "dagster": _dagster, "daskhub": _daskhub, "superset": _superset}


def component_values(component, model, inputs=None, chart_version=None):
    """``{release_key: values}`` of one component: minio -> operator and tenant; others -> their name.

    ``inputs`` are the role's own variables without the role prefix; ``chart_version`` (or
    ``inputs['chart_version']``) selects the keys of an older chart release where they differ.
    """
    if component not in _BUILDERS:
        raise ValueError("unknown component %r, expected one of %s" % (component, ", ".join(COMPONENTS)))
    values = _BUILDERS[component](model, dict(inputs or {}), chart_version)
    return values if component == "minio" else {component: values}


def _get(values, *path, **kw):
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node or node[key] is None:
            return kw.get("default")
        node = node[key]
    return node


def _entry(name, replicas, requests):
    requests = requests or {}
    return {"name": name, "replicas": int(replicas or 0),
            "cpu": cpu(requests["cpu"]) if requests.get("cpu") not in (None, "") else 0.0,
            "memory": memory(requests["memory"]) if requests.get("memory") not in (None, "") else 0}


def _minio_workloads(values):
    out = []
    op = values.get("operator")
    if op is not None:
        out.append(_entry("operator", _get(op, "operator", "replicaCount", default=2), _get(op, "operator", "resources", "requests")))
        if _get(op, "console", "enabled", default=True):
            out.append(_entry("console", _get(op, "console", "replicaCount", default=1), _get(op, "console", "resources", "requests")))
    tenant = values.get("tenant") or {}
    for pool in _get(tenant, "tenant", "pools", default=[]) or []:
        out.append(_entry("pool" if pool.get("name") in (None, "pool-0") else "pool:%s" % pool["name"],
                          pool.get("servers", 4), _get(pool, "resources", "requests")))
    return out


def _drill_workloads(v):
    budget = _get(v, "magasin", "requests", default={}) or {}
    drillbit = dict(budget.get("drillbit") or {})
    max_memory = _get(v, "drill", "memory", default="5Gi")
    if not drillbit.get("memory") or memory(max_memory) > memory(drillbit["memory"]):
        drillbit["memory"] = max_memory
    return [_entry("drillbit", _get(v, "drill", "count", default=2), drillbit), _entry("zookeeper", 1, budget.get("zookeeper"))]


def _dagster_workloads(v):
    out = [_entry("webserver", _get(v, "dagsterWebserver", "replicaCount", default=1), _get(v, "dagsterWebserver", "resources", "requests"))]
    if _get(v, "dagsterDaemon", "enabled", default=True):
        out.append(_entry("daemon", 1, _get(v, "dagsterDaemon", "resources", "requests")))
    if _get(v, "dagster-user-deployments", "enabled", default=True):
        for d in _get(v, "dagster-user-deployments", "deployments", default=[]) or []:
            out.append(_entry("user_code:%s" % d.get("name", ""), 1, _get(d, "resources", "requests")))
    if _get(v, "postgresql", "enabled", default=True):
        out.append(_entry("postgresql", 1, _get(v, "postgresql", "resources", "requests")))
    out.append(_entry("run", 0, _get(v, "runLauncher", "config", "k8sRunLauncher", "resources", "requests")))
    return out


def _daskhub_workloads(v):
    hub = v.get("jupyterhub") or {}
    gw = v.get("dask-gateway") or {}
    scheduler = _get(hub, "scheduling", "userScheduler", default={}) or {}
    out = [
        _entry("hub", 1, _get(hub, "hub", "resources", "requests")),
        _entry("proxy", 1, _get(hub, "proxy", "chp", "resources", "requests")),
        _entry("user_scheduler", scheduler.get("replicas", 2) if scheduler.get("enabled", True) else 0, _get(scheduler, "resources", "requests")),
        _entry("notebook", 0, {"cpu": _get(hub, "singleuser", "cpu", "guarantee"), "memory": _get(hub, "singleuser", "memory", "guarantee")}),
        _entry("gateway", _get(gw, "gateway", "replicas", default=1), _get(gw, "gateway", "resources", "requests")),
    ]
    if _get(gw, "controller", "enabled", default=True):
        out.append(_entry("controller", 1, _get(gw, "controller", "resources", "requests")))
    out.append(_entry("traefik", _get(gw, "traefik", "replicas", default=1), _get(gw, "traefik", "resources", "requests")))
    out.append(_entry("dask_worker", 0, {"cpu": _get(gw, "gateway", "backend", "worker", "cores", "request"),
                                         "memory": _get(gw, "gateway", "backend", "worker", "memory", "request")}))
    return out


def _superset_workloads(v):
    out = []
    for name, key in (("node", "supersetNode"), ("worker", "supersetWorker")):
        # 0.13: supersetNode.replicas.{enabled,replicaCount}; 0.12: supersetNode.replicaCount.
        replicas = _get(v, key, "replicas", "replicaCount")
        if replicas is None:
            replicas = _get(v, key, "replicaCount", default=1)
        if _get(v, key, "replicas", "enabled") is False:
            replicas = 1
        out.append(_entry(name, replicas, _get(v, key, "resources", "requests")))
    out.append(_entry("init", 0, _get(v, "init", "resources", "requests")))
    if _get(v, "postgresql", "enabled", default=True):
        out.append(_entry("postgresql", 1, _get(v, "postgresql", "primary", "resources", "requests")))
    if _get(v, "redis", "enabled", default=True):
        out.append(_entry("redis", 1, _get(v, "redis", "master", "resources", "requests")))
    return out


_WORKLOADS = {"drill": _drill_workloads, "dagster": _dagster_workloads, "daskhub": _daskhub_workloads, "superset": _superset_workloads}


def workloads(component, values):
    """Workloads of a component as the FINAL values deploy them: ``[{name, replicas, cpu, memory}]``.

    ``values`` is what component_values() returned with the user's overrides merged in
    (``{release_key: values}``; for minio ``operator`` may be absent when another release
    serves the cluster). cpu is in cores and memory in bytes, per replica, from the requests.
    Replicas the chart hard-codes are counted as it deploys them (dagster daemon and each user
    deployment 1, drill's ZooKeeper 1). Drill's chart sets no container resources: its
    requests are the budget under ``magasin.requests`` (set by _drill), and never less memory
    than DRILL_MAX_MEMORY (``drill.memory``). Workloads started on demand (runs, notebooks,
    Dask workers, the Superset init Job) are listed with 0 replicas.
    """
    if component == "minio":
        return _minio_workloads(values)
    if component not in _WORKLOADS:
        raise ValueError("unknown component %r, expected one of %s" % (component, ", ".join(COMPONENTS)))
    return _WORKLOADS[component](values.get(component) or {})
