"""Adoption on the real charts, once per Helm major: a realm made exactly as magasin's installer
makes it, then site.yml.

`install-magasin.sh` (unicef/magasin, installer/install-magasin.sh) adds the chart repository as
`magasin`, refuses a realm whose marker namespace exists, creates that namespace (the realm's
own name), then runs, in this order and carrying on after a failure,
`helm install <chart> magasin/<chart> --namespace <ns> --create-namespace` for drill, daskhub,
dagster, superset, operator and tenant -- no values, no --version, no --wait. Namespaces follow
its realm split at the last dash: realm `adopt-h4` gives `adopt-drill-h4` and so on. Here the
repository is the real charts served on 127.0.0.1, with helm's repository config in a scratch
directory. One difference, for the network only: dagster 1.9.3's values.schema.json has remote
`$ref`s, which an online installer resolves and these offline machines cannot, so dagster's
install gets `--skip-schema-validation`.

What the installer cannot install, the test records as the installer would leave it: a second
operator fails when the cluster already has one (its CRDs and fixed-name ClusterRoles belong to
the first release), and with Helm 4 the tenant chart's `storageClassName: null` is refused by
the Tenant CRD under server-side apply, which leaves a `failed` tenant release. site.yml then adopts the realm in place: same release names and namespaces,
one more revision for each release the installer made, PVCs kept, and the installer's database
passwords carried over (Superset's and Dagster's PostgreSQL volumes were initialised with them;
under kwok no database runs, so the proof is that the apps and the databases are configured with
the password the installer's release created).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from realms import INSTALLER_CHARTS, env_of, namespaces, public_defaults_found, wiring_problems


def installer(cluster, realm: str, repo_url: str, scratch: Path) -> dict[str, subprocess.CompletedProcess]:
    """install-magasin.sh's cluster steps, in its order; returns each `helm install` as it ended."""
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig), HELM_REPOSITORY_CONFIG=str(scratch / "repositories.yaml"),
               HELM_REPOSITORY_CACHE=str(scratch / "cache"))

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(list(argv), env=env, capture_output=True, text=True, check=False, timeout=900)

    helm = str(cluster.helm_bin)
    added = run(helm, "repo", "add", "magasin", repo_url)
    assert added.returncode == 0, added.stderr
    assert run(str(cluster.kubectl_bin), "get", "namespace", realm).returncode != 0, f"realm namespace {realm} exists"
    created = run(str(cluster.kubectl_bin), "create", "namespace", realm)
    assert created.returncode == 0, created.stderr
    results = {}
    for chart in INSTALLER_CHARTS:
        offline = ["--skip-schema-validation"] if chart == "dagster" else []
        results[chart] = run(helm, "install", chart, f"magasin/{chart}", "--namespace", namespaces(realm)[chart],
                             "--create-namespace", *offline)
    return results


def password(cluster, namespace: str, workload: str, kind: str, variable: str) -> str:
    obj = cluster.kubectl_json("get", kind, workload, "-n", namespace)
    for container in obj["spec"]["template"]["spec"]["containers"]:
        env = env_of(cluster, namespace, container)
        if variable in env:
            return env[variable]
    raise AssertionError(f"{kind}/{workload} in {namespace} has no {variable}")


def db_passwords(cluster, realm: str) -> dict[str, dict[str, str]]:
    """The password each app connects with and the one its PostgreSQL is configured with, from the rendered
    workloads (env resolved through their Secrets)."""
    ns = namespaces(realm)
    pg = {"superset": "superset-postgresql", "dagster": "dagster-postgresql"}
    return {
        "superset": {"app": password(cluster, ns["superset"], "superset", "deployment", "DB_PASS"),
                     "db": password(cluster, ns["superset"], pg["superset"], "statefulset", "POSTGRES_PASSWORD")},
        "dagster": {"app": password(cluster, ns["dagster"], "dagster-dagster-webserver", "deployment", "DAGSTER_PG_PASSWORD"),
                    "db": password(cluster, ns["dagster"], pg["dagster"], "statefulset", "POSTGRES_PASSWORD")},
    }


@pytest.fixture(scope="module")
def adopted(cluster, helm_bin: Path, charts_repo: str, site_dir, tmp_path_factory) -> Iterator[dict]:
    """The installer's realm, then site.yml twice. The installer names its daskhub release `daskhub` in every
    realm, and dask-gateway's ClusterRoles (`controller-daskhub-dask-gateway`...) are named after the release:
    it can only install daskhub while no other realm on the cluster holds a release `daskhub`. So the default
    realm (the collection's own `daskhub`) goes first, and this realm goes at the end."""
    realm = f"adopt-h{helm_bin.name[-1]}"
    cluster.teardown("magasin")
    cluster.teardown(realm)
    installed = installer(cluster, realm, charts_repo, tmp_path_factory.mktemp("installer-helm"))
    mine = set(namespaces(realm).values())
    before = {(r["namespace"], r["name"]): r for r in cluster.releases() if r["namespace"] in mine}
    state = {"realm": realm, "installed": installed, "before": before, "claims": cluster.claims(realm),
             "passwords": db_passwords(cluster, realm)}
    state["first"] = site_dir("site.yml", {"magasin_realm": realm})
    state["second"] = site_dir("site.yml", {"magasin_realm": realm}) if state["first"].rc == 0 else None
    yield state
    cluster.teardown(realm)


def test_installer_made_the_realm(adopted: dict, cluster):
    """What the installer leaves: its marker namespace and a deployed release per chart it could install."""
    realm = adopted["realm"]
    assert cluster.exists("namespace", realm)
    for chart in ["drill", "daskhub", "dagster", "superset"]:
        assert adopted["installed"][chart].returncode == 0, adopted["installed"][chart].stderr
        assert adopted["before"][(namespaces(realm)[chart], chart)]["status"] == "deployed"
    pw = adopted["passwords"]
    assert pw["superset"]["app"] == pw["superset"]["db"] and pw["superset"]["app"]
    assert pw["dagster"]["app"] == pw["dagster"]["db"] and pw["dagster"]["app"]


def test_site_adopts_the_realm_in_place(adopted: dict, cluster):
    adopted["first"].ok()
    realm = adopted["realm"]
    mine = set(namespaces(realm).values())
    after = {(r["namespace"], r["name"]): r for r in cluster.releases() if r["namespace"] in mine}
    # Same release names in the same namespaces: no second release beside an installer's one.
    assert set(after) >= {k for k, r in adopted["before"].items() if r["status"] == "deployed"}
    for key, before in adopted["before"].items():
        if before["status"] != "deployed":
            continue
        assert after[key]["status"] == "deployed"
        assert int(after[key]["revision"]) == int(before["revision"]) + 1, key
    charts = {r["chart"].rsplit("-", 1)[0] for r in after.values()}
    assert len(after) == len(charts), f"more than one release of a chart: {sorted(after)}"
    for chart in ["drill", "daskhub", "dagster", "superset", "tenant"]:
        assert (namespaces(realm)[chart], chart) in after, f"{chart} not adopted under its installer name"
    assert [r["status"] for r in cluster.releases() if r["chart"].startswith("operator-")] == ["deployed"]
    claims = cluster.claims(realm)
    for claim, before in adopted["claims"].items():
        assert claims.get(claim, {}).get("uid") == before["uid"], f"{claim} was replaced or removed"


def test_installer_database_passwords_are_carried_over(adopted: dict, cluster):
    adopted["first"].ok()
    assert db_passwords(cluster, adopted["realm"]) == adopted["passwords"]


def test_superset_default_admin_is_reported_with_the_command(adopted: dict):
    """Superset's admin/admin lives in its database (the installer's init Job created it); only the running app
    can change it, so the summary must say so, with the command."""
    output = " ".join(adopted["first"].ok().output.split())  # the callback may wrap a long message
    ns = namespaces(adopted["realm"])["superset"]
    assert re.search(r"(?i)warn", output)
    assert "admin/admin" in output
    commands = re.findall(r"kubectl\b(?:(?!kubectl\b).)*?superset fab reset-password --username admin\b", output)
    assert [c for c in commands if re.search(rf"(?:-n|--namespace)[ =]{re.escape(ns)}\b", c) and " exec " in c], \
        f"no `kubectl -n {ns} exec ... superset fab reset-password --username admin` in the output"


def test_adopted_realm_is_wired_without_public_defaults(adopted: dict, cluster):
    adopted["first"].ok()
    realm = adopted["realm"]
    assert wiring_problems(cluster, realm) == []
    carried = {c: p["app"] for c, p in adopted["passwords"].items()}
    assert public_defaults_found(cluster.rendered_objects(realm), adopted=carried) == []
    assert not cluster.exists("secret", "myminio-env-configuration", "-n", namespaces(realm)["tenant"])


def test_second_run_after_adoption_changes_nothing(adopted: dict):
    adopted["first"].ok()
    assert adopted["second"].ok().changed == 0, adopted["second"].output[-6000:]
