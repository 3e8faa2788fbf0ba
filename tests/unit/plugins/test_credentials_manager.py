"""credentials' manager with a fake run_command: check mode data, adoption, argv and stdin."""

import base64
import json

import pytest
from ansible_collections.magasin.platform.plugins.modules import credentials
from fake_module import FailJson, FakeModule

PARAMS = {"name": "magasin-superset", "namespace": "ss", "create_namespace": True, "labels": {}, "rotate": [],
          "adopt": [], "keys": [{"name": "password", "length": 32, "alphabet": "alnum", "value": None},
                                {"name": "postgres-password", "length": 32, "alphabet": "alnum", "value": None}]}
ADOPT = [{"key": "password", "secret": "superset-postgresql", "secret_key": "password", "namespace": None},
         {"key": "postgres-password", "secret": "superset-postgresql", "secret_key": "postgres-password",
          "namespace": None}]


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(name, namespace, **data):
    return {"kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": dict((k, b64(v)) for k, v in data.items())}


def answers(current=None, sources=(), applied=None):
    def apply(cmd, data):
        if applied is not None:
            applied.append(json.loads(data))
        return 0, json.dumps({"kind": "List", "items": json.loads(data)["items"]}), ""
    return [
        (lambda c: c[1:4] == ["get", "secret", "magasin-superset"], (0, json.dumps(current) if current else "", "")),
        (lambda c: c[1] == "get" and c[2].startswith("secret/"),
         (0, json.dumps({"kind": "List", "items": list(sources)}), "")),
        (lambda c: c[1] == "apply", apply),
    ]


def decoded(result):
    return dict((k, base64.b64decode(v).decode()) for k, v in result["data"].items())


def test_check_mode_on_a_fresh_realm_returns_would_be_values():
    module = FakeModule(PARAMS, answers(), check_mode=True)
    result = credentials.CredentialsManager(module).run()
    assert result["changed"] is True and result["created"] == ["password", "postgres-password"]
    values = decoded(result)
    assert set(values) == {"password", "postgres-password"} and all(len(v) == 32 for v in values.values())
    assert not any(c[1] == "apply" for c in module.commands)


def test_adoption_takes_the_releases_values_and_never_puts_them_on_argv():
    applied = []
    source = secret("superset-postgresql", "ss", **{"password": "db-pass", "postgres-password": "pg-pass"})
    module = FakeModule(dict(PARAMS, adopt=ADOPT), answers(sources=[source], applied=applied))
    result = credentials.CredentialsManager(module).run()
    assert result["adopted"] == ["password", "postgres-password"] and result["created"] == []
    assert decoded(result) == {"password": "db-pass", "postgres-password": "pg-pass"}
    reads = [c for c in module.commands if c[1] == "get" and c[2].startswith("secret/")]
    assert reads == [["/bin/kubectl", "get", "secret/superset-postgresql", "--namespace", "ss",
                      "--ignore-not-found", "--output", "json"]]
    stored = [o for doc in applied for o in doc["items"] if o["kind"] == "Secret"][0]
    assert base64.b64decode(stored["data"]["password"]).decode() == "db-pass"
    assert not any("db-pass" in " ".join(c) or "pg-pass" in " ".join(c) for c in module.commands)


def test_a_first_credential_makes_its_namespace_under_a_manager_of_its_own():
    """A bare Namespace applied under the collection's field manager would drop the labels (Pod Security,
    realm) the roles applied under it; the Secret stays under the collection's."""
    applied = []
    module = FakeModule(PARAMS, answers(applied=applied))
    credentials.CredentialsManager(module).run()
    applies = [c for c in module.commands if c[1] == "apply"]
    managers = [c[c.index("--field-manager") + 1] for c in applies]
    kinds = [[o["kind"] for o in doc["items"]] for doc in applied]
    assert kinds == [["Namespace"], ["Secret"]]
    assert managers == [credentials.NAMESPACE_FIELD_MANAGER, "magasin-platform"]
    assert applied[0]["items"][0]["metadata"] == {"name": "ss"}


def test_missing_source_secret_means_generate():
    module = FakeModule(dict(PARAMS, adopt=ADOPT), answers(), check_mode=True)
    result = credentials.CredentialsManager(module).run()
    assert result["adopted"] == [] and result["created"] == ["password", "postgres-password"]


def test_stored_keys_are_kept_and_sources_not_read():
    current = secret("magasin-superset", "ss", password="kept", **{"postgres-password": "kept2"})
    module = FakeModule(dict(PARAMS, adopt=ADOPT), answers(current=current))
    result = credentials.CredentialsManager(module).run()
    assert result["changed"] is False and result["adopted"] == []
    assert len(module.commands) == 1


def test_adopt_must_name_a_key():
    module = FakeModule(dict(PARAMS, adopt=[dict(ADOPT[0], key="nope")]), answers())
    with pytest.raises(FailJson, match="adopt: nope not among keys"):
        credentials.CredentialsManager(module).run()
