"""Two realms with different profiles share the cluster's one MinIO operator (issue 10).

Realm `duo-a` (magasin_profile lab) and realm `duo-b` (magasin_profile small), each with every
component (small fits the three kwok nodes of 8 CPU / 32 GiB: about 5.3 CPU and 13 GiB of
requests), so both include minio and both are served by the one MinIO operator of the cluster.
The operator has cluster-level settings of its own, independent of any realm's profile: after
a, then b are converged, the second runs of a and of b each report changed=0 and the operator
release's revision does not move between them (before the issue, each realm resized the operator
to its own profile, so the two realms upgraded it back and forth). The Tenant pools show that the
profiles really differ (one volume per server in lab, four in small). Both realms are removed at
the end with magasin_state: absent.

Once per Helm major (MAGASIN_HELM=3|4 picks one; unset: both), with the site_dir fixture
(inventories/local, the admin kubeconfig, the real charts as magasin_charts_dir).
"""

from __future__ import annotations

import pytest
from realms import COMPONENTS, helm4_unless_asked, namespaces

REALMS = {"duo-a": "lab", "duo-b": "small"}


def operator(cluster) -> tuple[str, str, int, str]:
    found = [r for r in cluster.releases() if r["chart"].startswith("operator-")]
    assert len(found) == 1, f"one MinIO operator release on the cluster, found {found}"
    rel = found[0]
    return rel["namespace"], rel["name"], int(rel["revision"]), rel["status"]


@pytest.fixture(scope="module")
def two_realms(cluster, site_dir, helm_bin) -> dict:
    helm4_unless_asked(helm_bin, "the shared operator's values do not depend on the Helm major")
    for realm in reversed(REALMS):
        cluster.teardown(realm)
    extra = {realm: {"magasin_realm": realm, "magasin_profile": profile, "magasin_components": COMPONENTS}
             for realm, profile in REALMS.items()}
    runs, operators = {}, {}
    try:
        for step, realm in (("first", "duo-a"), ("first", "duo-b"), ("second", "duo-a"), ("second", "duo-b")):
            runs[(step, realm)] = site_dir("site.yml", extra[realm])
            operators[(step, realm)] = operator(cluster)
            if runs[(step, realm)].rc != 0:
                break
        releases = cluster.releases()
        pools = {realm: [p.get("volumesPerServer") for t in cluster.items("tenants.minio.min.io", namespaces(realm)["tenant"])
                         for p in t["spec"].get("pools") or []] for realm in REALMS}
    finally:
        absent = {realm: site_dir("site.yml", {**extra[realm], "magasin_state": "absent"}) for realm in reversed(REALMS)}
        left = [(r["namespace"], r["name"]) for r in cluster.releases()
                if r["namespace"] in {ns for realm in REALMS for ns in namespaces(realm).values()}
                and not r["chart"].startswith("operator-")]
        for realm in reversed(REALMS):
            cluster.teardown(realm)  # whatever a failed run left
    return {"runs": runs, "operators": operators, "releases": releases, "pools": pools, "absent": absent, "left": left}


def test_both_realms_converge(two_realms: dict):
    for (step, realm), run in two_realms["runs"].items():
        run.ok()
        if step == "first":
            assert run.changed > 0, f"{realm}: the first run changed nothing"
    deployed = {(r["namespace"], r["chart"].rsplit("-", 1)[0]) for r in two_realms["releases"] if r["status"] == "deployed"}
    for realm in REALMS:
        ns = namespaces(realm)
        for chart in ("tenant", "drill", "dagster", "daskhub", "superset"):
            assert (ns[chart], chart) in deployed, f"{realm}: {chart} not deployed in {ns[chart]}"
    # The profiles really differ: the tenant pool of lab has one volume per server, small four.
    assert two_realms["pools"] == {"duo-a": [1], "duo-b": [4]}, two_realms["pools"]


@pytest.mark.parametrize("realm", list(REALMS))
def test_second_run_changes_nothing(two_realms: dict, realm: str):
    run = two_realms["runs"].get(("second", realm))
    assert run is not None, "an earlier run failed"
    assert run.ok().changed == 0, run.output[-8000:]


def test_the_shared_operator_does_not_move(two_realms: dict):
    ops = two_realms["operators"]
    assert ("second", "duo-b") in ops, "an earlier run failed"
    # One operator served both realms, deployed throughout, and neither second run upgraded it.
    assert len({op[:2] for op in ops.values()}) == 1, ops
    assert {op[3] for op in ops.values()} == {"deployed"}, ops
    assert ops[("first", "duo-b")][2] == ops[("second", "duo-a")][2] == ops[("second", "duo-b")][2], ops


def test_both_realms_removed(two_realms: dict):
    for realm, run in two_realms["absent"].items():
        assert run.ok().changed > 0, f"{realm}: the removal changed nothing"
    assert two_realms["left"] == []
