"""module_utils/_access.py: the least-privilege account's objects and rights (no cluster), and access_kubeconfig."""

import base64
import json

from ansible_collections.magasin.platform.plugins.module_utils import _access as a
from ansible_collections.magasin.platform.plugins.modules import access_kubeconfig
from fake_module import FakeModule

REALM_NS = ["aw1-operator", "aw1-tenant", "aw1-drill", "aw1-dagster", "aw1-daskhub", "aw1-superset"]


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def cluster_role(objects):
    return next(o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("-cluster"))


def test_shared_operator_of_another_realm_is_read_only():
    objects = a.access_objects("aw1", ["minio", "drill"], "magasin-operator")
    assert [o["metadata"]["name"] for o in by_kind(objects, "Namespace")] == REALM_NS
    bindings = {(o["metadata"].get("namespace"), o["roleRef"]["name"]) for o in by_kind(objects, "RoleBinding")}
    assert bindings == {(ns, "magasin-aw1-realm") for ns in REALM_NS} | {
        ("default", "magasin-aw1-lock"), ("magasin-operator", "magasin-aw1-operator")}
    operator_role = next(o for o in by_kind(objects, "Role") if o["metadata"]["namespace"] == "magasin-operator")
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in operator_role["rules"])
    rules = cluster_role(objects)["rules"]
    # nothing cluster-wide but reads, names and the one unrestrictable create of the lock (a Role in default)
    for rule in rules:
        assert set(rule["verbs"]) <= {"get", "list", "watch"} or rule.get("resourceNames"), rule
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
    patch = [r for r in rules if "patch" in r["verbs"] and r["resources"] == ["namespaces"]]
    assert patch[0]["resourceNames"] == REALM_NS and patch[1]["resourceNames"] == ["magasin-operator"]
    assert "delete" not in patch[1]["verbs"]
    assert not [r for r in rules if "escalate" in r["verbs"] or "create" in r["verbs"]]


def test_realm_that_installs_the_operator_gets_its_cluster_objects_by_name():
    objects = a.access_objects("aw1", ["minio"], "")
    assert [o["metadata"]["name"] for o in by_kind(objects, "Namespace")] == REALM_NS + ["magasin-operator"]
    assert ("magasin-operator", "magasin-aw1-realm") in {
        (o["metadata"].get("namespace"), o["roleRef"]["name"]) for o in by_kind(objects, "RoleBinding")}
    rules = cluster_role(objects)["rules"]
    escalate = next(r for r in rules if "escalate" in r["verbs"])
    assert escalate["resourceNames"] == ["console-sa-role", "minio-operator-role"]
    crds = next(r for r in rules if r["resources"] == ["customresourcedefinitions"] and "delete" in r["verbs"])
    assert crds["resourceNames"] == sorted(a.OPERATOR_CRDS)


def test_without_minio_and_no_operator_its_namespace_is_made_and_read_only():
    objects = a.access_objects("aw1", ["drill"], "")
    assert "magasin-operator" in [o["metadata"]["name"] for o in by_kind(objects, "Namespace")]
    assert not [r for r in cluster_role(objects)["rules"] if "escalate" in r["verbs"]]


def test_daskhub_cluster_objects_are_named_after_the_release():
    objects = a.access_objects("aw1", ["daskhub"], "magasin-operator", daskhub_release="daskhub-aw1")
    escalate = next(r for r in cluster_role(objects)["rules"] if "escalate" in r["verbs"])
    assert "controller-daskhub-aw1-dask-gateway" in escalate["resourceNames"]
    assert "daskhub-aw1-user-scheduler" in escalate["resourceNames"]


def test_lock_lease_by_name_and_the_token_secret():
    objects = a.access_objects("aw1", ["minio"], "magasin-operator", account="ops")
    lock = next(o for o in by_kind(objects, "Role") if o["metadata"]["name"] == "ops-lock")
    assert lock["metadata"]["namespace"] == "default"
    assert lock["rules"][1]["resourceNames"] == ["magasin-realm-aw1"]
    token = by_kind(objects, "Secret")[0]
    assert token["type"] == "kubernetes.io/service-account-token"
    assert token["metadata"]["annotations"] == {"kubernetes.io/service-account.name": "ops"}


def test_token_kubeconfig():
    config = a.token_kubeconfig("https://k:6443", b"PEM", "tok", "magasin-x")
    assert config["clusters"][0]["cluster"] == {"server": "https://k:6443",
                                                "certificate-authority-data": base64.b64encode(b"PEM").decode()}
    assert config["users"][0]["user"] == {"token": "tok"} and config["current-context"] == "magasin-x"


def secret_answer(token="the-token-value"):
    return json.dumps({"metadata": {"annotations": {"kubernetes.io/service-account.name": "magasin-aw1"}},
                       "data": {"token": base64.b64encode(token.encode()).decode(),
                                "ca.crt": base64.b64encode(b"PEM").decode()}})


def test_access_kubeconfig_writes_once_with_mode_0600(tmp_path):
    path = tmp_path / "k"
    params = {"name": "magasin-aw1-token", "namespace": "default", "path": str(path), "server": None,
              "wait_timeout": 1}
    answers = [
        (lambda c: c[1:3] == ["config", "view"], (0, json.dumps({"clusters": [{"cluster": {"server": "https://s"}}]}), "")),
        (lambda c: c[1:3] == ["get", "secret"], (0, secret_answer(), "")),
    ]
    result = access_kubeconfig.AccessKubeconfigManager(FakeModule(params, answers)).run()
    assert result["changed"] and result["server"] == "https://s" and result["account"] == "default/magasin-aw1"
    assert "the-token-value" not in json.dumps(result)
    assert (path.stat().st_mode & 0o777) == 0o600
    assert json.loads(path.read_text())["users"][0]["user"]["token"] == "the-token-value"
    again = access_kubeconfig.AccessKubeconfigManager(FakeModule(params, answers)).run()
    assert again["changed"] is False
    path.chmod(0o644)
    check = FakeModule(params, answers, check_mode=True)
    assert access_kubeconfig.AccessKubeconfigManager(check).run()["changed"] is True
    assert (path.stat().st_mode & 0o777) == 0o644, "check mode wrote the file"


def test_manage_operator_gives_the_shared_operators_namespace_and_names():
    objects = a.access_objects("aw1", ["minio"], "magasin-operator", manage_operator=True)
    bindings = {(o["metadata"].get("namespace"), o["roleRef"]["name"]) for o in by_kind(objects, "RoleBinding")}
    assert ("magasin-operator", "magasin-aw1-realm") in bindings
    assert ("magasin-operator", "magasin-aw1-operator") not in bindings
    assert "magasin-operator" not in [o["metadata"]["name"] for o in by_kind(objects, "Namespace")]
    escalate = next(r for r in cluster_role(objects)["rules"] if "escalate" in r["verbs"])
    assert escalate["resourceNames"] == ["console-sa-role", "minio-operator-role"]
