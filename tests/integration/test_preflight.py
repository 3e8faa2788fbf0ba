"""Bad inventory input fails in preflight, before any change, naming the variable with an example.

Each case runs `ansible-playbook -i inventories/local site.yml -e <case>` for the realm
`badrealm` against the test cluster, with the real charts (../shared/charts/magasin), and
asserts: a non-zero exit, a line `<variable>: ..., e.g. <variable>: ...`, no change counted,
and the realm equal before and after (tests/support/realms.py's snapshot: its namespaces,
the helm releases in them and the cluster's MinIO operator with revisions and statuses, the
Secrets and ConfigMaps in them with resourceVersions and data digests, the cluster-wide
objects named after it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from realms import Cluster

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
CHARTS_DIR = (REPO_ROOT / ".." / "shared" / "charts" / "magasin").resolve()
REALM = "badrealm"
RECAP_RE = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
HOST = "superset.example.org"

# (id, extra vars, the variable the message must name)
CASES = [
    # the globals
    ("components-unknown", {"magasin_components": ["minio", "hadoop"]}, "magasin_components"),
    ("components-string", {"magasin_components": "minio,drill"}, "magasin_components"),
    ("realm-capitals", {"magasin_realm": "BadRealm"}, "magasin_realm"),
    ("realm-too-long", {"magasin_realm": "r" * 31}, "magasin_realm"),
    ("realm-underscore", {"magasin_realm": "bad_realm"}, "magasin_realm"),
    ("profile-unknown", {"magasin_profile": "huge"}, "magasin_profile"),
    ("state-unknown", {"magasin_state": "installed"}, "magasin_state"),
    ("timeout-unparseable", {"magasin_timeout": "ten minutes"}, "magasin_timeout"),
    ("timeout-number", {"magasin_timeout": 600}, "magasin_timeout"),
    ("bucket-bad", {"magasin_bucket": "Bad_Bucket"}, "magasin_bucket"),
    ("s3-incomplete", {"magasin_components": ["drill"], "magasin_s3_endpoint": "https://s3.example.org"}, "magasin_s3_access_key"),
    ("s3-endpoint-not-url", {"magasin_components": ["drill"], "magasin_s3_endpoint": "s3.example.org",
                             "magasin_s3_access_key": "AK", "magasin_s3_secret_key": "SK"}, "magasin_s3_endpoint"),
    ("registry-with-scheme", {"magasin_image_registry": "https://registry.example.org/magasin"}, "magasin_image_registry"),
    ("registry-with-tag", {"magasin_image_registry": "registry.example.org/magasin:1.0"}, "magasin_image_registry"),
    ("chart-repo-not-url", {"magasin_chart_repo": "unicef.github.io/magasin"}, "magasin_chart_repo"),
    ("charts-dir-missing", {"magasin_charts_dir": "/no/such/charts"}, "magasin_charts_dir"),
    ("kubeconfig-missing", {"magasin_kubeconfig": "/no/such/kubeconfig"}, "magasin_kubeconfig"),
    ("context-unknown", {"magasin_context": "no-such-context"}, "magasin_context"),
    ("storage-class-missing", {"magasin_storage_class": "no-such-class"}, "magasin_storage_class"),
    ("ingress-class-missing", {"magasin_ingress_class": "no-such-ingress", "superset_host": HOST}, "magasin_ingress_class"),
    ("cluster-fit-not-bool", {"magasin_check_cluster_fit": "sometimes"}, "magasin_check_cluster_fit"),
    ("sizing-string", {"magasin_sizing": "drill: {drillbit: {replicas: 2}}"}, "magasin_sizing"),
    ("sizing-unknown-workload", {"magasin_sizing": {"drill": {"master": {"replicas": 2}}}}, "magasin_sizing"),
    ("sizing-bad-quantity", {"magasin_sizing": {"drill": {"drillbit": {"requests": {"memory": "4gb"}}}}}, "magasin_sizing"),
    ("helm-binary-missing", {"magasin_helm_binary": "/no/such/helm"}, "magasin_helm_binary"),
    # minio
    ("minio-root-password-short", {"minio_root_password": "short"}, "minio_root_password"),
    ("minio-root-user-short", {"minio_root_user": "ab"}, "minio_root_user"),
    ("minio-tenant-name", {"minio_tenant_name": "My_Tenant"}, "minio_tenant_name"),
    ("minio-api-host-url", {"minio_api_host": "https://s3.example.org"}, "minio_api_host"),
    ("minio-console-enabled-not-bool", {"minio_console_enabled": "sometimes"}, "minio_console_enabled"),
    ("minio-mc-image-no-tag", {"minio_mc_image": "quay.io/minio/mc"}, "minio_mc_image"),
    ("minio-tenant-values-string", {"minio_tenant_values": "tenant: {pools: []}"}, "minio_tenant_values"),
    ("minio-chart-version-form", {"minio_tenant_chart_version": "latest"}, "minio_tenant_chart_version"),
    # drill
    ("drill-chart-version-form", {"drill_chart_version": "0.9"}, "drill_chart_version"),
    ("drill-chart-version-absent", {"drill_chart_version": "9.9.9"}, "drill_chart_version"),
    ("drill-s3-plugin", {"drill_s3_plugin": "S3-Data"}, "drill_s3_plugin"),
    ("drill-values-string", {"drill_values": "drill: {count: 2}"}, "drill_values"),
    # dagster
    ("dagster-deployments-dict", {"dagster_user_deployments": {"name": "etl"}}, "dagster_user_deployments"),
    ("dagster-deployments-no-image", {"dagster_user_deployments": [{"name": "etl", "port": 3030}]}, "dagster_user_deployments"),
    ("dagster-host-url", {"dagster_webserver_host": "https://dagster.example.org"}, "dagster_webserver_host"),
    ("dagster-chart-repo", {"dagster_chart_repo": "ftp://charts.example.org"}, "dagster_chart_repo"),
    # daskhub
    ("daskhub-admins-string", {"daskhub_admin_users": "admin"}, "daskhub_admin_users"),
    ("daskhub-release", {"daskhub_release": "Dask_Hub"}, "daskhub_release"),
    ("daskhub-token-short", {"daskhub_gateway_api_token": "short"}, "daskhub_gateway_api_token"),
    ("daskhub-values-list", {"daskhub_values": ["jupyterhub"]}, "daskhub_values"),
    # superset
    ("superset-admin-password", {"superset_admin_password": "admin"}, "superset_admin_password"),
    ("superset-host-url", {"superset_host": "https://superset.example.org"}, "superset_host"),
    ("superset-admin-email", {"superset_admin_email": "not-an-email"}, "superset_admin_email"),
    ("superset-redis-password", {"superset_redis_password": "p@ss:word"}, "superset_redis_password"),
    ("superset-values-string", {"superset_values": "configOverrides: {}"}, "superset_values"),
]


def difference(before: dict, after: dict) -> dict:
    return {key: {"gone": sorted(set(before[key]) - set(after[key])), "new": sorted(set(after[key]) - set(before[key]))}
            for key in before if before[key] != after[key]}


@pytest.fixture(scope="module")
def helm() -> Path:
    """One Helm major for this matrix: MAGASIN_HELM when it names one, else 4."""
    major = (os.environ.get("MAGASIN_HELM") or "4").strip()[:1]
    path = VENV_BIN / f"helm{major}"
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make setup`", pytrace=False)
    return path


@pytest.fixture(scope="module")
def cluster(kubeconfig: Path, helm: Path) -> Cluster:
    if not (CHARTS_DIR / "index.yaml").is_file():
        pytest.fail(f"{CHARTS_DIR} holds no chart repository", pytrace=False)
    return Cluster(kubeconfig, helm)


def snapshot(cluster: Cluster, extra: dict) -> dict:
    """The realms a case names (badrealm, and the case's own realm when it sets one), with the shared operator."""
    realms = {REALM} | ({extra["magasin_realm"]} if isinstance(extra.get("magasin_realm"), str) else set())
    return {realm: cluster.snapshot(realm) for realm in sorted(realms)}


@pytest.fixture(scope="module")
def site(kubeconfig: Path, helm: Path):
    """Runs site.yml with inventories/local for the realm badrealm, with the real charts."""

    def run(extra: dict) -> subprocess.CompletedProcess:
        extra_vars = {"magasin_kubeconfig": str(kubeconfig), "magasin_helm_binary": str(helm),
                      "magasin_charts_dir": str(CHARTS_DIR), "magasin_realm": REALM, **extra}
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "site.yml", "--extra-vars", json.dumps(extra_vars)]
        return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900, check=False)

    return run


def test_the_matrix_is_wide_enough():
    variables = {variable for _id, _extra, variable in CASES}
    assert len(CASES) >= 30
    for prefix in ("magasin_", "minio_", "drill_", "dagster_", "daskhub_", "superset_"):
        assert any(v.startswith(prefix) for v in variables), prefix


@pytest.mark.parametrize("extra, variable", [(extra, variable) for _id, extra, variable in CASES],
                         ids=[case_id for case_id, _extra, _variable in CASES])
def test_bad_input_fails_before_any_change(extra: dict, variable: str, cluster: Cluster, site):
    before = snapshot(cluster, extra)
    proc = site(extra)
    output = proc.stdout + proc.stderr
    after = snapshot(cluster, extra)
    assert proc.returncode != 0, output[-4000:]
    assert re.search(rf"{re.escape(variable)}: .*?e\.g\. {re.escape(variable)}: ", output), output[-4000:]
    recap = RECAP_RE.search(output)
    if recap:
        assert int(recap.group(2)) == 0, output[-4000:]
    assert after == before, {realm: difference(before[realm], after[realm]) for realm in before}
