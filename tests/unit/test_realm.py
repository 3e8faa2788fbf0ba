"""The realm model and the filters the roles use: pure functions, no cluster.

`observed` below has the shape realm_info returns (its own tests check that shape against
the test cluster)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from ansible_collections.magasin.platform.plugins.filter import realm as F
from ansible_collections.magasin.platform.plugins.module_utils import _realm as R
from ansible_collections.magasin.platform.plugins.module_utils import _values as V

GiB = 2 ** 30
NODE = {"name": "n1", "ready": True, "schedulable": True, "cpu": 8.0, "memory": 32 * GiB, "arch": "amd64", "os": "linux"}
OBSERVED = {
    "cluster": {"version": {"major": 1, "minor": 37, "git_version": "v1.37.2"}, "nodes": [NODE, dict(NODE, name="n2")],
                "totals": {"nodes": 2, "cpu": 16.0, "memory": 64 * GiB}},
    "storage_classes": [{"name": "standard", "default": True, "provisioner": "p"}, {"name": "fast", "default": False}],
    "default_storage_class": "standard",
    "ingress_classes": [],
    "operator": None,
    "tenants": [],
    "statefulsets": {},
    "releases": {},
    "charts": {},
}
SETTINGS = {"magasin_realm": "magasin", "magasin_components": list(R.COMPONENTS), "magasin_profile": "lab",
            "magasin_state": "present", "magasin_charts_dir": "", "magasin_chart_repo": "https://charts.example.org",
            "magasin_storage_class": "", "magasin_bucket": "magasin", "magasin_s3_endpoint": "", "magasin_sizing": {}}


def model(settings=None, observed=None):
    return F.realm_model(dict(SETTINGS, **(settings or {})), dict(OBSERVED, **(observed or {})))


@pytest.mark.parametrize("realm, tenant, operator", [
    ("magasin", "magasin-tenant", "magasin-operator"),
    ("magasin-dev", "magasin-tenant-dev", "magasin-operator-dev"),
    ("a-b-c", "a-b-tenant-c", "a-b-operator-c"),
])
def test_namespaces_as_the_installer_forms_them(realm, tenant, operator):
    _prefix, _suffix, names = R.realm_names(realm)
    assert names["tenant"] == tenant and names["operator"] == operator


def test_the_shared_operator_namespace_is_scanned_for_every_realm():
    assert "magasin-operator" in F.realm_namespaces({"magasin_realm": "ab-cd"})
    assert "ab-drill-cd" in F.realm_namespaces({"magasin_realm": "ab-cd"})


def test_chart_sources_ref_then_directory_then_repository():
    sources = R.chart_sources(dict(SETTINGS, magasin_charts_dir="/charts/", drill_chart_ref="oci://r.example.org/drill",
                                   dagster_chart_version="1.7.16", superset_chart_repo="https://other.example.org"))
    assert sources["drill"] == {"key": "drill", "chart": "oci://r.example.org/drill", "version": "0.9.0", "repo_url": "",
                                "var": "drill_chart", "pinned": "0.9.0"}
    assert sources["dagster"]["chart"] == "/charts/dagster-1.7.16.tgz" and sources["dagster"]["repo_url"] == ""
    assert sources["superset"]["chart"] == "/charts/superset-0.13.4.tgz"
    repo = R.chart_sources(dict(SETTINGS, superset_chart_repo="https://other.example.org"))
    assert (repo["superset"]["chart"], repo["superset"]["repo_url"]) == ("superset", "https://other.example.org")
    assert repo["operator"]["repo_url"] == "https://charts.example.org"
    assert all(s["version"] == V.CHART_VERSIONS[k] for k, s in R.chart_sources(SETTINGS).items())


def test_only_the_selected_components_charts_in_install_order():
    charts = R.selected_charts(dict(SETTINGS, magasin_components=["superset", "minio"]))
    assert [c["key"] for c in charts] == ["operator", "tenant", "superset"]
    queries = F.chart_queries(dict(SETTINGS, magasin_components=["drill"], magasin_charts_dir="/c"))
    assert queries == [{"key": "drill", "chart": "/c/drill-0.9.0.tgz", "version": "0.9.0"}]


def test_storage_class_is_the_users_else_the_clusters_default():
    assert model()["storage_class"] == "standard"
    assert model({"magasin_storage_class": "fast"})["storage_class"] == "fast"
    assert model(observed={"default_storage_class": ""})["storage_class"] == ""  # preflight refuses this case


@pytest.mark.parametrize("components, endpoint, source, url", [
    (["minio", "drill"], "", "minio", "http://minio.magasin-tenant.svc.cluster.local"),
    (["minio", "drill"], "https://s3.example.org", "minio", "http://minio.magasin-tenant.svc.cluster.local"),
    (["drill"], "https://s3.example.org/", "external", "https://s3.example.org"),
    (["drill"], "", "none", ""),
])
def test_s3_source(components, endpoint, source, url):
    m = model({"magasin_components": components, "magasin_s3_endpoint": endpoint})
    assert (m["s3"]["source"], m["s3"]["endpoint"]) == (source, url)
    assert m["s3"]["ssl"] == url.startswith("https://")


def test_the_operator_serving_the_cluster_wins():
    m = model(observed={"operator": {"name": "minio-operator", "namespace": "other"}})
    assert m["operator"] == {"name": "minio-operator", "namespace": "other"}
    assert R.for_component(m, "minio", {"operator_release": "x", "operator_namespace": "y"})["operator"]["name"] == "minio-operator"
    fresh = R.for_component(model(), "minio", {"operator_release": "op", "operator_namespace": "ops"})
    assert fresh["operator"] == {"name": "op", "namespace": "ops"} and fresh["namespaces"]["operator"] == "ops"


def test_an_existing_tenant_keeps_its_pool():
    pool = {"servers": 1, "volumesPerServer": 4, "size": "50Gi", "storageClassName": "fast"}
    m = model(observed={"tenants": [{"namespace": "magasin-tenant", "name": "myminio", "pools": [pool]},
                                    {"namespace": "other-tenant", "name": "myminio", "pools": [{"servers": 9}]}]})
    assert R.for_component(m, "minio", {"tenant_name": "myminio"})["existing"]["tenant_pool"] == pool
    assert R.for_component(m, "minio", {"tenant_name": "another"})["existing"]["tenant_pool"] is None


@pytest.mark.parametrize("realm, releases, wanted, name", [
    ("magasin", {}, "", "daskhub"),
    ("dev", {}, "", "daskhub-dev"),
    ("dev", {"dev-daskhub/daskhub": {"status": "deployed"}}, "", "daskhub"),
    ("dev", {}, "hub", "hub"),
])
def test_daskhub_release_name(realm, releases, wanted, name):
    m = model({"magasin_realm": realm}, {"releases": releases})
    assert R.for_component(m, "daskhub", {"release": wanted})["existing"]["daskhub_release"] == name


def test_existing_statefulset_claims_are_kept():
    m = model(observed={"statefulsets": {"magasin-superset/superset-postgresql": {"claims": [
        {"name": "data", "size": "8Gi", "class": None}]}, "magasin-drill/drillbit": {"claims": []}}})
    assert m["existing"]["claims"] == {"magasin-superset/superset-postgresql": {"size": "8Gi", "class": ""}}


def test_component_plan_merges_the_users_values_last_and_counts_them():
    m = model({"magasin_components": ["minio", "drill"]})
    plain = F.component_plan(m, "drill", {"drill_s3_plugin": "s3", "drill_values": {}})
    override = F.component_plan(m, "drill", {"drill_s3_plugin": "s3", "drill_values": {"drill": {"count": 3}}})
    [release] = override["releases"]
    assert (release["name"], release["namespace"], release["chart"], release["version"]) == (
        "drill", "magasin-drill", "drill", "0.9.0")
    assert release["repo_url"] == "https://charts.example.org"
    assert release["values"]["drill"]["count"] == 3
    assert plain["releases"][0]["values"]["drill"]["count"] == 1
    drillbits = {w["name"]: w["replicas"] for w in override["workloads"]}
    assert drillbits["drillbit"] == 3
    annotation = "magasin.unicef.org/storage-plugin-checksum"
    assert len(release["values"]["drill"]["podAnnotations"][annotation]) == 64


def test_minio_plan_has_operator_then_tenant_and_takes_their_own_overrides():
    plan = F.component_plan(model(), "minio", {"minio_tenant_name": "myminio", "minio_console_enabled": "false",
                                               "minio_tenant_values": {"tenant": {"metrics": {"enabled": True}}}})
    operator, tenant = plan["releases"]
    assert (operator["key"], operator["name"], operator["namespace"]) == ("operator", "operator", "magasin-operator")
    assert operator["values"]["console"]["enabled"] is False  # the string "false" is read as Ansible reads it
    assert tenant["values"]["tenant"]["metrics"] == {"enabled": True}
    assert tenant["values"]["tenant"]["pools"][0]["storageClassName"] == "standard"


def test_two_profiles_give_the_shared_operator_the_same_values():
    lab = F.component_plan(model({"magasin_profile": "lab"}), "minio", {})["releases"][0]["values"]
    production = F.component_plan(model({"magasin_profile": "production"}), "minio", {})["releases"][0]["values"]
    assert lab == production


def test_capacity():
    plans = {"drill": {"workloads": [{"name": "drillbit", "replicas": 2, "cpu": 4.0, "memory": 8 * GiB}]}}
    assert R.capacity_problem(plans, OBSERVED, "lab") == ""
    too_big = {"drill": {"workloads": [{"name": "drillbit", "replicas": 1, "cpu": 9.0, "memory": GiB}]}}
    assert "largest pod 9.00 CPU" in R.capacity_problem(too_big, OBSERVED, "lab")
    assert "at least 3 node(s)" in R.capacity_problem(plans, OBSERVED, "production")
    assert "magasin_profile" in R.capacity_problem(plans, dict(OBSERVED, cluster={"nodes": []}), "lab")


def test_chart_problems_name_the_variable_and_the_pin():
    charts = R.selected_charts(dict(SETTINGS, magasin_components=["drill", "dagster"], drill_chart_version="9.9.9"))
    found = {"drill": {"found": False, "name": "drill", "version": "9.9.9", "error": "Error: chart not found\n"},
             "dagster": {"found": True, "name": "dagster", "version": "1.9.3", "error": None}}
    [problem] = R.chart_problems(charts, found)
    assert problem["variable"] == "drill_chart_version" and problem["example"] == "0.9.0"
    assert "chart not found" in problem["message"]


def test_summary_table_lists_releases_then_warnings():
    rows = [{"component": "drill", "name": "drill", "namespace": "magasin-drill", "chart": "drill-0.9.0",
             "status": "deployed", "action": "none"}, {"warning": "change the admin password"}]
    table = R.summary_table(rows, model())
    assert table[0].split() == ["COMPONENT", "RELEASE", "NAMESPACE", "CHART", "STATUS", "ACTION"]
    assert table[1].split() == ["drill", "drill", "magasin-drill", "drill-0.9.0", "deployed", "none"]
    assert table[-1] == "WARNING: change the admin password"


def test_the_model_is_plain_data():
    m = model()
    assert copy.deepcopy(m) == m
    assert F.realm_model(SETTINGS, OBSERVED) == F.realm_model(SETTINGS, OBSERVED)


def test_every_filter_is_documented():
    """ansible-doc (and galaxy-importer) need a plugins/filter/<name>.yml for each filter of realm.py."""
    docs = Path(F.__file__).parent
    missing = [name for name in F.FilterModule().filters() if not (docs / f"{name}.yml").is_file()]
    assert missing == []


def test_daskhub_skips_its_crds_when_they_exist_already():
    crds = ["daskclusters.gateway.dask.org", "ingressroutes.traefik.containo.us"]
    present = F.component_plan(model(observed={"crds": crds}), "daskhub", {})["releases"][0]
    absent = F.component_plan(model(observed={"crds": crds[:1]}), "daskhub", {})["releases"][0]
    assert present["skip_crds"] is True and absent["skip_crds"] is False
    assert F.component_plan(model(observed={"crds": crds}), "drill", {})["releases"][0]["skip_crds"] is False


def test_a_consumer_reads_its_minio_keys_from_the_minio_roles_results_of_the_run():
    drill = {"CONSOLE_ACCESS_KEY": "ZHJpbGw=", "CONSOLE_SECRET_KEY": "c2VjcmV0"}
    results = [{"item": {"name": "magasin", "secret": "magasin-minio-user-magasin"}, "data": {"CONSOLE_ACCESS_KEY": "x"}},
               {"item": {"name": "drill", "secret": R.minio_user("drill")["secret"]}, "data": drill},
               {"item": {"name": "dagster", "secret": R.minio_user("dagster")["secret"]}, "skipped": True}]
    own = {"data": {"CONSOLE_ACCESS_KEY": "b3du", "CONSOLE_SECRET_KEY": "b3du"}}
    assert R.minio_user_data("drill", results, own) == drill
    # Skipped there (minio_state absent, say), or not made by that loop: the consumer's own result.
    assert R.minio_user_data("dagster", results, own) == own["data"]
    assert R.minio_user_data("daskhub", results, {}) == {}
    assert R.minio_user_data("drill", None, None) == {}
