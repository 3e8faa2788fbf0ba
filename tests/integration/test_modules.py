"""The collection's modules against the test cluster, with Helm 3 and Helm 4.

Everything here talks to the real API server of tests/cluster (kwok simulates the nodes:
pods become Ready without containers running). Namespaces are unique per test and
removed afterwards.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from ansible_run import run_playbook

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CHART = Path(__file__).resolve().parent / "charts" / "demo"


@pytest.fixture
def namespace(kubeconfig, kubectl_bin):
    name = "mt-" + uuid.uuid4().hex[:8]
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
    ("install", "pending-install", "uninstalled pending-install revision 1"),
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
    assert check.recap()["changed"] == 1 and recovered in check.output
    assert status(helm_bin, kubeconfig, "demo", ns)["info"]["status"] == pending

    run = run_playbook(PLAYBOOKS / "release_once.yml", dict(base_vars, release_values=values, pending_timeout=0))
    assert run.rc == 0, run.output[-4000:]
    assert recovered in run.output
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


def test_kubectl_apply_four_steps(kubeconfig, kubectl_bin, namespace):
    value = secret("cm")
    run = run_playbook(PLAYBOOKS / "kubectl_apply.yml",
                       {"kubeconfig": str(kubeconfig), "kubectl_binary": str(kubectl_bin),
                        "test_namespace": namespace, "secret_value": value}, "--diff")
    assert run.rc == 0, run.output[-6000:]
    assert value not in run.output
    assert "mode: production" in run.output  # the diff of the changed ConfigMap


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
