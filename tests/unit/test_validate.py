"""Validators of every inventory input (module_utils/_validate.py): a good and a bad value per variable."""

import json
import os

import pytest
import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _validate as v

HERE = os.path.dirname(os.path.abspath(__file__))

# (variable, good values, bad values with a fragment the message must hold)
GLOBALS = [
    ("magasin_components", [["minio", "drill"], [], list(v.KNOWN_COMPONENTS)],
     [(["minio", "hadoop"], "unknown components"), ("minio,drill", "not a list: write [minio, drill]"),
      (["drill", "drill"], "twice"), ({"minio": True}, "not a list")]),
    ("magasin_realm", ["magasin", "magasin-dev", "a", "r" * 30, "ab-cd-2"],
     [("Magasin", "not valid"), ("r" * 31, "at most 30"), ("1realm", "not valid"), ("realm-", "not valid"),
      ("my_realm", "not valid"), (12, "quote it")]),
    ("magasin_profile", ["lab", "small", "production"], [("huge", "unknown"), ("Lab", "unknown"), (None, "not a string")]),
    ("magasin_state", ["present", "absent"], [("installed", "not one of present, absent"), (True, "not a string")]),
    ("magasin_charts_dir", ["", HERE], [("/no/such/charts", "not a directory"), (["/a"], "not a string")]),
    ("magasin_chart_repo", ["https://unicef.github.io/magasin", "http://127.0.0.1:8879", "oci://ghcr.io/unicef/charts"],
     [("unicef.github.io/magasin", "not a URL"), ("ftp://x.org/charts", "scheme must be"),
      ("https://user:pw@x.org", "credentials"), ("https://", "no valid host")]),
    ("magasin_image_registry", ["", "registry.example.org", "registry.example.org/magasin", "localhost:5000/m/",
                                "10.0.0.5:5000", "docker.io/unicef"],
     [("https://registry.example.org", "has a scheme"), ("registry.example.org/magasin:1.0", "holds a tag"),
      ("registry.example.org/m@sha256:" + "a" * 64, "digest"), ("magasin", "registry host"),
      ("registry.example.org/Magasin", "path"), ("registry.example.org:99999", "registry host")]),
    ("magasin_storage_class", ["", "standard", "gp3.encrypted", "local-path"],
     [("Standard", "StorageClass name"), ("fast_ssd", "StorageClass name"), (["standard"], "not a string")]),
    ("magasin_ingress_class", ["", "nginx", "traefik"], [("NGINX", "IngressClass name"), (1, "quote it")]),
    ("magasin_kubeconfig", ["", "~/.kube/config"], [(["a", "b"], "not a string")]),
    ("magasin_context", ["", "kind-magasin", "arn:aws:eks:eu-west-1:1:cluster/x"], [({"name": "x"}, "not a string")]),
    ("magasin_helm_binary", ["", "sh", "/bin/sh"], [("/no/such/helm", "not an executable"), ("no-such-helm-binary", "PATH")]),
    ("magasin_kubectl_binary", ["", "/bin/sh"], [(os.path.abspath(__file__), "not an executable"), (False, "not a string")]),
    ("magasin_bucket", ["magasin", "my.bucket-1", "abc"],
     [("ab", "3 to 63"), ("Magasin", "lowercase"), ("my_bucket", "lowercase"), ("a..b", "lowercase"),
      ("192.168.1.1", "IP address"), ("xn--bucket", "xn--"), ("b" * 64, "3 to 63"), ("-bucket", "lowercase")]),
    ("magasin_s3_endpoint", ["", "https://s3.example.org", "http://10.0.0.5:9000", "https://s3.example.org/"],
     [("s3.example.org", "not a URL"), ("https://s3.example.org/bucket", "without a path"),
      ("s3://bucket", "scheme must be"), ("https://s3.example.org?x=1", "without")]),
    ("magasin_s3_access_key", ["", "AKIAEXAMPLE"], [(12345, "quote it"), (["k"], "not a string")]),
    ("magasin_s3_secret_key", ["", "secret/key+value"], [(None, "not a string")]),
    ("magasin_timeout", ["10m", "1h30m", "90s", "1.5h", "300ms", "2h45m10s"],
     [("ten minutes", "not a Go duration"), ("10", "not a Go duration"), (600, "Go duration with a unit"),
      ("10min", "not a Go duration"), ("0", "positive"), ("-5m", "positive"), ("", "not a Go duration")]),
    ("magasin_check_cluster_fit", [True, False, "yes", "no", "True", "false", "on", 0, 1],
     [("maybe", "not a boolean"), (2, "not a boolean"), ([], "not a boolean"), (None, "not a boolean")]),
    ("magasin_sizing", [{}, {"drill": {"drillbit": {"replicas": 2, "requests": {"cpu": "1", "memory": "4Gi"}}}},
                        {"minio": {"pool": {"size": "20Gi", "volumes_per_server": 2}}},
                        {"superset": {"node": {"requests": {"cpu": 0.5}, "limits": {"cpu": 2}}}}],
     [("drill: {}", "not a dict"), ({"hadoop": {}}, "unknown component"), ({"drill": {"master": {}}}, "unknown workload"),
      ({"drill": {"drillbit": {"replicas": "2"}}}, "whole number"), ({"drill": {"drillbit": {"replicas": -1}}}, "whole number"),
      ({"drill": {"drillbit": {"requests": {"memory": "4gb"}}}}, "not a Kubernetes quantity"),
      ({"drill": {"drillbit": {"requests": {"memory": "512m"}}}}, "thousandths"),
      ({"drill": {"drillbit": {"requests": {"gpu": 1}}}}, "not a resource"),
      ({"drill": {"drillbit": {"cpu": 1}}}, "not a sizing key"),
      ({"drill": {"drillbit": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}}, "above limits"),
      ({"drill": {"drillbit": {"requests": "1"}}}, "dict of cpu and memory"),
      ({"drill": {"drillbit": 2}}, "must be a dict"), ({"minio": {"operator": {"replicas": 2}}}, "unknown workload")]),
]

CHART_REPO = "https://unicef.github.io/magasin"

# (component, variable, good values, bad values with a fragment the message must hold)
COMPONENTS = [
    ("minio", "minio_state", ["present", "absent"], [("gone", "not one of")]),
    ("minio", "minio_operator_namespace", ["magasin-operator"], [("Magasin_Operator", "namespace name")]),
    ("minio", "minio_operator_release", ["operator", "minio-operator"], [("Operator", "release name"), ("o" * 54, "at most 53")]),
    ("minio", "minio_operator_values", [{}, {"operator": {"replicaCount": 1}}], [("operator: {replicaCount: 1}", "not a dict")]),
    ("minio", "minio_tenant_name", ["myminio", "t1"], [("MyMinio", "Tenant name"), ("t" * 43, "at most 42")]),
    ("minio", "minio_tenant_values", [{}], [(["a"], "not a dict"), (None, "not a dict")]),
    ("minio", "minio_console_enabled", [True, "false"], [("disabled", "not a boolean")]),
    ("minio", "minio_api_host", ["", "s3.example.org"], [("https://s3.example.org", "is a URL"), ("s3.example.org:9000", "port or path")]),
    ("minio", "minio_console_host", ["", "*.minio.example.org"], [("Console.example.org", "capitals"), ("10.0.0.1", "IP address")]),
    ("minio", "minio_root_user", ["", "admin", "magasin-root"], [("ab", "shorter than 3"), ('us"er', "config.env"), (123, "quote it")]),
    ("minio", "minio_root_password", ["", "12345678", "long-enough-password"],
     [("short", "shorter than 8"), ("pa$$word123", "config.env"), (12345678, "quote it")]),
    ("minio", "minio_mc_image", ["quay.io/minio/mc:RELEASE.2023-11-20T16-30-59Z", "minio/mc:latest",
                                 "localhost:5000/mc@sha256:" + "0" * 64],
     [("quay.io/minio/mc", "no tag"), ("https://quay.io/minio/mc:1", "scheme"), ("quay.io/Minio/mc:1", "not an image reference")]),
    ("minio", "minio_operator_sizing", [{}, {"operator": {"replicas": 1, "requests": {"cpu": "200m", "memory": "256Mi"}}}],
     [({"pool": {}}, "unknown workload"), ({"console": {"replicas": "one"}}, "whole number"), ("big", "not a dict")]),
    ("drill", "drill_state", ["present"], [("Present", "not one of")]),
    ("drill", "drill_s3_plugin", ["s3", "s3_data"], [("S3", "lowercase"), ("s3-data", "lowercase"), ("", "lowercase")]),
    ("drill", "drill_values", [{}, {"drill": {"count": 2}}], [("drill:\n  count: 2\n", "not a dict")]),
    ("dagster", "dagster_skip_schema_validation", [True, "yes"], [("sometimes", "not a boolean")]),
    ("dagster", "dagster_user_deployments",
     [[], [{"name": "etl", "image": {"repository": "registry.example.org/etl", "tag": "1.0"},
            "dagsterApiGrpcArgs": ["--module-name", "etl"], "port": 3030}],
      [{"name": "k8s-example-user-code-1", "image": {"repository": "docker.io/dagster/user-code-example", "pullPolicy": "IfNotPresent"},
        "dagsterApiGrpcArgs": ["--python-file", "/example_project/example_repo/repo.py"], "port": 3030}]],
     [({"name": "etl"}, "not a list"), ("etl", "not a list"), ([{"image": {"repository": "x"}}], "DNS label"),
      ([{"name": "etl", "image": "registry.example.org/etl:1.0", "dagsterApiGrpcArgs": ["-m", "etl"], "port": 3030}], "image must be a dict"),
      ([{"name": "etl", "image": {"repository": "r.org/etl:1.0"}, "dagsterApiGrpcArgs": ["-m"], "port": 3030}], "without tag"),
      ([{"name": "etl", "image": {"repository": "r.org/etl", "tag": 1.0}, "dagsterApiGrpcArgs": ["-m"], "port": 3030}], "quoted tag"),
      ([{"name": "etl", "image": {"repository": "r.org/etl"}, "dagsterApiGrpcArgs": "-m etl", "port": 3030}], "list of strings"),
      ([{"name": "etl", "image": {"repository": "r.org/etl"}, "dagsterApiGrpcArgs": ["-m"], "port": "3030"}], "port must be"),
      ([{"name": "etl", "image": {"repository": "r.org/etl"}, "dagsterApiGrpcArgs": ["-m"], "port": 3030}] * 2, "twice")]),
    ("dagster", "dagster_postgresql_password", ["", "p@ss:w/rd"], [(1234, "quote it")]),
    ("dagster", "dagster_webserver_host", ["", "dagster.example.org"], [("http://dagster.example.org/", "is a URL")]),
    ("dagster", "dagster_values", [{}], [("", "not a dict")]),
    ("daskhub", "daskhub_release", ["", "daskhub", "daskhub-dev"], [("DaskHub", "release name"), ("d" * 41, "longer than 40")]),
    ("daskhub", "daskhub_notebook_password", ["", "anything goes"], [(["x"], "not a string")]),
    ("daskhub", "daskhub_gateway_api_token", ["", "0123456789abcdef"], [("short", "at least 8"), ("has a space", "whitespace")]),
    ("daskhub", "daskhub_admin_users", [[], ["admin"], ["admin", "alice@example.org"]],
     [("admin", "not a list: write [admin]"), (["admin", ""], "not a user name"), (["al ice"], "not a user name"),
      (["a", "a"], "twice"), ([1], "not a user name")]),
    ("daskhub", "daskhub_host", ["", "jupyter.example.org"], [("https://jupyter.example.org", "is a URL")]),
    ("daskhub", "daskhub_values", [{}], [(["jupyterhub"], "not a dict")]),
    ("superset", "superset_admin_user", ["admin", "jane.doe"], [("jane doe", "letters, digits"), ("", "letters, digits")]),
    ("superset", "superset_admin_email", ["admin@example.org"], [("admin", "not an e-mail"), ("a@b", "not an e-mail")]),
    ("superset", "superset_admin_password", ["", "s3cret-Pass"],
     [("admin", "public default"), ("ADMIN", "public default"), (" padded ", "whitespace")]),
    ("superset", "superset_secret_key", ["", "a-long-random-key"], [("CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "refuses")]),
    ("superset", "superset_postgresql_password", ["", "Simple-Pass_123"], [("p@ss", "connection URL"), ("a/b", "connection URL")]),
    ("superset", "superset_redis_password", ["", "redispass"], [("pa:ss", "connection URL"), ("50%", "connection URL")]),
    ("superset", "superset_drill_database_name", ["Drill"], [("  ", "is empty"), (None, "not a string")]),
    ("superset", "superset_drill_schema", ["s3"], [("S3", "lowercase")]),
    ("superset", "superset_drill_driver", ["sqlalchemy-drill==1.1.5", "sqlalchemy-drill", "sqlalchemy-drill>=1.1,<2"],
     [("pip install sqlalchemy-drill", "not a pip requirement"), ("", "not a pip requirement")]),
    ("superset", "superset_host", ["", "superset.example.org"], [("https://superset.example.org", "is a URL")]),
    ("superset", "superset_values", [{}], [("{}", "not a dict")]),
]

CHART_VARIABLES = [
    (component, prefix) for component, charts in v.CHARTS.items() for prefix, _version in charts
]


@pytest.mark.parametrize("variable, good, bad", GLOBALS, ids=[g[0] for g in GLOBALS])
def test_global_good_values_pass(variable, good, bad):
    del bad
    for value in good:
        base = {"magasin_s3_access_key": "AK", "magasin_s3_secret_key": "SK", "magasin_charts_dir": HERE}
        assert v.validate_globals(dict(base, **{variable: value})) == [], value


@pytest.mark.parametrize("variable, good, bad", GLOBALS, ids=[g[0] for g in GLOBALS])
def test_global_bad_values_fail_naming_the_variable(variable, good, bad):
    del good
    for value, fragment in bad:
        problems = v.validate_globals({variable: value})
        assert [p["variable"] for p in problems] == [variable], (value, problems)
        assert fragment in problems[0]["message"], (value, problems[0]["message"])
        line = v.format_problems(problems)
        assert line.startswith(variable + ": ") and (", e.g. %s: " % variable) in line


@pytest.mark.parametrize("component, variable, good, bad", COMPONENTS, ids=[c[1] for c in COMPONENTS])
def test_component_good_values_pass(component, variable, good, bad):
    del bad
    for value in good:
        assert v.validate_component(component, {variable: value}, {}) == [], value


@pytest.mark.parametrize("component, variable, good, bad", COMPONENTS, ids=[c[1] for c in COMPONENTS])
def test_component_bad_values_fail_naming_the_variable(component, variable, good, bad):
    del good
    for value, fragment in bad:
        problems = v.validate_component(component, {variable: value}, {})
        assert [p["variable"] for p in problems] == [variable], (value, problems)
        assert fragment in problems[0]["message"], (value, problems[0]["message"])
        assert ", e.g. %s: " % variable in v.format_problems(problems)


@pytest.mark.parametrize("component, prefix", CHART_VARIABLES, ids=[p for _c, p in CHART_VARIABLES])
def test_chart_variables(component, prefix, tmp_path):
    pinned = dict(v.CHARTS[component])[prefix]
    good = {prefix + "_version": pinned, prefix + "_repo": CHART_REPO, prefix + "_ref": ""}
    assert v.validate_component(component, good, {"magasin_chart_repo": CHART_REPO}) == []
    archive = tmp_path / "chart.tgz"
    archive.write_text("")
    assert v.validate_component(component, dict(good, **{prefix + "_ref": str(archive)}), {}) == []
    assert v.validate_component(component, dict(good, **{prefix + "_ref": "oci://ghcr.io/x/chart"}), {}) == []

    assert v.validate_component(component, dict(good, **{prefix + "_version": "", prefix + "_repo": ""}), {}) == []
    for version, fragment in (("latest", "exact chart version"), ("1.0", "exact chart version"), (1.1, "quote it"), ("v1.0.0", "exact")):
        problems = v.validate_component(component, dict(good, **{prefix + "_version": version}), {})
        assert [p["variable"] for p in problems] == [prefix + "_version"] and fragment in problems[0]["message"]
        assert problems[0]["example"] == pinned
    for repo, fragment in (("unicef.github.io/magasin", "not a URL"), ("file:///charts", "scheme")):
        problems = v.validate_component(component, dict(good, **{prefix + "_repo": repo}), {})
        assert [p["variable"] for p in problems] == [prefix + "_repo"] and fragment in problems[0]["message"]
    for ref, fragment in (("https://charts.example.org", "repository URL"), ("/no/such/chart.tgz", "does not exist")):
        problems = v.validate_component(component, dict(good, **{prefix + "_ref": ref}), {})
        assert [p["variable"] for p in problems] == [prefix + "_ref"] and fragment in problems[0]["message"]
    # The preflight checks every chart's source with the globals, before realm_info asks helm about them.
    problems = v.validate_globals({prefix + "_version": "latest", prefix + "_repo": "x.org"})
    assert [p["variable"] for p in problems] == [prefix + "_version", prefix + "_repo"]


def test_every_example_is_itself_valid():
    """The example each rule prints passes that rule (placeholders for secrets aside), and holds no Jinja."""
    for variable, check, example in v.GLOBAL_RULES + tuple(r for rules in v.COMPONENT_RULES.values() for r in rules):
        if callable(example):
            example = example("")
        assert "{{" not in example and "{%" not in example, (variable, example)
        if example.startswith("<"):
            continue  # a placeholder for a secret
        if variable in ("magasin_charts_dir", "magasin_helm_binary", "magasin_kubectl_binary"):
            continue  # paths on the user's controller
        value = yaml.safe_load(example)
        assert check(value) is None, (variable, example, check(value))


def test_host_example_is_the_host_of_the_url_given():
    problems = v.validate_component("superset", {"superset_host": "https://Superset.Example.org:8443/app"}, {})
    assert problems[0]["example"] == "superset.example.org"
    assert "superset_host: 'https://Superset.Example.org:8443/app' is a URL" in v.format_problems(problems)


def test_secrets_are_never_echoed():
    secrets = {"minio_root_password": "abc$1", "superset_postgresql_password": "p@ssword-xyz", "superset_admin_password": "admin"}
    for variable, value in secrets.items():
        component = variable.split("_", 1)[0]
        problems = v.validate_component(component, {variable: value}, {})
        assert problems, variable
        text = v.format_problems(problems)
        assert value not in text.replace("'admin'", "") or value == "admin"
    problems = v.validate_component("daskhub", {"daskhub_gateway_api_token": "tok"}, {})
    assert "tok" not in problems[0]["message"].replace("token", "")


def test_external_s3_needs_both_keys():
    base = {"magasin_s3_endpoint": "https://s3.example.org", "magasin_s3_access_key": "AK", "magasin_s3_secret_key": "SK"}
    assert v.validate_globals(base) == []
    for missing in ("magasin_s3_access_key", "magasin_s3_secret_key"):
        problems = v.validate_globals(dict(base, **{missing: ""}))
        assert [p["variable"] for p in problems] == [missing]
        assert "magasin_s3_endpoint" in problems[0]["message"]


def test_chart_repo_and_dir_both_empty():
    problems = v.validate_globals({"magasin_chart_repo": "", "magasin_charts_dir": ""})
    assert [p["variable"] for p in problems] == ["magasin_chart_repo"]
    assert v.validate_globals({"magasin_chart_repo": "", "magasin_charts_dir": HERE}) == []


def test_hosts_are_checked_with_the_globals():
    """The cluster check reads the hosts before the component roles run: their form is checked first."""
    problems = v.validate_globals({"hosts": {"minio_api_host": "https://s3.example.org", "superset_host": "superset.example.org"}})
    assert [p["variable"] for p in problems] == ["minio_api_host"] and problems[0]["example"] == "s3.example.org"
    problems = v.validate_globals({"hosts": [{"variable": "daskhub_host", "host": "Jupyter.example.org"}]})
    assert [p["variable"] for p in problems] == ["daskhub_host"]
    assert v.validate_globals({"hosts": ["superset.example.org", "https://unnamed.example.org"]}) == []


def test_same_host_for_minio_api_and_console():
    problems = v.validate_component("minio", {"minio_api_host": "s3.example.org", "minio_console_host": "s3.example.org"}, {})
    assert [p["variable"] for p in problems] == ["minio_console_host"]


def test_unknown_component():
    assert v.validate_component("hadoop", {}, {})[0]["variable"] == "magasin_components"


def test_defaults_of_the_roles_pass():
    """Every role's defaults/main.yml (templated defaults resolved as the roles do) passes."""
    root = os.path.dirname(os.path.dirname(HERE))
    with open(os.path.join(root, "roles", "_common", "defaults", "main.yml")) as handle:
        globals_ = yaml.safe_load(handle)
    globals_["magasin_sizing"] = {}
    assert v.validate_globals(globals_) == []
    for component in v.KNOWN_COMPONENTS:
        with open(os.path.join(root, "roles", component, "defaults", "main.yml")) as handle:
            inputs = yaml.safe_load(handle)
        inputs = {k: (globals_["magasin_chart_repo"] if "magasin_chart_repo" in str(val) else
                      globals_["magasin_state"] if "magasin_state" in str(val) else val) for k, val in inputs.items()}
        assert v.validate_component(component, inputs, globals_) == [], component


# ---------------------------------------------------------------- parsers

@pytest.mark.parametrize("text, seconds", [
    ("10m", 600), ("1h30m", 5400), ("90s", 90), ("0", 0), ("-0", 0), ("+5s", 5), ("1.5h", 5400), (".5s", 0.5),
    ("1.s", 1), ("300ms", 0.3), ("1us", 1e-6), ("1\u00b5s", 1e-6), ("2ns", 2e-9), ("1h1m1s", 3661), ("-1m", -60),
    ("1m1m", 120),
])
def test_parse_duration(text, seconds):
    assert v.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "m", "1hm", "1h30", "10min", "1d", "ten", " 10m", "10m ", "1,5h", ".s", "00", "--1s", "1H"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        v.parse_duration(text)


@pytest.mark.parametrize("value, number", [
    ("500m", 0.5), ("1", 1), (1, 1), (0.25, 0.25), ("2Gi", 2 * 2 ** 30), ("512Mi", 512 * 2 ** 20), ("1G", 1e9),
    ("1k", 1000), ("1Ki", 1024), ("1e3", 1000), ("1E3", 1000), ("1.5Gi", 1.5 * 2 ** 30), (".5", 0.5), ("5.", 5),
    ("+1", 1), ("100n", 1e-7), ("3Ei", 3 * 2 ** 60),
])
def test_parse_quantity(value, number):
    assert v.parse_quantity(value) == pytest.approx(number)


@pytest.mark.parametrize("value", ["", "1g", "1K", "1gi", "1GB", "1 Gi", " 1", "Gi", "1.2.3", True, None, [], "1e", "0x10"])
def test_parse_quantity_refuses(value):
    with pytest.raises(ValueError):
        v.parse_quantity(value)


@pytest.mark.parametrize("value, expected", [(True, True), ("yes", True), ("On", True), (1, True), ("0", False),
                                             ("FALSE", False), ("n", False), (False, False)])
def test_as_bool(value, expected):
    assert v.as_bool(value) is expected


@pytest.mark.parametrize("value", ["maybe", 2, None, [], 0.5, "enabled"])
def test_as_bool_refuses(value):
    with pytest.raises(ValueError):
        v.as_bool(value)


@pytest.mark.parametrize("version, expected", [
    ({"major": "1", "minor": "37", "git_version": "v1.37.2"}, (1, 37)), ({"major": 1, "minor": 30}, (1, 30)),
    ({"major": "1", "minor": "29+", "git_version": "v1.29.4-eks"}, (1, 29)), ({"major": "", "minor": "", "git_version": "v1.31.0"}, (1, 31)),
    ({}, None), (None, None),
])
def test_kube_version(version, expected):
    assert v.kube_version(version) == expected


# ---------------------------------------------------------------- the cluster

def observed(version="37", arch="amd64", ready=True, storage=(("standard", True),), ingress=(("nginx", False),)):
    return {
        "cluster": {"version": {"major": "1", "minor": version, "git_version": "v1.%s.2" % version},
                    "nodes": [{"name": "node-1", "ready": ready, "cpu": 8.0, "memory": 2 ** 35, "arch": arch, "os": "linux"}],
                    "totals": {"nodes": 1, "cpu": 8.0, "memory": 2 ** 35}},
        "storage_classes": [{"name": n, "default": d, "provisioner": "p"} for n, d in storage],
        "default_storage_class": next((n for n, d in storage if d), ""),
        "ingress_classes": [{"name": n, "default": d} for n, d in ingress],
    }


def variables(problems):
    return [p["variable"] for p in problems]


def test_cluster_fits():
    assert v.validate_cluster({"magasin_storage_class": "", "hosts": []}, observed()) == []
    assert v.validate_cluster({"magasin_storage_class": "standard", "magasin_ingress_class": "nginx",
                               "hosts": ["superset.example.org"]}, observed()) == []


def test_storage_class_missing_lists_the_existing_ones():
    problems = v.validate_cluster({"magasin_storage_class": "fast"}, observed(storage=(("standard", True), ("gp3", False))))
    assert variables(problems) == ["magasin_storage_class"]
    assert "'fast' does not exist" in problems[0]["message"] and "standard, gp3" in problems[0]["message"]
    assert problems[0]["example"] == "standard"


def test_no_class_named_and_no_default():
    problems = v.validate_cluster({"magasin_storage_class": ""}, observed(storage=(("local", False),)))
    assert variables(problems) == ["magasin_storage_class"] and "no default StorageClass" in problems[0]["message"]
    assert problems[0]["example"] == "local"
    problems = v.validate_cluster({}, observed(storage=()))
    assert "install a provisioner" in problems[0]["message"]
    assert v.validate_cluster({"magasin_storage_class": "local"}, observed(storage=(("local", False),))) == []


def test_ingress_class_checked_only_with_a_host():
    assert v.validate_cluster({"magasin_ingress_class": "traefik"}, observed()) == []
    problems = v.validate_cluster({"magasin_ingress_class": "traefik",
                                   "hosts": [{"variable": "superset_host", "host": "superset.example.org"}]}, observed())
    assert variables(problems) == ["magasin_ingress_class"]
    assert "superset_host" in problems[0]["message"] and "it has nginx" in problems[0]["message"]
    problems = v.validate_cluster({"hosts": {"daskhub_host": "jupyter.example.org"}}, observed())
    assert variables(problems) == ["magasin_ingress_class"] and "no default IngressClass" in problems[0]["message"]
    assert v.validate_cluster({"hosts": ["x.example.org"]}, observed(ingress=(("nginx", True),))) == []


def test_kubernetes_too_old():
    problems = v.validate_cluster({}, observed(version="29"))
    assert variables(problems) == ["magasin_context"] and "Kubernetes 1.29" in problems[0]["message"]
    assert v.validate_cluster({}, observed(version="30")) == []
    assert v.validate_cluster({}, observed(version="30+")) == []


def test_node_architecture():
    problems = v.validate_cluster({}, observed(arch="s390x"))
    assert variables(problems) == ["magasin_context"] and "s390x" in problems[0]["message"]
    assert v.validate_cluster({}, observed(arch="arm64")) == []
    assert "no ready" in v.validate_cluster({}, observed(ready=False))[0]["message"]
    # cluster_info's key name is accepted too.
    data = observed()
    data["cluster"]["nodes"][0] = {"name": "n", "ready": True, "architecture": "ppc64le"}
    assert variables(v.validate_cluster({}, data)) == ["magasin_context"]


def test_removal_does_not_check_the_cluster():
    assert v.validate_cluster({"magasin_state": "absent", "magasin_storage_class": "gone"}, observed(version="20")) == []


# ---------------------------------------------------------------- kubeconfig

KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: admin, user: {token: x}}]
contexts:
  - {name: test, context: {cluster: test, user: admin}}
  - {name: other, context: {cluster: test, user: admin}}
current-context: test
"""


def test_kubeconfig_good():
    assert v.validate_kubeconfig("magasin_kubeconfig", "/k", None, KUBECONFIG) == []
    assert v.validate_kubeconfig("magasin_kubeconfig", "/k", "other", KUBECONFIG) == []
    as_json = yaml.safe_load(KUBECONFIG)
    assert v.validate_kubeconfig("magasin_kubeconfig", "/k", "test", json.dumps(as_json)) == []


@pytest.mark.parametrize("context, text, variable, fragment", [
    (None, None, "magasin_kubeconfig", "does not exist or cannot be read"),
    (None, "just text", "magasin_kubeconfig", "is not a kubeconfig"),
    (None, "{not: [yaml", "magasin_kubeconfig", "is not a kubeconfig"),
    ("prod", KUBECONFIG, "magasin_context", "it has other, test"),
    (None, KUBECONFIG.replace("current-context: test", ""), "magasin_context", "no current-context"),
    (None, KUBECONFIG.replace("current-context: test", "current-context: gone"), "magasin_context", "'gone'"),
    ("test", KUBECONFIG.replace("{cluster: test, user: admin}}\n  -", "{cluster: nope, user: admin}}\n  -"), "magasin_kubeconfig", "'nope'"),
    ("test", KUBECONFIG.replace("users: [{name: admin, user: {token: x}}]", "users: []"), "magasin_kubeconfig", "user 'admin'"),
])
def test_kubeconfig_bad(context, text, variable, fragment):
    problems = v.validate_kubeconfig("magasin_kubeconfig", "/k", context, text)
    assert variables(problems) == [variable] and fragment in problems[0]["message"], problems
    assert "e.g." in v.format_problems(problems)


# ---------------------------------------------------------------- warnings and format

@pytest.mark.parametrize("globals_, fragments", [
    ({"magasin_components": ["minio", "drill", "superset"]}, []),
    ({"magasin_components": ["drill"]}, ["drill is selected without an S3 source"]),
    ({"magasin_components": ["drill"], "magasin_s3_endpoint": "https://s3.example.org"}, []),
    ({"magasin_components": ["superset"]}, ["superset is selected without an S3 source", "superset is selected without drill"]),
    ({"magasin_components": ["minio", "superset"]}, ["superset is selected without drill"]),
    ({"magasin_components": []}, ["deploys nothing"]),
    ({"magasin_components": ["minio"], "magasin_s3_endpoint": "https://s3.example.org"}, ["endpoint is ignored"]),
    ({"magasin_components": ["dagster"], "magasin_s3_access_key": "k"}, ["they are ignored"]),
    ({"magasin_components": "drill"}, []),
])
def test_warnings(globals_, fragments):
    found = v.warnings(globals_)
    assert len(found) == len(fragments), found
    for text, fragment in zip(found, fragments, strict=True):
        assert fragment in text


def test_format_problems():
    problems = [v.problem("magasin_timeout", "'x' is not a Go duration", "10m"), v.problem("drill_values", "is a string", "{}")]
    assert v.format_problems(problems) == (
        "magasin_timeout: 'x' is not a Go duration, e.g. magasin_timeout: 10m\n"
        "drill_values: is a string, e.g. drill_values: {}")
    assert v.format_problems([]) == ""
