"""module_utils/_offline_bundle.py: the bundle's layout, manifest, verification, diff and the mirror's sources,
over renders of the real charts (tests/unit/fixtures/renders) and small trees written here."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _images as I
from ansible_collections.magasin.platform.plugins.module_utils import _offline_bundle as B

RENDERS = Path(__file__).resolve().parent / "fixtures" / "renders"


def public(name):
    return I.images([d for d in yaml.safe_load_all((RENDERS / (name + "-public.yaml")).read_text()) if d], name)


def test_layout_path_keeps_the_upstream_name_and_tag():
    assert B.layout_path("busybox") == "images/docker.io/library/busybox/latest"
    assert B.layout_path("quay.io/minio/operator:v5.0.11") == "images/quay.io/minio/operator/v5.0.11"
    assert B.layout_path("localhost:5000/x/y:1") == "images/localhost_5000/x/y/1"
    assert B.layout_path("quay.io/a/b@sha256:" + "a" * 64) == "images/quay.io/a/b/sha256-" + "a" * 64


def test_bundle_plan_lists_each_image_of_the_real_renders_once_with_where_it_is_set():
    entries = public("operator") + public("daskhub")
    plan = B.bundle_plan(entries, "127.0.0.1:5001")
    names = [p["image"] for p in plan]
    assert names == sorted(set(I.canonical(e["image"]) for e in entries))
    assert "quay.io/jupyterhub/k8s-hub:3.2.1" in names and "docker.io/pangeo/base-notebook:2024.01.03" in names
    hub = [p for p in plan if p["image"] == "quay.io/jupyterhub/k8s-hub:3.2.1"][0]
    assert hub["source"] == "127.0.0.1:5001/quay.io/jupyterhub/k8s-hub:3.2.1"
    assert hub["layout"] == "images/quay.io/jupyterhub/k8s-hub/3.2.1"
    assert hub["paths"] and all(p.startswith("daskhub: ") for p in hub["paths"])
    # The operator's own image, and as the sidecar it injects: one image, two places.
    operator = [p for p in plan if p["image"] == "quay.io/minio/operator:v5.0.11"][0]
    assert len(operator["paths"]) >= 2
    assert B.bundle_plan(entries)[0]["source"] == B.bundle_plan(entries)[0]["image"]


def test_bundle_plan_refuses_two_images_in_one_directory():
    with pytest.raises(ValueError, match="share the bundle directory"):
        B.bundle_plan([{"image": "r.example.org:5000/a:1"}, {"image": "r.example.org_5000/a:1"}])


def test_layout_digest_needs_exactly_one_manifest():
    digest = "sha256:" + "b" * 64
    assert B.layout_digest({"manifests": [{"digest": digest}]}) == digest
    for index in ({"manifests": []}, {"manifests": [{"digest": digest}, {"digest": digest}]}, None):
        with pytest.raises(ValueError, match="not one"):
            B.layout_digest(index)


def write(root, rel, data):
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def a_bundle(root):
    """A bundle with one image layout (blobs named by their content), one chart and one file, and its manifest."""
    layer, config = b"layer bytes", b"{}"
    blobs = {hashlib.sha256(b).hexdigest(): b for b in (layer, config)}
    manifest_bytes = json.dumps({"layers": [{"digest": "sha256:" + hashlib.sha256(layer).hexdigest()}]}).encode()
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    blobs[digest] = manifest_bytes
    layout = "images/docker.io/library/busybox/1.28"
    for hexdigest, data in blobs.items():
        write(root, "%s/blobs/sha256/%s" % (layout, hexdigest), data)
    write(root, layout + "/index.json", json.dumps({"manifests": [{"digest": "sha256:" + digest}]}).encode())
    write(root, layout + "/oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    write(root, "charts/drill-0.9.0.tgz", b"chart")
    write(root, "files/helm", b"binary")
    images = [{"image": "docker.io/library/busybox:1.28", "source": "docker.io/library/busybox:1.28", "layout": layout,
               "digest": "sha256:" + digest, "paths": ["drill: StatefulSet/drillbit/initContainers/zk-available"]}]
    charts = [{"name": "drill", "version": "0.9.0", "path": "charts/drill-0.9.0.tgz"}]
    files = [{"name": "helm", "path": "files/helm", "source": "/usr/local/bin/helm"}]
    data = B.manifest(images, charts, files, B.hash_tree(str(root)))
    write(root, B.MANIFEST, json.dumps(data).encode())
    return data, layout, hashlib.sha256(layer).hexdigest()


def test_manifest_names_every_image_chart_and_file_with_its_sha256_and_is_the_same_for_the_same_tree(tmp_path):
    data, layout, dummy = a_bundle(tmp_path)
    assert data["format"] == B.FORMAT
    image = data["images"][0]
    assert (image["name"], image["tag"], image["layout"]) == ("docker.io/library/busybox", "1.28", layout)
    assert image["size"] == sum(f["size"] for f in data["files"] if f["path"].startswith(layout + "/"))
    assert data["charts"][0]["sha256"] == hashlib.sha256(b"chart").hexdigest() and data["charts"][0]["size"] == 5
    assert data["extra_files"][0]["sha256"] == hashlib.sha256(b"binary").hexdigest()
    assert [f["path"] for f in data["files"]] == sorted(f["path"] for f in data["files"])
    assert B.MANIFEST not in [f["path"] for f in data["files"]] and len(data["files"]) == 7
    again = B.manifest([dict(data["images"][0], image="docker.io/library/busybox:1.28")], data["charts"],
                       data["extra_files"], B.hash_tree(str(tmp_path)))
    assert again == data


def test_verify_passes_on_the_bundle_and_names_the_blob_after_one_byte_changes(tmp_path):
    data, layout, layer = a_bundle(tmp_path)
    assert B.verify(data, B.hash_tree(str(tmp_path))) == []
    blob = tmp_path / layout / "blobs" / "sha256" / layer
    raw = bytearray(blob.read_bytes())
    raw[3] ^= 0x01
    blob.write_bytes(bytes(raw))
    problems = B.verify(data, B.hash_tree(str(tmp_path)))
    name = "%s/blobs/sha256/%s" % (layout, layer)
    assert len(problems) == 2 and all(p.startswith(name + ": ") for p in problems)
    assert "the manifest says sha256 %s" % layer in problems[0]
    assert "not the digest it is named by" in problems[1]


def test_verify_names_a_blob_whose_manifest_entry_was_rewritten_to_match(tmp_path):
    data, layout, layer = a_bundle(tmp_path)
    blob = tmp_path / layout / "blobs" / "sha256" / layer
    blob.write_bytes(b"other bytes")
    forged = B.manifest(data["images"], data["charts"], data["extra_files"], B.hash_tree(str(tmp_path)))
    assert B.verify(forged, B.hash_tree(str(tmp_path))) == [
        "%s/blobs/sha256/%s: its content has sha256 %s, not the digest it is named by"
        % (layout, layer, hashlib.sha256(b"other bytes").hexdigest())]


def test_verify_names_missing_and_unlisted_files_and_refuses_another_format(tmp_path):
    data, layout, dummy = a_bundle(tmp_path)
    (tmp_path / "charts" / "drill-0.9.0.tgz").unlink()
    write(tmp_path, "files/extra", b"x")
    problems = B.verify(data, B.hash_tree(str(tmp_path)))
    assert problems[0].startswith("charts/drill-0.9.0.tgz: missing") and problems[1].startswith("files/extra: not in the manifest")
    assert len(problems) == 2
    assert "not a magasin offline bundle manifest" in B.verify({"format": "other"}, {})[0]
    listed = dict(data, files=[f for f in data["files"] if f["path"] != layout + "/index.json"])
    assert any(p.startswith(layout + "/index.json: the layout of docker.io/library/busybox:1.28")
               for p in B.verify(listed, {}))


def test_diff_lists_what_a_change_board_reads():
    old = {"images": [{"image": "a:1", "digest": "sha256:1"}, {"image": "b:1", "digest": "sha256:2"}],
           "charts": [{"name": "drill", "version": "0.9.0", "sha256": "x"}], "extra_files": [{"name": "helm", "sha256": "h"}]}
    new = {"images": [{"image": "a:1", "digest": "sha256:9"}, {"image": "c:1", "digest": "sha256:3"}],
           "charts": [{"name": "drill", "version": "0.9.1", "sha256": "y"}], "extra_files": [{"name": "helm", "sha256": "h"}]}
    assert B.diff(old, new) == ["changed image a:1: sha256:1 -> sha256:9", "removed image b:1: sha256:2",
                                "added image c:1: sha256:3", "changed chart drill: 0.9.0 (sha256 x) -> 0.9.1 (sha256 y)"]
    assert B.diff(new, new) == []


def test_bundle_sources_read_each_image_from_its_layout_and_name_what_the_bundle_lacks():
    data = {"images": [{"image": "docker.io/library/busybox:1.28", "layout": "images/docker.io/library/busybox/1.28",
                        "digest": "sha256:" + "c" * 64}]}
    plan = [{"source": "docker.io/library/busybox:1.28", "dest": "r.site/m/library/busybox:1.28", "paths": ["drill: X"]}]
    out = B.bundle_sources(plan, data, "/media/bundle/")
    assert out == [dict(plan[0], layout="/media/bundle/images/docker.io/library/busybox/1.28", digest="sha256:" + "c" * 64)]
    plan.append({"source": "quay.io/minio/mc:RELEASE.1", "dest": "r.site/m/minio/mc:RELEASE.1", "paths": ["tenant: Job/x"]})
    with pytest.raises(ValueError, match=r"does not hold quay.io/minio/mc:RELEASE.1 \(tenant: Job/x\)"):
        B.bundle_sources(plan, data, "/media/bundle")


def test_planned_paths_keep_the_plan_and_file_entries_need_a_plain_name():
    keep = B.planned_paths([{"layout": "images/q/a/1"}], [{"path": "charts/a-1.tgz"}], [{"path": "files/helm"}])
    assert keep("images/q/a/1/index.json") and keep("charts/a-1.tgz") and keep("files/helm")
    assert not keep("images/q/a/10/index.json") and not keep("charts/b-1.tgz")
    assert B.file_entry({"path": "/usr/bin/helm"}) == {"name": "helm", "path": "files/helm", "source": "/usr/bin/helm"}
    with pytest.raises(ValueError, match="plain name"):
        B.file_entry({"path": "/tmp/x", "name": "a/b"})
