"""Two realms in one run, side by side, sharing the cluster's one MinIO operator (issues 10, 11).

An inventory lists realm `duo-a` (magasin_profile lab) and realm `duo-b` (magasin_profile small)
as two hosts of the group magasin_realms, each with every component (small fits the three kwok
nodes of 8 CPU / 32 GiB: about 5.3 CPU and 13 GiB of requests). One run of site.yml converges
both: the first realm installs the operator (its release task runs one host at a time) and the
other finds it. The operator has cluster-level settings of its own, independent of any realm's
profile, so the second run reports changed=0 for both realms and the operator release's revision
does not move (before issue 10, each realm resized the operator to its own profile). The Tenant
pools show that the profiles really differ (one volume per server in lab, four in small). One
run with magasin_state: absent removes both.

Helm 4 only unless MAGASIN_HELM asks (the shared operator's values do not depend on the major),
with the site_dir fixture (the admin kubeconfig, the real charts as magasin_charts_dir).
"""

from __future__ import annotations

import pytest
import yaml
from realms import COMPONENTS, REPO_ROOT, helm4_unless_asked, namespaces

REALMS = {"duo-a": "lab", "duo-b": "small"}


def operator(cluster) -> tuple[str, str, int, str]:
    found = [r for r in cluster.releases() if r["chart"].startswith("operator-")]
    assert len(found) == 1, f"one MinIO operator release on the cluster, found {found}"
    rel = found[0]
    return rel["namespace"], rel["name"], int(rel["revision"]), rel["status"]


def inventory(path, state: str = "present"):
    hosts = {realm: {"magasin_realm": realm, "magasin_profile": profile, "magasin_components": COMPONENTS,
                     "magasin_state": state} for realm, profile in REALMS.items()}
    path.write_text(yaml.safe_dump({"all": {"children": {"magasin_realms": {"hosts": hosts, "vars": {
        "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
        "magasin_kubectl_binary": str(REPO_ROOT / ".venv" / "bin" / "kubectl")}}}}}))
    return path


@pytest.fixture(scope="module")
def two_realms(cluster, site_dir, helm_bin, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "the shared operator's values do not depend on the Helm major")
    for realm in reversed(REALMS):
        cluster.teardown(realm)
    tmp = tmp_path_factory.mktemp("realms")
    both = site_dir.with_inventory(inventory(tmp / "present.yml"))
    runs, operators = {}, {}
    try:
        for step in ("first", "second"):
            runs[step] = both("site.yml")
            operators[step] = operator(cluster)
            if runs[step].rc != 0:
                break
        releases = cluster.releases()
        pools = {realm: [p.get("volumesPerServer") for t in cluster.items("tenants.minio.min.io", namespaces(realm)["tenant"])
                         for p in t["spec"].get("pools") or []] for realm in REALMS}
    finally:
        absent = site_dir.with_inventory(inventory(tmp / "absent.yml", "absent"))("site.yml")
        left = [(r["namespace"], r["name"]) for r in cluster.releases()
                if r["namespace"] in {ns for realm in REALMS for ns in namespaces(realm).values()}
                and not r["chart"].startswith("operator-")]
        for realm in reversed(REALMS):
            cluster.teardown(realm)  # whatever a failed run left
    return {"runs": runs, "operators": operators, "releases": releases, "pools": pools, "absent": absent, "left": left}


def test_one_run_converges_both_realms(two_realms: dict):
    first = two_realms["runs"]["first"].ok()
    recaps = first.recaps
    for realm in REALMS:
        assert recaps[realm]["changed"] > 0, f"{realm}: the first run changed nothing"
    deployed = {(r["namespace"], r["chart"].rsplit("-", 1)[0]) for r in two_realms["releases"] if r["status"] == "deployed"}
    for realm in REALMS:
        ns = namespaces(realm)
        for chart in ("tenant", "drill", "dagster", "daskhub", "superset"):
            assert (ns[chart], chart) in deployed, f"{realm}: {chart} not deployed in {ns[chart]}"
    # The profiles really differ: the tenant pool of lab has one volume per server, small four.
    assert two_realms["pools"] == {"duo-a": [1], "duo-b": [4]}, two_realms["pools"]


def test_second_run_changes_nothing_in_either_realm(two_realms: dict):
    run = two_realms["runs"].get("second")
    assert run is not None, "the first run failed"
    recaps = run.ok().recaps
    assert {realm: recaps[realm]["changed"] for realm in REALMS} == dict.fromkeys(REALMS, 0), run.output[-8000:]


def test_the_shared_operator_does_not_move(two_realms: dict):
    ops = two_realms["operators"]
    assert "second" in ops, "the first run failed"
    # One operator served both realms, deployed throughout, and the second run did not upgrade it.
    assert ops["first"] == ops["second"], ops
    assert ops["first"][3] == "deployed", ops


def test_one_run_removes_both_realms(two_realms: dict):
    recaps = two_realms["absent"].ok().recaps
    for realm in REALMS:
        assert recaps[realm]["changed"] > 0, f"{realm}: the removal changed nothing"
    assert two_realms["left"] == []
