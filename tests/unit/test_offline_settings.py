"""Offline sites, the pure parts: the settings an offline site needs, charts from an OCI registry, the
preflight's message for an image outside the site registry, and the mirror's plan."""

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _images as I
from ansible_collections.magasin.platform.plugins.module_utils import _realm as R
from ansible_collections.magasin.platform.plugins.module_utils import _validate as VA
from ansible_collections.magasin.platform.plugins.module_utils import _values as V
from ansible_collections.magasin.platform.plugins.module_utils._cli import skip_to_json

SITE = "registry.site.example.org/magasin"


def variables(problems):
    return [p["variable"] for p in problems]


def test_offline_needs_the_site_registry_and_charts_from_the_site():
    found = VA.validate_globals({"magasin_offline": True, "magasin_chart_repo": "https://unicef.github.io/magasin"})
    assert {"magasin_image_registry", "magasin_chart_repo"} <= set(variables(found))
    message = [p for p in found if p["variable"] == "magasin_chart_repo"][0]
    assert "oci://" in str(message)


@pytest.mark.parametrize("settings", [
    {"magasin_offline": True, "magasin_image_registry": SITE, "magasin_chart_repo": "oci://%s/charts" % SITE},
    {"magasin_offline": "yes", "magasin_image_registry": SITE, "magasin_charts_dir": "/srv/charts"},
    {"magasin_offline": False, "magasin_chart_repo": "https://unicef.github.io/magasin"},
])
def test_offline_settings_that_pass(settings):
    assert not {"magasin_offline", "magasin_image_registry", "magasin_chart_repo"} & set(variables(VA.validate_globals(settings)))


def test_offline_superset_needs_a_package_index():
    offline = {"magasin_offline": True}
    assert "superset_pip_index_url" in variables(VA.validate_component("superset", {"superset_pip_index_url": ""}, offline))
    assert "superset_pip_index_url" not in variables(
        VA.validate_component("superset", {"superset_pip_index_url": "https://pypi.site.example.org/simple"}, offline))
    assert "superset_pip_index_url" not in variables(VA.validate_component("superset", {}, {"magasin_offline": False}))
    assert "superset_pip_index_url" not in variables(VA.validate_component("drill", {}, offline))


@pytest.mark.parametrize("url", ["pypi.site/simple", "https://u:p@pypi.site/simple", "https://pypi.site/it's"])
def test_bad_package_index(url):
    assert "superset_pip_index_url" in variables(VA.validate_component("superset", {"superset_pip_index_url": url}, {}))


def test_charts_from_an_oci_registry():
    sources = R.chart_sources({"magasin_chart_repo": "oci://%s/charts/" % SITE})
    assert sources["drill"]["chart"] == "oci://%s/charts/drill" % SITE
    assert sources["drill"]["repo_url"] == "" and sources["drill"]["version"] == V.CHART_VERSIONS["drill"]
    # A chart directory still wins.
    assert R.chart_sources({"magasin_chart_repo": "oci://x/charts", "magasin_charts_dir": "/c"})["tenant"]["chart"] == "/c/tenant-5.0.11.tgz"


def test_the_bootstrap_pip_index():
    model = {"sizing": V.sizing("lab"), "namespaces": {"superset": "magasin-superset", "drill": "magasin-drill"},
             "storage_class": "standard", "drill_url": "http://drill-service.magasin-drill.svc.cluster.local:8047", "s3": {}}
    online = V.component_values("superset", model, {})["superset"]["bootstrapScript"]
    offline = V.component_values("superset", model, {"pip_index_url": "https://pypi.site/simple"})["superset"]["bootstrapScript"]
    assert "--index-url" not in online
    assert "pip install --no-cache-dir --index-url 'https://pypi.site/simple' 'sqlalchemy-drill==1.1.5' 'psycopg2-binary'" in offline


def test_preflight_message_names_image_path_and_fix():
    entry = {"image": "evil.example.org/drill:1", "release": "drill", "path": "StatefulSet/drillbit/containers/drill-pod"}
    inside = dict(entry, image=SITE + "/merlos/drill:1")
    job = {"image": "quay.io/minio/mc:1", "release": "minio", "path": "Job/magasin-minio-setup/containers/mc",
           "variable": "minio_mc_image"}
    lines = I.problems([entry, inside, job], SITE)
    assert len(lines) == 2
    assert "evil.example.org/drill:1" in lines[0] and "StatefulSet/drillbit/containers/drill-pod" in lines[0]
    assert "drill_values" in lines[0] and SITE in lines[0]
    assert "minio_mc_image" in lines[1]


def test_chart_archives():
    plans = {"minio": {"releases": [{"name": "operator", "chart": "/c/operator-5.0.11.tgz"}, {"name": "tenant", "chart": "/c/tenant-5.0.11.tgz"}]},
             "drill": {"releases": [{"name": "drill", "chart": "/c/drill-0.9.0.tgz"}]},
             "again": {"releases": [{"name": "drill2", "chart": "/c/drill-0.9.0.tgz"}]}}
    assert I.chart_archives(plans) == [{"path": "/c/operator-5.0.11.tgz"}, {"path": "/c/tenant-5.0.11.tgz"}, {"path": "/c/drill-0.9.0.tgz"}]
    with pytest.raises(ValueError, match="magasin_charts_dir"):
        I.chart_archives({"drill": {"releases": [{"name": "drill", "chart": "oci://r/charts/drill"}]}})


def test_helm4_oci_pull_lines_before_json():
    out = 'Pulled: 127.0.0.1:5000/charts/drill:0.9.0\nDigest: sha256:45\n{"name": "drill"}\n'
    assert skip_to_json(out) == '{"name": "drill"}\n'
    assert skip_to_json('[{"a": 1}]') == '[{"a": 1}]'
    assert skip_to_json("no json") == "no json"
