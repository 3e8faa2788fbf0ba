"""The collection's modules against the test cluster, with Helm 3 and Helm 4.

Everything here talks to the real API server of tests/cluster (kwok simulates the nodes:
pods become Ready without containers running). Namespaces are unique per test and
removed afterwards.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import tarfile
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from ansible_run import run_playbook

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CHART = Path(__file__).resolve().parent / "charts" / "demo"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The real magasin charts beside the checkout (as tests/integration/conftest.py finds them).
REAL_CHARTS = Path(os.environ.get("MAGASIN_CHARTS_DIR") or REPO_ROOT.parent / "shared" / "charts" / "magasin")


@pytest.fixture
def namespace(kubeconfig, kubectl_bin):
    name = "modtest-" + uuid.uuid4().hex[:8]
    yield name
    subprocess.run([str(kubectl_bin), "--kubeconfig", str(kubeconfig), "delete", "namespace", name,
                    "--ignore-not-found", "--wait=false"], capture_output=True, check=False)


@pytest.fixture
def base_vars(kubeconfig, helm_bin, kubectl_bin, namespace):
    return {"kubeconfig": str(kubeconfig), "helm_binary": str(helm_bin), "kubectl_binary": str(kubectl_bin),
            "test_namespace": namespace, "chart_dir": str(CHART)}


def helm(helm_bin, kubeconfig, *args, check=True):
    proc = subprocess.run([str(helm_bin), "--kubeconfig", str(kubeconfig), *args], capture_output=True, text=True,
                          check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {proc.stderr}")
    return proc


def status(helm_bin, kubeconfig, name, namespace):
    proc = helm(helm_bin, kubeconfig, "status", name, "-n", namespace, "-o", "json")
    return json.loads(proc.stdout)


def revisions(helm_bin, kubeconfig, name, namespace):
    proc = helm(helm_bin, kubeconfig, "history", name, "-n", namespace, "-o", "json")
    return [r["revision"] for r in json.loads(proc.stdout)]


def secret(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex}"


def test_helm_release_four_steps(base_vars):
    password = secret("pw")
    run = run_playbook(PLAYBOOKS / "helm_release.yml", dict(base_vars, demo_password=password), "--diff", "-v")
    assert run.rc == 0, run.output[-6000:]
    assert password not in run.output


def test_noop_release_costs_at_most_two_helm_processes(base_vars, helm_bin, kubeconfig, tmp_path):
    values = {"replicas": 1, "auth": {"password": secret("pw")}}
    first = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values))
    assert first.rc == 0, first.output[-4000:]
    log = tmp_path / "helm-calls.log"
    wrapper = tmp_path / "helm"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {helm_bin} "$@"\n')
    wrapper.chmod(0o755)
    again_vars = dict(base_vars, release_values=values, helm_binary=str(wrapper))
    again = run_playbook(PLAYBOOKS / "release_once.yml", again_vars)
    assert again.rc == 0, again.output[-4000:]
    assert again.recap()["changed"] == 0
    calls = log.read_text().splitlines()
    assert 1 <= len(calls) <= 2, calls
    assert not any(c.startswith("version") for c in calls[1:]), calls
    assert revisions(helm_bin, kubeconfig, "demo", base_vars["test_namespace"]) == [1]


def test_check_mode_diff_names_key_and_hides_secrets(base_vars, helm_bin, kubeconfig):
    old, new = secret("old"), secret("new")
    first = run_playbook(PLAYBOOKS / "release_once.yml",
                         dict(base_vars, release_values={"replicas": 1, "auth": {"password": old}}))
    assert first.rc == 0, first.output[-4000:]
    run = run_playbook(PLAYBOOKS / "release_once.yml",
                       dict(base_vars, release_values={"replicas": 4, "auth": {"password": new}}),
                       "--check", "--diff")
    assert run.rc == 0, run.output[-4000:]
    assert run.recap()["changed"] == 1
    assert re.search(r"^-replicas: 1$", run.output, re.MULTILINE), run.output[-4000:]
    assert re.search(r"^\+replicas: 4$", run.output, re.MULTILINE)
    assert re.search(r"^[-+ ]\s+replicas: 4$", run.output, re.MULTILINE)  # the manifest diff too
    assert old not in run.output and new not in run.output
    assert "********" in run.output
    assert revisions(helm_bin, kubeconfig, "demo", base_vars["test_namespace"]) == [1]


def test_out_of_band_upgrade_is_seen(base_vars, helm_bin, kubeconfig):
    values = {"replicas": 1, "auth": {"password": secret("pw")}}
    assert run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values)).rc == 0
    helm(helm_bin, kubeconfig, "upgrade", "demo", str(CHART), "-n", base_vars["test_namespace"], "--reuse-values",
         "--set", "replicas=2")
    run = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values))
    assert run.rc == 0, run.output[-4000:]
    assert run.recap()["changed"] == 1
    assert "values differ" in run.output
    assert status(helm_bin, kubeconfig, "demo", base_vars["test_namespace"])["config"]["replicas"] == 1


def interrupted(helm_bin, kubeconfig, namespace, action, want_status):
    """Start a real helm install/upgrade that cannot finish, kill it once the release is pending."""
    args = [str(helm_bin), "--kubeconfig", str(kubeconfig), action, "demo", str(CHART), "-n", namespace,
            "--set", "unschedulable=true", "--set", "auth.password=x", "--wait", "--timeout", "5m"]
    if action == "install":
        args.append("--create-namespace")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = helm(helm_bin, kubeconfig, "status", "demo", "-n", namespace, "-o", "json", check=False)
            if got.returncode == 0 and json.loads(got.stdout)["info"]["status"] == want_status:
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"release never became {want_status}")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert status(helm_bin, kubeconfig, "demo", namespace)["info"]["status"] == want_status


@pytest.mark.parametrize(("action", "pending", "recovered"), [
    ("upgrade", "pending-upgrade", "rolled back pending-upgrade revision 2 to revision 1"),
    ("install", "pending-install", "uninstalled pending-install revision 1 with no deployed revision to return to"),
])
def test_interrupted_release_is_recovered(base_vars, helm_bin, kubeconfig, action, pending, recovered):
    ns = base_vars["test_namespace"]
    values = {"replicas": 1, "auth": {"password": secret("pw")}}
    if action == "upgrade":
        assert run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values)).rc == 0
    interrupted(helm_bin, kubeconfig, ns, action, pending)

    fresh = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values))
    assert fresh.rc != 0
    assert f"has been {pending} since" in fresh.output and "Another helm operation may still be running" in fresh.output
    assert status(helm_bin, kubeconfig, "demo", ns)["info"]["status"] == pending

    check = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values, pending_timeout=0),
                         "--check")
    assert check.rc == 0, check.output[-4000:]
    assert check.recap()["changed"] == 1 and recovered in " ".join(check.output.split()), check.output[-3000:]
    assert status(helm_bin, kubeconfig, "demo", ns)["info"]["status"] == pending

    run = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values, pending_timeout=0))
    assert run.rc == 0, run.output[-4000:]
    assert recovered in " ".join(run.output.split()), run.output[-3000:]
    final = status(helm_bin, kubeconfig, "demo", ns)
    assert final["info"]["status"] == "deployed"
    assert final["config"] == values
    again = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values))
    assert again.rc == 0 and again.recap()["changed"] == 0


def test_failed_atomic_upgrade_keeps_previous_revision(base_vars, helm_bin, kubeconfig):
    ns = base_vars["test_namespace"]
    good = {"replicas": 1, "auth": {"password": secret("pw")}}
    assert run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=good)).rc == 0
    bad = dict(good, unschedulable=True)
    run = run_playbook(PLAYBOOKS / "release_once.yml",
                       dict(base_vars, release_values=bad, release_atomic=True, release_timeout="15s"))
    assert run.rc != 0
    # helm's own words about the failed upgrade and its rollback
    assert re.search(r"(?i)upgrade failed|rollback|context deadline exceeded|timed out", run.output), run.output[-3000:]
    final = status(helm_bin, kubeconfig, "demo", ns)
    assert final["info"]["status"] == "deployed"
    assert final["config"].get("unschedulable") in (None, False)
    assert good["auth"]["password"] not in run.output


def test_credentials_are_stable_and_never_shown(kubeconfig, kubectl_bin, namespace, tmp_path):
    supplied = secret("vault")
    digests = set()
    outputs = []
    for i in range(3):
        digest = tmp_path / f"digest-{i}"
        run = run_playbook(PLAYBOOKS / "credentials.yml",
                           {"kubeconfig": str(kubeconfig), "kubectl_binary": str(kubectl_bin),
                            "test_namespace": namespace, "supplied": supplied, "digest_file": str(digest),
                            "fresh": i == 0},
                           "-vvv", "--diff", tree_dir=tmp_path / f"tree-{i}")
        assert run.rc == 0, run.output[-4000:]
        digests.add(digest.read_text())
        outputs.append(run.output + run.json_results())
    assert len(digests) == 1
    got = subprocess.run([str(kubectl_bin), "--kubeconfig", str(kubeconfig), "get", "secret", "app-credentials",
                          "-n", namespace, "-o", "json"], capture_output=True, text=True, check=True)
    values = [base64.b64decode(v).decode() for v in json.loads(got.stdout)["data"].values()]
    assert len(values) == 4 and supplied in values
    encoded = [base64.b64encode(v.encode()).decode() for v in values]
    for text in outputs:
        assert text.strip()
        for value in values + encoded:
            assert value not in text


def test_credentials_adopt_an_earlier_installations_passwords(kubeconfig, kubectl_bin, namespace, tmp_path):
    source_ns = namespace + "-src"
    kubectl = [str(kubectl_bin), "--kubeconfig", str(kubeconfig)]
    db, pg = secret("db"), secret("pg")
    try:
        subprocess.run([*kubectl, "create", "namespace", source_ns], check=True, capture_output=True)
        subprocess.run([*kubectl, "create", "secret", "generic", "superset-postgresql", "-n", source_ns,
                        "--from-file=password=/dev/stdin"], input=db, text=True, check=True, capture_output=True)
        subprocess.run([*kubectl, "patch", "secret", "superset-postgresql", "-n", source_ns, "--type=merge",
                        "--patch-file=/dev/stdin"], text=True, check=True, capture_output=True,
                       input=json.dumps({"data": {"postgres-password": base64.b64encode(pg.encode()).decode()}}))
        stored = tmp_path / "stored.json"
        run = run_playbook(PLAYBOOKS / "credentials_adopt.yml",
                           {"kubeconfig": str(kubeconfig), "kubectl_binary": str(kubectl_bin),
                            "test_namespace": namespace, "source_namespace": source_ns, "digest_file": str(stored)},
                           "-vvv", "--diff", tree_dir=tmp_path / "tree")
        assert run.rc == 0, run.output[-4000:]
        data = {k: base64.b64decode(v).decode() for k, v in json.loads(stored.read_text()).items()}
        assert data["superset-db"] == db and data["superset-postgres"] == pg
        assert len(data["dagster-db"]) == 32 and len(data["fresh"]) == 24
        text = run.output + run.json_results()
        for value in data.values():
            assert value not in text and base64.b64encode(value.encode()).decode() not in text
    finally:
        subprocess.run([*kubectl, "delete", "namespace", source_ns, "--ignore-not-found", "--wait=false"],
                       capture_output=True, check=False)


def test_kubectl_apply_four_steps(kubeconfig, kubectl_bin, namespace):
    value = secret("cm")
    run = run_playbook(PLAYBOOKS / "kubectl_apply.yml",
                       {"kubeconfig": str(kubeconfig), "kubectl_binary": str(kubectl_bin),
                        "test_namespace": namespace, "secret_value": value}, "--diff")
    assert run.rc == 0, run.output[-6000:]
    assert value not in run.output
    assert "mode: production" in run.output  # the diff of the changed ConfigMap


def test_kubectl_apply_prunes_earlier_runs_jobs(kubeconfig, kubectl_bin, namespace):
    kubectl = [str(kubectl_bin), "--kubeconfig", str(kubeconfig)]
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)

    def job(name, labels):
        meta = {"name": name, "namespace": namespace, "labels": labels}
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                                               "containers": [{"name": "c", "image": "busybox"}]}}}}
    setup = {"app.kubernetes.io/component": "setup"}
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "setup-cm", "namespace": namespace, "labels": setup}}
    objects = [job("setup-old-1", setup), job("setup-old-2", setup), job("unlabelled", {}), config]
    listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    subprocess.run([*kubectl, "apply", "-f", "-"], input=listing, text=True, check=True, capture_output=True)
    run = run_playbook(PLAYBOOKS / "kubectl_apply_prune.yml",
                       {"kubeconfig": str(kubeconfig), "kubectl_binary": str(kubectl_bin), "test_namespace": namespace},
                       "--diff")
    assert run.rc == 0, run.output[-6000:]
    assert f"- {namespace}/job.batch/setup-old-1 (pruned)" in run.output
    jobs = kubectl_json(kubectl_bin, kubeconfig, "get", "jobs", "-n", namespace)["items"]
    assert sorted(j["metadata"]["name"] for j in jobs) == ["setup-new", "unlabelled"]
    assert kubectl_json(kubectl_bin, kubeconfig, "get", "configmap", "setup-cm", "-n", namespace)


def test_cluster_info(kubeconfig, kubectl_bin):
    run = run_playbook(PLAYBOOKS / "cluster_info.yml", {"kubeconfig": str(kubeconfig),
                                                        "kubectl_binary": str(kubectl_bin)})
    assert run.rc == 0, run.output[-4000:]
    assert run.recap()["changed"] == 0


def test_token_from_awx_environment(kubeconfig, kubectl_bin, tmp_path):
    """K8S_AUTH_HOST/K8S_AUTH_API_KEY (AWX's credential) reach kubectl without appearing on argv."""
    ns = "kube-system"
    sa = "awx-test-" + uuid.uuid4().hex[:6]
    kubectl = [str(kubectl_bin), "--kubeconfig", str(kubeconfig)]
    subprocess.run([*kubectl, "create", "serviceaccount", sa, "-n", ns], check=True, capture_output=True)
    try:
        subprocess.run([*kubectl, "create", "clusterrole", sa, "--verb=get,list",
                        "--resource=nodes,storageclasses.storage.k8s.io,ingressclasses.networking.k8s.io"],
                       check=True, capture_output=True)
        subprocess.run([*kubectl, "create", "clusterrolebinding", sa, f"--clusterrole={sa}",
                        f"--serviceaccount={ns}:{sa}"], check=True, capture_output=True)
        token = subprocess.run([*kubectl, "create", "token", sa, "-n", ns], check=True, capture_output=True,
                               text=True).stdout.strip()
        server = subprocess.run([*kubectl, "config", "view", "--minify", "-o",
                                 "jsonpath={.clusters[0].cluster.server}"], check=True, capture_output=True,
                                text=True).stdout.strip()
        env = {"K8S_AUTH_HOST": server, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "false",
               "KUBECONFIG": "", "K8S_AUTH_KUBECONFIG": ""}
        playbook = tmp_path / "awx.yml"
        playbook.write_text(
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
            "    - magasin.platform.cluster_info:\n"
            f"        kubectl_binary: {kubectl_bin}\n"
            "      register: __c\n"
            "    - ansible.builtin.assert:\n        that:\n"
            "          - __c.totals.nodes >= 3\n"
            "          - not __c.can_create_cluster_scoped\n")
        run = run_playbook(playbook, None, "-vvv", env=env)
        assert run.rc == 0, run.output[-4000:]
        assert token not in run.output
    finally:
        for kind in ("clusterrolebinding", "clusterrole"):
            subprocess.run([*kubectl, "delete", kind, sa, "--ignore-not-found"], capture_output=True, check=False)
        subprocess.run([*kubectl, "delete", "serviceaccount", sa, "-n", ns, "--ignore-not-found"],
                       capture_output=True, check=False)


def counting(tmp_path, binary):
    """A wrapper around binary that logs each call's arguments; returns (wrapper, log)."""
    log = tmp_path / f"{binary.name}-calls.log"
    wrapper = tmp_path / f"counting-{binary.name}"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {binary} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper, log


@pytest.fixture
def chart_repo():
    """The real charts served as a chart repository on 127.0.0.1 (index.yaml holds relative URLs)."""
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(REAL_CHARTS))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def kubectl_json(kubectl_bin, kubeconfig, *args):
    proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(kubeconfig), *args, "-o", "json"],
                          capture_output=True, text=True, check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else None


def test_realm_info(kubeconfig, helm_bin, kubectl_bin, tmp_path, chart_repo):
    realm = "modtest-" + uuid.uuid4().hex[:6]
    ns_sts, ns_release, ns_missing = f"{realm}-db", f"{realm}-app", f"{realm}-none"
    kubectl = [str(kubectl_bin), "--kubeconfig", str(kubeconfig)]
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": ns_sts},
           "spec": {"serviceName": "db", "replicas": 0, "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "db", "image": "postgres"}]}},
                    "volumeClaimTemplates": [
                        {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                                "storageClassName": "standard",
                                                                "resources": {"requests": {"storage": "3Gi"}}}},
                        {"metadata": {"name": "wal"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                               "resources": {"requests": {"storage": "1Gi"}}}}]}}
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    with tarfile.open(REAL_CHARTS / "drill-0.7.2.tgz") as tar:
        tar.extractall(unpacked, filter="data")
    charts = [
        {"key": "tenant", "chart": str(REAL_CHARTS / "tenant-5.0.11.tgz"), "version": "5.0.11"},
        {"key": "drill_wrong", "chart": str(REAL_CHARTS / "drill-0.9.0.tgz"), "version": "0.7.2"},
        {"key": "drill_dir", "chart": str(unpacked / "drill"), "version": "0.7.2"},
        {"key": "missing_file", "chart": str(REAL_CHARTS / "drill-9.9.9.tgz"), "version": "9.9.9"},
        {"key": "superset_repo", "chart": "superset", "version": "0.13.4", "repo_url": chart_repo},
        {"key": "superset_repo_missing", "chart": "superset", "version": "9.9.9", "repo_url": chart_repo},
    ]
    try:
        subprocess.run([*kubectl, "create", "namespace", ns_sts], check=True, capture_output=True)
        subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(sts), text=True, check=True,
                       capture_output=True)
        helm(helm_bin, kubeconfig, "install", "demo", str(CHART), "-n", ns_release, "--create-namespace",
             "--set", "auth.password=not-shown")
        kubectl_wrapper, kubectl_log = counting(tmp_path, kubectl_bin)
        helm_wrapper, helm_log = counting(tmp_path, helm_bin)
        result_file = tmp_path / "realm.json"
        run = run_playbook(PLAYBOOKS / "realm_info.yml", {
            "kubeconfig": str(kubeconfig), "helm_binary": str(helm_wrapper), "kubectl_binary": str(kubectl_wrapper),
            "realm_namespaces": [ns_sts, ns_release, ns_missing], "realm_charts": charts,
            "result_file": str(result_file)})
        assert run.rc == 0, run.output[-6000:]
        assert run.recap()["changed"] == 1  # the result file; the playbook asserts both reads unchanged
        got = json.loads(result_file.read_text())

        # two tasks (normal and check mode): per task 3 kubectl, 1 helm list per namespace listed (the realm's,
        # and the operator release's when another namespace holds it: no Secret is read cluster-wide), and
        # 1 helm show chart per chart
        kubectl_calls = kubectl_log.read_text().splitlines()
        helm_calls = helm_log.read_text().splitlines()
        listed = [ns_sts, ns_release, ns_missing]
        if got["operator"] and got["operator"]["namespace"] not in listed:
            listed.append(got["operator"]["namespace"])
        assert len(kubectl_calls) == 2 * 3, kubectl_calls
        assert sum(c.startswith("list ") for c in helm_calls) == 2 * len(listed), helm_calls
        assert all(any(f"--namespace {ns} " in c + " " for c in helm_calls if c.startswith("list ")) for ns in listed), helm_calls
        assert sum(c.startswith("show chart ") for c in helm_calls) == 2 * len(charts), helm_calls
        assert len(helm_calls) == 2 * (len(listed) + len(charts)), helm_calls

        digests = {key: (chart.pop("digest", None), chart.pop("digest_source", None)) for key, chart in got["charts"].items()}
        tenant_sha = hashlib.sha256((REAL_CHARTS / "tenant-5.0.11.tgz").read_bytes()).hexdigest()
        assert digests["tenant"] == ("sha256:" + tenant_sha, "archive"), digests
        assert got["charts"]["tenant"] == {"found": True, "name": "tenant", "version": "5.0.11", "error": None}
        assert got["charts"]["drill_wrong"] == {"found": False, "name": "drill", "version": "0.9.0",
                                                "error": "the chart found is drill 0.9.0, not version 0.7.2"}
        assert got["charts"]["drill_dir"]["found"] is True and got["charts"]["drill_dir"]["version"] == "0.7.2"
        assert got["charts"]["missing_file"]["found"] is False and got["charts"]["missing_file"]["name"] is None
        assert "drill-9.9.9.tgz" in got["charts"]["missing_file"]["error"]
        assert got["charts"]["superset_repo"] == {"found": True, "name": "superset", "version": "0.13.4",
                                                  "error": None}
        assert got["charts"]["superset_repo_missing"]["found"] is False
        assert "9.9.9" in got["charts"]["superset_repo_missing"]["error"]

        assert got["statefulsets"] == {f"{ns_sts}/db": {"claims": [{"name": "data", "size": "3Gi", "class": "standard"},
                                                                   {"name": "wal", "size": "1Gi", "class": None}]}}
        demo = got["releases"][f"{ns_release}/demo"]
        assert demo["status"] == "deployed" and demo["revision"] == 1
        assert (demo["chart_name"], demo["chart_version"], demo["app_version"]) == ("demo", "0.1.0", "1.0.0")
        assert demo["updated"]
        operator_key = f"{got['operator']['namespace']}/{got['operator']['name']}" if got["operator"] else None
        assert all(k.split("/")[0] in (ns_sts, ns_release) or k == operator_key for k in got["releases"])

        # what kubectl itself says
        nodes = kubectl_json(kubectl_bin, kubeconfig, "get", "nodes")["items"]
        assert [n["name"] for n in got["cluster"]["nodes"]] == [n["metadata"]["name"] for n in nodes]
        assert set(got["cluster"]["nodes"][0]) == {"name", "ready", "schedulable", "cpu", "memory", "arch", "os"}
        assert got["cluster"]["totals"]["nodes"] >= 3 and got["cluster"]["nodes"][0]["arch"] == "amd64"
        assert got["cluster"]["version"]["major"] == 1 and got["cluster"]["version"]["git_version"].startswith("v1.")
        classes = kubectl_json(kubectl_bin, kubeconfig, "get", "storageclasses")["items"]
        assert sorted(c["name"] for c in got["storage_classes"]) == sorted(c["metadata"]["name"] for c in classes)
        assert got["default_storage_class"] in [c["name"] for c in got["storage_classes"] if c["default"]] + [""]
        role = kubectl_json(kubectl_bin, kubeconfig, "get", "clusterrole", "minio-operator-role", "--ignore-not-found")
        annotations = ((role or {}).get("metadata") or {}).get("annotations") or {}
        if "meta.helm.sh/release-name" in annotations:
            assert got["operator"] == {"name": annotations["meta.helm.sh/release-name"],
                                       "namespace": annotations["meta.helm.sh/release-namespace"]}
            assert got["releases"][operator_key]["chart_name"] == "operator"
        else:
            assert got["operator"] is None
        tenants = kubectl_json(kubectl_bin, kubeconfig, "get", "tenants.minio.min.io", "--all-namespaces")
        assert [(t["namespace"], t["name"]) for t in got["tenants"]] == [
            (t["metadata"]["namespace"], t["metadata"]["name"]) for t in (tenants or {}).get("items", [])]
        assert "not-shown" not in run.output
    finally:
        for ns in (ns_sts, ns_release):
            subprocess.run([*kubectl, "delete", "namespace", ns, "--ignore-not-found", "--wait=false"],
                           capture_output=True, check=False)


def widget_chart(tmp_path, group):
    """A chart with a ConfigMap and a custom resource of a kind the cluster does not serve (yet)."""
    chart = tmp_path / "widget"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: widget\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(f"group: {group}\nsize: ''\n")
    (chart / "templates" / "widget.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: widget-config\ndata:\n  a: b\n---\n"
        "apiVersion: {{ .Values.group }}/v1\nkind: Widget\nmetadata:\n  name: w\n"
        "spec:\n  size: {{ .Values.size | default nil }}\n")
    return chart


def widget_crd(group):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
                     "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                         "type": "object", "properties": {"spec": {"type": "object", "properties": {
                             "size": {"type": "string"}}}}}}}]}}


def check_releases(base_vars, tmp_path, releases, *args):
    result_file = tmp_path / "check.json"
    releases = [dict({"values": {}}, **r) for r in releases]
    extra_vars = dict(base_vars, releases=releases, result_file=str(result_file))
    run = run_playbook(PLAYBOOKS / "helm_release_check.yml", extra_vars, "--diff", *args)
    return run, (json.loads(result_file.read_text()) if result_file.exists() else None)


def test_check_mode_of_a_release_whose_kind_is_not_served_yet(base_vars, helm_bin, kubeconfig, tmp_path):
    ns = base_vars["test_namespace"]
    group = f"{ns}.example.org"
    chart = widget_chart(tmp_path, group)
    run, results = check_releases(base_vars, tmp_path, [{"name": "widget", "namespace": ns, "chart": str(chart)}])
    assert run.rc == 0, run.output[-6000:]
    assert results[0]["changed"] is True and results[0]["action"] == "install"
    assert results[0]["rendered"] == "client"
    assert f"does not serve Widget ({group}/v1) yet" in run.output
    assert re.search(r"^\+kind: Widget$", run.output, re.MULTILINE), run.output[-4000:]
    assert re.search(r"^\+kind: ConfigMap$", run.output, re.MULTILINE)
    assert helm(helm_bin, kubeconfig, "status", "widget", "-n", ns, check=False).returncode != 0


def test_helm4_refusal_of_a_null_field_is_explained(base_vars, helm_bin, kubeconfig, kubectl_bin, tmp_path):
    ns = base_vars["test_namespace"]
    group = f"{ns}.example.org"
    chart = widget_chart(tmp_path, group)
    kubectl = [str(kubectl_bin), "--kubeconfig", str(kubeconfig)]
    subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(widget_crd(group)), text=True, check=True,
                   capture_output=True)
    try:
        subprocess.run([*kubectl, "wait", "--for", "condition=Established", f"crd/widgets.{group}"], check=True,
                       capture_output=True)
        run = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, chart_dir=str(chart), release_name="widget",
                                                                release_values={}))
        if helm_bin.name.endswith("4"):
            assert run.rc != 0
            assert f"The API server refused null for spec.size of Widget {ns}/w" in run.output, run.output[-4000:]
            assert "tenant.pools[].storageClassName" in run.output
        else:  # Helm 3 creates objects client-side; the API server drops the null
            assert run.rc == 0, run.output[-4000:]
    finally:
        helm(helm_bin, kubeconfig, "uninstall", "widget", "-n", ns, "--wait", check=False)
        subprocess.run([*kubectl, "delete", "crd", f"widgets.{group}", "--ignore-not-found"], capture_output=True,
                       check=False)


def test_check_mode_of_the_real_operator_and_tenant(base_vars, kubeconfig, kubectl_bin, tmp_path):
    realm = base_vars["test_namespace"]
    operator = {"name": "operator", "namespace": f"{realm}-operator", "chart": str(REAL_CHARTS / "operator-5.0.11.tgz")}
    tenant = {"name": "tenant", "namespace": f"{realm}-tenant", "chart": str(REAL_CHARTS / "tenant-5.0.11.tgz"),
              "values": {"tenant": {"name": "minio", "pools": [{"name": "pool-0", "servers": 1, "volumesPerServer": 1,
                                                               "size": "1Gi", "storageClassName": "standard"}]}}}
    # One operator serves the cluster: with another realm's in place, a second one cannot be predicted.
    serving = kubectl_json(kubectl_bin, kubeconfig, "get", "clusterrole", "minio-operator-role", "--ignore-not-found")
    crd = kubectl_json(kubectl_bin, kubeconfig, "get", "crd", "tenants.minio.min.io", "--ignore-not-found")
    releases = [tenant] if serving else [operator, tenant]
    run, results = check_releases(base_vars, tmp_path, releases)
    assert run.rc == 0, run.output[-6000:]
    assert all(r["changed"] and r["action"] == "install" for r in results)
    assert results[-1]["rendered"] == ("server" if crd else "client")
    assert re.search(r"^\+kind: Tenant$", run.output, re.MULTILINE), run.output[-4000:]
    for ns in (operator["namespace"], tenant["namespace"]):
        assert kubectl_json(kubectl_bin, kubeconfig, "get", "namespace", ns, "--ignore-not-found") is None
