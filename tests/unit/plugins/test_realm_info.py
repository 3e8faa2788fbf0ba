"""realm_info: argv lists, parsers, and the process count, with a fake run_command (no cluster)."""

import json

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _helm as h
from ansible_collections.magasin.platform.plugins.module_utils import _kubectl as k
from ansible_collections.magasin.platform.plugins.modules import realm_info
from fake_module import FailJson, FakeModule

NODE = {"kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/arch": "amd64", "kubernetes.io/os": "linux"}},
        "spec": {}, "status": {"allocatable": {"cpu": "8", "memory": "32Gi"},
                               "conditions": [{"type": "Ready", "status": "True"}]}}
ROLE = {"kind": "ClusterRole", "metadata": {"name": "minio-operator-role", "annotations": {
    "meta.helm.sh/release-name": "operator", "meta.helm.sh/release-namespace": "ab-operator-cd"}}}
CRD = {"kind": "CustomResourceDefinition", "metadata": {"name": "tenants.minio.min.io"}}
TENANT = {"kind": "Tenant", "metadata": {"name": "minio", "namespace": "ab-tenant-cd"}, "spec": {"pools": [
    {"name": "pool-0", "servers": 1, "volumesPerServer": 4, "volumeClaimTemplate": {
        "metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": "10Gi"}},
                                               "storageClassName": "standard"}}}]}}
STS = {"kind": "StatefulSet", "metadata": {"name": "superset-postgresql", "namespace": "ab-superset-cd"},
       "spec": {"volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
           "resources": {"requests": {"storage": "8Gi"}}}}]}}
OTHER_STS = dict(STS, metadata={"name": "x", "namespace": "elsewhere"})
SC = {"kind": "StorageClass", "metadata": {"name": "standard", "annotations": {
    "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"}
RELEASES = [
    {"name": "superset", "namespace": "ab-superset-cd", "revision": "3", "updated": "2026-11-26 12:17:45 +0000 UTC",
     "status": "pending-upgrade", "chart": "superset-0.13.4", "app_version": "4.1.1"},
    {"name": "operator", "namespace": "ab-operator-cd", "revision": "1", "updated": "u", "status": "deployed",
     "chart": "operator-5.0.11", "app_version": "v5.0.11"},
    {"name": "other", "namespace": "elsewhere", "revision": "1", "updated": "u", "status": "failed",
     "chart": "other-1.0.0", "app_version": "1"},
]
VERSION = {"serverVersion": {"gitVersion": "v1.37.2", "major": "1", "minor": "37"}}
NAMESPACES = ["ab-operator-cd", "ab-tenant-cd", "ab-superset-cd"]


def test_owner_and_objects_argv():
    assert realm_info.owner_args() == [
        "get", "clusterroles.rbac.authorization.k8s.io/minio-operator-role",
        "customresourcedefinitions.apiextensions.k8s.io/tenants.minio.min.io",
        "customresourcedefinitions.apiextensions.k8s.io/daskclusters.gateway.dask.org",
        "customresourcedefinitions.apiextensions.k8s.io/ingressroutes.traefik.containo.us",
        "--ignore-not-found", "--output", "json"]
    assert realm_info.objects_args(True, True) == [
        "get", "nodes,storageclasses.storage.k8s.io,ingressclasses.networking.k8s.io,statefulsets.apps,"
        "tenants.minio.min.io", "--all-namespaces", "--output", "json"]
    assert realm_info.objects_args(False, False)[1] == k.CLASSES


def test_list_all_args_names_every_status():
    args = h.list_all_args()
    assert args[:4] == ["list", "--all-namespaces", "--max", "0"]
    assert "--all" not in args  # Helm 4 has none
    assert set(h.LIST_STATUSES) <= set(args) and "--filter" not in args
    args = h.list_all_args(["drill", "a.b"])
    assert args[args.index("--filter") + 1] == r"^(drill|a\.b)$"


@pytest.mark.parametrize(("chart", "version", "repo", "expected"), [
    ("drill", "0.9.0", "https://r", ["show", "chart", "drill", "--version", "0.9.0", "--repo", "https://r"]),
    ("oci://reg/charts/drill", "0.9.0", None, ["show", "chart", "oci://reg/charts/drill", "--version", "0.9.0"]),
    ("repo/drill", None, None, ["show", "chart", "repo/drill"]),
])
def test_show_chart_args(chart, version, repo, expected):
    assert h.show_chart_args(chart, version, repo) == expected


def test_show_chart_args_local_chart_has_no_version(tmp_path):
    archive = tmp_path / "drill-0.9.0.tgz"
    archive.write_bytes(b"x")
    assert h.show_chart_args(str(archive), "0.9.0") == ["show", "chart", str(archive)]
    assert h.show_chart_args(str(tmp_path), "0.9.0") == ["show", "chart", str(tmp_path)]


CHART_YAML = "apiVersion: v2\nappVersion: 1.21.1\ndependencies:\n- name: common\n  version: 2.0.0\nname: drill\nversion: 0.9.0\n"


def test_chart_lookup():
    assert h.chart_lookup(0, CHART_YAML, "", "0.9.0") == {"found": True, "name": "drill", "version": "0.9.0",
                                                          "error": None}
    wrong = h.chart_lookup(0, CHART_YAML, "", "0.8.0")
    assert wrong["found"] is False and wrong["version"] == "0.9.0"
    assert wrong["error"] == "the chart found is drill 0.9.0, not version 0.8.0"
    missing = h.chart_lookup(1, "", "Error: chart \"drill\" version \"9.9.9\" not found in https://r repository\n",
                             "9.9.9")
    assert missing == {"found": False, "name": None, "version": None,
                       "error": 'Error: chart "drill" version "9.9.9" not found in https://r repository'}


def test_parse_releases_keys_and_types():
    releases = h.parse_releases(RELEASES, {"ab-superset-cd"})
    assert releases == {"ab-superset-cd/superset": {
        "status": "pending-upgrade", "revision": 3, "chart_name": "superset", "chart_version": "0.13.4",
        "app_version": "4.1.1", "updated": "2026-11-26 12:17:45 +0000 UTC"}}
    assert len(h.parse_releases(RELEASES)) == 3


def test_parsers():
    assert k.helm_owner(ROLE) == {"name": "operator", "namespace": "ab-operator-cd"}
    assert k.helm_owner({"metadata": {}}) is None
    assert k.parse_tenant(TENANT) == {"namespace": "ab-tenant-cd", "name": "minio", "pools": [
        {"servers": 1, "volumesPerServer": 4, "size": "10Gi", "storageClassName": "standard"}]}
    assert k.parse_statefulset_claims(STS) == [{"name": "data", "size": "8Gi", "class": None}]
    assert realm_info.parse_owners([ROLE, CRD]) == ({"name": "operator", "namespace": "ab-operator-cd"}, True, True)
    assert realm_info.parse_owners([]) == (None, False, False)
    gateway = {"kind": "CustomResourceDefinition", "metadata": {"name": "daskclusters.gateway.dask.org"}}
    assert realm_info.parse_owners([gateway]) == (None, False, False)
    assert realm_info.parse_crds([ROLE, gateway, CRD]) == ["daskclusters.gateway.dask.org", "tenants.minio.min.io"]


def test_realm_facts():
    facts = realm_info.realm_facts(VERSION, [ROLE, CRD], [NODE, SC, STS, OTHER_STS, TENANT], RELEASES,
                                   ["ab-tenant-cd", "ab-superset-cd"])
    assert facts["cluster"] == {"version": {"git_version": "v1.37.2", "major": 1, "minor": 37},
                                "nodes": [{"name": "n1", "ready": True, "schedulable": True, "cpu": 8.0,
                                           "memory": 32 * 1024 ** 3, "arch": "amd64", "os": "linux"}],
                                "totals": {"nodes": 1, "cpu": 8.0, "memory": 32 * 1024 ** 3}}
    assert facts["storage_classes"] == [{"name": "standard", "default": True, "provisioner": "p"}]
    assert facts["default_storage_class"] == "standard"
    assert facts["operator"] == {"name": "operator", "namespace": "ab-operator-cd"}
    assert [t["name"] for t in facts["tenants"]] == ["minio"]
    assert list(facts["statefulsets"]) == ["ab-superset-cd/superset-postgresql"]
    # the realm's releases and the operator's (another realm may own it); nothing else
    assert sorted(facts["releases"]) == ["ab-operator-cd/operator", "ab-superset-cd/superset"]


def test_realm_facts_of_an_empty_cluster():
    facts = realm_info.realm_facts(VERSION, [], [NODE], [], NAMESPACES)
    assert facts["operator"] is None and facts["tenants"] == [] and facts["releases"] == {}
    assert facts["default_storage_class"] == "" and facts["statefulsets"] == {}


def listing(*items):
    return json.dumps({"kind": "List", "apiVersion": "v1", "items": list(items)})


def answers(owners=(ROLE, CRD), objects=(NODE, SC, STS, TENANT), objects_answer=None):
    return [
        (lambda c: c[1:3] == ["version", "--output"], (0, json.dumps(VERSION), "")),
        (lambda c: c[1] == "get" and "--ignore-not-found" in c, (0, listing(*owners), "")),
        (lambda c: c[1] == "get", objects_answer or (0, listing(*objects), "")),
        (lambda c: c[1] == "list", (0, json.dumps(RELEASES), "")),
        (lambda c: c[1:3] == ["show", "chart"] and "9.9.9" in c, (1, "", "Error: chart not found\n")),
        (lambda c: c[1:3] == ["show", "chart"], (0, CHART_YAML, "")),
    ]


REALM_PARAMS = {"namespaces": [], "release_names": None, "charts": []}
CHARTS = [{"key": "drill", "chart": "drill", "version": "0.9.0", "repo_url": "https://r"},
          {"key": "old", "chart": "drill", "version": "0.8.0", "repo_url": "https://r"},
          {"key": "gone", "chart": "drill", "version": "9.9.9", "repo_url": "https://r"}]


INDEX = {"entries": {"drill": [{"version": "0.9.0", "digest": "ab12"}, {"version": "0.8.0", "digest": "cd34"}]}}


def test_manager_process_count_and_result():
    module = FakeModule(dict(REALM_PARAMS, namespaces=NAMESPACES, charts=CHARTS), answers())
    manager = realm_info.RealmInfoManager(module)
    read = []
    manager.read_index = lambda url: read.append(url) or INDEX
    result = manager.run()
    assert read == ["https://r"], "the repository's index is read once for every chart of it"
    assert result["charts"]["drill"]["digest"] == "sha256:ab12" and result["charts"]["drill"]["digest_source"] == "index"
    assert result["started"]
    kubectl = [c for c in module.commands if c[0] == "/bin/kubectl"]
    helm = [c for c in module.commands if c[0] == "/bin/helm"]
    assert len(kubectl) == 3
    # Every process the clients started is counted, once (the run report sums these).
    assert module._magasin_processes["counts"] == {"kubectl": len(kubectl), "helm": len(helm)}
    # one helm list per realm namespace (the operator's, ab-operator-cd, is one of them): never --all-namespaces
    lists = [c for c in helm if c[1] == "list"]
    assert [c[c.index("--namespace") + 1] for c in lists] == NAMESPACES
    assert not [c for c in helm if "--all-namespaces" in c] and [c[1] for c in helm].count("show") == len(CHARTS)
    assert result["changed"] is False
    assert result["charts"]["drill"]["found"] is True
    assert result["charts"]["old"]["found"] is False and result["charts"]["old"]["version"] == "0.9.0"
    assert result["charts"]["gone"] == {"found": False, "name": None, "version": None,
                                        "error": "Error: chart not found", "digest": None, "digest_source": None}
    assert result["tenants"][0]["pools"][0]["size"] == "10Gi"
    objects = [c for c in kubectl if "--all-namespaces" in c][0]
    assert objects[2].endswith(",statefulsets.apps,tenants.minio.min.io")


def test_list_namespace_args():
    args = h.list_namespace_args("ab-drill-cd")
    assert args[:5] == ["list", "--namespace", "ab-drill-cd", "--max", "0"]
    assert set(h.LIST_STATUSES) <= set(args) and "--filter" not in args and "--all-namespaces" not in args
    args = h.list_namespace_args("x", ["drill", "a.b"])
    assert args[args.index("--filter") + 1] == r"^(drill|a\.b)$"


def test_release_namespaces_add_the_operators_once():
    assert realm_info.release_namespaces(["a", "b", "a"], None) == ["a", "b"]
    assert realm_info.release_namespaces(["a"], {"name": "operator", "namespace": "magasin-operator"}) == [
        "a", "magasin-operator"]
    assert realm_info.release_namespaces(["a"], {"name": "operator", "namespace": "a"}) == ["a"]


def test_release_namespaces_skip_the_default_operator_namespace_when_the_operator_is_elsewhere():
    adopted = {"name": "operator", "namespace": "adopt-operator-h3"}
    assert realm_info.release_namespaces(["a", "magasin-operator"], adopted) == ["a", "adopt-operator-h3"]
    # No operator yet: the realm may install it there, so its releases are read.
    assert realm_info.release_namespaces(["a", "magasin-operator"], None) == ["a", "magasin-operator"]
    home = {"name": "operator", "namespace": "magasin-operator"}
    assert realm_info.release_namespaces(["a", "magasin-operator"], home) == ["a", "magasin-operator"]


def test_operator_of_another_realm_is_listed_in_its_namespace():
    role = dict(ROLE, metadata=dict(ROLE["metadata"], annotations={"meta.helm.sh/release-name": "operator",
                                                                   "meta.helm.sh/release-namespace": "magasin-operator"}))
    module = FakeModule(dict(REALM_PARAMS, namespaces=["ab-tenant-cd"]), answers(owners=(role, CRD)))
    realm_info.RealmInfoManager(module).run()
    lists = [c for c in module.commands if c[0] == "/bin/helm" and c[1] == "list"]
    assert [c[c.index("--namespace") + 1] for c in lists] == ["ab-tenant-cd", "magasin-operator"]


def test_without_the_tenant_crd_tenants_are_not_asked_for():
    module = FakeModule(dict(REALM_PARAMS, namespaces=NAMESPACES), answers(owners=(), objects=(NODE,)))
    result = realm_info.RealmInfoManager(module).run()
    objects = [c for c in module.commands if "--all-namespaces" in c and c[0] == "/bin/kubectl"][0]
    assert "tenants" not in objects[2]
    assert result["tenants"] == [] and result["operator"] is None
    assert not module.warnings


def test_any_kubectl_error_fails_never_counts_as_no_tenant():
    module = FakeModule(dict(REALM_PARAMS, namespaces=NAMESPACES),
                        answers(objects_answer=(1, "", "error: You must be logged in to the server (Unauthorized)")))
    with pytest.raises(k.CliError, match="Unauthorized"):
        realm_info.RealmInfoManager(module).run()


def test_unmanaged_operator_role_is_warned_about():
    module = FakeModule(REALM_PARAMS, answers(owners=(
        {"kind": "ClusterRole", "metadata": {"name": "minio-operator-role"}},)))
    result = realm_info.RealmInfoManager(module).run()
    assert result["operator"] is None
    assert "installed without Helm" in module.warnings[0]


def test_duplicate_chart_keys_fail():
    module = FakeModule(dict(REALM_PARAMS, charts=CHARTS + CHARTS[:1]), answers())
    with pytest.raises(FailJson, match="drill listed more than once"):
        realm_info.RealmInfoManager(module).run()
