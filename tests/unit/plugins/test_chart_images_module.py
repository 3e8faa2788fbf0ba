"""chart_images: the post-renderer files it writes (run here as Helm 3 and Helm 4 would run them) and its argv."""

import inspect
import json
import subprocess
import sys
from pathlib import Path

import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _images as I
from ansible_collections.magasin.platform.plugins.modules import chart_images as M

RENDER = Path(__file__).resolve().parents[1] / "fixtures" / "renders" / "dagster-registry.yaml"
REGISTRY = "registry.example.org/mirror"


def test_written_post_renderer_runs_as_helm3_and_helm4_run_it(tmp_path):
    files = M.renderer_files(str(tmp_path), sys.executable, inspect.getsource(I))
    M.write_files(files)
    args = M.renderer_args(REGISTRY, ["check-db-ready"], "")
    plugin = json.loads((tmp_path / "plugins" / M.PLUGIN / "plugin.yaml").read_text())
    command = plugin["runtimeConfig"]["platformCommand"][0]
    assert plugin["type"] == "postrenderer/v1" and command["command"] == sys.executable
    text = RENDER.read_text()
    for argv in ([str(tmp_path / "relocate")] + args, [command["command"], *command["args"]] + args):
        out = subprocess.run(argv, input=text, capture_output=True, text=True, check=True).stdout
        assert I.outside(I.images([d for d in yaml.safe_load_all(out) if d]), REGISTRY) == []
    # Written again only when the content differs.
    before = (tmp_path / "relocate").stat().st_mtime_ns
    M.write_files(files)
    assert (tmp_path / "relocate").stat().st_mtime_ns == before


def test_template_args():
    release = {"name": "drill", "namespace": "of1-drill", "repo_url": "https://charts.example.org"}
    oci = {"kind": "oci", "ref": "oci://r.site/m/charts/drill", "version": "0.9.0"}
    argv = M.template_args(release, oci, "magasin-relocate", ["registry=r.site/m", "container=zk-available"])
    assert argv[:3] == ["template", "drill", "oci://r.site/m/charts/drill"]
    assert "--no-hooks" not in argv and "--repo" not in argv
    assert argv[argv.index("--version") + 1] == "0.9.0"
    assert argv[-4:] == ["--post-renderer-args", "registry=r.site/m", "--post-renderer-args", "container=zk-available"]
    repo = M.template_args(release, {"kind": "repo", "ref": "drill", "version": "0.9.0"})
    assert repo[repo.index("--repo") + 1] == "https://charts.example.org" and "--post-renderer" not in repo
    assert M.renderer_args("r", [], "pull") == ["registry=r", "pull-secret=pull"]
