"""Every role's meta/argument_specs.yml says what its defaults/main.yml holds, and its README
lists every variable: the three cannot drift apart unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
ROLE_NAMES = sorted(p.name for p in ROLES.iterdir() if (p / "defaults" / "main.yml").is_file())


def load(path: Path):
    return yaml.safe_load(path.read_text()) or {}


def main_options(role: str) -> dict:
    specs = load(ROLES / role / "meta" / "argument_specs.yml")["argument_specs"]
    entry = "preflight" if role == "_common" else "main"
    return specs[entry].get("options") or {}


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_specs_name_every_default(role: str):
    defaults = load(ROLES / role / "defaults" / "main.yml")
    options = main_options(role)
    assert sorted(set(defaults) - set(options)) == [], "defaults without a spec"
    assert sorted(set(options) - set(defaults)) == [], "specs without a default"


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_spec_defaults_equal_the_defaults(role: str):
    defaults = load(ROLES / role / "defaults" / "main.yml")
    for name, option in main_options(role).items():
        value = defaults[name]
        if isinstance(value, str) and "{{" in value:
            continue  # a templated default is described in words, or shown as written
        assert option.get("default") == value, name


@pytest.mark.parametrize("role", [r for r in ROLE_NAMES if r != "_common"])
def test_readme_lists_every_variable(role: str):
    readme = (ROLES / role / "README.md").read_text()
    missing = [name for name in main_options(role) if f"`{name}`" not in readme]
    assert missing == []


def test_readme_tables_are_generated_from_the_specs():
    tool = Path(__file__).resolve().parents[2] / "tools" / "role_docs.py"
    proc = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
