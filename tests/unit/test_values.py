"""module_utils/_values.py: values rendered with the REAL charts (helm template, offline), plus the pure parts.

Every component x profile x S3 source is rendered with ../shared/charts/magasin and asserted on
the rendered objects; a readable summary of each case is compared with tests/unit/snapshots/
(MAGASIN_UPDATE_SNAPSHOTS=1 rewrites them).
"""

import base64
import copy
import functools
import json
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _values as V

REPO = Path(__file__).resolve().parents[2]
CHARTS = REPO.parent / "shared" / "charts" / "magasin"
HELM4 = REPO / ".venv" / "bin" / "helm4"
HELM3 = REPO / ".venv" / "bin" / "helm3"
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
REGISTRY = "registry.example.org/mirror"
NAMESPACES = {k: "magasin-" + k for k in ("operator", "tenant", "drill", "dagster", "daskhub", "superset")}
DRILL_URL = "http://drill-service.magasin-drill.svc.cluster.local:8047"

pytestmark = pytest.mark.skipif(not CHARTS.is_dir() or not HELM4.exists(), reason="needs ../shared/charts/magasin and .venv/bin/helm4")


def model(profile="lab", s3="minio", registry="", components=V.COMPONENTS, existing=None, sizing_overrides=None):
    endpoints = {"minio": "http://minio.magasin-tenant.svc.cluster.local", "external": "https://s3.example.org", "none": ""}
    return {
        "realm": "magasin", "default_realm": True, "profile": profile, "state": "present",
        "components": list(components), "namespaces": dict(NAMESPACES),
        "operator": {"name": "operator", "namespace": "magasin-operator"},
        "storage_class": "standard", "ingress_class": "", "image_registry": registry, "bucket": "magasin",
        "s3": {"source": s3, "endpoint": endpoints[s3], "bucket": "magasin", "ssl": s3 == "external", "secret": "magasin-s3"},
        "drill_url": DRILL_URL if "drill" in components else "",
        "sizing": V.sizing(profile, sizing_overrides),
        "existing": existing or {"claims": {}, "tenant_pool": None, "daskhub_release": "daskhub"},
    }


def components_for(component, s3):
    """Selected components of a case: minio only when it is the S3 source (or the component itself)."""
    others = [c for c in V.COMPONENTS if c != "minio"]
    return (["minio"] if s3 == "minio" or component == "minio" else []) + others


INPUTS = {
    "minio": {"tenant_name": "myminio", "console_enabled": True, "api_host": "", "console_host": ""},
    "drill": {"s3_plugin": "s3", "plugin_checksum": "0" * 64},
    "dagster": {"user_deployments": [], "webserver_host": ""},
    "daskhub": {"admin_users": ["admin"], "host": ""},
    "superset": {"admin_user": "admin", "admin_email": "admin@example.org", "drill_database_name": "Drill", "drill_schema": "s3",
                 "drill_driver": "sqlalchemy-drill==1.1.5", "host": ""},
}
SOURCES = {"minio": ["minio"], "drill": ["minio", "external", "none"], "dagster": ["minio", "external"],
           "daskhub": ["minio", "external"], "superset": ["minio", "external", "none"]}
CASES = [(c, p, s, V.CHART_VERSIONS.get(c, "5.0.11")) for c in V.COMPONENTS for p in V.PROFILES for s in SOURCES[c]]
PREVIOUS = [(c, p, "minio", v) for c, v in V.PREVIOUS_CHART_VERSIONS.items() for p in V.PROFILES]
REGISTRY_CASES = [(c, "small", "minio", V.CHART_VERSIONS.get(c, "5.0.11")) for c in V.COMPONENTS]


def case_id(case):
    component, profile, s3, version = case
    return "%s-%s-%s-%s" % (component, profile, s3, version)


def case_values(case, registry=""):
    component, profile, s3, version = case
    m = model(profile, s3, registry=registry, components=components_for(component, s3))
    return V.component_values(component, m, dict(INPUTS[component], chart_version=version))


def chart_of(release_key):
    return release_key  # operator, tenant, drill, dagster, daskhub, superset


def helm_template(helm, release_key, version, values):
    chart = chart_of(release_key)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(values, f)
    try:
        argv = [str(helm), "template", release_key if release_key != "operator" else "operator",
                str(CHARTS / ("%s-%s.tgz" % (chart, version))), "--namespace", NAMESPACES.get(release_key, "magasin-" + release_key),
                "--values", f.name]
        if chart == "dagster":
            argv.append("--skip-schema-validation")
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    finally:
        os.unlink(f.name)
    assert proc.returncode == 0, "helm template %s %s failed: %s" % (chart, version, proc.stderr)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


@functools.cache
def rendered(case, helm=str(HELM4), registry=""):
    """{release_key: [documents]} of a case, cached (prerendered concurrently by the fixture below)."""
    component = case[0]
    out = {}
    for key, values in case_values(case, registry).items():
        version = case[3] if key == component else V.CHART_VERSIONS[key]
        out[key] = helm_template(helm, key, version, values)
    return out


@pytest.fixture(scope="module", autouse=True)
def prerender():
    jobs = [(c, str(HELM4), "") for c in CASES + PREVIOUS] + [(c, str(HELM4), REGISTRY) for c in REGISTRY_CASES]
    jobs += [(c, str(HELM3), "") for c in CASES if c[1] == "lab" and c[2] == "minio"]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda job: rendered(*job), jobs))


# --- reading rendered objects ---------------------------------------------------------------

def docs_of(case, **kw):
    return [d for docs in rendered(case, **kw).values() for d in docs]


def find(docs, kind, name=None):
    found = [d for d in docs if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)]
    assert found or name is None, "no %s %s in %s" % (kind, name, sorted("%s/%s" % (d["kind"], d["metadata"]["name"]) for d in docs))
    return found


def one(docs, kind, name):
    return find(docs, kind, name)[0]


def pod_spec(obj):
    if obj["kind"] == "Tenant":
        return {}
    return obj["spec"]["template"]["spec"]


def containers(obj, init=True):
    spec = pod_spec(obj)
    return list(spec.get("containers") or []) + (list(spec.get("initContainers") or []) if init else [])


def container(obj, name=None):
    cs = containers(obj, init=False)
    return next(c for c in cs if name is None or c["name"] == name)


def secret_data(secret):
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def all_text(docs):
    """Every rendered object as text, Secret data decoded."""
    parts = []
    for d in docs:
        parts.append(yaml.safe_dump(d))
        if d.get("kind") == "Secret":
            parts.extend(secret_data(d).values())
    return "\n".join(parts)


def workload_objects(docs):
    return [d for d in docs if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")]


def env_refs(c):
    refs = []
    for e in c.get("env") or []:
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            refs.append("%s <- secret %s/%s" % (e["name"], ref["name"], ref["key"]))
    for e in c.get("envFrom") or []:
        if "secretRef" in e:
            refs.append("envFrom secret %s" % e["secretRef"]["name"])
    return refs


def summary(docs):
    """A reviewer's digest of a render: per workload replicas, containers (image, resources, env refs), volumes."""
    out = {}
    for d in sorted(docs, key=lambda d: (d["kind"], d["metadata"]["name"])):
        key = "%s/%s" % (d["kind"], d["metadata"]["name"])
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            spec = pod_spec(d)
            entry = {"replicas": d["spec"].get("replicas")} if d["kind"] != "Job" else {}
            entry["containers"] = {}
            for c in containers(d):
                ce = {"image": c.get("image")}
                if c.get("resources"):
                    ce["resources"] = c["resources"]
                if env_refs(c):
                    ce["secrets"] = env_refs(c)
                entry["containers"][c["name"]] = ce
            volumes = {}
            for v in spec.get("volumes") or []:
                if "secret" in v:
                    volumes[v["name"]] = "secret %s" % v["secret"]["secretName"]
                elif "persistentVolumeClaim" in v:
                    volumes[v["name"]] = "claim %s" % v["persistentVolumeClaim"]["claimName"]
            if volumes:
                entry["volumes"] = volumes
            for t in d["spec"].get("volumeClaimTemplates") or []:
                entry.setdefault("claims", {})[t["metadata"]["name"]] = {
                    "size": t["spec"]["resources"]["requests"]["storage"], "class": t["spec"].get("storageClassName", "(unset)")}
            if (spec.get("affinity") or {}).get("podAntiAffinity"):
                entry["antiAffinity"] = sorted(spec["affinity"]["podAntiAffinity"])
            out[key] = entry
        elif d["kind"] == "Tenant":
            out[key] = {"image": d["spec"]["image"], "configuration": d["spec"]["configuration"]["name"],
                        "pools": [{"servers": p["servers"], "volumesPerServer": p["volumesPerServer"],
                                   "size": p["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"],
                                   "class": p["volumeClaimTemplate"]["spec"]["storageClassName"],
                                   "resources": p.get("resources"), "antiAffinity": bool(p.get("affinity"))} for p in d["spec"]["pools"]]}
        elif d["kind"] == "PersistentVolumeClaim":
            out[key] = {"size": d["spec"]["resources"]["requests"]["storage"], "class": d["spec"].get("storageClassName", "(unset)")}
        elif d["kind"] == "Secret":
            out[key] = {"keys": sorted(secret_data(d))}
    return out


# --- the render matrix -------------------------------------------------------------------------

def snapshot_name(case):
    component, profile, s3, version = case
    pinned = version == V.CHART_VERSIONS.get(component, version)
    return "%s-%s-%s%s.yaml" % (component, profile, s3, "" if pinned else "-" + version)


@pytest.mark.parametrize("case", CASES + PREVIOUS, ids=case_id)
def test_snapshot(case):
    text = yaml.safe_dump({k: summary(v) for k, v in rendered(case).items()}, sort_keys=True, width=200)
    path = SNAPSHOTS / snapshot_name(case)
    if os.environ.get("MAGASIN_UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not os.environ.get("MAGASIN_UPDATE_SNAPSHOTS") and not path.exists():
            SNAPSHOTS.mkdir(exist_ok=True)
            path.write_text(text)
            pytest.fail("snapshot %s was missing and has been written; review and commit it" % path.name)
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), "summary of %s changed; MAGASIN_UPDATE_SNAPSHOTS=1 rewrites it, then review the diff" % path.name


FORBIDDEN = ["minio123", *V.SUPERSET_PUBLIC_SECRET_KEYS, "--password admin", "--password \"admin\""]
SECRETISH = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|_PWD$")
FLAGS = {"ALLOW_EMPTY_PASSWORD"}  # bitnami's switch, not a credential


@pytest.mark.parametrize("case", CASES + PREVIOUS, ids=case_id)
def test_no_default_credential_and_secrets_only_by_reference(case):
    docs = docs_of(case)
    text = all_text(docs)
    for word in FORBIDDEN:
        assert word not in text, "%s renders %r" % (case_id(case), word)
    for d in workload_objects(docs):
        for c in containers(d):
            for e in c.get("env") or []:
                if SECRETISH.search(e["name"]) and "value" in e and not e["name"].endswith("_FILE") and e["name"] not in FLAGS:
                    assert not e["value"], "%s %s: %s set inline" % (d["metadata"]["name"], c["name"], e["name"])
    for s in find(docs, "Secret"):
        data = secret_data(s)
        # dagster's default 'test', superset's 'superset'/'admin', MinIO's minio/minio123
        for key, value in data.items():
            if SECRETISH.search(key.upper()) or key in ("postgresql-password", "password", "redis-password"):
                assert value not in ("test", "superset", "admin", "minio", "minio123"), "%s/%s holds a default" % (s["metadata"]["name"], key)
        assert "postgresql-password" not in data, "dagster's chart renders its own PostgreSQL password"


@pytest.mark.parametrize("case", CASES + PREVIOUS, ids=case_id)
def test_storage_classes_are_strings(case):
    docs = docs_of(case)
    for d in find(docs, "StatefulSet"):
        for t in d["spec"].get("volumeClaimTemplates") or []:
            assert t["spec"]["storageClassName"] == "standard", d["metadata"]["name"]
    for d in find(docs, "PersistentVolumeClaim"):
        assert d["spec"]["storageClassName"] == "standard", d["metadata"]["name"]
    for d in find(docs, "Tenant"):
        for p in d["spec"]["pools"]:
            assert p["volumeClaimTemplate"]["spec"]["storageClassName"] == "standard"


def requests_of(sizing_entry):
    return {"requests": sizing_entry["requests"], **({"limits": sizing_entry["limits"]} if "limits" in sizing_entry else {})}


def norm(resources):
    """Resources with quantities as numbers, so '1' == 1 and '0.25' == 250m."""
    return {k: {r: V.quantity(q) for r, q in v.items() if r in ("cpu", "memory")} for k, v in (resources or {}).items()
            if k in ("requests", "limits")}


@pytest.mark.parametrize("case", [c for c in CASES + PREVIOUS if c[0] == "minio"], ids=case_id)
def test_minio(case):
    profile = case[1]
    size = V.sizing(profile)["minio"]["pool"]
    r = rendered(case)
    assert not find(r["tenant"], "Secret"), "the tenant chart renders its own credentials Secret"
    tenant = one(r["tenant"], "Tenant", "myminio")
    assert tenant["spec"]["configuration"]["name"] == V.SECRETS["minio_config"]
    pool = tenant["spec"]["pools"][0]
    assert (pool["servers"], pool["volumesPerServer"]) == (size["replicas"], size["volumes_per_server"])
    assert pool["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == size["size"]
    assert norm(pool["resources"]) == norm(requests_of(size))
    assert bool(pool.get("affinity")) == (profile == "production")
    operator = one(r["operator"], "Deployment", "minio-operator")
    assert operator["spec"]["replicas"] == 1
    assert norm(container(operator)["resources"])["requests"] == norm(requests_of(V.OPERATOR_SIZING["operator"]))["requests"]


def test_operator_does_not_depend_on_the_profile():
    values = [V.component_values("minio", model(p), INPUTS["minio"])["operator"] for p in V.PROFILES]
    assert values[0] == values[1] == values[2]
    override = V.component_values("minio", model("lab"), dict(INPUTS["minio"], operator_sizing={"operator": {"replicas": 2}}))
    assert override["operator"]["operator"]["replicaCount"] == 2
    assert override["operator"]["operator"]["resources"] == values[0]["operator"]["resources"]


def test_existing_tenant_keeps_its_pool():
    existing = {"claims": {}, "tenant_pool": {"servers": 2, "volumesPerServer": 2, "size": "10Gi", "storageClassName": "old"}}
    values = V.component_values("minio", model("production", existing=existing), INPUTS["minio"])["tenant"]
    pool = values["tenant"]["pools"][0]
    assert (pool["servers"], pool["volumesPerServer"], pool["size"], pool["storageClassName"]) == (2, 2, "10Gi", "old")
    existing["tenant_pool"]["storageClassName"] = None
    pool = V.component_values("minio", model("production", existing=existing), INPUTS["minio"])["tenant"]["tenant"]["pools"][0]
    assert pool["storageClassName"] == "standard"
    docs = helm_template(HELM4, "tenant", "5.0.11", values)
    assert one(docs, "Tenant", "myminio")["spec"]["pools"][0]["servers"] == 2


@pytest.mark.parametrize("case", [c for c in CASES + PREVIOUS if c[0] == "drill"], ids=case_id)
def test_drill(case):
    profile, s3, version = case[1:]
    size = V.sizing(profile)["drill"]
    docs = docs_of(case)
    drillbit = one(docs, "StatefulSet", "drillbit")
    assert drillbit["spec"]["replicas"] == size["drillbit"]["replicas"]
    c = container(drillbit, "drill-pod")
    assert {e["name"]: e.get("value") for e in c["env"]}["DRILL_MAX_MEMORY"] == size["drillbit"]["max_memory"]
    volumes = {v["name"]: v for v in pod_spec(drillbit)["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    plugin = "/opt/drill/conf/storage-plugins-override.conf"
    if s3 == "none":
        assert plugin not in mounts
    else:
        assert volumes[mounts[plugin]["name"]]["secret"]["secretName"] == V.SECRETS["drill_plugin"]
        assert mounts[plugin]["subPath"] == V.DRILL_PLUGIN_KEY
        annotations = drillbit["spec"]["template"]["metadata"].get("annotations") or {}
        assert ("magasin.unicef.org/storage-plugin-checksum" in annotations) == (version != "0.7.2")
    assert pod_spec(drillbit)["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def test_drill_storage_plugin():
    m = model("lab", "minio")
    conf = json.loads(V.drill_storage_plugin(m, {"s3_plugin": "lake"}, "AK", "SK"))
    plugin = conf["storage"]["lake"]
    assert plugin["connection"] == "s3a://magasin"
    assert plugin["config"]["fs.s3a.endpoint"] == "http://minio.magasin-tenant.svc.cluster.local"
    assert (plugin["config"]["fs.s3a.access.key"], plugin["config"]["fs.s3a.secret.key"]) == ("AK", "SK")
    assert plugin["config"]["fs.s3a.connection.ssl.enabled"] == "false"
    external = json.loads(V.drill_storage_plugin(model("lab", "external"), {}, "a", "b"))["storage"]["s3"]
    assert external["config"]["fs.s3a.connection.ssl.enabled"] == "true"
    assert V.drill_storage_plugin(m, {}, "a", "b") == V.drill_storage_plugin(m, {}, "a", "b")


@pytest.mark.parametrize("case", [c for c in CASES + PREVIOUS if c[0] == "dagster"], ids=case_id)
def test_dagster(case):
    profile, s3 = case[1:3]
    size = V.sizing(profile)["dagster"]
    docs = docs_of(case)
    webserver = one(docs, "Deployment", "dagster-dagster-webserver")
    assert webserver["spec"]["replicas"] == size["webserver"]["replicas"]
    assert norm(container(webserver)["resources"]) == norm(requests_of(size["webserver"]))
    assert bool(pod_spec(webserver).get("affinity")) == (profile == "production")
    user = one(docs, "Deployment", "dagster-dagster-user-deployments-k8s-example-user-code-1")
    c = container(user)
    assert "envFrom secret magasin-s3" in env_refs(c)
    assert {e["name"]: e.get("value") for e in c["env"]}["MAGASIN_DRILL_URL"] == DRILL_URL
    assert norm(c["resources"]) == norm(requests_of(size["user_code"]))
    for d in (webserver, user, one(docs, "Deployment", "dagster-daemon")):
        assert "DAGSTER_PG_PASSWORD <- secret magasin-dagster-postgresql/postgresql-password" in env_refs(container(d))
    pg = one(docs, "StatefulSet", "dagster-postgresql")
    assert "POSTGRES_PASSWORD <- secret magasin-dagster-postgresql/postgresql-password" in env_refs(container(pg))
    assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == size["postgresql"]["size"]
    instance = yaml.safe_load(one(docs, "ConfigMap", "dagster-instance")["data"]["dagster.yaml"])
    launcher = instance["run_launcher"]["config"]
    assert launcher["env_secrets"] == ["magasin-s3"]
    assert launcher["env_vars"] == ["MAGASIN_DRILL_URL=" + DRILL_URL]


def test_dagster_keeps_an_existing_claim():
    existing = {"claims": {"magasin-dagster/dagster-postgresql": {"size": "8Gi", "class": None}}, "tenant_pool": None}
    values = V.component_values("dagster", model("production", existing=existing), INPUTS["dagster"])["dagster"]
    docs = helm_template(HELM4, "dagster", "1.9.3", values)
    template = one(docs, "StatefulSet", "dagster-postgresql")["spec"]["volumeClaimTemplates"][0]["spec"]
    assert template["resources"]["requests"]["storage"] == "8Gi"
    assert "storageClassName" not in template


@pytest.mark.parametrize("case", [c for c in CASES + PREVIOUS if c[0] == "daskhub"], ids=case_id)
def test_daskhub(case):
    profile, s3 = case[1:3]
    size = V.sizing(profile)["daskhub"]
    docs = docs_of(case)
    hub = one(docs, "Deployment", "hub")
    refs = env_refs(container(hub))
    assert "MAGASIN_NOTEBOOK_PASSWORD <- secret magasin-daskhub-credentials/notebook-password" in refs
    assert "MAGASIN_GATEWAY_API_TOKEN <- secret magasin-daskhub-credentials/gateway-api-token" in refs
    gateway = next(d for d in find(docs, "Deployment") if d["metadata"]["name"].startswith("api-"))
    assert gateway["spec"]["replicas"] == size["gateway"]["replicas"]
    token = next(e for e in container(gateway)["env"] if e["name"] == "JUPYTERHUB_API_TOKEN")
    assert token["valueFrom"]["secretKeyRef"] == {"name": "magasin-daskhub-credentials", "key": "gateway-api-token"}
    config = yaml.safe_load(secret_data(one(docs, "Secret", "hub"))["values.yaml"])
    assert "password" not in json.dumps(config["hub"].get("config", {})).lower()
    assert "apiToken" not in json.dumps(config["hub"].get("services", {}))
    env = config["singleuser"]["extraEnv"]
    for key in V.S3_SECRET_KEYS:
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": "magasin-s3", "key": key}
    assert env["MAGASIN_DRILL_URL"] == DRILL_URL
    assert config["singleuser"]["storage"]["dynamic"]["storageClass"] == "standard"
    hub_db = one(docs, "PersistentVolumeClaim", "hub-db-dir")
    assert hub_db["spec"]["resources"]["requests"]["storage"] == size["hub_db"]["size"]
    # helm uninstall leaves it (magasin_state: absent keeps every volume).
    assert hub_db["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert norm(container(hub)["resources"]) == norm(requests_of(size["hub"]))


@pytest.mark.parametrize("case", [c for c in CASES + PREVIOUS if c[0] == "superset"], ids=case_id)
def test_superset(case):
    profile, s3, version = case[1:]
    size = V.sizing(profile)["superset"]
    docs = docs_of(case)
    node, worker = one(docs, "Deployment", "superset"), one(docs, "Deployment", "superset-worker")
    for d, w in ((node, "node"), (worker, "worker")):
        assert d["spec"]["replicas"] == size[w]["replicas"]
        assert norm(container(d)["resources"]) == norm(requests_of(size[w]))
        assert "envFrom secret magasin-superset-env" in env_refs(container(d))
        assert bool(pod_spec(d).get("affinity")) == (profile == "production")
    config = secret_data(one(docs, "Secret", "superset-config"))
    assert 'SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]' in config["superset_config.py"]
    assert [line for line in config["superset_config.py"].splitlines() if line.startswith("SECRET_KEY")] == [
        'SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]']
    assert '--password "$SUPERSET_ADMIN_PASSWORD"' in config["superset_init.sh"]
    assert bool(find(docs, "Secret", None) and [s for s in find(docs, "Secret") if s["metadata"]["name"] == "superset-env"]) == (version < "0.13")
    pg = one(docs, "StatefulSet", "superset-postgresql")
    assert pg["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == size["postgresql"]["size"]
    assert "POSTGRES_PASSWORD <- secret magasin-superset-credentials/password" in env_refs(container(pg))
    extra = [secret_data(d) if d["kind"] == "Secret" else d.get("data", {}) for d in docs
             if d["kind"] in ("Secret", "ConfigMap") and "import_datasources.yaml" in (secret_data(d) if d["kind"] == "Secret" else d.get("data") or {})]
    if "drill" in components_for("superset", s3):
        imported = yaml.safe_load(extra[0]["import_datasources.yaml"])
        assert imported["databases"][0]["sqlalchemy_uri"].startswith("drill+sadrill://drill-service.magasin-drill.svc.cluster.local:8047/s3")
    bootstrap = config["superset_bootstrap.sh"]
    assert ("psycopg2-binary" in bootstrap) == (version >= "0.13")


def test_superset_without_drill_imports_nothing():
    m = model("lab", "none", components=["superset"])
    values = V.component_values("superset", m, INPUTS["superset"])["superset"]
    assert values["extraConfigs"] == {}
    docs = helm_template(HELM4, "superset", "0.13.4", values)
    assert "sqlalchemy-drill" not in secret_data(one(docs, "Secret", "superset-config"))["superset_bootstrap.sh"]


# Images the charts give no key for (documented in _values.py).
UNRELOCATABLE = {"busybox", "library/postgres:14.6"}


@pytest.mark.parametrize("case", REGISTRY_CASES, ids=case_id)
def test_image_registry(case):
    docs = docs_of(case, registry=REGISTRY)
    images = {c["image"] for d in workload_objects(docs) for c in containers(d)}
    images |= {d["spec"]["image"] for d in find(docs, "Tenant")}
    if case[0] == "daskhub":
        config = yaml.safe_load(secret_data(one(docs, "Secret", "hub"))["values.yaml"])
        images.add(config["singleuser"]["image"]["name"])
    stray = {i for i in images if not i.startswith(REGISTRY + "/") and i not in UNRELOCATABLE}
    assert not stray


@pytest.mark.parametrize("case", [c for c in CASES if c[1] == "lab" and c[2] == "minio"], ids=case_id)
def test_helm3_renders_the_same(case):
    def strip(docs):
        return [summary(docs)]
    for key, docs in rendered(case, helm=str(HELM3)).items():
        assert strip(docs) == strip(rendered(case)[key])


# --- pure parts ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("q", "cores"), [("100m", 0.1), ("1", 1.0), (2, 2.0), (0.25, 0.25), ("1.5", 1.5), ("1e-1", 0.1),
                                          ("2500m", 2.5), ("0.5k", 500.0)])
def test_cpu(q, cores):
    assert V.cpu(q) == pytest.approx(cores)


@pytest.mark.parametrize(("q", "size"), [("1Ki", 1024), ("1Mi", 2 ** 20), ("2Gi", 2 * 2 ** 30), ("1Ti", 2 ** 40), ("1K", 1000), ("1k", 1000),
                                         ("1M", 10 ** 6), ("1G", 10 ** 9), ("1T", 10 ** 12), ("128974848", 128974848), ("129e6", 129000000),
                                         ("1.5Gi", 3 * 2 ** 29), ("1500m", 2), (512, 512), ("0.5Mi", 2 ** 19)])
def test_memory(q, size):
    assert V.memory(q) == size


@pytest.mark.parametrize("q", ["", "abc", "1Gb", "Gi", "-1", "1 Gi x", None, True, "1e3Gi", [], "1.2.3", float("nan")])
def test_quantity_nonsense(q):
    with pytest.raises(ValueError):
        V.quantity(q)


def test_sizing_merges_overrides():
    s = V.sizing("production", {"drill": {"drillbit": {"replicas": 5, "requests": {"cpu": "8"}}}})
    assert s["drill"]["drillbit"]["replicas"] == 5
    assert s["drill"]["drillbit"]["requests"] == {"cpu": "8", "memory": "16Gi"}
    assert s["drill"]["drillbit"]["max_memory"] == "12Gi"
    assert V.DEFAULT_SIZING["drill"]["production"]["drillbit"]["replicas"] == 3
    assert s["superset"] == V.DEFAULT_SIZING["superset"]["production"]


@pytest.mark.parametrize(("profile", "overrides", "word"), [
    ("huge", None, "magasin_profile"),
    ("lab", {"kafka": {}}, "magasin_sizing.kafka"),
    ("lab", {"drill": {"drillbits": {}}}, "magasin_sizing.drill.drillbits"),
    ("lab", {"drill": {"drillbit": 3}}, "magasin_sizing.drill.drillbit"),
    ("lab", {"drill": []}, "magasin_sizing.drill"),
    ("lab", ["drill"], "magasin_sizing"),
])
def test_sizing_refuses(profile, overrides, word):
    with pytest.raises(ValueError, match=re.escape(word)):
        V.sizing(profile, overrides)


def test_every_profile_has_the_same_workloads():
    for component, profiles in V.DEFAULT_SIZING.items():
        assert set(profiles) == set(V.PROFILES)
        assert len({tuple(sorted(w)) for w in profiles.values()}) == 1, component


def test_workloads_read_the_final_values():
    values = V.component_values("superset", model("small"), INPUTS["superset"])
    merged = copy.deepcopy(values)
    merged["superset"]["supersetNode"]["replicas"]["replicaCount"] = 4
    merged["superset"]["supersetNode"]["resources"]["requests"]["cpu"] = "2"
    node = next(w for w in V.workloads("superset", merged) if w["name"] == "node")
    assert node == {"name": "node", "replicas": 4, "cpu": 2.0, "memory": 2 ** 30}
    old = V.component_values("superset", model("small"), dict(INPUTS["superset"], chart_version="0.12.6"))
    assert next(w for w in V.workloads("superset", old) if w["name"] == "worker")["replicas"] == 1


def test_workloads_of_drill_use_the_budget():
    values = V.component_values("drill", model("production"), INPUTS["drill"])
    assert V.workloads("drill", values) == [{"name": "drillbit", "replicas": 3, "cpu": 4.0, "memory": 16 * 2 ** 30},
                                            {"name": "zookeeper", "replicas": 1, "cpu": 0.5, "memory": 2 ** 30}]
    values["drill"]["drill"]["memory"] = "20Gi"
    values["drill"]["drill"]["count"] = 5
    assert V.workloads("drill", values)[0] == {"name": "drillbit", "replicas": 5, "cpu": 4.0, "memory": 20 * 2 ** 30}


def test_workloads_of_minio_without_the_operator():
    values = V.component_values("minio", model("production"), INPUTS["minio"])
    names = [w["name"] for w in V.workloads("minio", values)]
    assert names == ["operator", "console", "pool"]
    del values["operator"]
    assert V.workloads("minio", values) == [{"name": "pool", "replicas": 4, "cpu": 2.0, "memory": 8 * 2 ** 30}]


@pytest.mark.parametrize("component", V.COMPONENTS)
def test_workloads_match_sizing(component):
    profile_sizing = V.sizing("production")[component]
    values = V.component_values(component, model("production"), INPUTS[component])
    for w in V.workloads(component, values):
        name = w["name"].split(":")[0]
        if name in profile_sizing and "requests" in profile_sizing[name]:
            assert w["cpu"] == pytest.approx(V.cpu(profile_sizing[name]["requests"]["cpu"])), (component, name)


def test_values_are_pure_and_json():
    m = model("production")
    before = copy.deepcopy(m)
    for component in V.COMPONENTS:
        first = V.component_values(component, m, INPUTS[component])
        assert json.loads(json.dumps(first)) == first
        assert V.component_values(component, m, INPUTS[component]) == first
    assert m == before


def test_relocate():
    assert V.relocate("quay.io/minio/minio", "r.example.org/m/") == "r.example.org/m/minio/minio"
    assert V.relocate("merlos/drill:1.21.2", "r.example.org") == "r.example.org/merlos/drill:1.21.2"
    assert V.relocate("traefik", "r:5000") == "r:5000/traefik"
    assert V.relocate("localhost:5000/x", "r") == "r/x"
    assert V.relocate("quay.io/minio/minio", "") == "quay.io/minio/minio"


def test_secret_names():
    assert V.minio_user_secret("daskhub") == "magasin-minio-user-notebooks"
    assert {c: v["user"] for c, v in V.S3_CONSUMERS.items()} == {"drill": "drill", "dagster": "dagster", "daskhub": "notebooks"}
    assert V.SECRETS["s3"] == "magasin-s3"
    assert set(V.SECRETS) == set(V.SECRET_KEYS)


def test_no_storage_class_is_refused():
    m = model("lab")
    m["storage_class"] = ""
    with pytest.raises(ValueError, match="storage class"):
        V.component_values("minio", m, INPUTS["minio"])
