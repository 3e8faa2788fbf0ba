"""The component roles and playbooks on the test cluster, with the stand-in charts.

The charts are the project's stand-ins (tests/charts), packaged and served from a
chart repository on 127.0.0.1 under the real names and versions. Containers never
run on the test cluster (kwok): the assertions are on releases and the values helm
stored, and on the Secrets, ConfigMaps and policies the roles created.

Converged state is shared: the default realm `magasin` is deployed once (adopting an
installer-style deployment) and checked by several tests; the realm `solo` is built
one component at a time and then removed. One Helm major (MAGASIN_HELM, default 4).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
sys.path.insert(0, str(REPO_ROOT / "tests" / "charts"))

from serve import package, serving  # noqa: E402

RECAP_RE = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
COMPONENTS = ["minio", "drill", "dagster", "daskhub", "superset"]
# (release, chart, namespace) as the magasin installer creates them in the realm `magasin`.
INSTALLER = [
    ("drill", "drill", "magasin-drill"),
    ("daskhub", "daskhub", "magasin-daskhub"),
    ("dagster", "dagster", "magasin-dagster"),
    ("superset", "superset", "magasin-superset"),
    ("operator", "operator", "magasin-operator"),
    ("tenant", "tenant", "magasin-tenant"),
]
CREDENTIAL_SECRETS = [
    ("magasin-tenant", "magasin-minio-root"),
    ("magasin-tenant", "magasin-minio-user-drill"),
    ("magasin-tenant", "magasin-minio-user-dagster"),
    ("magasin-tenant", "magasin-minio-user-notebooks"),
    ("magasin-dagster", "magasin-dagster-postgresql"),
    ("magasin-daskhub", "magasin-daskhub-credentials"),
    ("magasin-superset", "magasin-superset-credentials"),
]


class Cluster:
    """helm and kubectl against the test cluster, JSON in, JSON out."""

    def __init__(self, kubeconfig: Path, helm: Path):
        self.kubeconfig = kubeconfig
        self.helm_bin = helm
        self.kubectl_bin = VENV_BIN / "kubectl"

    def run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([str(self.helm_bin), *args], check=check)

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.run([str(self.kubectl_bin), *args, "-o", "json"]).stdout or "{}")

    def releases(self) -> list[dict]:
        return json.loads(self.helm("list", "--all-namespaces", "--output", "json").stdout or "[]")

    def release(self, name: str, namespace: str) -> dict | None:
        return next((r for r in self.releases() if r["name"] == name and r["namespace"] == namespace), None)

    def values(self, name: str, namespace: str) -> dict:
        return json.loads(self.helm("get", "values", name, "--namespace", namespace, "--output", "json").stdout)

    def secret(self, namespace: str, name: str) -> dict[str, str]:
        data = self.kubectl_json("get", "secret", name, "--namespace", namespace).get("data") or {}
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    def exists(self, *args: str) -> bool:
        return self.run([str(self.kubectl_bin), "get", *args, "--ignore-not-found", "-o", "name"]).stdout.strip() != ""

    def snapshot(self) -> dict:
        """What a failed preflight must leave untouched: releases with revisions, namespaces, Secrets."""
        namespaces = sorted(i["metadata"]["name"] for i in self.kubectl_json("get", "namespaces")["items"])
        secrets = sorted((i["metadata"]["namespace"], i["metadata"]["name"], i["metadata"]["resourceVersion"])
                         for i in self.kubectl_json("get", "secrets", "--all-namespaces")["items"])
        releases = sorted((r["namespace"], r["name"], r["revision"], r["status"]) for r in self.releases())
        return {"namespaces": namespaces, "secrets": secrets, "releases": releases}


class Run:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.rc = proc.returncode
        self.output = proc.stdout + proc.stderr

    @property
    def changed(self) -> int:
        match = RECAP_RE.search(self.output)
        assert match, f"no PLAY RECAP:\n{self.output[-4000:]}"
        return int(match.group(2))

    def ok(self) -> Run:
        assert self.rc == 0, f"ansible-playbook failed (rc {self.rc}):\n{self.output[-6000:]}"
        return self


@pytest.fixture(scope="module")
def role_helm() -> Path:
    """One Helm major for these long tests: MAGASIN_HELM when it names one, else 4."""
    major = (os.environ.get("MAGASIN_HELM") or "4").strip()[:1]
    path = VENV_BIN / f"helm{major}"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make setup`", pytrace=False)
    return path


@pytest.fixture(scope="module")
def chart_repo(tmp_path_factory: pytest.TempPathFactory, role_helm: Path):
    directory = tmp_path_factory.mktemp("charts")
    package(directory, helm=str(role_helm))
    with serving(directory) as url:
        yield url


@pytest.fixture(scope="module")
def cluster(kubeconfig: Path, role_helm: Path) -> Cluster:
    return Cluster(kubeconfig, role_helm)


@pytest.fixture(scope="module")
def playbook(kubeconfig: Path, role_helm: Path, chart_repo: str):
    """Runs a playbook of the collection with inventories/local, pointed at the test repository."""

    def run(path: str, extra: dict | None = None, *args: str) -> Run:
        extra_vars = {"magasin_kubeconfig": str(kubeconfig), "magasin_helm_binary": str(role_helm),
                      "magasin_chart_repo": chart_repo, "magasin_charts_dir": "", **(extra or {})}
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0")
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", path,
               "--extra-vars", json.dumps(extra_vars), *args]
        return Run(subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1200,
                                  check=False))

    return run


def uninstall_realm(cluster: Cluster, prefix: str) -> None:
    for rel in cluster.releases():
        if rel["namespace"].startswith(prefix + "-") and rel["name"] != "operator":
            cluster.helm("uninstall", rel["name"], "--namespace", rel["namespace"], "--wait")


@pytest.fixture(scope="module")
def site(cluster: Cluster, playbook, chart_repo: str) -> dict:
    """The default realm, first made the installer's way (plain `helm install`), then site.yml three times."""
    uninstall_realm(cluster, "magasin")
    for release, chart, namespace in INSTALLER:
        if release == "operator" and cluster.exists("clusterrole", "minio-operator-role"):
            continue  # one operator per cluster: whoever installed it first
        cluster.helm("install", release, chart, "--repo", chart_repo, "--namespace", namespace,
                     "--create-namespace", "--skip-schema-validation")
    before = {(r["namespace"], r["name"]): r["revision"] for r in cluster.releases()}

    first = playbook("site.yml").ok()
    secrets = [{(ns, name): cluster.secret(ns, name) for ns, name in CREDENTIAL_SECRETS}]
    second = playbook("site.yml").ok()
    secrets.append({(ns, name): cluster.secret(ns, name) for ns, name in CREDENTIAL_SECRETS})
    third = playbook("site.yml", None, "-vvv").ok()
    secrets.append({(ns, name): cluster.secret(ns, name) for ns, name in CREDENTIAL_SECRETS})
    return {"before": before, "runs": [first, second, third], "secrets": secrets}


def test_site_adopts_installer_deployment_in_place(site: dict, cluster: Cluster):
    releases = cluster.releases()
    for release, chart, namespace in INSTALLER:
        if release == "operator":
            continue
        found = [r for r in releases if r["chart"].startswith(chart + "-")
                 and r["namespace"].startswith("magasin-") and not r["namespace"].startswith("magasin-operator")]
        assert [(r["name"], r["namespace"]) for r in found] == [(release, namespace)], found
        assert found[0]["status"] == "deployed"
        # Upgraded in place: the installer's revision 1, then the first site run.
        assert int(found[0]["revision"]) == int(site["before"][(namespace, release)]) + 1
    operators = [r for r in releases if r["chart"].startswith("operator-")]
    assert len(operators) == 1 and operators[0]["status"] == "deployed"


def test_site_converges_and_second_run_changes_nothing(site: dict):
    first, second, third = site["runs"]
    assert first.changed > 0
    assert second.changed == 0, second.output[-4000:]
    assert third.changed == 0
    assert "deployed, ready" in second.output
    for component in COMPONENTS:
        assert re.search(rf"^\s*{component}\s+\S+\s+magasin-\S+\s+\S+\s+deployed, ready", second.output, re.MULTILINE)


def test_credentials_stable_and_never_printed(site: dict, cluster: Cluster):
    first, second, third = site["secrets"]
    assert first == second == third
    for (namespace, name), data in first.items():
        assert data, f"{namespace}/{name} is empty"
    verbose = site["runs"][2].output
    for data in first.values():
        for value in data.values():
            if len(value) >= 12:
                assert value not in verbose
                assert base64.b64encode(value.encode()).decode() not in verbose
    # No public default left behind.
    assert cluster.secret("magasin-superset", "magasin-superset-env")["SUPERSET_ADMIN_PASSWORD"] != "admin"
    assert not cluster.exists("secret", "myminio-env-configuration", "--namespace", "magasin-tenant")


def test_wiring_uses_the_realm_services_and_per_consumer_users(site: dict, cluster: Cluster):
    users = {u: cluster.secret("magasin-tenant", f"magasin-minio-user-{u}")["CONSOLE_ACCESS_KEY"]
             for u in ("drill", "dagster", "notebooks")}
    assert len(set(users.values())) == 3
    root = cluster.secret("magasin-tenant", "magasin-minio-root")
    assert root["root-user"] not in users.values()
    assert f'MINIO_ROOT_USER="{root["root-user"]}"' in cluster.secret("magasin-tenant", "magasin-minio-env-configuration")["config.env"]

    tenant = cluster.values("tenant", "magasin-tenant")
    assert tenant["secrets"] is None
    assert tenant["tenant"]["configuration"]["name"] == "magasin-minio-env-configuration"
    assert tenant["tenant"]["buckets"] == [{"name": "magasin"}]
    jobs = cluster.kubectl_json("get", "jobs", "--namespace", "magasin-tenant",
                                "--selector", "app.kubernetes.io/component=minio-setup")["items"]
    assert len(jobs) == 1
    env = {e["name"]: e for e in jobs[0]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DRILL_POLICY"]["value"] == "read" and env["DAGSTER_POLICY"]["value"] == "readwrite"
    assert env["NOTEBOOKS_POLICY"]["value"] == "readwrite"

    endpoint = "http://minio.magasin-tenant.svc.cluster.local"
    plugin = json.loads(cluster.secret("magasin-drill", "magasin-drill-storage-plugin")["storage-plugins-override.conf"])
    s3 = plugin["storage"]["s3"]
    assert s3["config"]["fs.s3a.endpoint"] == endpoint
    assert s3["config"]["fs.s3a.access.key"] == users["drill"]
    drill = cluster.values("drill", "magasin-drill")
    assert drill["drill"]["volumes"]["drillStorage"] == {"override": True, "secretName": "magasin-drill-storage-plugin"}
    sts = cluster.kubectl_json("get", "statefulset", "drillbit", "--namespace", "magasin-drill")
    assert any(v.get("secret", {}).get("secretName") == "magasin-drill-storage-plugin"
               for v in sts["spec"]["template"]["spec"]["volumes"])

    for namespace, user in (("magasin-dagster", "dagster"), ("magasin-daskhub", "notebooks")):
        s3env = cluster.secret(namespace, "magasin-s3")
        assert s3env["AWS_ENDPOINT_URL"] == endpoint and s3env["AWS_ACCESS_KEY_ID"] == users[user]
    dagster = cluster.values("dagster", "magasin-dagster")
    deployment = dagster["dagster-user-deployments"]["deployments"][0]
    assert {"name": "magasin-s3"} in deployment["envSecrets"]
    assert {"name": "MAGASIN_DRILL_URL", "value": "http://drill-service.magasin-drill.svc.cluster.local:8047"} in deployment["env"]
    assert dagster["generatePostgresqlPasswordSecret"] is False
    assert dagster["global"]["postgresqlSecretName"] == "magasin-dagster-postgresql"
    policy = cluster.kubectl_json("get", "networkpolicy", "magasin-dagster-user-code-egress", "--namespace", "magasin-dagster")
    targets = json.dumps(policy["spec"]["egress"])
    assert "magasin-tenant" in targets and "magasin-drill" in targets

    singleuser = cluster.kubectl_json("get", "networkpolicy", "singleuser", "--namespace", "magasin-daskhub")
    targets = json.dumps(singleuser["spec"]["egress"])
    assert "magasin-tenant" in targets and "magasin-drill" in targets
    hub = cluster.values("daskhub", "magasin-daskhub")["jupyterhub"]
    assert hub["singleuser"]["extraEnv"]["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "magasin-s3", "key": "AWS_SECRET_ACCESS_KEY"}
    creds = cluster.secret("magasin-daskhub", "magasin-daskhub-credentials")
    hub_secret = cluster.secret("magasin-daskhub", "hub")
    assert hub_secret["hub.services.dask-gateway.apiToken"] == creds["gateway-api-token"]

    superset = cluster.values("superset", "magasin-superset")
    assert superset["envFromSecret"] == "magasin-superset-env"
    assert superset["postgresql"]["auth"]["existingSecret"] == "magasin-superset-credentials"
    assert "drill-service.magasin-drill.svc.cluster.local:8047" in superset["extraConfigs"]["import_datasources.yaml"]
    assert "sqlalchemy-drill" in superset["bootstrapScript"]
    cm = cluster.kubectl_json("get", "configmap", "superset-extra-config", "--namespace", "magasin-superset")
    assert "drill+sadrill://drill-service.magasin-drill" in cm["data"]["import_datasources.yaml"]
    # No generated credential in the values helm stored (JupyterHub's own two excepted: see its README).
    stored = json.dumps([superset, dagster, drill, tenant])
    for secret in ("magasin-superset-credentials", "magasin-dagster-postgresql", "magasin-minio-root"):
        namespace = next(ns for ns, name in CREDENTIAL_SECRETS if name == secret)
        for value in cluster.secret(namespace, secret).values():
            assert value not in stored


@pytest.mark.parametrize("extra, variable", [
    ({"magasin_components": ["minio", "hadoop"]}, "magasin_components"),
    ({"magasin_realm": "Magasin"}, "magasin_realm"),
    ({"magasin_realm": "r" * 31}, "magasin_realm"),
    ({"magasin_profile": "huge"}, "magasin_profile"),
    ({"drill_chart_version": "9.9.9"}, "drill_chart_version"),
    ({"magasin_profile": "production"}, "magasin_profile"),
], ids=["component", "realm-capitals", "realm-too-long", "profile", "chart-version", "profile-does-not-fit"])
def test_bad_inventory_fails_before_any_change(extra: dict, variable: str, cluster: Cluster, playbook):
    before = cluster.snapshot()
    run = playbook("site.yml", {"magasin_realm": "badrealm", **extra})
    assert run.rc != 0
    assert variable in run.output
    assert "e.g." in run.output
    assert cluster.snapshot() == before


@pytest.fixture(scope="module")
def solo(site: dict, cluster: Cluster, playbook) -> dict:
    """A second realm, built one component at a time (each alone), so the earlier ones stay deployed."""
    uninstall_realm(cluster, "solo")
    runs = {}
    for component in ["drill", "superset", "dagster", "daskhub", "minio"]:
        runs[component] = playbook(f"playbooks/{component}.yml",
                                   {"magasin_realm": "solo", "magasin_components": [component]}).ok()
    return runs


def test_each_component_alone_converges_and_disabled_ones_stay(solo: dict, cluster: Cluster, playbook):
    expected = {("drill", "solo-drill"), ("superset", "solo-superset"), ("dagster", "solo-dagster"),
                ("daskhub-solo", "solo-daskhub"), ("tenant", "solo-tenant")}
    found = {(r["name"], r["namespace"]) for r in cluster.releases()
             if r["namespace"].startswith("solo-") and r["status"] == "deployed"}
    assert found == expected
    # Alone again: nothing to change (and the others, not selected, untouched).
    assert solo["drill"].changed > 0
    assert playbook("playbooks/drill.yml", {"magasin_realm": "solo", "magasin_components": ["drill"]}).ok().changed == 0
    # Drill alone: no MinIO selected and no external S3, so no plugin wiring.
    assert cluster.values("drill", "solo-drill")["drill"]["volumes"]["drillStorage"]["override"] is False
    # Outside the default realm daskhub's cluster-wide objects carry the realm.
    assert cluster.exists("clusterrole", "api-daskhub-solo-dask-gateway")
    assert cluster.exists("clusterrole", "api-daskhub-dask-gateway")


def test_removing_a_realm_leaves_the_other_and_the_operator(solo: dict, cluster: Cluster, playbook):
    playbook("playbooks/magasin.yml", {"magasin_realm": "solo", "magasin_state": "absent"}).ok()
    releases = cluster.releases()
    assert not [r for r in releases if r["namespace"].startswith("solo-")]
    assert not cluster.exists("clusterrole", "api-daskhub-solo-dask-gateway")
    for release, _chart, namespace in INSTALLER:
        if release != "operator":
            assert (cluster.release(release, namespace) or {}).get("status") == "deployed", release
    assert [r["status"] for r in releases if r["chart"].startswith("operator-")] == ["deployed"]
    assert cluster.exists("crd", "tenants.minio.min.io")
    # Idempotent removal.
    assert playbook("playbooks/magasin.yml", {"magasin_realm": "solo", "magasin_state": "absent"}).ok().changed == 0


def test_external_s3_is_wired_without_minio(cluster: Cluster, playbook):
    realm = {"magasin_realm": "ext", "magasin_components": ["drill", "dagster"],
             "magasin_s3_endpoint": "https://s3.example.org", "magasin_s3_access_key": "external-access-key",
             "magasin_s3_secret_key": "external-secret-key-0123456789"}
    run = playbook("playbooks/magasin.yml", realm).ok()
    assert "external-secret-key-0123456789" not in run.output
    plugin = json.loads(cluster.secret("ext-drill", "magasin-drill-storage-plugin")["storage-plugins-override.conf"])
    config = plugin["storage"]["s3"]["config"]
    assert config["fs.s3a.endpoint"] == "https://s3.example.org"
    assert config["fs.s3a.access.key"] == "external-access-key"
    assert config["fs.s3a.connection.ssl.enabled"] == "true"
    assert cluster.secret("ext-dagster", "magasin-s3")["AWS_SECRET_ACCESS_KEY"] == "external-secret-key-0123456789"
    assert not cluster.exists("namespace", "ext-tenant")
    policy = cluster.kubectl_json("get", "networkpolicy", "magasin-dagster-user-code-egress", "--namespace", "ext-dagster")
    assert "ext-drill" in json.dumps(policy["spec"]["egress"])
    playbook("playbooks/magasin.yml", {**realm, "magasin_state": "absent"}).ok()
    assert not [r for r in cluster.releases() if r["namespace"].startswith("ext-")]
