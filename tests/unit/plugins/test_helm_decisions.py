"""Pure release decisions of module_utils/_helm.py."""

import datetime

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _helm as h

NOW = datetime.datetime(2026, 11, 26, 12, 0, 0, tzinfo=h.UTC)
CHART = {"kind": "repo", "ref": "drill", "name": "drill", "version": "0.9.0", "digest": None}


def release(status="deployed", values=None, version="0.9.0", revision=2, updated="2026-11-26T11:00:00Z",
            digest=None, name="drill"):
    return {"name": "drill", "namespace": "magasin-drill", "revision": revision, "status": status,
            "updated": updated, "description": "", "chart_name": name, "chart_version": version,
            "app_version": "1.21", "values": values if values is not None else {"a": 1}, "manifest": "",
            "chart_digest": digest}


def test_absent_release_is_installed():
    plan = h.plan_release(None, CHART, {"a": 1}, now=NOW)
    assert plan["action"] == "install" and plan["recover"] == []


def test_identical_release_needs_nothing():
    plan = h.plan_release(release(values={"a": 1, "b": {"c": [1, 2]}}), CHART, {"b": {"c": (1, 2)}, "a": 1.0},
                          now=NOW)
    assert plan["action"] == "none", plan


@pytest.mark.parametrize(("rel", "chart", "values", "reason"), [
    (release(values={"a": 2}), CHART, {"a": 1}, "values differ"),
    (release(version="0.8.0"), CHART, {"a": 1}, "chart version 0.8.0 -> 0.9.0"),
    (release(name="other"), CHART, {"a": 1}, "chart other -> drill"),
    (release(status="failed"), CHART, {"a": 1}, "release status is failed"),
    (release(digest="sha256:" + "0" * 64), dict(CHART, kind="local", digest="sha256:" + "1" * 64), {"a": 1},
     "chart content changed"),
    (release(), dict(CHART, kind="local", digest="sha256:" + "1" * 64), {"a": 1},
     "chart content not recorded by this collection (last change made elsewhere)"),
])
def test_differences_cause_an_upgrade(rel, chart, values, reason):
    plan = h.plan_release(rel, chart, values, now=NOW)
    assert plan["action"] == "upgrade"
    assert reason in plan["reasons"]


def test_values_only_added_out_of_band_are_a_difference():
    plan = h.plan_release(release(values={"a": 1, "extra": True}), CHART, {"a": 1}, now=NOW)
    assert plan["reasons"] == ["values differ"]


def test_absent_state():
    assert h.plan_release(None, None, {}, state="absent")["action"] == "none"
    assert h.plan_release(release(status="failed"), None, {}, state="absent")["action"] == "uninstall"


HISTORY = [
    {"revision": 1, "status": "superseded"},
    {"revision": 2, "status": "deployed"},
    {"revision": 3, "status": "pending-upgrade"},
]


def test_old_pending_upgrade_is_rolled_back_to_the_deployed_revision_then_upgraded():
    plan = h.plan_release(release(status="pending-upgrade", revision=3, updated="2026-11-26T11:00:00.123456789Z"),
                          CHART, {"a": 1}, history=HISTORY, now=NOW, pending_timeout=300)
    # The rollback also reverts what the interrupted revision 3 changed on the live objects.
    assert plan["recover"] == [("rollback", 2)]
    assert plan["action"] == "upgrade"
    assert plan["recovered"] == "rolled back pending-upgrade revision 3 to revision 2"


def test_old_pending_install_with_no_deployed_revision_is_uninstalled_and_installed_again():
    plan = h.plan_release(release(status="pending-install", revision=1), CHART, {"a": 1},
                          history=[{"revision": 1, "status": "pending-install"}], now=NOW, pending_timeout=300)
    assert plan["recover"] == [("uninstall", None)]
    assert plan["action"] == "install"
    assert plan["recovered"] == "uninstalled pending-install revision 1 with no deployed revision to return to"


def test_pending_rollback_with_only_a_failed_revision_below_is_uninstalled():
    # A failed revision is nothing to return to.
    plan = h.plan_release(release(status="pending-rollback", revision=2), CHART, {"a": 1},
                          history=[{"revision": 1, "status": "failed"}, {"revision": 2, "status": "pending-rollback"}],
                          now=NOW, pending_timeout=60)
    assert plan["recover"] == [("uninstall", None)]
    assert plan["action"] == "install"


@pytest.mark.parametrize("updated", ["2026-11-26T11:59:59Z", "2026-11-26T12:00:00Z", "2026-11-26T12:00:03Z"])
def test_a_run_holding_the_realm_lock_recovers_a_young_pending_release_at_once(updated):
    # pending_timeout 0: the run holds the realm's lock, so no other run can be working on it, however young
    # (even a clock a few seconds ahead).
    plan = h.plan_release(release(status="pending-upgrade", revision=3, updated=updated), CHART, {"a": 1},
                          history=HISTORY, now=NOW, pending_timeout=0)
    assert plan["recover"] == [("rollback", 2)] and plan["action"] == "upgrade"


def test_the_rollback_goes_below_every_pending_revision_to_the_deployed_one():
    history = [{"revision": 1, "status": "pending-install"}, {"revision": 2, "status": "deployed"},
               {"revision": 3, "status": "pending-upgrade"}, {"revision": 4, "status": "pending-upgrade"}]
    plan = h.plan_release(release(status="pending-upgrade", revision=4), CHART, {"a": 1}, history=history, now=NOW,
                          pending_timeout=0)
    assert plan["recover"] == [("rollback", 2)]


def test_an_unfinished_uninstall_is_finished():
    plan = h.plan_release(release(status="uninstalling", revision=2), CHART, {"a": 1},
                          history=[{"revision": 2, "status": "uninstalling"}], now=NOW, pending_timeout=0)
    assert plan["recover"] == [("uninstall", None)] and plan["action"] == "install"


def test_fresh_pending_release_is_refused_with_explanation():
    with pytest.raises(h.StuckRelease) as err:
        h.plan_release(release(status="pending-upgrade", revision=3, updated="2026-11-26T11:58:00+00:00"),
                       CHART, {"a": 1}, history=HISTORY, now=NOW, pending_timeout=300)
    msg = str(err.value)
    assert "pending-upgrade since 2026-11-26T11:58:00+00:00" in msg
    assert "120 seconds ago" in msg
    assert "helm rollback drill -n magasin-drill" in msg


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-11-26T11:00:00Z", datetime.datetime(2026, 11, 26, 11, 0, tzinfo=h.UTC)),
    ("2026-11-26T11:00:00.999999999Z", datetime.datetime(2026, 11, 26, 11, 0, 0, 999999, tzinfo=h.UTC)),
    ("2026-11-26T13:00:00.5+02:00", datetime.datetime(2026, 11, 26, 11, 0, 0, 500000, tzinfo=h.UTC)),
    ("2026-11-26T06:00:00-05:00", datetime.datetime(2026, 11, 26, 11, 0, tzinfo=h.UTC)),
    ("garbage", None),
])
def test_parse_time(text, expected):
    assert h.parse_time(text) == expected


def test_merge_values_is_helm_merge():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    over = {"a": {"c": [3], "e": None}, "f": 1}
    assert h.merge_values(base, over) == {"a": {"b": 1, "c": [3], "e": None}, "d": "x", "f": 1}
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}


def test_last_good_revision():
    assert h.last_good_revision(HISTORY, below=3) == 2
    assert h.last_good_revision([{"revision": 1, "status": "failed"}]) is None


def test_parse_version():
    assert h.parse_version("v3.17.2") == (3, 17, 2)
    assert h.parse_version("v4.3.1+gc0d08d0") == (4, 3, 1)
    with pytest.raises(h.CliError):
        h.parse_version("nonsense")
