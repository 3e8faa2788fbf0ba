"""kubectl_apply's prune: argv, kept names, and the manager with a fake run_command."""

import json
import threading

from ansible_collections.magasin.platform.plugins.modules import kubectl_apply
from fake_module import FakeModule

JOB = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "setup-3f2a"}}
CM = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": "other"}}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tenant"}}


def test_prune_args():
    assert kubectl_apply.prune_args(["Job"], "app=setup", ["a", "b"], "ns", False, 60) == [
        "delete", "Job", "--namespace", "ns", "--selector", "app=setup", "--ignore-not-found", "--output", "name",
        "--field-selector", "metadata.name!=a,metadata.name!=b", "--wait=true", "--timeout=60s"]
    dry = kubectl_apply.prune_args(["jobs.batch", "configmaps"], "app=setup", [], "ns", True, 60)
    assert dry[1] == "jobs.batch,configmaps" and dry[-1] == "--dry-run=server"
    assert "--field-selector" not in dry and "--wait=true" not in dry


def test_kept_names_and_namespaces():
    objects = [NS, JOB, CM]
    assert kubectl_apply.definition_namespaces(objects, "tenant") == ["tenant", "other"]
    assert kubectl_apply.kept_names(objects, "tenant", "tenant") == ["setup-3f2a"]
    assert kubectl_apply.kept_names(objects, "other", "tenant") == ["settings"]


def test_deleted_names():
    assert kubectl_apply.deleted_names("job.batch/a\njob.batch/b\n") == ["job.batch/a", "job.batch/b"]
    assert kubectl_apply.deleted_names("No resources found\n") == []


PARAMS = {"definitions": [JOB], "src": None, "namespace": "tenant", "state": "present",
          "field_manager": "magasin-platform", "force_conflicts": False, "wait": False,
          "wait_condition": "condition=Ready", "wait_timeout": 120,
          "prune": {"selector": "app.kubernetes.io/component=minio-setup", "kinds": ["Job"], "namespaces": None}}


def run(check_mode, diff_changed=False):
    answers = [
        (lambda c: c[1] == "diff", (1 if diff_changed else 0, "", "")),
        (lambda c: c[1] == "delete", (0, "job.batch/setup-old\n", "")),
        (lambda c: c[1] == "apply", (0, json.dumps({"kind": "List", "items": [JOB]}), "")),
    ]
    module = FakeModule(PARAMS, answers, check_mode=check_mode, diff=True)
    return module, kubectl_apply.KubectlApplyManager(module).run()


def test_prune_in_check_mode_is_a_server_dry_run():
    module, result = run(check_mode=True)
    deletes = [c for c in module.commands if c[1] == "delete"]
    assert len(deletes) == 1 and deletes[0][-1] == "--dry-run=server"
    assert "--field-selector" in deletes[0] and "metadata.name!=setup-3f2a" in deletes[0]
    assert result["changed"] is True and result["pruned"] == ["tenant/job.batch/setup-old"]
    assert "- tenant/job.batch/setup-old (pruned)" in result["diff"]["prepared"]
    assert not any(c[1] == "apply" for c in module.commands)


def test_prune_costs_one_kubectl_process():
    module, result = run(check_mode=False)
    assert [c[1] for c in module.commands] == ["diff", "delete"]
    assert "--dry-run=server" not in module.commands[1]


def test_prune_over_namespaces_one_delete_each_side_by_side_results_in_their_order():
    params = dict(PARAMS, definitions=[dict(CM, metadata={"name": "keep", "namespace": "b"})],
                  prune={"selector": "app=x", "kinds": ["ConfigMap"], "namespaces": ["a", "b", "c", "d", "e"]})
    started, release = [], threading.Event()

    def delete(cmd, _data):
        namespace = cmd[cmd.index("--namespace") + 1]
        started.append(namespace)
        if len(started) >= 2:
            release.set()
        # A second delete starts while the first one still runs: the namespaces go side by side.
        assert release.wait(5), "the deletes ran one after the other"
        return 0, "" if namespace == "b" else "configmap/old-%s\n" % namespace, ""

    answers = [(lambda c: c[1] == "diff", (0, "", "")), (lambda c: c[1] == "delete", delete)]
    module = FakeModule(params, answers, check_mode=False, diff=True)
    result = kubectl_apply.KubectlApplyManager(module).run()
    deletes = [c for c in module.commands if c[1] == "delete"]
    assert sorted(c[c.index("--namespace") + 1] for c in deletes) == ["a", "b", "c", "d", "e"]
    in_b = next(c for c in deletes if c[c.index("--namespace") + 1] == "b")
    assert in_b[in_b.index("--field-selector") + 1] == "metadata.name!=keep"
    assert all("--field-selector" not in c for c in deletes if c is not in_b)
    assert result["pruned"] == ["a/configmap/old-a", "c/configmap/old-c", "d/configmap/old-d", "e/configmap/old-e"]
    assert result["changed"] is True
