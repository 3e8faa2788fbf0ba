"""Fixtures for integration tests on the local kwok test cluster.

The cluster (tests/cluster/harness.py) is a real control plane with simulated
nodes; `kubeconfig` starts it once per session, or reuses a healthy one, and
leaves it running afterwards so the next run starts in a second. `make
cluster-down` stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS = REPO_ROOT / "tests" / "cluster" / "harness.py"
# `make setup` puts helm3, helm4 and kubectl there; MAGASIN_TOOLS_DIR points
# elsewhere for a run outside make.
TOOLS_DIR = Path(os.environ.get("MAGASIN_TOOLS_DIR") or REPO_ROOT / ".venv" / "bin")
HELM_MAJORS = ("3", "4")

# Tests with this marker stop and restart the cluster; they run after every
# other test of the session so that nothing else loses its objects.
LIFECYCLE_MARKER = "cluster_lifecycle"


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
    return REPO_ROOT / ".cluster" / "kubeconfig"


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A stable partition: the lifecycle tests go last, the others keep their order.
    items.sort(key=lambda item: item.get_closest_marker(LIFECYCLE_MARKER) is not None)


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
