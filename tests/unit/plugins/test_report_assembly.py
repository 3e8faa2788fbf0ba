"""The run report: its pure assembly (module_utils _report), the process tally of the CLI clients, what a
release's result carries for it, and the schema it validates against (docs/schemas/run-report.schema.json)."""

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest
from ansible_collections.magasin.platform.plugins.filter.report import FilterModule
from ansible_collections.magasin.platform.plugins.module_utils import _report as r
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliClient, count_processes, start_tally
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection
from ansible_collections.magasin.platform.plugins.module_utils._release import HelmReleaseManager
from fake_module import FakeModule

REPO = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((REPO / "docs" / "schemas" / "run-report.schema.json").read_text())
FIXTURES = REPO / "tests" / "unit" / "fixtures" / "helm4"

SETTINGS = {"magasin_realm": "rp1", "magasin_components": ["minio", "drill"], "magasin_profile": "lab",
            "magasin_state": "present", "magasin_sizing": {}, "magasin_charts_dir": "/srv/charts", "magasin_bucket": "lake",
            "magasin_s3_access_key": "AKIAEXAMPLEEXAMPLE", "magasin_s3_secret_key": "s3cr3t-value-never-shown",
            "magasin_kubeconfig": "/home/me/.kube/config", "magasin_image_registry": "",
            "hosts": {"minio_api_host": ""}}
MODEL = {"realm": "rp1", "components": ["minio", "drill"], "profile": "lab", "state": "present",
         "charts": {"operator": {"chart": "/srv/charts/operator-5.0.11.tgz", "version": "5.0.11", "repo_url": ""},
                    "tenant": {"chart": "/srv/charts/tenant-5.0.11.tgz", "version": "5.0.11", "repo_url": ""},
                    "drill": {"chart": "drill", "version": "0.9.0", "repo_url": "https://charts.example"}}}
OBSERVED = {"started": "2026-12-01T12:00:00.000001", "duration": 2.5, "processes": {"helm": 4, "kubectl": 3},
            "charts": {"drill": {"found": True, "name": "drill", "version": "0.9.0", "digest": "sha256:" + "a" * 64,
                                 "digest_source": "index"},
                       "tenant": {"found": True, "name": "tenant", "version": "5.0.11", "digest": "sha256:" + "b" * 64,
                                  "digest_source": "archive"},
                       "operator": {"found": True, "name": "operator", "version": "5.0.11", "digest": None,
                                    "digest_source": None}}}
NOOP = [{"component": "minio", "name": "operator", "namespace": "magasin-operator", "chart": "operator-5.0.11",
         "status": "deployed", "action": "none", "reasons": [], "recovered": None,
         "objects": {"added": [], "changed": [], "removed": []}, "duration": 1.2, "processes": {"helm": 2}},
        {"key": "drill", "name": "drill", "namespace": "rp1-drill", "chart": "drill-0.9.0", "status": "deployed",
         "action": "none", "reasons": [], "seconds": 0.8, "processes": {"helm": 2, "kubectl": 0}}]


def validate(report):
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(report)))


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_no_op_report():
    report = FilterModule().filters()["run_report"](NOOP, SETTINGS, MODEL, OBSERVED, "2026-12-01T12:00:30.500001")
    validate(report)
    assert report["changed"] is False and [x["action"] for x in report["releases"]] == ["none", "none"]
    assert report["actions"] == {"install": 0, "upgrade": 0, "uninstall": 0, "none": 2}
    assert report["durations"] == {"total": 30.5, "read": 2.5, "releases": 2.0}
    # realm_info's processes and each release's, summed.
    assert report["processes"] == {"helm": 8, "kubectl": 3, "module_calls": 3}
    assert [c["key"] for c in report["charts"]] == ["operator", "tenant", "drill"]
    assert report["charts"][2] == {"key": "drill", "name": "drill", "version": "0.9.0", "source": "drill",
                                   "repo_url": "https://charts.example", "digest": "sha256:" + "a" * 64,
                                   "digest_source": "index"}
    assert report["releases"][1]["component"] == "drill" and report["releases"][1]["duration"] == 0.8
    assert report["releases"][1]["objects"] is None, "not recorded is not the same as nothing changed"
    assert report["selections"]["components"] == ["minio", "drill"]


def test_no_secret_setting_and_no_machine_path_reaches_the_report():
    text = json.dumps(r.run_report(SETTINGS, MODEL, OBSERVED, NOOP, "2026-12-01T12:00:01"))
    for value in ("AKIAEXAMPLEEXAMPLE", "s3cr3t-value-never-shown", "/home/me/.kube/config"):
        assert value not in text
    settings = r.settings_of(SETTINGS)
    assert settings == {"magasin_bucket": "lake", "magasin_charts_dir": "/srv/charts", "magasin_sizing": {},
                        "hosts": {"minio_api_host": ""}}


def test_schema_refuses_a_secret_setting_and_an_unknown_action():
    report = r.run_report(SETTINGS, MODEL, OBSERVED, NOOP, "2026-12-01T12:00:01")
    report["selections"]["settings"]["magasin_s3_secret_key"] = "x"
    with pytest.raises(jsonschema.ValidationError):
        validate(report)
    report = r.run_report(SETTINGS, MODEL, OBSERVED, NOOP, "2026-12-01T12:00:01")
    report["releases"][0]["action"] = "reinstall"
    with pytest.raises(jsonschema.ValidationError):
        validate(report)


def test_changed_run_counts_actions_and_keeps_warnings():
    rows = [dict(NOOP[0], action="upgrade", reasons=["values differ"],
                 objects={"added": [], "changed": ["Deployment/rp1-drill/drill"], "removed": ["ConfigMap/old"]}),
            dict(NOOP[1], action="install"), {"warning": "Superset was adopted"}]
    report = r.run_report(SETTINGS, MODEL, OBSERVED, rows, "2026-12-01T12:00:01", check_mode=True,
                          tally='{"helm": 4, "kubectl": 3}\n{"helm": 2}\n{"helm": 2, "kubectl": 0}\n{"kubectl": 5}\n')
    validate(report)
    assert report["changed"] is True and report["check_mode"] is True
    assert report["actions"] == {"install": 1, "upgrade": 1, "uninstall": 0, "none": 0}
    assert report["warnings"] == ["Superset was adopted"]
    assert report["processes"] == {"helm": 8, "kubectl": 8, "module_calls": 4}


def test_object_changes_names_kinds_and_names_never_values():
    before = [{"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"k": "b2xk"}},
              {"kind": "ConfigMap", "metadata": {"name": "gone"}},
              {"kind": "Service", "metadata": {"name": "same"}, "spec": {"ports": [1]}}]
    after = [{"kind": "Secret", "metadata": {"name": "s", "namespace": "n"}, "data": {"k": "bmV3"}},
             {"kind": "Service", "metadata": {"name": "same"}, "spec": {"ports": [1]}},
             {"kind": "Deployment", "metadata": {"name": "new"}}, None]
    changes = r.object_changes(before, after)
    assert changes == {"added": ["Deployment/new"], "changed": ["Secret/n/s"], "removed": ["ConfigMap/gone"]}
    assert "bmV3" not in json.dumps(changes) and "b2xk" not in json.dumps(changes)
    assert r.object_changes([], []) == {"added": [], "changed": [], "removed": []}


def test_digests(tmp_path):
    archive = tmp_path / "drill-0.9.0.tgz"
    archive.write_bytes(b"chart bytes")
    assert r.archive_digest(str(archive)) == "sha256:" + hashlib.sha256(b"chart bytes").hexdigest()
    assert r.archive_digest(str(tmp_path / "missing.tgz")) is None
    index = {"entries": {"drill": [{"version": "0.8.0", "digest": "11"}, {"version": "0.9.0", "digest": "22"}]}}
    assert r.index_digest(index, "drill", "0.9.0") == "sha256:22"
    assert r.index_digest(index, "drill", "1.0.0") is None and r.index_digest(None, "drill", "0.9.0") is None


class Exiting(FakeModule):
    def exit_json(self, **result):
        self.exited = result


class Tool(CliClient):
    binary_name = "kubectl"
    binary_option = "kubectl_binary"


def test_clients_of_a_module_share_one_tally_that_the_result_carries():
    module = Exiting({}, [(lambda c: True, (0, "{}", ""))])
    first, second = Tool(module, Connection(module)), Tool(module, Connection(module))
    first.run(["get", "x"])
    second.run_json(["get", "y"])
    assert count_processes(module)["counts"] == {"kubectl": 2}
    module.exit_json(changed=False)
    assert module.exited["processes"] == {"kubectl": 2} and module.exited["duration"] >= 0


def test_each_module_run_appends_its_counts_to_the_run_tally(tmp_path, monkeypatch):
    tally = tmp_path / "rp1.json.processes"
    monkeypatch.setenv("MAGASIN_PROCESS_TALLY", str(tally))
    for calls in (1, 2):
        module = Exiting({}, [(lambda c: True, (0, "{}", ""))])
        tool = Tool(module, Connection(module))
        for name in ["x", "y"][:calls]:
            tool.run(["get", name])
        module.exit_json(changed=False)
    assert [json.loads(line) for line in tally.read_text().splitlines()] == [{"kubectl": 1}, {"kubectl": 2}]


def test_the_lock_task_starts_the_tally_empty_in_a_directory_it_makes(tmp_path):
    tally = tmp_path / "reports" / "rp1.json.processes"
    assert start_tally(str(tally)) is True and tally.read_text() == ""
    tally.write_text('{"kubectl": 9}\n')
    assert start_tally(str(tally)) is True and tally.read_text() == ""
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert start_tally(str(blocked / "rp1.json.processes")) is False


def test_no_tally_named_no_file_written(tmp_path, monkeypatch):
    monkeypatch.delenv("MAGASIN_PROCESS_TALLY", raising=False)
    monkeypatch.chdir(tmp_path)
    module = Exiting({}, [(lambda c: True, (0, "{}", ""))])
    Tool(module, Connection(module)).run(["get", "x"])
    module.exit_json(changed=False)
    assert list(tmp_path.iterdir()) == []


def test_the_tally_gives_the_totals_of_every_module_call():
    # realm_info's line, two kubectl_apply calls, a helm_releases call, and a line cut short by a killed module.
    tally = '{"helm": 4, "kubectl": 3}\n{"kubectl": 1}\n{"kubectl": 2}\n{"helm": 8}\n{"kube'
    report = r.run_report(SETTINGS, MODEL, OBSERVED, NOOP, "2026-12-01T12:00:30.5", tally=tally)
    validate(report)
    assert report["processes"] == {"helm": 12, "kubectl": 6, "module_calls": 4}
    # An empty tally (nothing counted yet) falls back to the results the report holds.
    assert r.run_report(SETTINGS, MODEL, OBSERVED, NOOP, "2026-12-01T12:00:30.5", tally="")["processes"] == \
        {"helm": 8, "kubectl": 3, "module_calls": 3}


def release_params(**kw):
    params = {"name": "demo", "namespace": "capture-helm4", "state": "present", "chart": "oci://r.example/demo",
              "repo_url": None, "version": "0.1.0", "values": {"message": "hi"}, "values_files": [],
              "create_namespace": True, "wait": True, "wait_for_jobs": False, "timeout": "5m", "atomic": False,
              "skip_crds": False, "skip_schema_validation": False, "take_ownership": False, "post_renderer": None,
              "post_renderer_args": [], "pending_timeout": 300}
    params.update(kw)
    return params


def test_a_release_result_names_the_objects_it_changed_and_its_helm_processes():
    installed = (FIXTURES / "install.json").read_text()
    not_found = (1, "", (FIXTURES / "status-not-found.stderr").read_text())
    module = FakeModule(release_params(), [(lambda c: c[1] == "status", not_found),
                                           (lambda c: c[1] in ("upgrade", "install"), (0, installed, ""))])
    result = HelmReleaseManager(module).run()
    assert result["action"] == "install" and result["processes"] == {"helm": 2, "kubectl": 0}
    assert result["objects"]["added"] and not result["objects"]["changed"] and not result["objects"]["removed"]
    assert all(name.count("/") in (1, 2) for name in result["objects"]["added"])
    module = FakeModule(release_params(state="absent"), [(lambda c: c[1] == "status", (0, installed, "")),
                                                         (lambda c: c[1] == "uninstall", (0, "", ""))])
    result = HelmReleaseManager(module).run()
    assert result["action"] == "uninstall" and result["processes"] == {"helm": 2, "kubectl": 0}
    assert result["objects"]["removed"] and not result["objects"]["added"]
