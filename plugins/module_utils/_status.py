# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: what the status of a realm is, from kubectl and helm output.

Pure functions, unit-tested without a cluster: the argv of the reads, and the report of
each component (releases, readiness with causes, endpoints, where its credentials live)
from their parsed output. No Secret value ever reaches these functions: Secrets are read
with a go-template that prints their key names only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from concurrent.futures import ThreadPoolExecutor

from . import _values
from ._helm import list_namespace_args, parse_releases
from ._kubectl import OPERATOR_ROLE, helm_owner, list_items, readiness
from ._realm import COMPONENTS, realm_names

# The kinds of the one `kubectl get` per namespace (the realm's and the MinIO operator's).
KINDS = ("deployments.apps", "statefulsets.apps", "daemonsets.apps", "jobs.batch", "pods", "services",
         "ingresses.networking.k8s.io", "persistentvolumeclaims", "events")
# Kinds whose readiness counts; their pods are looked at for the cause.
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
# Objects of a release's manifest that must exist (a deleted one is a cause).
CHECKED_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Service", "Ingress", "PersistentVolumeClaim")
# Which namespace keys belong to which component.
COMPONENT_NAMESPACES = {"minio": ("operator", "tenant"), "drill": ("drill",), "dagster": ("dagster",),
                        "daskhub": ("daskhub",), "superset": ("superset",)}
# go-template printing namespace, name and the key names of every Secret -- never a value.
SECRET_KEYS_TEMPLATE = ('{{range .items}}{{.metadata.namespace}}/{{.metadata.name}}:'
                        '{{range $k, $v := .data}}{{$k}},{{end}}{{"\\n"}}{{end}}')
MAX_EVENTS = 3
OPERATOR_CHART = "operator"
MAX_THREADS = 4


def component_namespaces(realm, components=COMPONENTS):
    """{component: [namespace, ...]} of the realm, in COMPONENTS order."""
    namespaces = realm_names(realm)[2]
    return dict((c, [namespaces[k] for k in COMPONENT_NAMESPACES[c]]) for c in COMPONENTS if c in components)


def objects_args(namespace):
    return ["get", ",".join(KINDS), "--namespace", namespace, "--output", "json"]


def secrets_args(namespace):
    """Secrets' key names only: kubectl prints no value (the template never names one)."""
    return ["get", "secrets", "--namespace", namespace, "--output", "go-template=" + SECRET_KEYS_TEMPLATE]


def operator_args():
    """The MinIO operator's ClusterRole, whose Helm annotations name the operator release's namespace."""
    return ["get", "clusterroles.rbac.authorization.k8s.io/%s" % OPERATOR_ROLE, "--ignore-not-found",
            "--output", "json"]


def manifest_args(name, namespace):
    return ["get", "manifest", name, "--namespace", namespace]


def parse_secret_keys(text):
    """SECRET_KEYS_TEMPLATE's output to {"<ns>/<name>": [key, ...]}."""
    out = {}
    for line in (text or "").splitlines():
        ref, sep, keys = line.strip().partition(":")
        if sep:
            out[ref] = sorted(k for k in keys.split(",") if k)
    return out


def known_secret(name):
    """Whether a Secret name is one of the collection's credentials (_values.SECRETS)."""
    prefix = _values.SECRETS["minio_user"].split("%s")[0]
    return name in _values.SECRETS.values() or name.startswith(prefix)


def _jsonpath_key(key):
    return key.replace(".", "\\.")


def read_command(namespace, name, key):
    """The command a person runs to read one credential (printed, never run here)."""
    return "kubectl -n %s get secret %s -o jsonpath='{.data.%s}' | base64 -d" % (namespace, name, _jsonpath_key(key))


def credentials(secret_keys, namespaces):
    """The collection's Secrets in the namespaces: [{namespace, secret, keys, commands}]."""
    out = []
    for ref in sorted(secret_keys):
        namespace, name = ref.split("/", 1)
        if namespace in namespaces and known_secret(name):
            keys = secret_keys[ref]
            out.append({"namespace": namespace, "secret": name, "keys": keys,
                        "commands": dict((k, read_command(namespace, name, k)) for k in keys)})
    return out


def manifest_refs(manifest, loader):
    """(kind, namespace or None, name) of the CHECKED_KINDS objects of a release's manifest."""
    refs = []
    for doc in loader(manifest or ""):
        if isinstance(doc, dict) and doc.get("kind") in CHECKED_KINDS:
            meta = doc.get("metadata") or {}
            refs.append((doc["kind"], meta.get("namespace"), meta.get("name")))
    return refs


def endpoints(objects):
    """In-cluster addresses of the Services: [{service, namespace, url, port, name}]."""
    out = []
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        meta = obj["metadata"]
        host = "%s.%s.svc.cluster.local" % (meta["name"], meta["namespace"])
        for port in (obj.get("spec") or {}).get("ports") or []:
            name = (port.get("name") or "").lower()
            if "https" in name or port.get("port") == 443:
                url = "https://%s:%s" % (host, port.get("port"))
            elif "http" in name or "web" in name or port.get("port") == 80:
                url = "http://%s:%s" % (host, port.get("port"))
            else:
                url = "%s:%s" % (host, port.get("port"))
            out.append({"service": meta["name"], "namespace": meta["namespace"], "port": port.get("port"),
                        "name": port.get("name") or "", "url": url})
    return out


def ingress_urls(objects):
    urls = []
    for obj in objects:
        if obj.get("kind") != "Ingress":
            continue
        spec = obj.get("spec") or {}
        tls_hosts = set(h for t in spec.get("tls") or [] for h in t.get("hosts") or [])
        for rule in spec.get("rules") or []:
            host = rule.get("host")
            if not host:
                continue
            for path in ((rule.get("http") or {}).get("paths") or [{"path": "/"}]):
                urls.append("%s://%s%s" % ("https" if host in tls_hosts else "http", host, path.get("path") or "/"))
    return sorted(set(urls))


def _owned_by(pod, names):
    """Whether a pod belongs to one of the workloads (by name prefix of its owner chain, as controllers name them)."""
    owners = (pod.get("metadata") or {}).get("ownerReferences") or []
    for owner in owners:
        name = owner.get("name") or ""
        if owner.get("kind") in ("StatefulSet", "DaemonSet") and name in names:
            return True
        if owner.get("kind") == "ReplicaSet" and name.rsplit("-", 1)[0] in names:
            return True
    return False


def pod_causes(pod):
    """Why a pod is not ready: its phase, failing conditions and containers' waiting/terminated reasons."""
    status = pod.get("status") or {}
    causes = []
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True" and (cond.get("reason") or cond.get("message")):
            causes.append("%s=%s %s: %s" % (cond.get("type"), cond.get("status"), cond.get("reason") or "",
                                            cond.get("message") or ""))
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        state = cs.get("state") or {}
        for what in ("waiting", "terminated"):
            if what in state and state[what].get("reason") not in (None, "Completed"):
                causes.append("container %s %s: %s %s" % (cs.get("name"), what, state[what].get("reason"),
                                                          state[what].get("message") or ""))
    return [c.strip() for c in causes]


def warning_events(objects, kind, namespace, name):
    """The latest Warning events about one object: ["Reason: message"]."""
    found = []
    for ev in objects:
        if ev.get("kind") != "Event" or ev.get("type") != "Warning":
            continue
        inv = ev.get("involvedObject") or {}
        if inv.get("kind") == kind and inv.get("name") == name and inv.get("namespace", namespace) == namespace:
            found.append((ev.get("lastTimestamp") or ev.get("eventTime") or "", "%s: %s" % (
                ev.get("reason"), (ev.get("message") or "").strip())))
    found.sort()
    seen, out = set(), []
    for _when, text in reversed(found):
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out[:MAX_EVENTS]


def workload_readiness(obj):
    """readiness(), and for a Deployment also its rollout: one whose new pods cannot start keeps the old ones
    available, yet it is stuck (what `kubectl rollout status` waits for)."""
    ready, reason = readiness(obj)
    if ready and obj.get("kind") == "Deployment":
        want = (obj.get("spec") or {}).get("replicas", 1)
        status = obj.get("status") or {}
        updated = status.get("updatedReplicas", want) or 0
        if updated < want or status.get("unavailableReplicas"):
            return False, "rollout stuck: %s/%s updated, %s unavailable" % (
                updated, want, status.get("unavailableReplicas") or 0)
    return ready, reason


def component_problems(objects, releases, missing):
    """What is not ready in one component: ["<object>: <cause>; ..."]."""
    problems = []
    for rel in releases:
        if rel.get("status") != "deployed":
            problems.append("release %s/%s: %s" % (rel["namespace"], rel["name"], rel.get("status") or "missing"))
    for kind, namespace, name, release in missing:
        problems.append("%s %s/%s: missing (in release %s's manifest, not in the cluster)"
                        % (kind, namespace, name, release))
    pods = [o for o in objects if o.get("kind") == "Pod"]
    for obj in objects:
        kind = obj.get("kind")
        if kind not in WORKLOADS + ("Job", "PersistentVolumeClaim"):
            continue
        if kind == "Job" and (obj.get("metadata") or {}).get("ownerReferences"):
            continue  # a CronJob's run: its own history
        ready, reason = workload_readiness(obj)
        if ready:
            continue
        meta = obj["metadata"]
        causes = []
        if kind in WORKLOADS:
            for pod in pods:
                if _owned_by(pod, (meta["name"],)) and not readiness(pod)[0]:
                    pmeta = pod["metadata"]
                    pod_why = pod_causes(pod) + warning_events(objects, "Pod", pmeta["namespace"], pmeta["name"])
                    causes.append("pod %s %s%s" % (pmeta["name"], (pod.get("status") or {}).get("phase") or "?",
                                                   (": " + "; ".join(pod_why)) if pod_why else ""))
        causes += warning_events(objects, kind, meta["namespace"], meta["name"])
        problems.append("%s %s/%s: %s%s" % (kind, meta["namespace"], meta["name"], reason,
                                            (" -- " + "; ".join(causes)) if causes else ""))
    return problems


def report(realm, components, objects, releases, secret_keys, manifests, loader):
    """The realm's status.

    objects: items of objects_args over every namespace of the realm; releases: parsed ``helm list``
    ({"<ns>/<name>": entry}, the realm's and the cluster's MinIO operator); secret_keys: parse_secret_keys; manifests: {"<ns>/<name>": manifest text}.
    """
    out = {"realm": realm, "ready": True, "not_ready": [], "components": {}}
    existing = set((o.get("kind"), (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name"))
                   for o in objects)
    for component, namespaces in component_namespaces(realm, components).items():
        rels = []
        missing = []
        keys = [k for k in sorted(releases) if k.split("/", 1)[0] in namespaces]
        if component == "minio" and not any(releases[k].get("chart_name") == OPERATOR_CHART for k in keys):
            # The cluster has one MinIO operator (its ClusterRoles are shared): another realm's serves this one.
            keys += [k for k in sorted(releases) if releases[k].get("chart_name") == OPERATOR_CHART]
        release_namespaces = set(k.split("/", 1)[0] for k in keys)
        mine = [o for o in objects if (o.get("metadata") or {}).get("namespace") in set(namespaces) | release_namespaces]
        for key in keys:
            namespace, name = key.split("/", 1)
            rel = releases[key]
            rels.append({"name": name, "namespace": namespace, "status": rel.get("status"),
                         "shared": namespace not in namespaces,
                         "revision": rel.get("revision"), "updated": rel.get("updated"),
                         "chart": "%s-%s" % (rel.get("chart_name"), rel.get("chart_version")),
                         "app_version": rel.get("app_version")})
            for kind, ns, obj_name in manifest_refs(manifests.get(key), loader):
                if (kind, ns or namespace, obj_name) not in existing:
                    missing.append((kind, ns or namespace, obj_name, name))
        problems = component_problems(mine, rels, missing)
        if not rels:
            problems.insert(0, "no Helm release in %s" % ", ".join(namespaces))
        entry = {"namespaces": namespaces, "releases": rels, "ready": not problems, "problems": problems,
                 "endpoints": endpoints(mine), "ingress_urls": ingress_urls(mine),
                 "credentials": credentials(secret_keys, namespaces)}
        out["components"][component] = entry
        if problems:
            out["ready"] = False
            out["not_ready"].append(component)
    return out


def table(status):
    """The report as lines for people."""
    state = "ready" if status["ready"] else "NOT READY (%s)" % ", ".join(status["not_ready"])
    lines = ["Realm %s: %s" % (status["realm"], state)]
    fmt = "%-9s %-34s %-18s %-9s %s"
    lines += ["", fmt % ("COMPONENT", "RELEASE", "CHART", "STATUS", "READY")]
    for component, entry in status["components"].items():
        for rel in entry["releases"] or [{"namespace": "-", "name": "-", "chart": "-", "status": "absent"}]:
            lines.append(fmt % (component, "%s/%s" % (rel["namespace"], rel["name"]), rel["chart"], rel["status"],
                                ("yes" if entry["ready"] else "NO") + (" (shared)" if rel.get("shared") else "")))
    lines += ["", "ENDPOINTS (in-cluster; ui.yml forwards them to 127.0.0.1)"]
    for component, entry in status["components"].items():
        for ep in entry["endpoints"]:
            lines.append("%-9s %s%s" % (component, ep["url"], (" (%s)" % ep["name"]) if ep["name"] else ""))
        for url in entry["ingress_urls"]:
            lines.append("%-9s %s (ingress)" % (component, url))
    lines += ["", "CREDENTIALS (where they are; read one with the command shown)"]
    for component, entry in status["components"].items():
        for cred in entry["credentials"]:
            lines.append("%-9s %s/%s: %s" % (component, cred["namespace"], cred["secret"], ", ".join(cred["keys"])))
            if cred["keys"]:
                lines.append("%-9s   e.g. %s" % ("", cred["commands"][cred["keys"][0]]))
    problems = [(c, p) for c, e in status["components"].items() for p in e["problems"]]
    if problems:
        lines += ["", "NOT READY"]
        lines += ["%-9s %s" % (c, p) for c, p in problems]
    return lines


def collect(kubectl, helm, realm, components, loader):
    """Read the realm and report it: (report, the objects of its namespaces and of the shared operator's,
    its releases {"<ns>/<name>": entry}). Per namespace of the realm one kubectl get of KINDS, one of the Secrets'
    key names and one helm list, the same (less the Secrets) in the namespace of the shared operator's release
    (found from its ClusterRole), and one helm get manifest per release, run concurrently: no read spans all
    namespaces, so an account whose rights end at the realm's namespaces can run it."""
    components = [c for c in COMPONENTS if c in components]
    namespaces = sorted(set(ns for nss in component_namespaces(realm, components).values() for ns in nss))
    with ThreadPoolExecutor(max_workers=MAX_THREADS) as pool:
        role = pool.submit(kubectl.run_json, operator_args())
        secrets = [pool.submit(kubectl.run, secrets_args(ns)) for ns in namespaces]
        operator = helm_owner((list_items(role.result()) or [{}])[0])
        # The objects of the realm's namespaces and of the shared operator's, wherever it is.
        wanted = namespaces + [operator["namespace"]] if operator and operator["namespace"] not in namespaces \
            else namespaces
        objects = [pool.submit(kubectl.run_json, objects_args(ns)) for ns in wanted]
        listed = [pool.submit(helm.run_json, list_namespace_args(ns)) for ns in wanted]
        releases = dict((key, rel) for key, rel
                        in parse_releases([item for future in listed for item in future.result() or []]).items()
                        if key.split("/", 1)[0] in namespaces or rel["chart_name"] == OPERATOR_CHART)
        manifests = dict((key, pool.submit(helm.run, manifest_args(*reversed(key.split("/", 1)))))
                         for key in releases)
        items = [o for future in objects for o in list_items(future.result())]
        secret_keys = parse_secret_keys("".join(future.result()[1] for future in secrets))
        texts = dict((key, future.result()[1]) for key, future in manifests.items())
    return report(realm, components, items, releases, secret_keys, texts, loader), items, releases
