"""Fixtures for integration tests on the local kwok test cluster.

The cluster (tests/cluster/harness.py) is a real control plane with simulated
nodes; `kubeconfig` starts it once per session, or reuses a healthy one, and
leaves it running afterwards so the next run starts in a second. `make
cluster-down` stops it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))

from chart_repo import serving  # noqa: E402
from realms import KUBECONFIG, Cluster, Playbook, namespaces  # noqa: E402

# The real magasin charts (index.yaml, SHA256SUMS, <chart>-<version>.tgz) beside the
# checkout, standing in for https://unicef.github.io/magasin; MAGASIN_CHARTS_DIR
# points elsewhere.
CHARTS_DIR = Path(os.environ.get("MAGASIN_CHARTS_DIR") or REPO_ROOT.parent / "shared" / "charts" / "magasin")
HARNESS = REPO_ROOT / "tests" / "cluster" / "harness.py"
# `make setup` puts helm3, helm4 and kubectl there; MAGASIN_TOOLS_DIR points
# elsewhere for a run outside make.
TOOLS_DIR = Path(os.environ.get("MAGASIN_TOOLS_DIR") or REPO_ROOT / ".venv" / "bin")
HELM_MAJORS = ("3", "4")

# Tests with this marker stop and restart the cluster; they run after every
# other test of the session so that nothing else loses its objects.
LIFECYCLE_MARKER = "cluster_lifecycle"
# Tests that `make pytest` runs after the two workers, with the lifecycle tests: the smoke tests, whose kubectl
# port-forwards to a real MinIO were seen to drop mid-test while the other worker loaded the machine (CI run
# of 2026-12-02, two of three smoke tests; they pass alone).
ALONE_MARKER = "alone"


def run_harness(command: str) -> subprocess.CompletedProcess:
    """Run one harness subcommand as the Makefile does; its output is shown on failure."""
    return subprocess.run(
        [sys.executable, str(HARNESS), command],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def start_cluster() -> Path:
    res = run_harness("up")
    if res.returncode != 0:
        pytest.fail(f"harness.py up failed (exit {res.returncode}):\n{res.stdout}\n{res.stderr}", pytrace=False)
    return KUBECONFIG


def _helm_majors() -> tuple[str, ...]:
    wanted = os.environ.get("MAGASIN_HELM", "").strip()
    if not wanted:
        return HELM_MAJORS
    if wanted not in HELM_MAJORS:
        raise pytest.UsageError(f"MAGASIN_HELM must be one of {', '.join(HELM_MAJORS)} or empty, not {wanted!r}")
    return (wanted,)


def _tool(name: str) -> Path:
    path = TOOLS_DIR / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: run `make setup`", pytrace=False)
    return path


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{LIFECYCLE_MARKER}: stops and restarts the test cluster; runs after every other test")
    config.addinivalue_line("markers", f"{ALONE_MARKER}: `make pytest` runs it after the two workers, alone, on a quiet machine")


# Under pytest-xdist (`make pytest`: -n 2 --dist loadfile) each test file runs whole on one worker, which has a
# test cluster of its own. The longest files (minutes, measured in CI) go to the workers first, so that neither
# waits for the other at the end; the rest (the unit tests last) keep their order. (Not --dist loadgroup:
# pytest-xdist 3.8 cannot add a group to a test's id under pytest 9, so its groups are silently ignored.)
LONGEST_FIRST = ("test_site", "test_k3s", "test_molecule", "test_upgrade", "test_check_mode", "test_adoption",
                 "test_two_realms", "test_awx_credential", "test_realm_lock", "test_preflight", "test_uninstall",
                 "test_tls")


@pytest.hookimpl(trylast=True)  # after pytest's own reordering by fixture
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    workers = "PYTEST_XDIST_WORKER" in os.environ
    order = {stem: n for n, stem in enumerate(LONGEST_FIRST)} if workers else {}

    def rank(item: pytest.Item) -> tuple[bool, int]:
        unit = workers and "unit" in item.path.parts
        # A stable sort: the lifecycle tests go last, the others keep their order but for the above.
        return item.get_closest_marker(LIFECYCLE_MARKER) is not None, order.get(item.path.stem, len(order) + unit)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    """Admin kubeconfig of the running test cluster, started if needed; left running."""
    yield start_cluster()


@pytest.fixture(scope="session", params=_helm_majors(), ids=lambda major: f"helm{major}")
def helm_bin(request: pytest.FixtureRequest) -> Path:
    """The helm binary of one major version (MAGASIN_HELM=3|4 picks one, unset: both)."""
    return _tool(f"helm{request.param}")


@pytest.fixture(scope="session")
def kubectl_bin() -> Path:
    return _tool("kubectl")


@pytest.fixture(scope="session")
def charts_dir() -> Path:
    """The real magasin charts as a directory of archives (magasin_charts_dir), checked against SHA256SUMS."""
    sums = CHARTS_DIR / "SHA256SUMS"
    if not sums.is_file() or not (CHARTS_DIR / "index.yaml").is_file():
        pytest.fail(f"{CHARTS_DIR} holds no chart repository (index.yaml, SHA256SUMS): the integration tests "
                    "deploy the real magasin charts; set MAGASIN_CHARTS_DIR to a copy", pytrace=False)
    for line in sums.read_text().splitlines():
        digest, name = line.partition("  ")[::2]
        if hashlib.sha256((CHARTS_DIR / name.strip()).read_bytes()).hexdigest() != digest:
            pytest.fail(f"{CHARTS_DIR / name.strip()} does not match SHA256SUMS", pytrace=False)
    return CHARTS_DIR.resolve()


@pytest.fixture(scope="session")
def charts_repo(charts_dir: Path) -> Iterator[str]:
    """The same charts served as a chart repository on 127.0.0.1 (its index.yaml has relative URLs)."""
    with serving(charts_dir) as url:
        yield url


@pytest.fixture(scope="session")
def cluster(kubeconfig: Path, helm_bin: Path):
    """helm (of the major under test) and kubectl on the test cluster (tests/support/realms.py)."""
    return Cluster(kubeconfig, helm_bin)


@pytest.fixture(scope="session")
def site_dir(kubeconfig: Path, helm_bin: Path, charts_dir: Path):
    """ansible-playbook -i inventories/local with the real charts as magasin_charts_dir."""
    return Playbook(kubeconfig, helm_bin, {"magasin_charts_dir": str(charts_dir)})


@pytest.fixture(scope="session")
def site_repo(kubeconfig: Path, helm_bin: Path, charts_repo: str):
    """ansible-playbook -i inventories/local with the real charts from the repository served on 127.0.0.1."""
    return Playbook(kubeconfig, helm_bin, {"magasin_chart_repo": charts_repo, "magasin_charts_dir": ""})


@pytest.fixture(scope="session")
def site_default(kubeconfig: Path, helm_bin: Path, charts_dir: Path):
    """ansible-playbook -i inventories/local with no chart source given: the inventory's own default
    (../shared/charts/magasin beside the checkout, as after `make demo`)."""
    return Playbook(kubeconfig, helm_bin, {})


@pytest.fixture(scope="session")
def default_realm(cluster, site_dir, site_default, site_repo) -> dict:
    """The default realm `magasin`, deployed fresh from magasin_charts_dir, then converged again with the
    inventory's default chart source and, verbosely, from the served repository; shared by the site and
    check-mode tests. Pod containers never run (kwok): hook Jobs succeed and PVCs bind because the test
    cluster makes them, not because any chart code ran."""
    cluster.teardown("magasin")
    ns = namespaces("magasin")
    runs, secrets = [], []
    for run in (lambda: site_dir("site.yml"), lambda: site_default("site.yml"), lambda: site_repo("site.yml", None, "-vvv")):
        runs.append(run().ok())
        secrets.append(cluster.secret_values("magasin"))
    return {"realm": "magasin", "namespaces": ns, "runs": runs, "secrets": secrets}
