"""site.yml and playbooks/magasin.yml on the test cluster, with the real magasin charts.

The charts are the ones magasin publishes (../shared/charts/magasin), deployed with real helm,
once per Helm major (MAGASIN_HELM=3|4 picks one; unset: both). The default realm `magasin` is
deployed fresh once per major (fixture `default_realm`, shared with test_check_mode.py): first
with the charts as magasin_charts_dir, then with the inventory's own default chart source, then
verbosely from the same charts served as a repository on 127.0.0.1. The realm `solo` is built
one component at a time, then removed; the realm `ext` uses an external S3 endpoint.

The test cluster runs pods under kwok: every object is real (the API server validates it
against the real CRDs), but no container ever runs. Nothing here can show that Drill loads its
plugin, that Superset's init imports the datasource or that the MinIO operator provisions the
tenant; the assertions are on the objects those programs would read.
"""

from __future__ import annotations

import json
import re

import pytest
from realms import (
    COMPONENTS,
    PINS,
    helm4_unless_asked,
    leaks,
    namespaces,
    public_defaults_found,
    secret_strings,
    wiring_problems,
)


def test_fresh_realm_converges_and_then_changes_nothing(default_realm: dict, cluster):
    first, second, third = default_realm["runs"]
    assert first.changed > 0
    assert second.changed == 0, second.output[-6000:]
    assert third.changed == 0, third.output[-6000:]
    for component in COMPONENTS:
        assert re.search(rf"^\s*(?:-\s+)?{component}\s+\S+\s+magasin-\S+\s+\S+\s+deployed", second.output, re.MULTILINE), \
            f"{component} is not in the summary:\n{second.output[-3000:]}"
    ns = default_realm["namespaces"]
    releases = {(r["namespace"], r["chart"]): r for r in cluster.releases()}
    for chart, version in PINS.items():
        if chart == "operator":
            assert [r for r in cluster.releases() if r["chart"].startswith("operator-")][0]["chart"] == f"operator-{version}"
            continue
        assert (ns[chart], f"{chart}-{version}") in releases, f"{chart} {version} not deployed in {ns[chart]}"
        assert releases[(ns[chart], f"{chart}-{version}")]["status"] == "deployed"


def test_credentials_stable_and_never_printed(default_realm: dict):
    first, second, third = default_realm["secrets"]
    assert first == second == third, "a converge run changed a Secret"
    strings = secret_strings(first)
    assert strings, "no credential found in the realm"
    for run in default_realm["runs"]:  # the last one is -vvv
        assert leaks(run.output, sorted(strings)) == []


def test_wiring_on_the_rendered_objects(default_realm: dict, cluster):
    assert wiring_problems(cluster, "magasin") == []


def test_no_public_default_in_any_object(default_realm: dict, cluster):
    """Secrets decoded, ConfigMaps, pod templates and pods, Services, the Tenant...: every object in the realm's
    namespaces; and the values each release was given."""
    assert public_defaults_found(cluster.rendered_objects("magasin")) == []
    for rel in cluster.releases():
        if rel["namespace"] in namespaces("magasin").values():
            given = json.dumps(cluster.values(rel["name"], rel["namespace"]))
            assert [d for d in ("minio123", "ON_MAGASIN_PROD_CHANGE_ME") if d in given] == [], rel["name"]


@pytest.mark.parametrize("extra, variable", [
    ({"magasin_components": ["minio", "hadoop"]}, "magasin_components"),
    ({"magasin_realm": "Magasin"}, "magasin_realm"),
    ({"magasin_realm": "r" * 31}, "magasin_realm"),
    ({"magasin_profile": "huge"}, "magasin_profile"),
    ({"drill_chart_version": "9.9.9"}, "drill_chart_version"),
    ({"magasin_profile": "production"}, "magasin_profile"),
    ({"magasin_storage_class": "no-such-class"}, "magasin_storage_class"),
], ids=["component", "realm-capitals", "realm-too-long", "profile", "chart-version", "profile-does-not-fit",
        "storage-class"])
def test_bad_inventory_fails_before_any_change(extra: dict, variable: str, cluster, site_dir, helm_bin):
    """Preflight refuses, naming the variable and showing a valid example, and nothing changed (realm `chk`,
    never deployed by these runs, and the deployed default realm)."""
    helm4_unless_asked(helm_bin, "preflight's checks run before helm is asked anything that differs by major")
    before = cluster.snapshot("chk"), cluster.snapshot("magasin")
    run = site_dir("site.yml", {"magasin_realm": "chk", **extra})
    assert run.rc != 0
    assert variable in run.output
    assert "e.g." in run.output
    assert (cluster.snapshot("chk"), cluster.snapshot("magasin")) == before


@pytest.fixture(scope="module")
def solo(cluster, site_repo) -> dict:
    """The realm `solo`, built one component at a time (each alone, from the served repository), so the
    earlier ones stay deployed."""
    cluster.teardown("solo")
    runs = {}
    for component in ["drill", "superset", "dagster", "daskhub", "minio"]:
        runs[component] = site_repo("playbooks/magasin.yml",
                                    {"magasin_realm": "solo", "magasin_components": [component]}).ok()
    return runs


def test_each_component_alone_converges_and_disabled_ones_stay(solo: dict, cluster, site_repo):
    ns = namespaces("solo")
    expected = {("drill", ns["drill"]), ("superset", ns["superset"]), ("dagster", ns["dagster"]),
                ("daskhub-solo", ns["daskhub"]), ("tenant", ns["tenant"])}
    found = {(r["name"], r["namespace"]) for r in cluster.releases()
             if r["namespace"] in ns.values() and not r["chart"].startswith("operator-") and r["status"] == "deployed"}
    assert found == expected
    assert solo["drill"].changed > 0
    again = site_repo("playbooks/magasin.yml", {"magasin_realm": "solo", "magasin_components": ["drill"]}).ok()
    assert again.changed == 0, again.output[-6000:]
    # Drill alone: no MinIO selected and no external S3, so no storage plugin mounted.
    sts = cluster.kubectl_json("get", "statefulset", "drillbit", "-n", ns["drill"])
    mounts = [m["mountPath"] for c in sts["spec"]["template"]["spec"]["containers"] for m in c.get("volumeMounts", [])]
    assert not [m for m in mounts if m.endswith("storage-plugins-override.conf")]
    # Outside the default realm daskhub's cluster-wide objects carry the realm.
    assert cluster.exists("clusterrole", "api-daskhub-solo-dask-gateway")


def test_removing_a_realm_leaves_the_others_and_the_operator(solo: dict, cluster, site_repo):
    run = site_repo("playbooks/magasin.yml", {"magasin_realm": "solo", "magasin_state": "absent"}).ok()
    assert run.changed > 0
    releases = cluster.releases()
    assert not [r for r in releases if r["namespace"] in namespaces("solo").values()
                and not r["chart"].startswith("operator-")]
    assert not cluster.exists("clusterrole", "api-daskhub-solo-dask-gateway")
    assert [r["status"] for r in releases if r["chart"].startswith("operator-")] == ["deployed"]
    assert cluster.exists("crd", "tenants.minio.min.io")
    again = site_repo("playbooks/magasin.yml", {"magasin_realm": "solo", "magasin_state": "absent"}).ok()
    assert again.changed == 0, again.output[-6000:]


def test_external_s3_is_wired_without_minio(cluster, site_dir):
    cluster.teardown("ext")
    ns = namespaces("ext")
    realm = {"magasin_realm": "ext", "magasin_components": ["drill", "dagster"],
             "magasin_s3_endpoint": "https://s3.example.org", "magasin_s3_access_key": "external-access-key",
             "magasin_s3_secret_key": "external-secret-key-0123456789"}
    run = site_dir("playbooks/magasin.yml", realm).ok()
    assert "external-secret-key-0123456789" not in run.output
    sts = cluster.kubectl_json("get", "statefulset", "drillbit", "-n", ns["drill"])
    volume = next(v for v in sts["spec"]["template"]["spec"]["volumes"] if "secret" in v)
    conf = next(iter(cluster.secret(ns["drill"], volume["secret"]["secretName"]).values()))
    config = next(p for p in json.loads(conf)["storage"].values() if str(p.get("connection", "")).startswith("s3a://"))["config"]
    assert config["fs.s3a.endpoint"] == "https://s3.example.org"
    assert config["fs.s3a.access.key"] == "external-access-key"
    assert config["fs.s3a.connection.ssl.enabled"] == "true"
    user_code = [d for d in cluster.items("deployments", ns["dagster"])
                 if "user-deployments" in json.dumps(d["metadata"].get("labels", {}))]
    assert user_code
    for deployment in user_code:
        env_from = [s["secretRef"]["name"] for c in deployment["spec"]["template"]["spec"]["containers"]
                    for s in c.get("envFrom", []) if "secretRef" in s]
        assert any(cluster.secret(ns["dagster"], name).get("AWS_SECRET_ACCESS_KEY") == "external-secret-key-0123456789"
                   for name in env_from)
    assert not cluster.exists("namespace", ns["tenant"])
    assert site_dir("playbooks/magasin.yml", realm).ok().changed == 0
    site_dir("playbooks/magasin.yml", {**realm, "magasin_state": "absent"}).ok()
    assert not [r for r in cluster.releases() if r["namespace"] in ns.values()]
