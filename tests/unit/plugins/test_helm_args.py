"""helm argv building and chart identification (module_utils/_helm.py)."""

import subprocess
from pathlib import Path

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _helm as h

ROOT = Path(__file__).resolve().parents[3]
PARAMS = {"repo_url": "https://unicef.github.io/magasin", "create_namespace": True, "wait": True,
          "wait_for_jobs": True, "timeout": "5m", "atomic": True, "skip_crds": False,
          "skip_schema_validation": True, "take_ownership": False, "post_renderer": None, "post_renderer_args": []}
REPO_CHART = {"kind": "repo", "ref": "drill", "name": "drill", "version": "0.9.0", "digest": None}


@pytest.mark.parametrize(("major", "flag", "absent"), [
    (3, "--atomic", "--rollback-on-failure"),
    (4, "--rollback-on-failure", "--atomic"),
])
def test_atomic_flag_per_helm_major(major, flag, absent):
    args = h.install_or_upgrade_args("install", "drill", "ns", REPO_CHART, PARAMS, major)
    assert flag in args and absent not in args


def test_install_args_put_values_on_stdin_and_pin_the_chart():
    args = h.install_or_upgrade_args("install", "drill", "magasin-drill", REPO_CHART, PARAMS, 3)
    assert args[:3] == ["install", "drill", "drill"]
    assert args[args.index("--values") + 1] == "-"
    assert args[args.index("--version") + 1] == "0.9.0"
    assert args[args.index("--repo") + 1] == PARAMS["repo_url"]
    assert "--create-namespace" in args and "--reset-values" not in args
    assert "--wait" in args and "--wait-for-jobs" in args and "--skip-schema-validation" in args
    assert args[args.index("--description") + 1] == "magasin.platform: drill-0.9.0"


def test_upgrade_resets_values_and_dry_run_does_not_wait():
    args = h.install_or_upgrade_args("upgrade", "drill", "ns", REPO_CHART, PARAMS, 4, dry_run=True)
    assert "--reset-values" in args and "--dry-run=server" in args
    assert "--wait" not in args and "--rollback-on-failure" not in args and "--create-namespace" not in args


def test_post_renderer_args():
    params = dict(PARAMS, post_renderer="kustomize-pr", post_renderer_args=["--a", "b"])
    args = h.install_or_upgrade_args("upgrade", "x", "ns", REPO_CHART, params, 4)
    assert args[args.index("--post-renderer") + 1] == "kustomize-pr"
    assert args.count("--post-renderer-args") == 2


def test_classify_chart(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c.tgz").write_bytes(b"x")
    assert h.classify_chart("oci://r/x") == "oci"
    assert h.classify_chart("drill", "https://x") == "repo"
    assert h.classify_chart(str(tmp_path / "c")) == "local"
    assert h.classify_chart(str(tmp_path / "c.tgz")) == "tgz"
    assert h.classify_chart("drill") is None


def test_desired_chart_errors_name_the_fix():
    with pytest.raises(ValueError, match="needs a pinned 'version'"):
        h.desired_chart("drill", "https://x")
    with pytest.raises(ValueError, match="repo_url"):
        h.desired_chart("no-such-chart-dir")
    assert h.desired_chart("oci://reg/charts/superset:0.13.4")["version"] == "0.13.4"
    assert h.desired_chart("oci://reg/charts/superset", version="1")["name"] == "superset"


def make_chart(path, version="0.1.0", template="kind: ConfigMap"):
    (path / "templates").mkdir(parents=True)
    (path / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: %s  # pinned\nappVersion: '1.0'\n" % version)
    (path / "values.yaml").write_text("a: 1\n")
    (path / "templates" / "cm.yaml").write_text(template)
    return path


def test_local_chart_digest_follows_content(tmp_path):
    chart = make_chart(tmp_path / "demo")
    first = h.desired_chart(str(chart))
    assert (first["name"], first["version"], first["kind"]) == ("demo", "0.1.0", "local")
    assert h.desired_chart(str(chart))["digest"] == first["digest"]
    (chart / "templates" / "cm.yaml").write_text("kind: Secret")
    assert h.desired_chart(str(chart))["digest"] != first["digest"]
    assert "chart-digest=" + first["digest"] in h.description_for(first)
    with pytest.raises(ValueError, match="is version 0.1.0"):
        h.desired_chart(str(chart), version="9.9.9")


def test_packaged_chart_digest_ignores_archive_metadata(tmp_path):
    chart = make_chart(tmp_path / "demo")
    helm = ROOT / ".venv" / "bin" / "helm3"
    digests = []
    for out in ("a", "b"):
        (tmp_path / out).mkdir()
        (chart / "values.yaml").touch()  # a new mtime in the archive, same content
        subprocess.run([str(helm), "package", str(chart), "--destination", str(tmp_path / out)], check=True,
                       capture_output=True)
        packaged = h.desired_chart(str(tmp_path / out / "demo-0.1.0.tgz"))
        assert packaged["kind"] == "tgz" and packaged["name"] == "demo" and packaged["version"] == "0.1.0"
        digests.append(packaged["digest"])
    assert digests[0] == digests[1]


def test_template_args_render_as_the_dry_run_would():
    args = h.template_args("upgrade", "drill", "ns", REPO_CHART, PARAMS)
    assert args[:3] == ["template", "drill", "drill"]
    assert args[args.index("--values") + 1] == "-" and "--no-hooks" in args and "--is-upgrade" in args
    assert args[args.index("--version") + 1] == "0.9.0" and args[args.index("--repo") + 1] == PARAMS["repo_url"]
    assert "--skip-schema-validation" in args
    assert "--is-upgrade" not in h.template_args("install", "drill", "ns", REPO_CHART, PARAMS)


MISSING_KIND = ('Error: INSTALLATION FAILED: unable to build kubernetes objects from release manifest: resource '
                'mapping not found for name: "minio" namespace: "t" from "": no matches for kind "Tenant" in version '
                '"minio.min.io/v2"\nensure CRDs are installed first\n')
NULL_FIELD = ('Error: INSTALLATION FAILED: server-side apply failed for object t/minio minio.min.io/v2, Kind=Tenant: '
              'Tenant.minio.min.io "minio" is invalid: spec.pools[0].volumeClaimTemplate.spec.storageClassName: '
              'Invalid value: "null": spec.pools[0].volumeClaimTemplate.spec.storageClassName in body must be of '
              'type string: "null"')


def test_missing_kinds_and_explanations():
    assert h.missing_kinds(MISSING_KIND) == [("Tenant", "minio.min.io/v2")]
    assert h.missing_kinds("Error: something else") == []
    assert "Tenant (minio.min.io/v2) is not served" in h.explain_error(MISSING_KIND)
    hint = h.explain_error(NULL_FIELD)
    assert hint.startswith("The API server refused null for spec.pools[0].volumeClaimTemplate.spec.storageClassName "
                           "of Tenant t/minio")
    assert "Helm 4" in hint and "tenant.pools[].storageClassName" in hint
    assert h.explain_error("Error: timed out waiting for the condition") is None
