"""realm_purge's manager with a fake run_command: what it reads (names, never Secret data), what it deletes."""

import json

import pytest
from ansible_collections.magasin.platform.plugins.modules import realm_purge
from fake_module import FailJson, FakeModule

LABELS = {"app.kubernetes.io/part-of": "magasin", "magasin.unicef.org/realm": "un1"}
NAMESPACES = {k: "un1-" + k for k in ("operator", "tenant", "drill", "dagster", "daskhub", "superset")}
# Removal goes consumers first, whatever the order given.
PARAMS = {"purge": {"daskhub": ["namespace"], "superset": ["volumes"]}, "namespaces": NAMESPACES,
          "labels": LABELS, "timeout": 60}
CLAIMS = "un1-superset data-superset-postgresql-0 u1\nun1-daskhub hub-db-dir u2\nlead-superset data-superset-postgresql-0 u3\n"
SECRETS = "un1-superset magasin-superset-credentials\nun1-daskhub magasin-daskhub-credentials\n"


def run(check_mode=False, namespaces="namespace/un1-superset\nnamespace/un1-daskhub\n"):
    answers = [
        (lambda c: c[1:3] == ["get", "namespace/un1-daskhub"] or c[1:3] == ["get", "namespace/un1-superset"],
         (0, namespaces, "")),
        (lambda c: c[1:3] == ["get", "persistentvolumeclaims"], (0, CLAIMS, "")),
        (lambda c: c[1:3] == ["get", "secrets"], (0, SECRETS, "")),
        (lambda c: c[1] == "delete", (0, "persistentvolumeclaim/data-superset-postgresql-0\nnamespace/un1-daskhub\n", "")),
    ]
    module = FakeModule(PARAMS, answers, check_mode=check_mode, diff=True)
    return module, realm_purge.PurgeManager(module).run()


def test_deletes_exactly_what_it_lists_in_one_kubectl_process():
    module, result = run()
    assert result["changed"] is True
    assert result["deleted"] == ["un1-superset/PersistentVolumeClaim/data-superset-postgresql-0",
                                 "un1-daskhub/PersistentVolumeClaim/hub-db-dir", "un1-daskhub/Secret/magasin-daskhub-credentials",
                                 "Namespace/un1-daskhub"]
    deletes = [(c, d) for c, d in zip(module.commands, module.stdin, strict=True) if c[1] == "delete"]
    assert len(deletes) == 1
    assert [(i["kind"], i["metadata"]) for i in json.loads(deletes[0][1])["items"]] == [
        ("PersistentVolumeClaim", {"name": "data-superset-postgresql-0", "namespace": "un1-superset"}),
        ("Namespace", {"name": "un1-daskhub"})]
    assert "--wait=true" in deletes[0][0] and "--timeout=60s" in deletes[0][0]


def test_reads_secret_names_by_the_realms_labels_never_their_data():
    module, _result = run()
    secrets = next(c for c in module.commands if c[1:3] == ["get", "secrets"])
    assert secrets[secrets.index("--selector") + 1] == "app.kubernetes.io/part-of=magasin,magasin.unicef.org/realm=un1"
    assert secrets[-1].startswith("custom-columns=") and ".data" not in secrets[-1]


def test_check_mode_predicts_and_deletes_nothing():
    module, result = run(check_mode=True)
    assert result["changed"] is True and len(result["deleted"]) == 4
    assert not any(c[1] == "delete" for c in module.commands)
    assert "un1-daskhub/PersistentVolumeClaim/hub-db-dir" in result["diff"]["before"]
    # The superset credentials stay: only its volumes were named.
    assert result["diff"]["after"] == "Namespace/un1-superset\nun1-superset/Secret/magasin-superset-credentials\n"


def test_nothing_there_is_no_change_and_one_read():
    module, result = run(namespaces="")
    assert result == {"changed": False, "actions": [], "deleted": [], "diff": {"before": "", "after": ""}}
    assert len(module.commands) == 1


@pytest.mark.parametrize("params, message", [
    ({"labels": {}}, "labels is empty"),
    ({"purge": {"superset": ["volume"]}}, "purge superset holds unknown kinds"),
    ({"namespaces": {"superset": "un1-superset"}}, "namespaces names no daskhub namespace"),
])
def test_bad_options_are_refused_before_any_read(params, message):
    module = FakeModule(dict(PARAMS, **params), [])
    with pytest.raises(FailJson, match=message):
        realm_purge.PurgeManager(module).run()
    assert module.commands == []


def test_an_empty_purge_reads_nothing():
    module = FakeModule(dict(PARAMS, purge={}), [])
    assert realm_purge.PurgeManager(module).run()["changed"] is False and module.commands == []
