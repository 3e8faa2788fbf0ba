"""Pod Security levels and NetworkPolicies of a converged realm, checked on the real API server (issue 15).

One realm `hd1` with every component, converged once by site.yml (Helm 4 unless MAGASIN_HELM=3: neither
subject depends on the Helm major). Then:

- each realm namespace carries the pod-security.kubernetes.io labels of its level; every pod template the
  charts made there (Deployments, StatefulSets, DaemonSets, Jobs, and the MinIO pod the operator would make
  from the Tenant) is accepted by the API server's PodSecurity admission in that namespace
  (`kubectl create --dry-run=server` of a Pod), and some are refused in a namespace enforcing the next
  stricter level, so the level is the strictest the charts allow (the shared operator's namespace enforces
  baseline and warns at restricted: its pods must pass restricted);
- each realm namespace has the default deny and exactly one allow per wired flow (an explicit table), each
  allow's pod selectors select the real pods of the charts (or pods only started at run time, named below)
  on ports those pods declare;
- converged again with only minio and drill selected, the policies of the flows from dagster, daskhub and
  superset are gone from the namespaces of the components that stay (pruned by the realm's label).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess

import pytest
from realms import COMPONENTS, helm4_unless_asked, namespaces

REALM = "hd1"
NS = namespaces(REALM)
LEVELS = {"operator": "baseline", "tenant": "restricted", "drill": "baseline", "dagster": "baseline",
          "daskhub": "baseline", "superset": "baseline"}
# Audited and warned at, where stricter than enforced: the shared operator's namespace (its pods pass
# restricted; realms of earlier collection releases upgrade the same operator with values that do not).
WARN = {"operator": "restricted"}
STRICTER = {"baseline": "restricted", "privileged": "baseline"}
PROBE = {level: f"{REALM}-psa-{level}" for level in ("baseline", "restricted")}
POD_KINDS = ("deployments", "statefulsets", "daemonsets", "jobs")
KEPT = ["minio", "drill"]

# Namespace key -> the policies the realm must have there (without the magasin- prefix; the shared operator
# namespace's carry the realm too).
POLICIES = {
    "operator": {"default-deny", "dns", "same-namespace", "api-server", "minio-from-operator"},
    "tenant": {"default-deny", "dns", "same-namespace", "api-server", "minio-from-operator", "minio-peers",
               "minio-from-setup", "minio-from-drill", "minio-from-dagster", "minio-from-daskhub"},
    "drill": {"default-deny", "dns", "same-namespace", "minio-from-drill", "zookeeper-from-drill", "drill-peers",
              "drill-from-dagster", "drill-from-daskhub", "drill-from-superset"},
    "dagster": {"default-deny", "dns", "same-namespace", "minio-from-dagster", "drill-from-dagster",
                "postgresql-from-dagster", "user-code-from-dagster", "api-server", "internet"},
    "daskhub": {"default-deny", "dns", "same-namespace", "minio-from-daskhub", "drill-from-daskhub", "daskhub-internal",
                "api-server", "gateway-api-server", "internet"},
    "superset": {"default-deny", "dns", "same-namespace", "drill-from-superset", "postgresql-from-superset",
                 "redis-from-superset", "internet"},
}
# Selectors that match only pods started at run time (none exist after a converge): MinIO's servers (the
# operator makes them; it does not run on kwok), Dagster's runs, notebooks and Dask clusters.
RUNTIME = {("tenant", "v1.min.io/tenant"), ("dagster", "component=dagster-run"),
           ("daskhub", "magasin.unicef.org/s3-client=true")}


def policy_name(key: str, base: str) -> str:
    return f"magasin-{REALM}-{base}" if key == "operator" else f"magasin-{base}"


def selector(sel: dict) -> str:
    """A LabelSelector in kubectl's --selector syntax."""
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        if e["operator"] == "Exists":
            parts.append(e["key"])
        else:
            parts.append(f"{e['key']} {e['operator'].lower()} ({','.join(e['values'])})")
    return ",".join(parts)


def pod_of(template: dict, name: str, namespace: str, strip_account: bool) -> dict:
    """The Pod a controller would make from a template; PVC templates' volumes become emptyDirs (a dry run
    creates no claim), the service account is dropped where it does not exist (PodSecurity ignores it)."""
    spec = copy.deepcopy(template["spec"])
    if strip_account:
        spec.pop("serviceAccountName", None)
        spec.pop("serviceAccount", None)
    have = {v["name"] for v in spec.get("volumes") or []}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        for mount in c.get("volumeMounts") or []:
            if mount["name"] not in have:
                spec.setdefault("volumes", []).append({"name": mount["name"], "emptyDir": {}})
                have.add(mount["name"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"psa-{name}"[:60].rstrip("-"), "namespace": namespace},
            "spec": spec}


def minio_template(tenant: dict) -> dict:
    """The pod MinIO's operator makes from the Tenant's pool: the minio container, its sidecar and its
    init container, each with the pool's containerSecurityContext, under the pool's securityContext."""
    pool = tenant["spec"]["pools"][0]
    csc = pool.get("containerSecurityContext")
    containers = [{"name": n, "image": tenant["spec"].get("image") or "quay.io/minio/minio", "securityContext": csc}
                  for n in ("minio", "sidecar")]
    return {"spec": {"securityContext": pool.get("securityContext"), "containers": containers,
                     "initContainers": [{"name": "validate-arguments", "image": "quay.io/minio/operator-sidecar",
                                         "securityContext": csc}]}}


@pytest.fixture(scope="module")
def realm(cluster, site_dir, helm_bin) -> dict:
    helm4_unless_asked(helm_bin, "Pod Security and NetworkPolicies do not depend on the Helm major")
    cluster.teardown(REALM)
    for level, ns in PROBE.items():
        cluster.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true")
        cluster.kubectl("create", "namespace", ns)
        cluster.kubectl("label", "namespace", ns, f"pod-security.kubernetes.io/enforce={level}")
    extra = {"magasin_realm": REALM, "magasin_components": COMPONENTS}
    try:
        run = site_dir("site.yml", extra)
        out = {"run": run, "namespaces": {}, "templates": {}, "policies": {}, "pods": {}}
        if run.rc == 0:
            # The shared operator stays where the first realm of the cluster put it (magasin-operator, or an
            # adopted installer's namespace when an earlier test adopted one).
            operator = [r["namespace"] for r in cluster.releases() if r["chart"].startswith("operator-")]
            assert len(operator) == 1, f"one MinIO operator release expected, found {operator}"
            out["ns"] = {**{key: NS[key] for key in LEVELS}, "operator": operator[0]}
            for key in LEVELS:
                ns = out["ns"][key]
                out["namespaces"][key] = cluster.kubectl_json("get", "namespace", ns)
                templates = []
                for kind in POD_KINDS:
                    for obj in cluster.items(kind, ns):
                        templates.append((f"{kind}/{obj['metadata']['name']}", obj["spec"]["template"]))
                for tenant in cluster.items("tenants.minio.min.io", ns):
                    templates.append((f"tenant/{tenant['metadata']['name']}", minio_template(tenant)))
                out["templates"][key] = templates
                out["policies"][key] = cluster.items("networkpolicies", ns)
            out["services"] = {key: cluster.items("services", NS[key]) for key in LEVELS if key != "operator"}
            # Only MinIO and Drill kept: the flows from Dagster, Daskhub and Superset go from their namespaces.
            out["fewer"] = site_dir("site.yml", {**extra, "magasin_components": KEPT})
            out["fewer_policies"] = {key: cluster.items("networkpolicies", out["ns"][key],
                                                        "-l", f"magasin.unicef.org/network-policy=true,magasin.unicef.org/realm={REALM}")
                                     for key in ("operator", "tenant", "drill")}
        yield out
    finally:
        cluster.teardown(REALM)
        for ns in PROBE.values():
            cluster.kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=false")


def dry_run(cluster, pod: dict) -> subprocess.CompletedProcess:
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    return subprocess.run([str(cluster.kubectl_bin), "create", "--dry-run=server", "-o", "name", "-f", "-"], env=env,
                          input=json.dumps(pod), capture_output=True, text=True, timeout=60, check=False)


def test_the_realm_converges(realm: dict):
    realm["run"].ok()


@pytest.mark.parametrize("key", list(LEVELS))
def test_namespace_is_labelled_for_pod_security(realm: dict, key: str):
    labels = realm["namespaces"][key]["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == LEVELS[key], (key, labels)
    for mode in ("audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == WARN.get(key, LEVELS[key]), (key, labels)
    assert labels["pod-security.kubernetes.io/enforce-version"] == "v1.30"


@pytest.mark.parametrize("key", list(LEVELS))
def test_admission_accepts_every_pod_at_the_level_and_refuses_it_one_stricter(cluster, realm: dict, key: str):
    templates = realm["templates"][key]
    assert templates, f"no pod templates in {key}"
    ns = realm["ns"][key]
    refused_somewhere = []
    for name, template in templates:
        ok = dry_run(cluster, pod_of(template, name.replace("/", "-"), ns, strip_account=name.startswith("tenant/")))
        assert ok.returncode == 0, f"{key} ({LEVELS[key]}): {name} refused in {ns}: {ok.stderr}"
        if key in WARN:
            warned = dry_run(cluster, pod_of(template, name.replace("/", "-"), PROBE[WARN[key]], strip_account=True))
            assert warned.returncode == 0, f"{name} does not pass {WARN[key]}, the level {ns} warns at: {warned.stderr}"
            continue
        stricter = STRICTER.get(LEVELS[key])
        if stricter:
            no = dry_run(cluster, pod_of(template, name.replace("/", "-"), PROBE[stricter], strip_account=True))
            if no.returncode != 0:
                assert "violates PodSecurity" in no.stderr, f"{name}: refused for another reason: {no.stderr}"
                refused_somewhere.append(name)
    if STRICTER.get(LEVELS[key]) and key not in WARN:
        # The level is the strictest: at least one of the namespace's pods would not pass the next one.
        assert refused_somewhere, f"{key}: every pod passes {STRICTER[LEVELS[key]]}; raise its level"


@pytest.mark.parametrize("key", list(LEVELS))
def test_policies_are_the_default_deny_and_one_allow_per_wired_flow(cluster, realm: dict, key: str):
    ns = realm["ns"][key]
    mine = [p for p in realm["policies"][key] if (p["metadata"].get("labels") or {}).get("magasin.unicef.org/network-policy")
            and p["metadata"]["labels"].get("magasin.unicef.org/realm") == REALM]
    names = sorted(p["metadata"]["name"] for p in mine)
    assert names == sorted(policy_name(key, b) for b in POLICIES[key]), (key, names)
    for p in mine:
        spec, name = p["spec"], p["metadata"]["name"]
        if name.endswith("default-deny"):
            assert spec["podSelector"] == {} and sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
            continue
        targets = selector(spec["podSelector"])
        if targets and (key, targets) not in RUNTIME:
            pods = cluster.items("pods", ns, "-l", targets)
            assert pods, f"{ns}/{name}: podSelector {targets} selects no pod"
            declared = {port.get("containerPort") for pod in pods for c in pod["spec"]["containers"] for port in c.get("ports") or []}
            # A container may declare no port (Dagster's user code): the numeric targetPort of its Service counts.
            for service in realm["services"].get(key, []):
                wanted_labels = (service["spec"].get("selector") or {}).items()
                if wanted_labels and any(wanted_labels <= (pod["metadata"].get("labels") or {}).items() for pod in pods):
                    declared |= {p.get("targetPort") if isinstance(p.get("targetPort"), int) else p["port"]
                                 for p in service["spec"].get("ports") or [] if not isinstance(p.get("targetPort"), str)}
            for rule in spec.get("ingress") or []:
                for port in rule.get("ports") or []:
                    wanted = set(range(port["port"], port.get("endPort", port["port"]) + 1))
                    assert wanted & declared, f"{ns}/{name}: port {port} not declared by {targets} (declared {declared})"
        for rule in (spec.get("ingress") or []):
            for peer in rule.get("from") or []:
                peer_ns = (peer.get("namespaceSelector") or {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                if peer_ns and "podSelector" in peer:
                    peer_sel = selector(peer["podSelector"])
                    peer_key = next(k for k in LEVELS if realm["ns"][k] == peer_ns)
                    if peer_sel and (peer_key, peer_sel) not in RUNTIME:
                        assert cluster.items("pods", peer_ns, "-l", peer_sel), f"{ns}/{name}: from {peer_ns} {peer_sel}: no pod"


def test_policies_of_deselected_components_are_gone(realm: dict):
    realm["fewer"].ok()
    gone = {"minio-from-dagster", "minio-from-daskhub", "drill-from-dagster", "drill-from-daskhub", "drill-from-superset"}
    for key, policies in realm["fewer_policies"].items():
        names = {p["metadata"]["name"] for p in policies}
        assert names == {policy_name(key, b) for b in POLICIES[key] - gone}, (key, sorted(names))
