"""kubectl parsers, credentials decisions and cluster_info summaries (pure code)."""

import base64

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _kubectl as k
from ansible_collections.magasin.platform.plugins.modules import (
    cluster_info,
    credentials,
    helm_release_info,
    kubectl_apply,
)


@pytest.mark.parametrize(("obj", "ready"), [
    ({"kind": "Deployment", "spec": {"replicas": 3}, "status": {"availableReplicas": 3}}, True),
    ({"kind": "Deployment", "spec": {"replicas": 3}, "status": {"availableReplicas": 2}}, False),
    ({"kind": "StatefulSet", "spec": {"replicas": 1}, "status": {"readyReplicas": 1}}, True),
    ({"kind": "Job", "status": {"conditions": [{"type": "Complete", "status": "True"}]}}, True),
    ({"kind": "Job", "status": {"conditions": [{"type": "Failed", "status": "True"}]}}, False),
    ({"kind": "PersistentVolumeClaim", "status": {"phase": "Bound"}}, True),
    ({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}, False),
    ({"kind": "CustomResourceDefinition", "status": {"conditions": [{"type": "Established", "status": "True"}]}}, True),
    ({"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}}, False),
    ({"kind": "ConfigMap"}, True),
])
def test_readiness(obj, ready):
    assert k.readiness(obj)[0] is ready


@pytest.mark.parametrize(("text", "number"), [("8", 8), ("500m", 0.5), ("32Gi", 32 * 1024 ** 3), ("1k", 1000),
                                              ("1.5Gi", 1.5 * 1024 ** 3), ("2G", 2e9)])
def test_quantities(text, number):
    assert k.quantity_to_number(text) == number


def test_quantity_errors():
    with pytest.raises(k.CliError):
        k.quantity_to_number("12Xi")


def test_list_items_and_keys():
    assert k.list_items({"kind": "List", "items": [{"a": 1}]}) == [{"a": 1}]
    assert k.list_items({"kind": "Secret"}) == [{"kind": "Secret"}]
    assert k.list_items(None) == []
    obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
    assert k.object_key(obj, "ns") == ("apps", "Deployment", "ns", "d")
    assert k.object_ref(dict(obj, metadata={"name": "d", "namespace": "ns"})) == "ns/Deployment/d"


def test_can_i():
    assert k.parse_can_i(0, "yes\n") is True
    assert k.parse_can_i(1, "no\n") is False


def seq(values):
    it = iter(values)
    return lambda length, alphabet: next(it)


def test_credentials_generate_only_missing_keys():
    keys = [{"name": "user", "length": 20, "alphabet": "lower"}, {"name": "password", "length": 40}]
    data, created, rotated, supplied, adopted = credentials.plan_credentials({"user": "kept"}, keys, [],
                                                                             seq(["new-pass"]))
    assert data == {"user": "kept", "password": "new-pass"}
    assert (created, rotated, supplied, adopted) == (["password"], [], [], [])


def test_credentials_rotate_and_supplied_values():
    keys = [{"name": "a"}, {"name": "b", "value": "from-vault"}, {"name": "c", "value": "same"}]
    data, created, rotated, supplied, adopted = credentials.plan_credentials(
        {"a": "old", "b": "old", "c": "same", "other": "left"}, keys, ["a"], seq(["rotated"]))
    assert data == {"a": "rotated", "b": "from-vault", "c": "same", "other": "left"}
    assert (created, rotated, supplied, adopted) == ([], ["a"], ["b"], [])


def test_credentials_nothing_to_do():
    keys = [{"name": "a"}]
    assert credentials.plan_credentials({"a": "x"}, keys, [], seq([])) == ({"a": "x"}, [], [], [], [])


def b64(text):
    return base64.b64encode(text.encode()).decode()


ADOPT = [{"key": "password", "secret": "superset-postgresql", "secret_key": "password", "namespace": None},
         {"key": "postgres-password", "secret": "superset-postgresql", "secret_key": "postgres-password",
          "namespace": None},
         {"key": "dagster", "secret": "dagster-postgresql-secret", "secret_key": "postgresql-password",
          "namespace": "dg"}]


def test_adoption_reads_only_secrets_of_keys_not_stored_yet():
    assert credentials.adoption_sources(ADOPT, {}, "ss") == {"ss": ["superset-postgresql"],
                                                             "dg": ["dagster-postgresql-secret"]}
    assert credentials.adoption_sources(ADOPT, {"password": "x", "postgres-password": "y"}, "ss") == {
        "dg": ["dagster-postgresql-secret"]}
    assert credentials.adoption_sources(ADOPT, {"password": "x", "postgres-password": "y", "dagster": "z"},
                                        "ss") == {}


def test_adoptable_values_and_plan():
    found = {("ss", "superset-postgresql"): {"metadata": {"name": "superset-postgresql", "namespace": "ss"},
                                             "data": {"password": b64("db-pass")}}}
    # postgres-password is not in the source Secret, dagster's Secret does not exist: both generated
    adoptable = credentials.adoptable_values(ADOPT, found, "ss")
    assert adoptable == {"password": "db-pass"}
    keys = [{"name": "password"}, {"name": "postgres-password"}, {"name": "dagster"}]
    data, created, rotated, supplied, adopted = credentials.plan_credentials({}, keys, [], seq(["g1", "g2"]),
                                                                             adoptable)
    assert data == {"password": "db-pass", "postgres-password": "g1", "dagster": "g2"}
    assert (created, adopted) == (["postgres-password", "dagster"], ["password"])


def test_stored_supplied_and_rotated_keys_win_over_adoption():
    keys = [{"name": "a"}, {"name": "b", "value": "vault"}, {"name": "c"}]
    adoptable = {"a": "adopt-a", "b": "adopt-b", "c": "adopt-c"}
    data, created, rotated, supplied, adopted = credentials.plan_credentials({"a": "kept"}, keys, ["c"],
                                                                             seq(["new-c"]), adoptable)
    assert data == {"a": "kept", "b": "vault", "c": "new-c"}
    assert (created, rotated, supplied, adopted) == ([], ["c"], ["b"], [])


def test_binary_secret_data_is_named_not_shown():
    found = {("ss", "s"): {"metadata": {"name": "s", "namespace": "ss"},
                           "data": {"k": base64.b64encode(b"\xff\xfe").decode()}}}
    with pytest.raises(ValueError, match="Secret ss/s: key k does not hold UTF-8 text"):
        credentials.adoptable_values([{"key": "a", "secret": "s", "secret_key": "k"}], found, "ss")


@pytest.mark.parametrize("alphabet", ["alnum", "hex", "lower", "urlsafe", "xyz"])
def test_generate_uses_alphabet(alphabet):
    value = credentials.generate(64, alphabet)
    assert len(value) == 64
    assert set(value) <= set(credentials.ALPHABETS.get(alphabet, alphabet))


def test_secret_data_round_trip():
    data = {"a": "ünïcode", "b": "x"}
    assert credentials.decode_data({"data": credentials.encode_data(data)}) == data


NODE = {"kind": "Node", "metadata": {"name": "n1", "labels": {"kubernetes.io/arch": "amd64"}},
        "spec": {}, "status": {"allocatable": {"cpu": "8", "memory": "32Gi"},
                               "conditions": [{"type": "Ready", "status": "True"}]}}


def test_cluster_summary():
    items = [NODE, dict(NODE, metadata={"name": "n2"}, spec={"unschedulable": True}),
             {"kind": "StorageClass", "metadata": {"name": "standard", "annotations": {
                 "storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "p"},
             {"kind": "StorageClass", "metadata": {"name": "slow"}, "provisioner": "p"},
             {"kind": "IngressClass", "metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}}]
    info = k.summarize(items)
    assert info["totals"] == {"nodes": 1, "cpu": 8, "memory": 32 * 1024 ** 3}
    assert info["default_storage_class"] == "standard"
    assert [s["name"] for s in info["storage_classes"]] == ["standard", "slow"]
    assert info["ingress_classes"][0]["controller"] == "k8s.io/ingress-nginx"
    assert info["nodes"][0]["architecture"] == "amd64"


def test_config_view_and_version():
    assert cluster_info.parse_config_view({"current-context": "c", "clusters": [{"cluster": {"server": "s"}}]}) == \
        ("c", "s")
    version = {"serverVersion": {"gitVersion": "v1.37.2", "major": "1", "minor": "37+"}}
    assert k.parse_server_version(version) == {"git_version": "v1.37.2", "major": 1, "minor": 37}


def test_changed_refs_from_kubectl_diff():
    text = ("diff -u -N /tmp/LIVE-123/v1.ConfigMap.ns.a /tmp/MERGED-123/v1.ConfigMap.ns.a\n"
            "--- /tmp/LIVE-123/v1.ConfigMap.ns.a\n+++ /tmp/MERGED-123/v1.ConfigMap.ns.a\n@@ -1 +1 @@\n"
            "diff -u -N /tmp/LIVE-123/apps.v1.Deployment.ns.b /tmp/MERGED-123/apps.v1.Deployment.ns.b\n")
    assert kubectl_apply.changed_refs(text) == ["v1.ConfigMap.ns.a", "apps.v1.Deployment.ns.b"]


def test_object_readiness_pairs_manifest_with_live_objects():
    manifest = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}},
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "gone"}}]
    live = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
             "spec": {"replicas": 2}, "status": {"availableReplicas": 2}}]
    out = helm_release_info.object_readiness(manifest, live, "ns")
    assert out[0] == {"ref": "ns/Deployment/web", "kind": "Deployment", "name": "web", "namespace": "ns",
                      "exists": True, "ready": True, "reason": "2/2 availableReplicas"}
    assert out[1]["exists"] is False and out[1]["ready"] is False
