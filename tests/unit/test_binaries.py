"""tools/binaries.py: the pinned helm/kubectl binaries and their checksum check."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
sys.path.insert(0, str(ROOT / "tools"))
import binaries  # noqa: E402

PINS = {p["name"]: p for p in binaries.read_pins()}


@pytest.mark.parametrize(("name", "argv", "expected"), [
    ("helm3", ["version", "--template", "{{.Version}}"], "v3.17.2"),
    ("helm4", ["version", "--template", "{{.Version}}"], "v4.3.1"),
    ("kubectl", ["version", "--client", "-o", "json"], '"gitVersion": "v1.37.1"'),
    ("kubectl1.32", ["version", "--client", "-o", "json"], '"gitVersion": "v1.32.3"'),
])
def test_installed_binaries_report_pinned_versions(name, argv, expected):
    out = subprocess.run([str(BIN / name), *argv], check=True, capture_output=True, text=True).stdout
    assert expected in out
    assert PINS[name]["version"] in expected


def test_installed_binaries_match_pins():
    assert binaries.main(["verify", "--bin-dir", str(BIN)]) == 0


def test_tampered_binary_fails_with_clear_message(tmp_path, capsys):
    for pin in PINS.values():
        shutil.copy2(BIN / pin["name"], tmp_path / pin["name"])
    with open(tmp_path / "helm4", "ab") as handle:
        handle.write(b"\0tampered")
    assert binaries.main(["verify", "--bin-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "helm4" in err and "does not match the pinned" in err and "make setup" in err
    # install refuses to silently replace it either
    assert binaries.main(["install", "--bin-dir", str(tmp_path)]) == 1
    assert "does not match the pinned" in capsys.readouterr().err


def test_missing_binary_is_reported(tmp_path, capsys):
    assert binaries.main(["verify", "--bin-dir", str(tmp_path)]) == 1
    assert "is missing" in capsys.readouterr().err
