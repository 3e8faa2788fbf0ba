"""How HelmReleaseManager recovers a pending release (the commands it runs), and waits for one another run works on.

helm's answers are the captured Helm 4 install output with its status and revision changed; only the decisions
and the argv are under test here, the real recovery is tested on the cluster (test_modules).
"""

import datetime
import json
from pathlib import Path

from ansible_collections.magasin.platform.plugins.module_utils import _helm
from ansible_collections.magasin.platform.plugins.module_utils._release import HelmReleaseManager, ReleaseError
from fake_module import FakeModule

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "helm4"
INSTALLED = json.loads((FIXTURES / "install.json").read_text())
VALUES = INSTALLED["config"]


def params(**kw):
    out = {"name": "demo", "namespace": "lk-demo", "state": "present", "chart": "oci://r.example/demo",
           "repo_url": None, "version": "0.1.0", "values": VALUES, "values_files": [],
           "create_namespace": True, "wait": True, "wait_for_jobs": False, "timeout": "5m", "atomic": False,
           "skip_crds": False, "skip_schema_validation": False, "take_ownership": False, "post_renderer": None,
           "post_renderer_args": [], "pending_timeout": 300}
    out.update(kw)
    return out


def status(state, revision, seconds_ago=1):
    data = json.loads(json.dumps(INSTALLED))
    when = _helm.now_utc() - datetime.timedelta(seconds=seconds_ago)
    data["info"].update(status=state, last_deployed=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    data["version"] = revision
    return (0, json.dumps(data), "")


LIST = (0, json.dumps([{"name": "demo", "chart": "demo-0.1.0", "app_version": "1.0"}]), "")
HISTORY = (0, json.dumps([{"revision": 1, "status": "deployed", "chart": "demo-0.1.0"},
                          {"revision": 2, "status": "pending-upgrade", "chart": "demo-0.1.0"}]), "")


def test_a_young_pending_upgrade_is_recovered_at_once_with_pending_timeout_0_by_a_rollback():
    """The module rolls back to the deployed revision, which reverts what the interrupted one changed on the live
    objects; nothing is uninstalled."""
    module = FakeModule(params(pending_timeout=0), [
        (lambda c: c[1] == "status", status("pending-upgrade", 2)),
        (lambda c: c[1] == "list", LIST),
        (lambda c: c[1] == "history", HISTORY),
        (lambda c: c[1] == "rollback", (0, "Rollback was a success!\n", "")),
        (lambda c: c[1] == "upgrade", (0, json.dumps(INSTALLED), "")),
    ])
    result = HelmReleaseManager(module).run()
    verbs = [c[1] for c in module.commands]
    assert verbs == ["status", "history", "rollback", "upgrade"], module.commands
    assert module.commands[2][1:4] == ["rollback", "demo", "1"]
    assert "delete" not in verbs and "uninstall" not in verbs
    assert result["action"] == "upgrade"
    assert result["recovered"] == "rolled back pending-upgrade revision 2 to revision 1"


def test_without_the_lock_a_young_pending_release_fails_at_once():
    module = FakeModule(params(), [(lambda c: c[1] == "status", status("pending-upgrade", 2)),
                                   (lambda c: c[1] == "list", LIST), (lambda c: c[1] == "history", HISTORY)])
    try:
        HelmReleaseManager(module).run()
    except ReleaseError as exc:
        assert "Another helm operation may still be running" in exc.msg
    else:
        raise AssertionError("a young pending release was not refused")


def test_pending_wait_waits_for_another_runs_operation_to_end():
    answers = iter([status("pending-upgrade", 2), status("deployed", 2)])
    module = FakeModule(params(pending_wait=30), [(lambda c: c[1] == "status", lambda c, d: next(answers)),
                                                  (lambda c: c[1] == "list", LIST),
                                                  (lambda c: c[1] == "history", HISTORY)])
    result = HelmReleaseManager(module).run()
    assert result["action"] == "none" and result["recovered"] is None
    assert [c[1] for c in module.commands].count("status") == 2
