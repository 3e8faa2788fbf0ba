"""The run report of playbooks/magasin.yml (magasin_report_path) from real runs (issue 11).

Realm `rp1` with minio and drill (the operator, the tenant and drill: three releases), the real charts from
the chart repository served on 127.0.0.1 (so the digests come from its index.yaml): a fresh converge, a no-op
converge and a removal (magasin_state: absent), each writing its report to a file of its own. Every report
validates against docs/schemas/run-report.schema.json; the no-op run's says action none for every release
and changed false while the run's recap says changed=0 (writing the report is no change); no value of the
realm's Secrets (read from the cluster after the converge) appears in any report; the fresh run's report
names the objects each release added, the removal's the releases uninstalled. Helm 4 unless MAGASIN_HELM=3:
the report does not depend on the Helm major.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from realms import RECAP_RE, REPO_ROOT, helm4_unless_asked, leaks, secret_strings

REALM = "rp1"
COMPONENTS = ["minio", "drill"]
SCHEMA = json.loads((REPO_ROOT / "docs" / "schemas" / "run-report.schema.json").read_text())


@pytest.fixture(scope="module")
def reports(cluster, site_repo, helm_bin, charts_dir, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "the run report does not depend on the Helm major")
    out = tmp_path_factory.mktemp("reports")
    extra = {"magasin_realm": REALM, "magasin_components": COMPONENTS}
    cluster.teardown(REALM)
    runs, texts, secrets = {}, {}, {}
    try:
        for step, state in (("fresh", "present"), ("noop", "present"), ("absent", "absent")):
            path = out / f"{step}.json"
            # The no-op run writes to the default path (~/.magasin/reports/<realm>.json, a default of the _common
            # role that the other roles do not see): each other step to a path given as an extra variable.
            given = {} if step == "noop" else {"magasin_report_path": str(path)}
            if step == "noop":
                path = Path.home() / ".magasin" / "reports" / f"{REALM}.json"
                path.unlink(missing_ok=True)
            runs[step] = site_repo("playbooks/magasin.yml", {**extra, "magasin_state": state, **given})
            if runs[step].rc != 0:
                break
            texts[step] = path.read_text()
            if step == "noop":
                secrets = cluster.secret_values(REALM)
    finally:
        cluster.teardown(REALM)
    index = yaml.safe_load((Path(charts_dir) / "index.yaml").read_text())
    return {"runs": runs, "texts": texts, "secrets": secrets, "index": index}


def report(reports: dict, step: str) -> dict:
    run = reports["runs"].get(step)
    assert run is not None, "an earlier run failed"
    run.ok()
    return json.loads(reports["texts"][step])


@pytest.mark.parametrize("step", ["fresh", "noop", "absent"])
def test_the_report_validates_against_the_schema(reports: dict, step: str):
    jsonschema.Draft202012Validator(SCHEMA).validate(report(reports, step))


def test_a_no_op_run_reports_none_for_every_release(reports: dict):
    noop = report(reports, "noop")
    recap = RECAP_RE.search(reports["runs"]["noop"].output)
    assert recap and int(recap.group(2)) == 0, reports["runs"]["noop"].output[-6000:]
    assert [(r["name"], r["action"]) for r in noop["releases"]] == [("operator", "none"), ("tenant", "none"),
                                                                    ("drill", "none")]
    assert noop["changed"] is False and noop["actions"]["none"] == 3
    assert all(r["objects"] == {"added": [], "changed": [], "removed": []} for r in noop["releases"])
    # Each no-op release costs helm status and helm list; realm_info its own reads.
    assert all(r["processes"]["helm"] == 2 for r in noop["releases"]), noop["releases"]
    assert noop["processes"]["helm"] > 6 and noop["processes"]["kubectl"] >= 3
    # Every module call of the run is counted (its tally), not only realm_info and the releases: the
    # credentials and kubectl_apply calls of MinIO and Drill (root keys, users, the tenant's config Secret, the
    # users Job, Drill's storage-plugin Secret, namespaces, NetworkPolicies) each run kubectl.
    assert noop["processes"]["module_calls"] >= 10, noop["processes"]
    assert noop["processes"]["kubectl"] >= 3 + 8, noop["processes"]
    assert noop["durations"]["total"] > 0 and noop["selections"]["components"] == COMPONENTS


def test_no_secret_of_the_realm_is_in_any_report(reports: dict):
    # Every credential-looking value, and every one-line value of the Secrets the collection generated (the MinIO
    # root user and password, each consumer's keys), whatever their key is called.
    generated = {value for where, value in reports["secrets"].items()
                 if where.split("/")[1].startswith("magasin-") and "\n" not in value.strip() and len(value) >= 8}
    values = secret_strings(reports["secrets"]) | generated
    assert len(values) >= 4, f"the realm's generated credentials were not read: {sorted(reports['secrets'])}"
    for step in ("fresh", "noop", "absent"):
        report(reports, step)
        assert leaks(reports["texts"][step], sorted(values)) == [], step


def test_the_fresh_report_names_charts_digests_and_added_objects(reports: dict):
    fresh = report(reports, "fresh")
    releases = {r["name"]: r for r in fresh["releases"]}
    assert releases["tenant"]["action"] == "install" and releases["drill"]["action"] == "install"
    assert any(name.startswith("StatefulSet/") or name.startswith("Deployment/")
               for name in releases["drill"]["objects"]["added"]), releases["drill"]["objects"]
    assert releases["drill"]["duration"] > 0 and releases["drill"]["processes"]["helm"] >= 2
    index = reports["index"]["entries"]
    for chart in fresh["charts"]:
        wanted = [e["digest"] for e in index[chart["name"]] if str(e["version"]) == chart["version"]]
        assert chart["digest_source"] == "index" and chart["digest"] == "sha256:" + wanted[0], chart


def test_the_removal_reports_the_releases_uninstalled(reports: dict):
    absent = report(reports, "absent")
    actions = {r["name"]: r["action"] for r in absent["releases"]}
    # The shared operator goes too when no other realm has a tenant left.
    assert actions.get("tenant") == actions.get("drill") == "uninstall" and set(actions) <= {"operator", "tenant", "drill"}
    assert absent["selections"]["state"] == "absent" and absent["changed"] is True
    assert all(r["objects"]["removed"] and not r["objects"]["added"] for r in absent["releases"])
