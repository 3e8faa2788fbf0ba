# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: Pod Security labels and the NetworkPolicies of a realm.

Pure functions of the realm model (``_realm.realm_model``). The level of each namespace is
the strictest one the real chart's pods (with the collection's values) and the pods they
start at run time pass; docs/security.md gives the reason of each, and the integration test
``test_security.py`` proves it with the API server's own PodSecurity admission.

The NetworkPolicies: a default deny (ingress and egress) in each selected namespace, then
one allow per wired flow (``flows()``). A flow between two pods of one namespace is allowed
on the server's side (ingress) only, since every realm namespace lets its pods open
connections inside itself (the ``same-namespace`` egress); a flow across namespaces, or to
the API server, DNS or the internet, has its egress side too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

NAMESPACE_KEYS = ("operator", "tenant", "drill", "dagster", "daskhub", "superset")
# Namespace keys of each component.
COMPONENT_NAMESPACES = {"minio": ("operator", "tenant"), "drill": ("drill",), "dagster": ("dagster",),
                        "daskhub": ("daskhub",), "superset": ("superset",)}

# The Pod Security level each namespace enforces (the reasons: docs/security.md).
POD_SECURITY = {
    "operator": "baseline",
    "tenant": "restricted",
    "drill": "baseline",
    "dagster": "baseline",
    "daskhub": "baseline",
    "superset": "baseline",
}
# The level audited and warned of, where stricter than the enforced one: the shared operator's pods pass
# restricted, but realms converged by an earlier release of the collection upgrade the same operator
# with values that do not, and restricted enforcement would leave that upgrade pending.
POD_SECURITY_WARN = {"operator": "restricted"}
# Enforced at a pinned policy version (a new Kubernetes release does not tighten it under a
# running realm); audit and warn follow the latest, so what a newer version would refuse shows.
POD_SECURITY_VERSION = "v1.30"
LEVELS = ("privileged", "baseline", "restricted")

# The securityContext that makes a container pass `restricted` (besides running as non-root).
RESTRICTED_CONTAINER = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                        "seccompProfile": {"type": "RuntimeDefault"}}

POLICY_LABEL = "magasin.unicef.org/network-policy"
S3_CLIENT = {"magasin.unicef.org/s3-client": "true"}
API_SERVER_PORTS = (443, 6443)
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32"]
MINIO_PODS = {"matchExpressions": [{"key": "v1.min.io/tenant", "operator": "Exists"}]}


def pod_security_labels(key):
    """The pod-security.kubernetes.io labels of one namespace key."""
    labels = {}
    for mode in ("enforce", "audit", "warn"):
        labels["pod-security.kubernetes.io/" + mode] = POD_SECURITY[key] if mode == "enforce" else warn_level(key)
        labels["pod-security.kubernetes.io/%s-version" % mode] = POD_SECURITY_VERSION if mode == "enforce" else "latest"
    return labels


def warn_level(key):
    """The level a namespace audits and warns at (its enforced one, or stricter)."""
    return POD_SECURITY_WARN.get(key) or POD_SECURITY[key]


def stricter(level):
    """The next stricter level, or '' for restricted."""
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else ""


def namespace(model, key, name=""):
    """The Namespace object of a realm namespace key, with its Pod Security labels. The operator's
    namespace is shared by the realms of a cluster: it carries no realm label."""
    labels = dict(model["labels"])
    if key == "operator":
        labels.pop("magasin.unicef.org/realm", None)
    labels.update(pod_security_labels(key))
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name or model["namespaces"][key], "labels": labels}}


# --- network policies -----------------------------------------------------------------------

def _ns(name):
    return {"kubernetes.io/metadata.name": name}


def _ports(*ports):
    out = []
    for port in ports:
        if isinstance(port, tuple):
            out.append({"port": port[0], "endPort": port[1], "protocol": "TCP"})
        else:
            out.append({"port": port, "protocol": "TCP"})
    return out


def _flow(name, namespace, pods, ports, peer_namespace=None, peers=None, to=None, description=""):
    """One flow: clients (``peer_namespace``/``peers``, a list of pod selectors) to servers
    (``namespace``/``pods``) on ``ports``; ``to`` instead names a destination outside the realm
    (api-server, internet, dns), and then ``namespace``/``pods`` are the clients."""
    return {"name": name, "namespace": namespace, "pods": pods, "ports": ports, "peer_namespace": peer_namespace,
            "peers": peers or [], "to": to, "description": description}


def _ui_peer(model):
    ingress_ns = (model.get("network") or {}).get("ingress_namespace") or ""
    return {"namespaceSelector": {"matchLabels": _ns(ingress_ns)} if ingress_ns else {}}


def flows(model):
    """Every wired flow of the realm's selected components (see the module's doc)."""
    ns = model["namespaces"]
    selected = model.get("components") or []
    network = model.get("network") or {}
    ui = set(network.get("ui") or [])
    out = []
    for component in selected:
        for key in COMPONENT_NAMESPACES[component]:
            out.append(_flow("dns", ns[key], {}, [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                             to="dns", description="every pod to the cluster DNS in kube-system"))
            out.append(_flow("same-namespace", ns[key], {}, [], to="same-namespace",
                             description="every pod may open connections inside its namespace"))
    for component in COMPONENT_NAMESPACES:
        if component in selected:
            out.extend(_FLOWS[component](model, ns, selected, network, ui))
    return out


def _minio_flows(model, ns, selected, network, ui):
    out = []
    consumers = {"drill": {"matchLabels": {"app": "drill-app"}}, "dagster": {"matchLabels": dict(S3_CLIENT)},
                 "daskhub": {"matchLabels": dict(S3_CLIENT)}}
    operator = {"matchLabels": {"app.kubernetes.io/name": "operator"}}
    out.append(_flow("api-server", ns["operator"], operator, _ports(*API_SERVER_PORTS), to="api-server",
                     description="the MinIO operator and its console to the API server"))
    out.append(_flow("minio-from-operator", ns["tenant"], MINIO_PODS, _ports(9000), ns["operator"], [operator],
                     description="the operator (and its console) to the realm's MinIO"))
    out.append(_flow("api-server", ns["tenant"], MINIO_PODS, _ports(*API_SERVER_PORTS), to="api-server",
                     description="MinIO's sidecar reads the tenant's configuration Secret"))
    out.append(_flow("minio-peers", ns["tenant"], MINIO_PODS, _ports(9000), ns["tenant"], [MINIO_PODS],
                     description="MinIO servers of a pool to each other"))
    out.append(_flow("minio-from-setup", ns["tenant"], MINIO_PODS, _ports(9000), ns["tenant"],
                     [{"matchLabels": {"app.kubernetes.io/component": "minio-setup"}}],
                     description="the collection's setup Job (bucket, policies, users)"))
    for consumer in ("drill", "dagster", "daskhub"):
        if consumer in selected:
            out.append(_flow("minio-from-%s" % consumer, ns["tenant"], MINIO_PODS, _ports(9000), ns[consumer],
                             [consumers[consumer]], description="%s's S3 clients to MinIO" % consumer))
    for host, port in (("minio_api", 9000), ("minio_console", 9090)):
        if host in ui:
            out.append(_flow("%s-from-ingress" % host.replace("_", "-"), ns["tenant"], MINIO_PODS, _ports(port),
                             network.get("ingress_namespace") or "", ["ingress-controller"],
                             description="the ingress controller to MinIO"))
    return out


def _drill_flows(model, ns, selected, network, ui):
    out = []
    drillbit = {"matchLabels": {"app": "drill-app"}}
    out.append(_flow("zookeeper-from-drill", ns["drill"], {"matchLabels": {"app": "zk-quorum"}}, _ports(2181),
                     ns["drill"], [drillbit], description="the drillbits to their ZooKeeper"))
    out.append(_flow("drill-peers", ns["drill"], drillbit, _ports((31010, 31012)), ns["drill"], [drillbit],
                     description="drillbits to each other (user, control and data ports)"))
    clients = {"superset": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["superset", "superset-worker"]}]},
               "dagster": {"matchLabels": dict(S3_CLIENT)}, "daskhub": {"matchLabels": dict(S3_CLIENT)}}
    for client in ("dagster", "daskhub", "superset"):
        if client in selected:
            out.append(_flow("drill-from-%s" % client, ns["drill"], drillbit, _ports(8047), ns[client], [clients[client]],
                             description="%s to Drill's REST API" % client))
    return out


def _dagster_flows(model, ns, selected, network, ui):
    out = []
    control = {"matchExpressions": [{"key": "component", "operator": "In", "values": ["dagster-webserver", "dagster-daemon"]}]}
    runs = {"matchLabels": {"component": "dagster-run"}}
    out.append(_flow("postgresql-from-dagster", ns["dagster"], {"matchLabels": {"app": "postgresql", "release": "dagster"}},
                     _ports(5432), ns["dagster"], [control, runs], description="webserver, daemon and runs to PostgreSQL"))
    out.append(_flow("user-code-from-dagster", ns["dagster"], {"matchLabels": {"component": "user-deployments"}},
                     _ports(3030), ns["dagster"], [control], description="webserver and daemon to the user code's gRPC"))
    out.append(_flow("api-server", ns["dagster"], control, _ports(*API_SERVER_PORTS), to="api-server",
                     description="the run launcher starts runs as Jobs"))
    out.append(_flow("internet", ns["dagster"], {"matchLabels": dict(S3_CLIENT)}, [], to="internet",
                     description="user code and runs to the internet outside private ranges"))
    if "dagster" in ui:
        out.append(_flow("webserver-from-ingress", ns["dagster"], {"matchLabels": {"component": "dagster-webserver"}},
                         _ports(80), network.get("ingress_namespace") or "", ["ingress-controller"],
                         description="the ingress controller to the Dagster UI"))
    return out


def _daskhub_flows(model, ns, selected, network, ui):
    out = []
    out.append(_flow("daskhub-internal", ns["daskhub"], {}, [], ns["daskhub"], [{}],
                     description="JupyterHub, its proxy, Dask Gateway, its Traefik, notebooks and Dask clusters "
                                 "wire themselves inside the namespace (the chart's own policies narrow hub, proxy and notebooks)"))
    out.append(_flow("api-server", ns["daskhub"], {"matchLabels": {"component": "hub"}}, _ports(*API_SERVER_PORTS),
                     to="api-server", description="the hub spawns notebook pods"))
    out.append(_flow("gateway-api-server", ns["daskhub"],
                     {"matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In",
                                            "values": ["controller", "traefik"]}]},
                     _ports(*API_SERVER_PORTS), to="api-server",
                     description="Dask Gateway's controller starts clusters, its Traefik reads routes"))
    out.append(_flow("internet", ns["daskhub"], {"matchLabels": dict(S3_CLIENT)}, [], to="internet",
                     description="notebooks and Dask clusters to the internet outside private ranges"))
    if "daskhub" in ui:
        out.append(_flow("proxy-from-ingress", ns["daskhub"], {"matchLabels": {"component": "proxy"}}, _ports(8000),
                         network.get("ingress_namespace") or "", ["ingress-controller"],
                         description="the ingress controller to JupyterHub's proxy"))
    return out


def _superset_flows(model, ns, selected, network, ui):
    out = []
    superset = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["superset", "superset-worker"]}]}
    init = {"matchLabels": {"batch.kubernetes.io/job-name": "superset-init-db"}}
    out.append(_flow("postgresql-from-superset", ns["superset"],
                     {"matchLabels": {"app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "superset"}},
                     _ports(5432), ns["superset"], [superset, init], description="Superset, its workers and init Job to PostgreSQL"))
    out.append(_flow("redis-from-superset", ns["superset"],
                     {"matchLabels": {"app.kubernetes.io/name": "redis", "app.kubernetes.io/instance": "superset"}},
                     _ports(6379), ns["superset"], [superset, init], description="Superset, its workers and init Job to Redis"))
    out.append(_flow("internet", ns["superset"], {}, [], to="internet",
                     description="the bootstrap script pip-installs the database drivers at each start"))
    if "superset" in ui:
        out.append(_flow("superset-from-ingress", ns["superset"], {"matchLabels": {"app": "superset"}}, _ports(8088),
                         network.get("ingress_namespace") or "", ["ingress-controller"],
                         description="the ingress controller to the Superset UI"))
    return out


_FLOWS = {"minio": _minio_flows, "drill": _drill_flows, "dagster": _dagster_flows, "daskhub": _daskhub_flows,
          "superset": _superset_flows}


def _policy(model, name, namespace, pods, types, ingress=None, egress=None):
    labels = dict(model["labels"], **{POLICY_LABEL: "true"})
    spec = {"podSelector": copy.deepcopy(pods), "policyTypes": types}
    if ingress is not None:
        spec["ingress"] = ingress
    if egress is not None:
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": spec}


def _name(model, namespace, base):
    # The operator's namespace is shared: each realm's policies there carry the realm.
    if namespace == model["namespaces"].get("operator"):
        return "magasin-%s-%s" % (model["realm"], base)
    return "magasin-" + base


def _peer(flow, peer):
    if peer == "ingress-controller":
        return {"namespaceSelector": {"matchLabels": _ns(flow["peer_namespace"])} if flow["peer_namespace"] else {}}
    return {"namespaceSelector": {"matchLabels": _ns(flow["peer_namespace"])}, "podSelector": copy.deepcopy(peer)}


def network_policies(model, key=None):
    """The realm's NetworkPolicies (of one namespace key when given): the default deny of each
    selected namespace, then per flow the ingress policy at the server and, across namespaces
    or out of the realm, the egress policy at the client. [] when magasin_network_policies is off."""
    if not (model.get("network") or {}).get("enabled", True):
        return []
    namespaces = []
    for component in model.get("components") or []:
        namespaces.extend(model["namespaces"][k] for k in COMPONENT_NAMESPACES[component])
    out = [_policy(model, _name(model, n, "default-deny"), n, {}, ["Ingress", "Egress"]) for n in namespaces]
    for flow in flows(model):
        n = flow["namespace"]
        if flow["to"] == "dns":
            out.append(_policy(model, _name(model, n, "dns"), n, {}, ["Egress"], egress=[
                {"to": [{"namespaceSelector": {"matchLabels": _ns("kube-system")}}], "ports": flow["ports"]}]))
        elif flow["to"] == "same-namespace":
            out.append(_policy(model, _name(model, n, "same-namespace"), n, {}, ["Egress"], egress=[{"to": [{"podSelector": {}}]}]))
        elif flow["to"] == "api-server":
            out.append(_policy(model, _name(model, n, flow["name"]), n, flow["pods"], ["Egress"],
                               egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": flow["ports"]}]))
        elif flow["to"] == "internet":
            out.append(_policy(model, _name(model, n, flow["name"]), n, flow["pods"], ["Egress"],
                               egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}]}]))
        else:
            rule = {"from": [_peer(flow, p) for p in flow["peers"]]}
            if flow["ports"]:
                rule["ports"] = flow["ports"]
            out.append(_policy(model, _name(model, n, flow["name"]), n, flow["pods"], ["Ingress"], ingress=[rule]))
            client_ns = flow["peer_namespace"]
            if client_ns and client_ns != n and flow["peers"] != ["ingress-controller"]:
                for peer in flow["peers"]:
                    egress = {"to": [{"namespaceSelector": {"matchLabels": _ns(n)}, "podSelector": copy.deepcopy(flow["pods"])}],
                              "ports": flow["ports"]}
                    out.append(_policy(model, _name(model, client_ns, flow["name"]), client_ns, peer, ["Egress"], egress=[egress]))
    if key is not None:
        wanted = model["namespaces"][key]
        out = [p for p in out if p["metadata"]["namespace"] == wanted]
    return out
