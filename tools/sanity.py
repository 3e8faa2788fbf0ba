#!/usr/bin/env python3
"""Run ``ansible-test sanity`` on this checkout, offline.

    sanity.py bootstrap   write the offline stand-in for ansible-test's get-pip script
    sanity.py run [ARGS]  copy the collection to <tmp>/ansible_collections/magasin/platform
                          and run ``ansible-test sanity --venv`` there (extra ARGS passed on)

ansible-test needs the collection under an ``ansible_collections/<ns>/<name>`` path, and
``--venv`` bootstraps pip in each test venv with a get-pip script it downloads, which fails
without internet. It first looks in ~/.ansible/test/cache/, so a stand-in placed there that
uses the interpreter's own ensurepip (in a subprocess: in-process ensurepip points
PIP_CONFIG_FILE at /dev/null and would lose this machine's pip settings), then installs what
ansible-test asked for with the machine's normal pip configuration, lets every test run.
"""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# ansible-test 2.19 bootstraps pip 24.2 (ansible_test/_internal/python_requirements.py).
PIP_VERSIONS = ("24.2",)

STAND_IN = '''\
"""Offline stand-in for get-pip.py, written by magasin.platform tools/sanity.py."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], check=True,
               stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, "-m", "pip", "install", *args], check=True)
'''

# Not Ansible content, so not for ansible-test: the checkout's own plumbing, Helm charts
# (Go templates, not YAML), the Go module of the test cluster and the machine harnesses.
SKIP = {".git", ".venv", ".cluster", ".collections", ".ansible", ".ci", "tools", "tests/output", "tests/cluster",
        "tests/hosts", "tests/charts", "tests/integration/charts"}


def bootstrap():
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for version in PIP_VERSIONS:
        target = cache / f"get_pip_{version.replace('.', '_')}.py"
        if not target.exists() or target.read_text() != STAND_IN:
            target.write_text(STAND_IN)
            print(f"wrote {target}")


def collection_files():
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, check=True, capture_output=True,
    ).stdout.decode()
    for rel in filter(None, out.split("\0")):
        if any(rel == s or rel.startswith(s + "/") for s in SKIP):
            continue
        if (ROOT / rel).is_file() and not (ROOT / rel).is_symlink():
            yield rel


def run(extra):
    bootstrap()
    with tempfile.TemporaryDirectory(prefix="magasin-sanity-") as tmp:
        dest = Path(tmp) / "ansible_collections" / "magasin" / "platform"
        for rel in collection_files():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
        ansible_test = Path(sys.executable).parent / "ansible-test"
        cmd = [str(ansible_test), "sanity", "--venv", "--python",
               f"{sys.version_info.major}.{sys.version_info.minor}", "--color", "no", *extra]
        print("+", " ".join(cmd), flush=True)
        rc = subprocess.run(cmd, cwd=dest, env=dict(os.environ), check=False).returncode
        output = dest / "tests" / "output"
        if output.exists():
            shutil.copytree(output, ROOT / "tests" / "output", dirs_exist_ok=True)
        return rc


def main(argv):
    if argv[:1] == ["bootstrap"]:
        bootstrap()
        return 0
    if argv[:1] == ["run"]:
        return run(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
