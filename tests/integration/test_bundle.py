"""The offline bundle (issue 14): playbooks/bundle.yml from a local "public" registry, verify, diff, and
mirror.yml from the bundle into an empty site registry.

Two CNCF distribution registries on 127.0.0.1 (tests/support/registries.py, as test_offline.py): `public`
holds a tiny image under each upstream name the full platform's charts render (the bundle fails naming any
it misses), `site` starts empty. The bundle of all five components is built once (and once more, which must
change nothing); verify passes; mirror.yml reads the bundle (verified first, images pushed from its OCI
layouts, charts from its charts/) into the site registry, for one component; one byte of one image blob flipped makes verify,
and the mirror, fail naming that file; an upstream image moved to a new digest and a rebuild repair the
blob, pull only that image, and the diff against the first manifest names it. No cluster is read. Helm 4 only
unless MAGASIN_HELM asks (the renders are the same on both majors: test_offline.py).
"""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest
from realms import Playbook, helm4_unless_asked
from registries import Crane, Registry, make_tls

REALM = "bd1"
# Every image the full platform's charts (and the collection's Jobs) name, as upstream names them.
UPSTREAM = [
    "apachesuperset.docker.scarf.sh/apache/superset:4.1.1", "docker.io/apache/superset:dockerize",
    "docker.io/bitnami/minideb:stretch", "docker.io/bitnami/postgresql:14.6.0-debian-11-r13",
    "docker.io/bitnami/redis:7.0.10-debian-11-r4", "docker.io/library/busybox:latest", "docker.io/library/busybox:1.28",
    "docker.io/dagster/dagster-celery-k8s:1.9.3", "docker.io/dagster/user-code-example:1.9.3",
    "ghcr.io/dask/dask-gateway-server:2023.9.0", "ghcr.io/dask/dask-gateway:2023.9.0",
    "quay.io/jupyterhub/configurable-http-proxy:4.6.1", "quay.io/jupyterhub/k8s-hub:3.2.1",
    "quay.io/jupyterhub/k8s-network-tools:3.2.1", "docker.io/library/postgres:14.6", "docker.io/merlos/drill:1.21.2-2024-12",
    "docker.io/merlos/zookeeper:3.9.3", "quay.io/minio/mc:RELEASE.2023-11-20T16-30-59Z",
    "quay.io/minio/minio:RELEASE.2023-11-15T20-43-25Z", "quay.io/minio/operator:v5.0.11",
    "docker.io/pangeo/base-notebook:2024.01.03", "registry.k8s.io/pause:3.9", "docker.io/library/traefik:2.10.4",
]
CHARTS = {"operator": "5.0.11", "tenant": "5.0.11", "drill": "0.9.0", "dagster": "1.9.3", "daskhub": "2024.1.0",
          "superset": "0.13.4"}
MIRRORED = ["drill"]
MOVED = "docker.io/library/busybox:1.28"


def layer_blob(bundle, layout: str) -> str:
    """The bundle path of the first layer blob of the image in ``layout``."""
    index = json.loads((bundle / layout / "index.json").read_text())
    manifest = json.loads((bundle / layout / "blobs" / "sha256" / index["manifests"][0]["digest"][7:]).read_text())
    return f"{layout}/blobs/sha256/{manifest['layers'][0]['digest'][7:]}"


def push_moved(crane: Crane, ref: str, workdir) -> str:
    """A new image under ``ref`` (as upstream moves a tag): one layer unlike Crane.push_image's; its digest."""
    content = f"moved: {ref}\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("magasin-test-image")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    (workdir / "moved.tar").write_bytes(buf.getvalue())
    crane("append", "-f", str(workdir / "moved.tar"), "-t", ref)
    return crane.digest(ref) or ""


@pytest.fixture(scope="module")
def bundled(kubeconfig, helm_bin, charts_dir, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "the bundle renders the same on both majors")
    tmp = tmp_path_factory.mktemp("bundle")
    tls = make_tls(tmp / "tls")
    public = Registry("public", tmp / "public", tls)
    site = Registry("site", tmp / "site", tls)
    crane = Crane(tls[0])
    saved = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = str(tls[0])
    bundle = tmp / "magasin-bundle"
    try:
        digests = {image: crane.push_image(f"{public.host}/{image}", tmp) for image in UPSTREAM}
        registry = f"{site.host}/magasin"
        common = {"magasin_realm": REALM, "magasin_crane_binary": crane.binary}
        build_vars = dict(common, magasin_bundle_dir=str(bundle), magasin_bundle_source=public.host,
                          magasin_bundle_files=[{"path": crane.binary, "name": "crane"}])
        from_dir = Playbook(kubeconfig, helm_bin, {"magasin_charts_dir": str(charts_dir)})
        # No magasin_charts_dir from the command line: the mirror takes the bundle's charts/.
        inside = Playbook(kubeconfig, helm_bin, {})
        runs = {"build": from_dir("playbooks/bundle.yml", build_vars)}
        first = json.loads((bundle / "manifest.json").read_text()) if (bundle / "manifest.json").exists() else {}
        runs["again"] = from_dir("playbooks/bundle.yml", build_vars)
        runs["verify"] = from_dir("playbooks/bundle.yml", dict(common, magasin_bundle_dir=str(bundle), magasin_bundle_action="verify"))
        # The mirror of one component reads the bundle of all (test_offline.py mirrors three from a registry).
        mirror_vars = dict(common, magasin_image_registry=registry, magasin_mirror_bundle=str(bundle), magasin_components=MIRRORED)
        runs["mirror"] = inside("playbooks/mirror.yml", dict(mirror_vars, magasin_mirror_list=str(tmp / "list.json")))
        flipped = layer_blob(bundle, "images/docker.io/merlos/drill/1.21.2-2024-12") if first else ""
        if flipped:
            raw = bytearray((bundle / flipped).read_bytes())
            raw[len(raw) // 2] ^= 0x01
            (bundle / flipped).write_bytes(bytes(raw))
        runs["verify_flipped"] = from_dir("playbooks/bundle.yml", dict(common, magasin_bundle_dir=str(bundle), magasin_bundle_action="verify"))
        runs["mirror_flipped"] = inside("playbooks/mirror.yml", mirror_vars)
        (tmp / "first.json").write_text(json.dumps(first))
        moved = push_moved(crane, f"{public.host}/{MOVED}", tmp)
        runs["rebuild"] = from_dir("playbooks/bundle.yml", build_vars)
        runs["diff"] = from_dir("playbooks/bundle.yml", dict(common, magasin_bundle_dir=str(bundle), magasin_bundle_action="diff",
                                                             magasin_bundle_against=str(tmp / "first.json")))
        yield {"runs": runs, "registry": registry, "crane": crane, "digests": digests, "first": first, "flipped": flipped,
               "moved": moved, "bundle": bundle,
               "list": json.loads((tmp / "list.json").read_text()) if (tmp / "list.json").exists() else [],
               "last": json.loads((bundle / "manifest.json").read_text()) if (bundle / "manifest.json").exists() else {}}
    finally:
        if saved is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved
        public.stop()
        site.stop()


def test_the_bundle_holds_every_image_of_the_full_platform_by_digest_and_every_chart(bundled):
    bundled["runs"]["build"].ok()
    first = bundled["first"]
    assert {i["image"]: i["digest"] for i in first["images"]} == bundled["digests"]
    for image in first["images"]:
        assert image["paths"] and image["tag"] and image["size"] > 0 and image["layout"].startswith("images/")
    # On disk, the layouts of the last build (after one image moved upstream).
    for image in bundled["last"]["images"]:
        index = json.loads((bundled["bundle"] / image["layout"] / "index.json").read_text())
        assert [m["digest"] for m in index["manifests"]] == [image["digest"]], image["image"]
    assert {(c["name"], c["version"]) for c in first["charts"]} == set(CHARTS.items())
    assert [f["name"] for f in first["extra_files"]] == ["crane"]
    listed = {f["path"] for f in first["files"]}
    assert {c["path"] for c in first["charts"]} | {"files/crane"} <= listed
    assert all(any(p.startswith(i["layout"] + "/") for p in listed) for i in first["images"])


def test_a_second_bundle_with_the_same_pins_changes_nothing(bundled):
    run = bundled["runs"]["again"]
    run.ok()
    assert run.recap["changed"] == 0, run.output[-3000:]


def test_verify_passes_then_names_the_blob_with_one_byte_changed(bundled):
    bundled["runs"]["verify"].ok()
    run = bundled["runs"]["verify_flipped"]
    assert run.rc != 0
    assert bundled["flipped"] and f"{bundled['flipped']}: sha256 " in run.output
    assert "not the digest it is named by" in run.output
    # Only that file: every other path of the bundle goes unnamed.
    others = [f["path"] for f in bundled["first"]["files"] if f["path"] != bundled["flipped"]]
    assert [p for p in others if f"{p}:" in run.output] == []


def test_mirror_from_the_bundle_fills_an_empty_site_registry(bundled):
    bundled["runs"]["mirror"].ok()
    crane, registry, items = bundled["crane"], bundled["registry"], bundled["list"]
    assert {item["source"] for item in items} == {"docker.io/merlos/drill:1.21.2-2024-12", "docker.io/merlos/zookeeper:3.9.3",
                                                  "docker.io/library/busybox:latest"}
    for item in items:
        assert item["dest"].startswith(registry + "/") and item["layout"].startswith(str(bundled["bundle"]) + "/images/")
        assert crane.digest(item["dest"]) == bundled["digests"][item["source"]], item
    assert crane.digest(f"{registry}/charts/drill:{CHARTS['drill']}")
    assert crane.digest(f"{registry}/charts/superset:{CHARTS['superset']}") is None


def test_mirror_refuses_a_changed_bundle_before_any_copy(bundled):
    run = bundled["runs"]["mirror_flipped"]
    assert run.rc != 0 and f"{bundled['flipped']}: sha256 " in run.output
    assert "Every file of the bundle matches its manifest" in run.output and "Copy the images" not in run.output


def test_a_rebuild_repairs_the_bundle_and_the_diff_names_the_moved_image(bundled):
    run = bundled["runs"]["rebuild"]
    run.ok()
    last = {i["image"]: i["digest"] for i in bundled["last"]["images"]}
    assert last == dict(bundled["digests"], **{MOVED: bundled["moved"]}) and bundled["moved"] != bundled["digests"][MOVED]
    assert "(2 pulled)" in " ".join(run.output.split())
    diff = bundled["runs"]["diff"]
    diff.ok()
    text = " ".join(diff.output.split())  # the callback folds long lines
    assert f"changed image {MOVED}: {bundled['digests'][MOVED]} -> {bundled['moved']}" in text
    assert text.count("changed image ") == 1 and "added " not in text and "removed " not in text
