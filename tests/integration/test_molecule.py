"""The component roles' molecule scenarios (extensions/molecule/), run by pytest so that `make test`
has one runner.

Each scenario converges one role alone, with the real chart, in its own realm (mol-minio,
mol-drill, ...) on the test cluster: check mode on the fresh realm, converge, molecule's
idempotence (a second converge with changed=0), check mode again, verify (the releases and
Secrets read back with the collection's own modules), then the realm removed. Molecule fails
the run when a step fails or idempotence sees a change; this test also asserts what molecule's
check step does not: the first check predicts changes, the second one predicts none.

One molecule run per scenario takes 1 to 2 minutes; the five take 6 to 10 minutes per Helm
major, so they run on Helm 4 only, and on Helm 3 only when MAGASIN_HELM=3 asks for it. The
site tests (test_site.py, test_check_mode.py) cover both majors on the whole realm.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from realms import helm4_unless_asked

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
# `default` only checks that the test cluster answers; the others each test one component role.
SCENARIOS = ["default", "minio", "drill", "dagster", "daskhub", "superset"]
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Molecule announces each step ("INFO     [drill > check] Executing", or "drill ➜ check: Executing" on a
# terminal); ansible-playbook's recap follows it.
STEP_RE = re.compile(r"(?:\[[\w/-]+ > |➜ )(\w+)(?:\]|:) Executing")
RECAP_RE = re.compile(r"localhost\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)")


def step_recaps(output: str) -> list[tuple[str, int]]:
    """(step, changed) for every step that ran a playbook, in order."""
    found: list[tuple[str, int]] = []
    step = None
    for line in output.splitlines():
        if match := STEP_RE.search(line):
            step = match.group(1)
        elif (match := RECAP_RE.search(line)) and step:
            found.append((step, int(match.group(1))))
            step = None
    return found


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str, kubeconfig: Path, helm_bin: Path, charts_dir: Path):
    major = helm_bin.name.removeprefix("helm")
    helm4_unless_asked(helm_bin, "molecule takes 6 to 10 minutes per major")
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}",
               MAGASIN_HELM=major, MAGASIN_CHARTS_DIR=str(charts_dir), MAGASIN_TEST_KUBECONFIG=str(kubeconfig), NO_COLOR="1", ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0")
    started = time.monotonic()
    proc = subprocess.run([str(VENV_BIN / "molecule"), "test", "-s", scenario], cwd=REPO_ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800, check=False)
    output = ANSI_RE.sub("", proc.stdout)
    # The whole run, to read after a failure (tests/output/ is not committed).
    log = REPO_ROOT / "tests" / "output" / f"molecule-{scenario}-helm{major}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output)
    print(f"[molecule] {time.monotonic() - started:6.0f}s rc={proc.returncode} {scenario} helm{major}")
    assert proc.returncode == 0, f"{log}:\n{output[-12000:]}"
    recaps = step_recaps(output)
    steps = [recap[0] for recap in recaps]
    if scenario == "default":
        assert steps == ["verify"], output[-12000:]
        return
    assert steps == ["cleanup", "check", "converge", "idempotence", "check", "verify", "cleanup"], output[-12000:]
    changed = dict(zip(["cleanup", "check", "converge", "idempotence", "check_again", "verify"], [recap[1] for recap in recaps], strict=False))
    assert changed["check"] > 0, "check mode on the fresh realm predicted no change"
    assert changed["converge"] > 0
    assert changed["idempotence"] == 0
    assert changed["check_again"] == 0, "check mode on the converged realm predicted a change:\n" + output[-12000:]
    assert changed["verify"] == 0
