"""module_utils/_security.py: Pod Security labels and the realm's NetworkPolicies, pure (no cluster).

The integration test tests/integration/test_security.py proves the levels with the API server's
PodSecurity admission and the policies' selectors against the pods the real charts make."""

from __future__ import annotations

import pytest
from ansible_collections.magasin.platform.plugins.filter import realm as F
from ansible_collections.magasin.platform.plugins.module_utils import _realm as R
from ansible_collections.magasin.platform.plugins.module_utils import _security as S

OBSERVED = {"cluster": {"nodes": []}, "default_storage_class": "standard", "operator": None, "tenants": [],
            "statefulsets": {}, "releases": {}, "charts": {}}
SETTINGS = {"magasin_realm": "hd1", "magasin_components": list(R.COMPONENTS), "magasin_profile": "lab", "magasin_sizing": {}}


def model(**settings):
    return F.realm_model(dict(SETTINGS, **settings), OBSERVED)


def by_namespace(policies):
    out: dict[str, list[str]] = {}
    for p in policies:
        out.setdefault(p["metadata"]["namespace"], []).append(p["metadata"]["name"])
    return {k: sorted(v) for k, v in out.items()}


def test_every_namespace_key_has_a_level_and_all_three_modes():
    assert set(S.POD_SECURITY) == set(S.NAMESPACE_KEYS) == set(R.NAMESPACE_KEYS)
    for key, level in S.POD_SECURITY.items():
        labels = S.pod_security_labels(key)
        assert labels["pod-security.kubernetes.io/enforce"] == level
        assert labels["pod-security.kubernetes.io/audit"] == labels["pod-security.kubernetes.io/warn"] == S.warn_level(key)
        assert S.LEVELS.index(S.warn_level(key)) >= S.LEVELS.index(level)
        assert labels["pod-security.kubernetes.io/enforce-version"] == S.POD_SECURITY_VERSION
        assert labels["pod-security.kubernetes.io/warn-version"] == "latest"


def test_stricter_levels():
    assert [S.stricter(level) for level in S.LEVELS] == ["baseline", "restricted", ""]


def test_namespaces_carry_their_level_and_the_shared_operator_one_no_realm():
    m = model()
    tenant = F.namespace(m, "tenant")
    assert tenant["metadata"]["name"] == "hd1-tenant"
    assert tenant["metadata"]["labels"]["magasin.unicef.org/realm"] == "hd1"
    assert tenant["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert F.namespace(m, "superset")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    operator = F.namespace(m, "operator", "ops")
    assert operator["metadata"]["name"] == "ops" and "magasin.unicef.org/realm" not in operator["metadata"]["labels"]
    # Shared with realms of earlier releases: enforces baseline, warns at restricted.
    assert operator["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert operator["metadata"]["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    assert operator["metadata"]["labels"]["app.kubernetes.io/part-of"] == "magasin"


def test_namespaces_of_several_keys_and_the_keys_of_components():
    m = model()
    assert F.namespace_keys(["minio", "drill", "superset"]) == ["operator", "tenant", "drill", "superset"]
    assert F.namespace_keys([]) == []
    several = F.namespace(m, ["operator", "tenant", "drill"], {"operator": "ops"})
    assert several == [F.namespace(m, "operator", "ops"), F.namespace(m, "tenant"), F.namespace(m, "drill")]
    assert F.namespace(m, ["tenant"]) == [F.namespace(m, "tenant")]
    assert F.namespace(m, []) == []


EXPECTED = {
    "magasin-operator": ["default-deny", "dns", "same-namespace", "api-server", "minio-from-operator"],
    "hd1-tenant": ["default-deny", "dns", "same-namespace", "api-server", "minio-from-operator", "minio-peers",
                   "minio-from-setup", "minio-from-drill", "minio-from-dagster", "minio-from-daskhub"],
    "hd1-drill": ["default-deny", "dns", "same-namespace", "minio-from-drill", "zookeeper-from-drill", "drill-peers",
                  "drill-from-dagster", "drill-from-daskhub", "drill-from-superset"],
    "hd1-dagster": ["default-deny", "dns", "same-namespace", "minio-from-dagster", "drill-from-dagster",
                    "postgresql-from-dagster", "user-code-from-dagster", "api-server", "internet"],
    "hd1-daskhub": ["default-deny", "dns", "same-namespace", "minio-from-daskhub", "drill-from-daskhub", "daskhub-internal",
                    "api-server", "gateway-api-server", "internet"],
    "hd1-superset": ["default-deny", "dns", "same-namespace", "drill-from-superset", "postgresql-from-superset",
                     "redis-from-superset", "internet"],
}


def expected_names(namespace, bases):
    prefix = "magasin-hd1-" if namespace == "magasin-operator" else "magasin-"
    return sorted(prefix + b for b in bases)


def test_a_full_realm_has_a_default_deny_and_one_allow_per_flow_in_each_namespace():
    policies = S.network_policies(model())
    assert by_namespace(policies) == {ns: expected_names(ns, bases) for ns, bases in EXPECTED.items()}
    for p in policies:
        assert p["metadata"]["labels"][S.POLICY_LABEL] == "true" and p["metadata"]["labels"]["magasin.unicef.org/realm"] == "hd1"
        if p["metadata"]["name"].endswith("default-deny"):
            assert p["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        else:
            assert p["spec"]["policyTypes"] in (["Ingress"], ["Egress"])


def test_a_flow_across_namespaces_is_allowed_at_both_ends_with_matching_selectors():
    policies = {(p["metadata"]["namespace"], p["metadata"]["name"]): p["spec"] for p in S.network_policies(model())}
    server = policies[("hd1-drill", "magasin-drill-from-superset")]
    client = policies[("hd1-superset", "magasin-drill-from-superset")]
    assert server["podSelector"] == {"matchLabels": {"app": "drill-app"}}
    assert server["ingress"] == [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hd1-superset"}},
                                            "podSelector": client["podSelector"]}],
                                  "ports": [{"port": 8047, "protocol": "TCP"}]}]
    assert client["egress"] == [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "hd1-drill"}},
                                         "podSelector": server["podSelector"]}], "ports": [{"port": 8047, "protocol": "TCP"}]}]
    s3 = policies[("hd1-tenant", "magasin-minio-from-dagster")]
    assert s3["podSelector"] == S.MINIO_PODS and s3["ingress"][0]["ports"] == [{"port": 9000, "protocol": "TCP"}]
    assert s3["ingress"][0]["from"][0]["podSelector"] == {"matchLabels": {"magasin.unicef.org/s3-client": "true"}}
    dns = policies[("hd1-drill", "magasin-dns")]
    assert dns["egress"][0]["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}]
    assert {p["port"] for p in dns["egress"][0]["ports"]} == {53}
    internet = policies[("hd1-dagster", "magasin-internet")]["egress"][0]["to"][0]["ipBlock"]
    assert internet["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in internet["except"]


def test_policies_of_unselected_components_are_absent():
    policies = S.network_policies(model(magasin_components=["drill", "superset"]))
    assert by_namespace(policies) == {
        "hd1-drill": expected_names("hd1-drill", ["default-deny", "dns", "same-namespace", "zookeeper-from-drill", "drill-peers",
                                                  "drill-from-superset"]),
        "hd1-superset": expected_names("hd1-superset", ["default-deny", "dns", "same-namespace", "drill-from-superset",
                                                        "postgresql-from-superset", "redis-from-superset", "internet"]),
    }
    assert F.network_policies(model(magasin_components=["drill"]), "tenant") == []


@pytest.mark.parametrize("ingress_namespace, peer", [
    ("", {"namespaceSelector": {}}),
    ("ingress-nginx", {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}),
])
def test_ingress_controller_reaches_only_the_uis_with_a_host(ingress_namespace, peer):
    m = model(magasin_ingress_namespace=ingress_namespace, hosts={"superset_host": "bi.example.org", "daskhub_host": ""})
    policies = {p["metadata"]["name"]: p for p in S.network_policies(m) if "from-ingress" in p["metadata"]["name"]}
    assert sorted(policies) == ["magasin-superset-from-ingress"]
    spec = policies["magasin-superset-from-ingress"]["spec"]
    assert spec["ingress"] == [{"from": [peer], "ports": [{"port": 8088, "protocol": "TCP"}]}]
    assert spec["podSelector"] == {"matchLabels": {"app": "superset"}}


@pytest.mark.parametrize("value", [False, "false", "no"])
def test_policies_can_be_turned_off(value):
    assert S.network_policies(model(magasin_network_policies=value)) == []
    assert model(magasin_network_policies=value)["network"]["enabled"] is False


def test_the_operator_namespace_policies_carry_the_realm_in_their_names():
    one = {p["metadata"]["name"] for p in S.network_policies(model(), "operator")}
    two = {p["metadata"]["name"] for p in S.network_policies(model(magasin_realm="hd2"), "operator")}
    assert one and two and not one & two


def test_the_filter_puts_the_namespaces_first_when_asked():
    """A check run on a new realm applies them in one list: kubectl_apply predicts objects in a namespace
    that the same list creates, and fails on a namespace that does not exist (seen in CI)."""
    m = model()
    plain = F.network_policies(m, ["operator", "tenant"])
    with_ns = F.network_policies(m, ["operator", "tenant"], True)
    assert [o["kind"] for o in with_ns[:2]] == ["Namespace", "Namespace"]
    assert [o["metadata"]["name"] for o in with_ns[:2]] == [m["namespaces"]["operator"], m["namespaces"]["tenant"]]
    assert with_ns[:2] == [F.namespace(m, "operator"), F.namespace(m, "tenant")]
    assert with_ns[2:] == plain
    off = model(magasin_network_policies=False)
    assert F.network_policies(off, ["tenant"], True) == []
