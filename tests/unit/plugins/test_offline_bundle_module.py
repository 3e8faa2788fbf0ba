"""offline_bundle's build decisions over a real bundle directory, crane's answers canned: check mode reports and
writes nothing, an image the bundle holds is not pulled, a file the plan no longer names goes, verify names a file."""

import json

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _offline_bundle as B
from ansible_collections.magasin.platform.plugins.modules import offline_bundle as M
from fake_module import FailJson, FakeModule

DIGEST = "sha256:" + "d" * 64
IMAGE = {"image": "docker.io/library/busybox:1.28", "source": "127.0.0.1:5001/docker.io/library/busybox:1.28",
         "layout": "images/docker.io/library/busybox/1.28", "paths": ["drill: X"]}


class Exited(Exception):
    pass


def module(params, check_mode=False):
    fake = FakeModule(dict({"action": "build", "images": [], "charts": [], "files": [], "against": None,
                            "crane_binary": "/bin/crane"}, **params),
                      [(lambda cmd: cmd[1] == "digest", (0, DIGEST + "\n", ""))], check_mode=check_mode)

    def exit_json(**result):
        raise Exited(result)
    fake.exit_json = exit_json
    return fake


def run(fake):
    with pytest.raises(Exited) as exc:
        M.BundleManager(fake).run()
    return exc.value.args[0]


def held_bundle(root):
    """A bundle that holds IMAGE at DIGEST, one stale chart and its manifest."""
    layout = root / IMAGE["layout"]
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "index.json").write_text(json.dumps({"manifests": [{"digest": DIGEST}]}))
    (root / "charts").mkdir()
    (root / "charts" / "old-1.0.0.tgz").write_bytes(b"old")
    data = B.manifest([dict(IMAGE, digest=DIGEST)], [], [], B.hash_tree(str(root)))
    (root / B.MANIFEST).write_text(json.dumps(data))
    return data


def test_check_mode_reports_the_pull_and_writes_nothing(tmp_path):
    fake = module({"path": str(tmp_path / "bundle"), "images": [IMAGE]}, check_mode=True)
    result = run(fake)
    assert result["changed"] and [i["action"] for i in result["images"]] == ["pull"]
    assert result["manifest"]["images"][0]["digest"] == DIGEST
    assert not (tmp_path / "bundle").exists()
    assert [c[1] for c in fake.commands] == ["digest"]


def test_an_image_the_bundle_holds_is_not_pulled_and_what_the_plan_dropped_goes(tmp_path):
    before = held_bundle(tmp_path)
    checked = run(module({"path": str(tmp_path), "images": [IMAGE]}, check_mode=True))
    assert checked["changed"] and checked["removed"] == ["charts/old-1.0.0.tgz"]
    assert (tmp_path / "charts" / "old-1.0.0.tgz").exists()
    fake = module({"path": str(tmp_path), "images": [IMAGE]})
    result = run(fake)
    assert [i["action"] for i in result["images"]] == ["present"] and [c[1] for c in fake.commands] == ["digest"]
    assert not (tmp_path / "charts" / "old-1.0.0.tgz").exists() and result["manifest"] != before
    again = run(module({"path": str(tmp_path), "images": [IMAGE]}))
    assert not again["changed"] and again["removed"] == []
    assert json.loads((tmp_path / B.MANIFEST).read_text()) == again["manifest"]


def test_verify_fails_naming_the_changed_file_and_diff_needs_against(tmp_path):
    held_bundle(tmp_path)
    assert run(module({"path": str(tmp_path), "action": "verify"}))["problems"] == []
    (tmp_path / IMAGE["layout"] / "index.json").write_text("{}")
    with pytest.raises(FailJson) as exc:
        M.BundleManager(module({"path": str(tmp_path), "action": "verify"})).run()
    assert exc.value.args[0]["msg"].startswith("the bundle %s does not match its manifest: %s/index.json: sha256 "
                                               % (tmp_path, IMAGE["layout"]))
    with pytest.raises(FailJson, match="needs against"):
        M.BundleManager(module({"path": str(tmp_path), "action": "diff"})).run()
