"""An uninstall keeps the data, a reinstall finds it again, and only a confirmed purge deletes it (issue 13).

Realm `un1` with daskhub alone: JupyterHub's hub database `hub-db-dir` is the one volume a chart owns
(`helm uninstall` deletes it unless it carries the `helm.sh/resource-policy: keep` the collection sets),
the hard case; the StatefulSets' claims (Superset's and Dagster's PostgreSQL, MinIO's) are never Helm's, and
the components are left out to keep this test within its CI budget. kwok runs no container: "bound" is what
the API server records (the test cluster's provisioner and the real PV controller bind the claim); a
reinstall reattaching the volume means its claim, same UID, bound, is the one the new hub Deployment names.

One converge, then: magasin_state absent (every claim, same UID, and every Secret the collection made,
same data, are still there; the releases are gone), a reinstall (changed > 0, then changed == 0, same
claims and credentials), a purge without confirmation (fails in the preflight, the cluster unchanged), the
confirmed purge in check mode with --diff (changes nothing, and names what the purge then deletes), then the
purge itself (exactly the named objects go: the volume and the credentials, not the namespace). Helm 4
only unless MAGASIN_HELM=3: what is kept does not depend on the Helm major (both honour the resource
policy and adopt the kept claim again; checked by hand with both).
"""

from __future__ import annotations

import re

import pytest
from realms import RECAP_RE, helm4_unless_asked, namespaces

REALM = "un1"
NS = namespaces(REALM)
DEPLOY = {"magasin_realm": REALM, "magasin_components": ["daskhub"]}
ABSENT = {**DEPLOY, "magasin_state": "absent"}
PURGE = {"daskhub": ["volumes", "credentials"]}
HUB_DB = f"{NS['daskhub']}/hub-db-dir"
CREDENTIALS = f"{NS['daskhub']}/magasin-daskhub-credentials"


# A removed line of realm_purge's diff: namespace/Kind/name or Namespace/name.
PURGE_DIFF_RE = re.compile(r"^-((?:[a-z0-9-]+/(?:PersistentVolumeClaim|Secret)|Namespace)/[a-z0-9.-]+)$", re.MULTILINE)


def changed(run) -> int:
    match = RECAP_RE.search(run.output)
    assert match, run.output[-4000:]
    return int(match.group(2))


def collection_secrets(cluster) -> dict[str, dict[str, str]]:
    """The Secrets the collection made in the realm (its labels), decoded, by namespace/name."""
    out = {}
    for ns in cluster.realm_namespaces(REALM):
        for item in cluster.items("secrets", ns, "-l", f"magasin.unicef.org/realm={REALM}"):
            out[f"{ns}/{item['metadata']['name']}"] = cluster.secret(ns, item["metadata"]["name"])
    return out


def state(cluster) -> dict:
    return {"claims": cluster.claims(REALM), "secrets": collection_secrets(cluster), "snapshot": cluster.snapshot(REALM)}


@pytest.fixture(scope="module")
def lifecycle(cluster, site_dir, helm_bin) -> dict:
    helm4_unless_asked(helm_bin, "what an uninstall keeps does not depend on the Helm major")
    cluster.teardown(REALM)
    runs, states, hub_claims = {}, {}, []
    try:
        for step, extra, args in (("deploy", DEPLOY, ()), ("absent", ABSENT, ()), ("reinstall", DEPLOY, ()),
                                  ("again", DEPLOY, ()),
                                  ("unconfirmed", {**ABSENT, "magasin_purge": PURGE}, ()),
                                  ("predicted", {**ABSENT, "magasin_purge": PURGE, "magasin_purge_confirm": REALM},
                                   ("--check", "--diff")),
                                  ("purge", {**ABSENT, "magasin_purge": PURGE, "magasin_purge_confirm": REALM}, ())):
            runs[step] = site_dir("playbooks/magasin.yml", extra, *args)
            states[step] = state(cluster)
            if step == "reinstall":
                hub = cluster.kubectl_json("get", "deployment", "hub", "-n", NS["daskhub"])
                hub_claims = [v["persistentVolumeClaim"]["claimName"] for v in hub["spec"]["template"]["spec"]["volumes"]
                              if "persistentVolumeClaim" in v]
            if runs[step].rc != 0 and step != "unconfirmed":
                break
        states["releases"] = [r for r in cluster.releases() if r["namespace"] in NS.values()]
    finally:
        cluster.teardown(REALM)
    return {"runs": runs, "states": states, "hub_claims": hub_claims}


def ran(lifecycle: dict, step: str):
    run = lifecycle["runs"].get(step)
    assert run is not None, f"an earlier run failed: {[(s, r.rc) for s, r in lifecycle['runs'].items()]}"
    return run


def test_deploy_has_a_volume_and_credentials(lifecycle: dict):
    ran(lifecycle, "deploy").ok()
    deployed = lifecycle["states"]["deploy"]
    assert deployed["claims"][HUB_DB]["phase"] == "Bound", deployed["claims"]
    assert set(deployed["secrets"][CREDENTIALS]) == {"notebook-password", "gateway-api-token"}


def realm_releases(state: dict) -> list:
    """The snapshot's releases but the shared MinIO operator's (a snapshot covers it too: no run of this realm may
    change it)."""
    return [r for r in state["snapshot"]["releases"] if not r[4].startswith("operator-")]


def test_absent_keeps_every_claim_secret_and_namespace(lifecycle: dict):
    run = ran(lifecycle, "absent").ok()
    assert changed(run) > 0
    deployed, absent = lifecycle["states"]["deploy"], lifecycle["states"]["absent"]
    assert absent["claims"] == deployed["claims"]  # same names, same UIDs, still bound
    assert absent["secrets"] == deployed["secrets"]  # every Secret the collection made, same data
    assert absent["snapshot"]["namespaces"] == deployed["snapshot"]["namespaces"]
    assert realm_releases(absent) == []  # ... while every release of the realm is gone


def test_reinstall_reattaches_the_volumes_and_keeps_the_credentials(lifecycle: dict):
    assert changed(ran(lifecycle, "reinstall").ok()) > 0
    deployed, again = lifecycle["states"]["deploy"], lifecycle["states"]["reinstall"]
    # The same claim, same UID, bound again, and the new hub Deployment mounts it.
    assert {name: (c["uid"], c["phase"]) for name, c in again["claims"].items()} == \
        {name: (c["uid"], "Bound") for name, c in deployed["claims"].items()}
    assert lifecycle["hub_claims"] == ["hub-db-dir"]
    assert again["secrets"] == deployed["secrets"]
    assert [r[3] for r in realm_releases(again)] == ["deployed"]


def test_reinstall_again_changes_nothing(lifecycle: dict):
    run = ran(lifecycle, "again").ok()
    assert changed(run) == 0, run.output[-6000:]


def test_purge_without_confirmation_fails_before_any_change(lifecycle: dict):
    run = ran(lifecycle, "unconfirmed")
    assert run.rc != 0
    assert "magasin_purge_confirm: is empty, so nothing is deleted" in run.output
    assert f"e.g. magasin_purge_confirm: {REALM}" in run.output
    assert lifecycle["states"]["unconfirmed"] == lifecycle["states"]["again"]


def test_purge_in_check_mode_predicts_and_changes_nothing(lifecycle: dict):
    run = ran(lifecycle, "predicted").ok()
    assert changed(run) > 0
    assert lifecycle["states"]["predicted"] == lifecycle["states"]["again"]
    # The purge's diff: what goes is on the before side only; the namespace stays on both.
    removed = sorted(m.group(1) for m in PURGE_DIFF_RE.finditer(run.output))
    assert removed == [f"{NS['daskhub']}/PersistentVolumeClaim/hub-db-dir",
                       f"{NS['daskhub']}/Secret/magasin-daskhub-credentials"], removed
    assert f" Namespace/{NS['daskhub']}" in run.output


def test_purge_removes_exactly_the_named_objects(lifecycle: dict):
    assert changed(ran(lifecycle, "purge").ok()) > 0
    before, after = lifecycle["states"]["again"], lifecycle["states"]["purge"]
    # The volume and the credentials go (as check mode said); the namespace and whatever else is in it stay.
    assert after["claims"] == {} and after["secrets"] == {}
    assert after["snapshot"]["namespaces"] == before["snapshot"]["namespaces"] == [NS["daskhub"]]
    assert lifecycle["states"]["releases"] == []
