"""What an uninstall keeps and a purge removes (module_utils/_lifecycle.py), and the checks of magasin_purge."""

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _lifecycle as L
from ansible_collections.magasin.platform.plugins.module_utils import _realm
from ansible_collections.magasin.platform.plugins.module_utils import _validate as v

MODEL = _realm.realm_model({"magasin_realm": "un1", "magasin_components": list(v.KNOWN_COMPONENTS)},
                           {"default_storage_class": "standard"})
LABELS = {"app.kubernetes.io/part-of": "magasin", "magasin.unicef.org/realm": "un1"}
OBSERVED = {
    "namespaces": ["un1-superset", "un1-daskhub", "un1-tenant", "un1-dagster", "other-superset"],
    "claims": [{"namespace": "un1-superset", "name": "data-superset-postgresql-0", "uid": "u1"},
               {"namespace": "un1-superset", "name": "redis-data-superset-redis-master-0", "uid": "u2"},
               {"namespace": "un1-daskhub", "name": "hub-db-dir", "uid": "u3"},
               {"namespace": "un1-tenant", "name": "data0-myminio-pool-0-0", "uid": "u4"},
               {"namespace": "other-superset", "name": "data-superset-postgresql-0", "uid": "u5"}],
    "secrets": [{"namespace": "un1-superset", "name": "magasin-superset-credentials"},
                {"namespace": "un1-superset", "name": "magasin-superset-env"},
                {"namespace": "un1-tenant", "name": "magasin-minio-root"},
                {"namespace": "un1-dagster", "name": "magasin-dagster-postgresql"}],
}


def test_the_model_labels_select_the_collections_secrets():
    assert MODEL["labels"] == LABELS
    assert L.credential_selector(LABELS) == "app.kubernetes.io/part-of=magasin,magasin.unicef.org/realm=un1"


def test_targets_go_consumers_first_and_minio_last_in_its_tenant_namespace():
    purge = {"minio": ["credentials", "volumes"], "superset": ["volumes"], "daskhub": ["namespace"]}
    assert L.purge_targets(MODEL["namespaces"], purge) == [
        {"component": "superset", "namespace": "un1-superset", "kinds": ["volumes"]},
        {"component": "daskhub", "namespace": "un1-daskhub", "kinds": ["namespace"]},
        {"component": "minio", "namespace": "un1-tenant", "kinds": ["volumes", "credentials"]},
    ]
    assert L.purge_targets(MODEL["namespaces"], {}) == [] and L.purge_targets(MODEL["namespaces"], None) == []


def refs(actions):
    return [L.action_ref(a) for a in actions]


def test_exactly_the_named_kinds_of_the_named_components_go():
    targets = L.purge_targets(MODEL["namespaces"], {"superset": ["volumes"], "minio": ["credentials"]})
    assert refs(L.purge_actions(targets, OBSERVED)) == [
        "un1-superset/PersistentVolumeClaim/data-superset-postgresql-0",
        "un1-superset/PersistentVolumeClaim/redis-data-superset-redis-master-0",
        "un1-tenant/Secret/magasin-minio-root",
    ]
    # Credentials alone leave the volumes; nothing of another realm is ever named.
    only = L.purge_actions(L.purge_targets(MODEL["namespaces"], {"superset": ["credentials"]}), OBSERVED)
    assert refs(only) == ["un1-superset/Secret/magasin-superset-credentials", "un1-superset/Secret/magasin-superset-env"]


def test_a_namespace_takes_its_claims_and_secrets_with_it():
    actions = L.purge_actions(L.purge_targets(MODEL["namespaces"], {"daskhub": ["namespace"], "dagster": ["namespace"]}), OBSERVED)
    assert refs(actions) == ["un1-daskhub/PersistentVolumeClaim/hub-db-dir", "Namespace/un1-daskhub",
                             "un1-dagster/Secret/magasin-dagster-postgresql", "Namespace/un1-dagster"]
    # kubectl is asked for the namespaces only; their contents go with them.
    assert L.deletions(actions) == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "un1-daskhub"}},
                                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "un1-dagster"}}]


def test_nothing_left_means_nothing_to_do():
    targets = L.purge_targets(MODEL["namespaces"], {"drill": ["namespace", "volumes", "credentials"]})
    assert L.purge_actions(targets, OBSERVED) == []  # un1-drill does not exist
    gone = {"namespaces": ["un1-superset"], "claims": [], "secrets": []}
    assert L.purge_actions(L.purge_targets(MODEL["namespaces"], {"superset": ["volumes", "credentials"]}), gone) == []


def test_the_diff_names_what_goes_and_what_stays():
    targets = L.purge_targets(MODEL["namespaces"], {"superset": ["volumes"]})
    actions = L.purge_actions(targets, OBSERVED)
    diff = L.purge_diff(targets, OBSERVED, actions)
    assert diff["before"].splitlines() == [
        "Namespace/un1-superset", "un1-superset/PersistentVolumeClaim/data-superset-postgresql-0",
        "un1-superset/PersistentVolumeClaim/redis-data-superset-redis-master-0",
        "un1-superset/Secret/magasin-superset-credentials", "un1-superset/Secret/magasin-superset-env"]
    assert diff["after"].splitlines() == ["Namespace/un1-superset", "un1-superset/Secret/magasin-superset-credentials",
                                          "un1-superset/Secret/magasin-superset-env"]


def test_parse_columns():
    text = "un1-daskhub   hub-db-dir   6ef0\nun1-x  y  <none>\nNo resources found\n"
    assert L.parse_columns(text, ("namespace", "name", "uid")) == [
        {"namespace": "un1-daskhub", "name": "hub-db-dir", "uid": "6ef0"}, {"namespace": "un1-x", "name": "y", "uid": None}]


# --- magasin_purge and magasin_purge_confirm (_validate) -----------------------------------------------

ABSENT = {"magasin_realm": "un1", "magasin_state": "absent", "magasin_charts_dir": ""}


def test_a_confirmed_purge_of_an_uninstall_passes():
    for purge in ({"superset": ["volumes", "credentials"], "daskhub": ["namespace"]}, {}):
        assert v.validate_globals(dict(ABSENT, magasin_purge=purge, magasin_purge_confirm="un1")) == [], purge
    assert v.validate_globals(dict(ABSENT, magasin_purge={})) == []


@pytest.mark.parametrize("purge, fragment", [
    ("superset", "not a dict"),
    ({"hadoop": ["volumes"]}, "unknown components [\"hadoop\"]; valid ones are minio, drill"),
    ({"superset": "volumes"}, "not a list: write superset: [volumes]"),
    ({"superset": []}, "not a list of what may go (volumes, credentials, namespace)"),
    ({"superset": ["volume"]}, "unknown kinds [\"volume\"]; valid ones are volumes, credentials, namespace"),
])
def test_a_bad_purge_names_the_variable_and_the_fix(purge, fragment):
    problems = v.validate_globals(dict(ABSENT, magasin_purge=purge, magasin_purge_confirm="un1"))
    assert [p["variable"] for p in problems] == ["magasin_purge"], problems
    assert fragment in problems[0]["message"]
    assert "e.g. magasin_purge: {superset: [volumes, credentials], daskhub: [namespace]}" in v.format_problems(problems)


def test_a_purge_needs_the_realms_name_as_confirmation():
    purge = {"superset": ["volumes"], "daskhub": ["namespace"]}
    for confirm, fragment in ((None, "is empty"), ("", "is empty"), ("un2", "is 'un2', not the realm's name")):
        inputs = dict(ABSENT, magasin_purge=purge)
        if confirm is not None:
            inputs["magasin_purge_confirm"] = confirm
        problems = v.validate_globals(inputs)
        assert [p["variable"] for p in problems] == ["magasin_purge_confirm"], problems
        line = v.format_problems(problems)
        assert fragment in line and "superset: volumes; daskhub: namespace" in line
        assert line.endswith("e.g. magasin_purge_confirm: un1")


def test_a_purge_goes_with_an_uninstall_of_selected_components():
    present = v.validate_globals(dict(ABSENT, magasin_state="present", magasin_purge={"superset": ["volumes"]},
                                      magasin_purge_confirm="un1"))
    assert [p["variable"] for p in present] == ["magasin_purge"] and "magasin_state: absent" in present[0]["message"]
    unselected = v.validate_globals(dict(ABSENT, magasin_components=["minio"], magasin_purge={"superset": ["volumes"]},
                                         magasin_purge_confirm="un1"))
    assert [p["variable"] for p in unselected] == ["magasin_purge"]
    assert '["superset"], which magasin_components does not select' in unselected[0]["message"]
