"""The upgrade path on the real charts, once per Helm major: realm `upg` deployed with magasin's
previous chart releases (drill 0.7.2, dagster 1.7.16, superset 0.12.6, daskhub 2023.1.0), then
converged with the pinned versions.

`--check --diff` first must name each chart version change and change nothing; the upgrade must
keep every PersistentVolumeClaim (same UID), every credential (the Secrets the collection owns,
and the generated credentials inside the charts' own Secrets) and the wiring; the run after
reports changed=0. PVCs bind because the test cluster provisions volumes for the class
`standard`; no database runs (kwok), so "the data survives" is shown by the claims, not by a query.
"""

from __future__ import annotations

import re

import pytest
from realms import NAME_RE, PINS, PREVIOUS, SECRET_KEY_RE, namespaces, wiring_problems

REALM = "upg"
OLD = {f"{chart}_chart_version": version for chart, version in PREVIOUS.items()}


def credentials(cluster) -> dict[str, str]:
    """Secrets the collection owns (not rendered by helm), whole; and the single-line credential-looking values of
    the charts' own Secrets (JupyterHub's generated tokens, a chart-generated database password), placeholders
    such as superset 0.12.6's `set-in-magasin-superset-env` and blanks left out."""
    out = {}
    for ns in cluster.realm_namespaces(REALM):
        for item in cluster.items("secrets", ns):
            if item.get("type") in ("helm.sh/release.v1", "kubernetes.io/service-account-token"):
                continue
            by_helm = "meta.helm.sh/release-name" in (item["metadata"].get("annotations") or {})
            for key, value in cluster.secret(ns, item["metadata"]["name"]).items():
                credential = SECRET_KEY_RE.search(key) and "\n" not in value.strip() and value and not NAME_RE.match(value)
                if not by_helm or credential:
                    out[f"{ns}/{item['metadata']['name']}/{key}"] = value
    return out


@pytest.fixture(scope="module")
def upgrade(cluster, site_repo) -> dict:
    cluster.teardown(REALM)
    old = site_repo("site.yml", {"magasin_realm": REALM, **OLD}).ok()
    state = {"old": old, "claims": cluster.claims(REALM), "credentials": credentials(cluster),
             "releases": {r["name"]: r for r in cluster.releases() if r["namespace"] in namespaces(REALM).values()}}
    state["snapshot"] = cluster.snapshot(REALM)
    state["check"] = site_repo("site.yml", {"magasin_realm": REALM}, "--check", "--diff")
    state["after_check"] = cluster.snapshot(REALM)
    state["upgrade"] = site_repo("site.yml", {"magasin_realm": REALM})
    state["again"] = site_repo("site.yml", {"magasin_realm": REALM}) if state["upgrade"].rc == 0 else None
    return state


def test_previous_versions_deployed(upgrade: dict):
    deployed = {r["chart"] for r in upgrade["releases"].values()}
    for chart, version in PREVIOUS.items():
        assert f"{chart}-{version}" in deployed, f"{chart} {version} not deployed: {sorted(deployed)}"


def test_check_names_each_chart_version_change_and_changes_nothing(upgrade: dict):
    check = upgrade["check"].ok()
    assert check.changed > 0
    assert upgrade["after_check"] == upgrade["snapshot"]
    lines = check.output.splitlines()
    for chart, old in PREVIOUS.items():
        new = PINS[chart]
        # drill and daskhub label no object with their chart version, so a manifest diff alone cannot show it: the
        # run itself must name it (a reason "chart version 0.7.2 -> 0.9.0", a diff header, the summary...).
        named_old = [line for line in lines if chart in line and re.search(rf"(?<![\d.]){re.escape(old)}(?![\d.])", line)]
        named_new = [line for line in lines if chart in line and re.search(rf"(?<![\d.]){re.escape(new)}(?![\d.])", line)]
        assert named_old and named_new, f"--check --diff does not name {chart} {old} -> {new}"


def test_upgrade_keeps_claims_credentials_and_wiring(upgrade: dict, cluster):
    upgrade["upgrade"].ok()
    releases = {r["name"]: r for r in cluster.releases() if r["namespace"] in namespaces(REALM).values()}
    for chart in PREVIOUS:
        assert any(r["chart"] == f"{chart}-{PINS[chart]}" and r["status"] == "deployed" for r in releases.values()), chart
    for name, before in upgrade["releases"].items():
        if name in releases and not before["chart"].startswith("operator-"):
            assert int(releases[name]["revision"]) >= int(before["revision"])
    claims = cluster.claims(REALM)
    assert upgrade["claims"], "the previous versions made no PVC"
    for claim, before in upgrade["claims"].items():
        assert claims.get(claim, {}).get("uid") == before["uid"], f"{claim} was replaced or removed"
    after = credentials(cluster)
    changed = sorted(k for k, v in upgrade["credentials"].items() if after.get(k) != v)
    assert changed == []
    assert wiring_problems(cluster, REALM) == []


def test_run_after_the_upgrade_changes_nothing(upgrade: dict):
    upgrade["upgrade"].ok()
    assert upgrade["again"].ok().changed == 0, upgrade["again"].output[-6000:]
