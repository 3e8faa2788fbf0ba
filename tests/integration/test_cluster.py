"""The kwok test cluster behaves like a Kubernetes cluster for what the collection needs.

Every assertion is made on the live cluster through kubectl or helm; waits are
`kubectl wait` conditions, never sleeps.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from realms import cluster_harness

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS = REPO_ROOT / "tests" / "cluster" / "harness.py"
CHART = REPO_ROOT / "tests" / "cluster" / "testdata" / "chart"
IMAGE = "registry.k8s.io/pause:3.10"
WAIT = "120s"


class Kubectl:
    """kubectl on the test cluster, with argv lists and JSON output."""

    def __init__(self, binary: Path, kubeconfig: Path) -> None:
        self.base = [str(binary), f"--kubeconfig={kubeconfig}"]

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        argv = [*self.base, *args]
        res = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
        return res

    def json(self, *args: str, stdin: str | None = None) -> dict:
        return json.loads(self.run(*args, "-o", "json", stdin=stdin).stdout)

    def apply(self, namespace: str, *objects: dict) -> None:
        manifest = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        self.run("apply", "-n", namespace, "-f", "-", stdin=json.dumps(manifest))

    def wait(self, *args: str, timeout: str = WAIT) -> None:
        self.run("wait", f"--timeout={timeout}", *args)


@pytest.fixture(scope="session")
def kube(kubectl_bin: Path, kubeconfig: Path) -> Kubectl:
    return Kubectl(kubectl_bin, kubeconfig)


@pytest.fixture
def namespace(kube: Kubectl) -> Iterator[str]:
    name = f"cluster-test-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    yield name
    kube.run("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def pod_template(labels: dict, **spec) -> dict:
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "main", "image": IMAGE}], **spec},
    }


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": pod_template(labels)},
    }


def statefulset(name: str) -> dict:
    labels = {"app": name}
    template = pod_template(labels)
    template["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": template,
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                }
            ],
        },
    }


def job(name: str) -> dict:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": pod_template({"job": name}, restartPolicy="Never")},
    }


def is_ready(obj: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in obj["status"].get("conditions", []))


def test_at_least_three_nodes_are_ready(kube: Kubectl) -> None:
    kube.wait("--for=condition=Ready", "node", "--all")
    nodes = kube.json("get", "nodes")["items"]
    ready = [n for n in nodes if is_ready(n)]
    assert len(ready) >= 3, [n["metadata"]["name"] for n in nodes]
    for node in ready:
        labels, status = node["metadata"]["labels"], node["status"]
        assert labels["kubernetes.io/arch"] == "amd64"
        assert labels["kubernetes.io/os"] == "linux"
        assert labels["kubernetes.io/hostname"] == node["metadata"]["name"]
        assert status["capacity"]["cpu"] == "8"
        assert status["capacity"]["memory"] == "32Gi"
        assert not node["spec"].get("taints"), node["spec"]["taints"]


def test_deployment_reaches_three_available_replicas(kube: Kubectl, namespace: str) -> None:
    kube.apply(namespace, deployment("web", 3))
    kube.wait("-n", namespace, "--for=jsonpath={.status.availableReplicas}=3", "deployment/web")
    kube.wait("-n", namespace, "--for=condition=Available", "deployment/web")
    status = kube.json("get", "-n", namespace, "deployment/web")["status"]
    assert status["availableReplicas"] == status["readyReplicas"] == 3
    pods = kube.json("get", "-n", namespace, "pods", "-l", "app=web")["items"]
    assert len(pods) == 3
    for pod in pods:
        # Scheduled by the real scheduler onto a simulated node, run by kwok.
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["phase"] == "Running"
        assert pod["status"].get("podIP")


def test_statefulset_claim_is_bound_and_pod_ready(kube: Kubectl, namespace: str) -> None:
    kube.apply(namespace, statefulset("db"))
    kube.wait("-n", namespace, "--for=create", "pvc/data-db-0")
    kube.wait("-n", namespace, "--for=jsonpath={.status.phase}=Bound", "pvc/data-db-0")
    kube.wait("-n", namespace, "--for=create", "pod/db-0")
    kube.wait("-n", namespace, "--for=condition=Ready", "pod/db-0")
    pvc = kube.json("get", "-n", namespace, "pvc/data-db-0")
    # The DefaultStorageClass admission plugin filled the class in.
    assert pvc["spec"]["storageClassName"] == "standard"
    pv = kube.json("get", f"pv/{pvc['spec']['volumeName']}")
    assert pv["spec"]["claimRef"]["uid"] == pvc["metadata"]["uid"]
    assert pv["status"]["phase"] == "Bound"
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "magasin.platform/kwok-hostpath"


def test_job_completes(kube: Kubectl, namespace: str) -> None:
    kube.apply(namespace, job("once"))
    kube.wait("-n", namespace, "--for=condition=Complete", "job/once")
    assert kube.json("get", "-n", namespace, "job/once")["status"]["succeeded"] == 1
    pods = kube.json("get", "-n", namespace, "pods", "-l", "job=once")["items"]
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    (state,) = pods[0]["status"]["containerStatuses"]
    assert state["state"]["terminated"]["exitCode"] == 0


@pytest.fixture
def crd(kube: Kubectl) -> Iterator[dict]:
    group = f"g{uuid.uuid4().hex[:8]}.magasin.test"
    definition = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}, "colour": {"type": "string"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    kube.run("apply", "-f", "-", stdin=json.dumps(definition))
    yield definition
    kube.run("delete", f"crd/gadgets.{group}", "--wait=false", "--ignore-not-found")


def test_crd_is_established_and_custom_resource_round_trips(kube: Kubectl, namespace: str, crd: dict) -> None:
    group = crd["spec"]["group"]
    kube.wait("--for=condition=Established", f"crd/{crd['metadata']['name']}")
    gadget = {
        "apiVersion": f"{group}/v1",
        "kind": "Gadget",
        "metadata": {"name": "blue"},
        "spec": {"size": 3, "colour": "blue"},
    }
    kube.apply(namespace, gadget)
    stored = kube.json("get", "-n", namespace, f"gadgets.{group}/blue")
    assert stored["spec"] == gadget["spec"]
    assert stored["metadata"]["uid"]
    # The real API server validates against the CRD's schema.
    bad = {**gadget, "metadata": {"name": "bad"}, "spec": {"size": "three"}}
    res = kube.run("apply", "-n", namespace, "-f", "-", stdin=json.dumps(bad), check=False)
    assert res.returncode != 0
    assert "spec.size" in res.stderr


def test_namespace_deletion_finishes_within_60s(kube: Kubectl) -> None:
    name = f"cluster-test-del-{uuid.uuid4().hex[:8]}"
    kube.run("create", "namespace", name)
    kube.apply(name, deployment("web", 2), statefulset("db"), job("once"))
    kube.wait("-n", name, "--for=condition=Available", "deployment/web")
    kube.wait("-n", name, "--for=create", "pvc/data-db-0")
    kube.wait("-n", name, "--for=jsonpath={.status.phase}=Bound", "pvc/data-db-0")
    kube.wait("-n", name, "--for=condition=Complete", "job/once")
    volume = kube.json("get", "-n", name, "pvc/data-db-0")["spec"]["volumeName"]

    started = time.monotonic()
    kube.run("delete", "namespace", name, "--wait=false")
    kube.wait("--for=delete", f"namespace/{name}", timeout="60s")
    elapsed = time.monotonic() - started
    assert elapsed < 60, f"namespace deletion took {elapsed:.1f}s"
    # The claim went with the namespace; its released volume is reclaimed.
    kube.wait("--for=delete", f"pv/{volume}", timeout="60s")


def helm_env(tmp_path: Path, kubeconfig: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        KUBECONFIG=str(kubeconfig),
        HELM_CONFIG_HOME=str(tmp_path / "helm-config"),
        HELM_CACHE_HOME=str(tmp_path / "helm-cache"),
        HELM_DATA_HOME=str(tmp_path / "helm-data"),
    )
    return env


def helm(binary: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    argv = [str(binary), *args]
    res = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
    return res


@pytest.fixture
def release(kube: Kubectl, helm_bin: Path, kubeconfig: Path, namespace: str, tmp_path: Path) -> Iterator[str]:
    """A fresh release name; whatever a failed test left of it is removed, cluster-scoped CRD included."""
    name = f"smoke-{helm_bin.name}-{uuid.uuid4().hex[:6]}"
    yield name
    env = helm_env(tmp_path, kubeconfig)
    subprocess.run([str(helm_bin), "uninstall", name, "--namespace", namespace, "--ignore-not-found"], env=env, capture_output=True, check=False)
    kube.run("delete", "crd", "-l", f"app.kubernetes.io/instance={name}", "--ignore-not-found", "--wait=false", check=False)


def test_chart_installs_with_wait_and_uninstalls_cleanly(kube: Kubectl, helm_bin: Path, kubeconfig: Path, namespace: str, release: str, tmp_path: Path) -> None:
    env = helm_env(tmp_path, kubeconfig)
    ns = ["--namespace", namespace]
    helm(helm_bin, env, "install", release, str(CHART), *ns, "--wait", "--wait-for-jobs", "--timeout", "5m")

    status = json.loads(helm(helm_bin, env, "status", release, *ns, "-o", "json").stdout)
    assert status["info"]["status"] == "deployed"
    assert kube.json("get", *ns, f"deployment/{release}-web")["status"]["availableReplicas"] == 3
    assert kube.json("get", *ns, f"pvc/data-{release}-db-0")["status"]["phase"] == "Bound"
    assert is_ready(kube.json("get", *ns, f"pod/{release}-db-0"))
    assert kube.json("get", *ns, f"job/{release}-migrate")["status"]["succeeded"] == 1
    # Helm 3 waits for a LoadBalancer's address, Helm 4's status watcher does not.
    kube.wait(*ns, "--for=jsonpath={.status.loadBalancer.ingress[0].ip}=127.0.0.1", f"service/{release}-web")

    manifest = helm(helm_bin, env, "get", "manifest", release, *ns).stdout
    made = kube.json("get", *ns, "-f", "-", stdin=manifest)["items"]
    kinds = sorted({obj["kind"] for obj in made})
    assert kinds == ["ConfigMap", "CustomResourceDefinition", "Deployment", "Job", "Service", "StatefulSet"]
    crd = next(obj for obj in made if obj["kind"] == "CustomResourceDefinition")
    kube.wait("--for=condition=Established", f"crd/{crd['metadata']['name']}")
    selector = f"app.kubernetes.io/instance={release}"
    children = [f"{obj['kind'].lower()}/{obj['metadata']['name']}" for obj in kube.json("get", *ns, "pods,pvc", "-l", selector)["items"]]
    assert len(children) == 3 + 1 + 1 + 1  # web pods, db pod, job pod, db claim

    helm(helm_bin, env, "uninstall", release, *ns, "--wait", "--timeout", "2m")
    # With --ignore-not-found kubectl prints nothing at all when nothing is left.
    left = kube.run("get", *ns, "-f", "-", "--ignore-not-found", "-o", "json", stdin=manifest).stdout
    assert not left.strip() or json.loads(left)["items"] == [], left
    # Pods and the claim go through the garbage collector, after helm is done.
    kube.wait(*ns, "--for=delete", *children, timeout="60s")
    assert kube.json("get", *ns, "all,pvc,configmap", "-l", selector)["items"] == []
    # Nor is any release record left (helm 4 has no `list --all` to ask).
    assert kube.json("get", *ns, "secrets", "-l", f"owner=helm,name={release}")["items"] == []


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.cluster_lifecycle
def test_down_leaves_no_process_and_up_restarts_within_30s(kubeconfig: Path) -> None:
    harness = cluster_harness()
    assert harness.harness_processes(), "the session's cluster should be running"

    down = subprocess.run([sys.executable, str(HARNESS), "down"], cwd=REPO_ROOT, check=False)
    assert down.returncode == 0
    assert harness.harness_processes() == []
    assert not harness.STATE_DIR.exists()
    assert all(port_free(port) for port in harness.PORTS.values())

    # Restart, so a later run (or a test added after this one) finds the cluster up.
    started = time.monotonic()
    up = subprocess.run([sys.executable, str(HARNESS), "up"], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    assert up.returncode == 0, up.stdout + up.stderr
    assert elapsed <= 30, f"cached `up` took {elapsed:.1f}s:\n{up.stdout}"
    assert kubeconfig.is_file()
    status = subprocess.run([sys.executable, str(HARNESS), "status"], cwd=REPO_ROOT, check=False)
    assert status.returncode == 0
