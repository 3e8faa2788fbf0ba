"""The built collection: small, clean, importable by Galaxy, and usable once installed."""

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
FORBIDDEN = (".venv/", ".cluster/", ".cluster-gw", ".collections/", ".git/", ".ansible/", "__pycache__/", "tests/output/",
             ".pytest_cache/", ".ruff_cache/", "tests/cluster/", "tests/hosts/")


def run(*args, cwd=ROOT, env=None, drop=()):
    environ = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}", ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    environ.update(env or {})
    for name in drop:
        environ.pop(name, None)
    proc = subprocess.run(list(args), cwd=cwd, env=environ, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{' '.join(map(str, args))}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    run(BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", str(out))
    return out / "magasin-platform-0.1.0.tar.gz"


def test_tarball_is_small_and_clean(tarball):
    assert tarball.stat().st_size < 1024 * 1024
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
    assert "galaxy.yml" not in names and "MANIFEST.json" in names
    offending = [n for n in names if any(n.startswith(f) or f"/{f}" in n for f in FORBIDDEN)]
    assert not offending
    assert "playbooks/site.yml" in names and "plugins/modules/helm_release.py" in names


def test_galaxy_importer_reports_no_errors(tarball, tmp_path):
    output = run(BIN / "python", "-m", "galaxy_importer.main", str(tarball), cwd=tmp_path)
    assert "ERROR" not in output, output[-3000:]


def test_installed_collection_site_playbook_parses(tarball, tmp_path):
    collections = tmp_path / "collections"
    # No ansible.cfg from the checkout: it points at the checkout itself, which galaxy would call installed.
    run(BIN / "ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(collections), str(tarball),
        cwd=tmp_path, drop=("ANSIBLE_CONFIG",))
    assert (collections / "ansible_collections" / "magasin" / "platform" / "playbooks" / "site.yml").is_file()
    # Outside the checkout, with no ansible.cfg: only the installed copy can answer.
    run(BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,", "magasin.platform.site", cwd=tmp_path,
        env={"ANSIBLE_COLLECTIONS_PATH": str(collections)}, drop=("ANSIBLE_CONFIG",))


def test_checkout_site_playbook_parses():
    run(BIN / "ansible-playbook", "--syntax-check", "-i", "inventories/local/hosts.yml", "site.yml")
