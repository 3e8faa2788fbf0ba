"""An offline site (issue 14): real registries on 127.0.0.1, mirror, then site.yml with only the site registry.

Two CNCF distribution registries (tests/support/registries.py, TLS with a throwaway CA that helm
and crane trust through SSL_CERT_FILE): `public` holds tiny single-layer images under the real
upstream names (<public>/docker.io/merlos/drill:...), `site` starts empty. playbooks/mirror.yml
fills the site registry from the public one (images by digest, tag kept; the chart archives as
OCI artifacts); site.yml, with magasin_offline on, magasin_image_registry the site and the charts
from oci://<site>/magasin/charts, then converges the realm `of1`. First, one image left
unrelocated by a value override is refused by the preflight before any change.

Drill (a container no value relocates: the post-renderer), Dagster (a subchart, and init
containers no value relocates) and Superset (hooks, subcharts, pip at start-up). Helm 4 only unless
MAGASIN_HELM asks (Helm 3's post-renderer is an executable, Helm 4's a plugin: the unit tests of
chart_images render both majors' arguments; the renders are the same).
"""

from __future__ import annotations

import json
import os

import pytest
from realms import Playbook, helm4_unless_asked, namespaces
from registries import Crane, Registry, make_tls

REALM = "of1"
COMPONENTS = ["drill", "dagster", "superset"]
PIP_INDEX = "https://pypi.site.invalid/simple"
# The public side: what the charts of these components name (the mirror fails naming any it misses).
UPSTREAM = [
    "apachesuperset.docker.scarf.sh/apache/superset:4.1.1", "docker.io/apache/superset:dockerize",
    "docker.io/bitnami/minideb:stretch", "docker.io/bitnami/postgresql:14.6.0-debian-11-r13",
    "docker.io/bitnami/redis:7.0.10-debian-11-r4", "docker.io/library/busybox:latest", "docker.io/library/busybox:1.28",
    "docker.io/dagster/dagster-celery-k8s:1.9.3", "docker.io/dagster/user-code-example:1.9.3",
    "docker.io/library/postgres:14.6", "docker.io/merlos/drill:1.21.2-2024-12", "docker.io/merlos/zookeeper:3.9.3",
]
PUBLIC_HOSTS = ("docker.io", "quay.io", "ghcr.io", "registry.k8s.io", "scarf.sh", "pypi.org", "pythonhosted.org")
POD_KINDS = ("pods", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs")


def pod_specs(item: dict) -> list[dict]:
    kind = item["kind"]
    if kind == "Pod":
        return [item["spec"]]
    if kind == "CronJob":
        return [item["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return [item["spec"]["template"]["spec"]]


def images_on_cluster(cluster, realm: str) -> dict[str, list[str]]:
    """{image: [where]} of every container and init container of every pod and pod template of the realm."""
    out: dict[str, list[str]] = {}
    for ns in cluster.realm_namespaces(realm):
        for kind in POD_KINDS:
            for item in cluster.items(kind, ns):
                for spec in pod_specs(item):
                    for field in ("initContainers", "containers"):
                        for c in spec.get(field) or []:
                            out.setdefault(c["image"], []).append(f"{ns}/{item['kind']}/{item['metadata']['name']}/{field}/{c['name']}")
    return out


@pytest.fixture(scope="module")
def offline(cluster, kubeconfig, helm_bin, charts_dir, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "the offline path renders the same on both majors")
    cluster.teardown(REALM)
    tmp = tmp_path_factory.mktemp("offline")
    tls = make_tls(tmp / "tls")
    public = Registry("public", tmp / "public", tls)
    site = Registry("site", tmp / "site", tls)
    crane = Crane(tls[0])
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(tls[0])
    try:
        digests = {image: crane.push_image(f"{public.host}/{image}", tmp) for image in UPSTREAM}
        registry = f"{site.host}/magasin"
        common = {"magasin_realm": REALM, "magasin_components": COMPONENTS, "magasin_image_registry": registry,
                  "magasin_offline": True, "superset_pip_index_url": PIP_INDEX, "magasin_crane_binary": crane.binary}
        from_dir = Playbook(kubeconfig, helm_bin, {"magasin_charts_dir": str(charts_dir)})
        from_site = Playbook(kubeconfig, helm_bin, {"magasin_chart_repo": f"oci://{registry}/charts", "magasin_charts_dir": ""})
        mirror_vars = dict(common, magasin_mirror_source=public.host, magasin_mirror_list=str(tmp / "list.json"))
        runs = {"mirror": from_dir("playbooks/mirror.yml", mirror_vars)}
        runs["refused"] = from_site("site.yml", dict(common, drill_values={"drill": {"image": "docker.io/merlos/drill:1.21.2-2024-12"}}))
        after_refusal = {"namespaces": cluster.realm_namespaces(REALM),
                         "releases": [r for r in cluster.releases() if r["namespace"] in namespaces(REALM).values()]}
        runs["converge"] = from_site("site.yml", common)
        yield {"runs": runs, "registry": registry, "crane": crane, "digests": digests, "public": public.host,
               "list": json.loads((tmp / "list.json").read_text()) if (tmp / "list.json").exists() else [],
               "after_refusal": after_refusal, "images": images_on_cluster(cluster, REALM),
               "objects": cluster.rendered_objects(REALM)}
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
        cluster.teardown(REALM)
        public.stop()
        site.stop()


def test_mirror_fills_an_empty_site_registry(offline):
    offline["runs"]["mirror"].ok()
    crane, registry = offline["crane"], offline["registry"]
    assert {item["source"] for item in offline["list"]} == {f"{offline['public']}/{i}" for i in UPSTREAM}
    for item in offline["list"]:
        upstream = item["source"].split("/", 1)[1]
        assert item["dest"].startswith(registry + "/")
        assert crane.digest(item["dest"]) == offline["digests"][upstream], item
    for chart in ("drill", "dagster", "superset"):
        assert crane.digest(f"{registry}/charts/{chart}:{ {'drill': '0.9.0', 'dagster': '1.9.3', 'superset': '0.13.4'}[chart] }")


def test_preflight_refuses_an_image_outside_the_site_registry_before_any_change(offline):
    run = offline["runs"]["refused"]
    assert run.rc != 0
    assert "docker.io/merlos/drill:1.21.2-2024-12" in run.output
    assert "StatefulSet/drillbit/containers/drill-pod" in run.output and "drill_values" in run.output
    assert offline["after_refusal"] == {"namespaces": [], "releases": []}


def test_every_pod_image_is_in_the_site_registry_and_resolves_by_digest(offline):
    offline["runs"]["converge"].ok()
    images = offline["images"]
    wheres = [w for ws in images.values() for w in ws]
    assert any("/Job/superset-init-db/" in w for w in wheres), "the superset init hook's Job is not on the cluster"
    assert any("initContainers/zk-available" in w for w in wheres) and any("initContainers/check-db-ready" in w for w in wheres)
    outside = {i: w for i, w in images.items() if not i.startswith(offline["registry"] + "/")}
    assert outside == {}
    by_dest = {item["dest"]: item for item in offline["list"]}
    for image, where in images.items():
        digest = offline["crane"].digest(image)
        assert digest, f"{image} ({where[0]}) does not resolve in the site registry"
        assert digest == offline["digests"][by_dest[image]["source"].split("/", 1)[1]], image


def test_nothing_reaches_pypi_or_a_public_registry(offline):
    offline["runs"]["converge"].ok()
    text = json.dumps(offline["objects"])
    assert [h for h in PUBLIC_HOSTS if h in text] == []
    config = [o for o in offline["objects"] if o["kind"] == "Secret" and o["metadata"]["name"] == "superset-config"][0]
    assert f"--index-url '{PIP_INDEX}'" in config["data"]["superset_bootstrap.sh"]
