"""module_utils/_images.py over renders of the real charts captured with the collection's values
(tests/unit/fixtures/renders, written by tools/capture_renders.py), and the post-renderer as Helm runs it."""

import base64
import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _images as I
from ansible_collections.magasin.platform.plugins.module_utils import _values as V

RENDERS = Path(__file__).resolve().parent / "fixtures" / "renders"
REGISTRY = "registry.example.org/mirror"
KEYS = ("operator", "tenant", "drill", "dagster", "daskhub", "superset")


def docs(name):
    return [d for d in yaml.safe_load_all((RENDERS / (name + ".yaml")).read_text()) if d]


def entries(name):
    return I.images(docs(name), name.split("-")[0])


def paths(found):
    return {(e["path"], e["image"]) for e in found}


def test_every_container_init_container_and_hook_is_listed():
    found = paths(entries("superset-registry"))
    assert ("Deployment/superset/initContainers/wait-for-postgres", REGISTRY + "/apache/superset:dockerize") in found
    assert ("Job/superset-init-db/containers/superset-init-db", REGISTRY + "/apache/superset:4.1.1") in found
    # The bitnami subcharts.
    assert ("StatefulSet/superset-postgresql/containers/postgresql", REGISTRY + "/bitnami/postgresql:14.6.0-debian-11-r13") in found
    assert ("StatefulSet/superset-redis-master/containers/redis", REGISTRY + "/bitnami/redis:7.0.10-debian-11-r4") in found
    hooks = {e["path"] for e in entries("superset-registry") if e["hook"]}
    assert hooks == {"Job/superset-init-db/initContainers/wait-for-postgres", "Job/superset-init-db/containers/superset-init-db"}


def test_images_the_charts_give_no_value_for_are_outside():
    out = set()
    for key in KEYS:
        out |= paths(I.outside(entries(key + "-registry"), REGISTRY))
    assert out == {
        ("StatefulSet/drillbit/initContainers/zk-available", "busybox"),
        ("Deployment/dagster-daemon/initContainers/check-db-ready", "library/postgres:14.6"),
        ("Deployment/dagster-dagster-webserver/initContainers/check-db-ready", "library/postgres:14.6"),
    }
    # Exactly the containers the post-renderer is given.
    assert {(e["release"], e["container"]) for key in KEYS for e in I.outside(entries(key + "-registry"), REGISTRY)} == {
        (key, c) for key, cs in V.POST_RENDERED_CONTAINERS.items() for c in cs}


def test_spawned_images_come_from_the_chart_configuration():
    found = paths(entries("daskhub-registry"))
    assert ("Secret/hub/singleuser.image/notebook (spawned by the hub)", REGISTRY + "/pangeo/base-notebook:2024.01.03") in found
    assert ("Secret/hub/singleuser.networkTools.image/block-cloud-metadata (spawned by the hub)",
            REGISTRY + "/jupyterhub/k8s-network-tools:3.2.1") in found
    assert ("ConfigMap/api-daskhub-dask-gateway/gateway.backend.image/scheduler and worker (spawned by the gateway)",
            REGISTRY + "/dask/dask-gateway:2023.9.0") in found
    public = {e["image"] for e in entries("daskhub-public") if e["kind"] in ("Secret", "ConfigMap")}
    assert public == {"pangeo/base-notebook:2024.01.03", "quay.io/jupyterhub/k8s-network-tools:3.2.1", "ghcr.io/dask/dask-gateway:2023.9.0"}


def test_the_operator_sidecar():
    relocated = [e for e in entries("operator-registry") if e["field"] == "env"]
    assert [(e["path"], e["image"]) for e in relocated] == [
        ("Deployment/minio-operator/env/operator/OPERATOR_SIDECAR_IMAGE", REGISTRY + "/minio/operator:v5.0.11")]
    # Unset, the operator injects its own image (the console, which injects nothing, is not counted).
    public = [e for e in entries("operator-public") if e["field"] == "env"]
    assert [(e["path"], e["image"]) for e in public] == [
        ("Deployment/minio-operator/env/operator/OPERATOR_SIDECAR_IMAGE", "quay.io/minio/operator:v5.0.11")]


def test_the_tenant_image():
    assert paths(entries("tenant-registry")) == {("Tenant/myminio/spec/image", REGISTRY + "/minio/minio:RELEASE.2023-11-15T20-43-25Z")}


def test_unique_and_within():
    assert I.within(REGISTRY + "/busybox", REGISTRY)
    assert not I.within(REGISTRY + "x/busybox", REGISTRY)
    assert not I.within("busybox", "")
    found = [e for key in KEYS for e in entries(key + "-registry")]
    assert len(I.unique(found)) == len(set(I.unique(found))) < len(found)


@pytest.mark.parametrize(("short", "full"), [
    ("busybox", "docker.io/library/busybox:latest"),
    ("library/postgres:14.6", "docker.io/library/postgres:14.6"),
    ("merlos/drill:1.21.2", "docker.io/merlos/drill:1.21.2"),
    ("quay.io/minio/mc:RELEASE.x", "quay.io/minio/mc:RELEASE.x"),
    ("localhost:5000/a@sha256:" + "0" * 64, "localhost:5000/a@sha256:" + "0" * 64),
])
def test_canonical(short, full):
    assert I.canonical(short) == full


def test_relocate_docs_only_the_named_containers_and_the_pull_secret():
    original = docs("dagster-registry")
    moved = I.relocate_docs(copy.deepcopy(original), REGISTRY, ["check-db-ready"], "site-pull")
    assert I.outside(I.images(moved), REGISTRY) == []
    before, after = paths(I.images(original)), paths(I.images(moved))
    assert set(before - after) == {(p, "library/postgres:14.6") for p, i in before if i == "library/postgres:14.6"}
    for doc in moved:
        assert {"name": "site-pull"} in I.pod_specs(doc)["imagePullSecrets"]
    # Idempotent: a second pass changes nothing.
    assert I.relocate_docs(copy.deepcopy(moved), REGISTRY, ["check-db-ready"], "site-pull") == moved


def test_an_image_pointing_elsewhere_is_not_rewritten():
    doc = docs("drill-registry")
    doc[0]["spec"]["template"]["spec"]["containers"][0]["image"] = "evil.example.org/drill:1"
    moved = I.relocate_docs(doc, REGISTRY, ["zk-available"])
    assert [e["path"] for e in I.outside(I.images(moved), REGISTRY)] == [
        "StatefulSet/%s/containers/%s" % (doc[0]["metadata"]["name"], doc[0]["spec"]["template"]["spec"]["containers"][0]["name"])]


@pytest.mark.parametrize("argv", [[], ["container=x"], ["registry=r", "bogus"], ["registry=r", "colour=x"]])
def test_post_renderer_arguments(argv):
    with pytest.raises(ValueError):
        I.parse_args(argv)


def test_post_renderer_as_helm_runs_it():
    text = (RENDERS / "drill-registry.yaml").read_text()
    proc = subprocess.run([sys.executable, I.__file__, "registry=" + REGISTRY, "container=zk-available", "pull-secret=p"],
                          input=text, capture_output=True, text=True, check=True)
    out = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert I.outside(I.images(out), REGISTRY) == []
    assert len(out) == len(docs("drill-registry"))
    bad = subprocess.run([sys.executable, I.__file__, "nope"], input=text, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "unknown post-renderer argument" in bad.stderr


def test_hub_values_without_metadata_blocking():
    secret = next(d for d in docs("daskhub-registry") if d["kind"] == "Secret")
    values = yaml.safe_load(base64.b64decode(secret["data"]["values.yaml"]))
    values["singleuser"]["cloudMetadata"]["blockWithIptables"] = False
    secret["data"]["values.yaml"] = base64.b64encode(yaml.safe_dump(values).encode()).decode()
    assert [spawned[0] for spawned in I.spawned(secret)] == ["singleuser.image"]


def test_mirror_plan_pairs_the_two_renders_by_path():
    site, public = entries("daskhub-registry"), entries("daskhub-public")
    plan = I.mirror_plan(public, site, "127.0.0.1:5001")
    by_dest = {p["dest"]: p["source"] for p in plan}
    assert by_dest[REGISTRY + "/pangeo/base-notebook:2024.01.03"] == "127.0.0.1:5001/docker.io/pangeo/base-notebook:2024.01.03"
    assert by_dest[REGISTRY + "/pause:3.9"] == "127.0.0.1:5001/registry.k8s.io/pause:3.9"
    assert len(plan) == len(I.unique(site))
    notebook = [p for p in plan if p["dest"].endswith("base-notebook:2024.01.03")][0]
    assert "daskhub: Secret/hub/singleuser.image/notebook (spawned by the hub)" in notebook["paths"]
    assert I.mirror_plan(public, site)[0]["source"] == next(p["source"] for p in plan).split("/", 1)[1]


def test_mirror_plan_refuses_renders_that_differ():
    site, public = entries("operator-registry"), entries("operator-public")
    assert {p["dest"] for p in I.mirror_plan(public, site)} == {REGISTRY + "/minio/operator:v5.0.11"}
    with pytest.raises(ValueError, match="no image in the render without"):
        I.mirror_plan(public[:1], site)
    clash = [dict(e, image=REGISTRY + "/one:1") for e in entries("drill-registry")]
    with pytest.raises(ValueError, match="the site's name of both"):
        I.mirror_plan(entries("drill-registry"), clash)
