"""port_forward: targets, argv, address policy and kubectl's output parsing (no cluster)."""

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _ui


def test_targets_per_component_in_order():
    found = _ui.targets("ab-cd", ["superset", "minio-api", "minio"], tenant_name="t1")
    assert [(t["key"], t["namespace"], t["service"], t["port"]) for t in found] == [
        ("minio", "ab-tenant-cd", "t1-console", 9090), ("minio-api", "ab-tenant-cd", "minio", 80),
        ("superset", "ab-superset-cd", "superset", 8088)]
    assert "Secret magasin-superset-credentials" in found[2]["login"] and "admin-password" in found[2]["login"]


def test_argv_listens_on_the_address_and_lets_kubectl_choose_a_port():
    target = _ui.targets("magasin", ["drill"])[0]
    assert _ui.port_forward_args(target, "127.0.0.1") == [
        "port-forward", "--namespace", "magasin-drill", "--address", "127.0.0.1", "service/drill-service", ":8047"]
    assert _ui.port_forward_args(target, "127.0.0.1", 41000)[-1] == "41000:8047"


@pytest.mark.parametrize(("address", "explicit", "refused"), [
    ("127.0.0.1", False, False), ("::1", False, False), ("10.1.2.3", False, False),
    ("0.0.0.0", False, True), ("::", False, True), ("0.0.0.0", True, False), ("localhost", False, True)])
def test_every_interface_only_when_asked(address, explicit, refused):
    assert bool(_ui.address_problem(address, explicit)) is refused


def test_forwarding_line_and_url():
    assert _ui.parse_forwarding("Forwarding from 127.0.0.1:41234 -> 8088\n") == ("127.0.0.1", 41234)
    assert _ui.parse_forwarding("Forwarding from [::1]:41234 -> 8088") == ("::1", 41234)
    assert _ui.parse_forwarding("Handling connection for 41234") is None
    target = _ui.targets("magasin", ["superset"])[0]
    assert _ui.url(target, "::1", 5) == "http://[::1]:5/login/"
