"""Run ansible-playbook from integration tests, as a user would, and read its outcome."""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"
RECAP_RE = re.compile(r"^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


@dataclass
class PlaybookRun:
    rc: int
    output: str
    tree_dir: Path | None

    def recap(self, host: str = "localhost") -> dict[str, int]:
        for match in RECAP_RE.finditer(self.output):
            if match.group(1) == host:
                return {"ok": int(match.group(2)), "changed": int(match.group(3)),
                        "unreachable": int(match.group(4)), "failed": int(match.group(5))}
        raise AssertionError(f"no PLAY RECAP line for {host}:\n{self.output[-3000:]}")

    def json_results(self) -> str:
        """Everything the tree (JSON) callback wrote, as one text."""
        if not self.tree_dir or not self.tree_dir.exists():
            return ""
        return "\n".join(p.read_text() for p in sorted(self.tree_dir.iterdir()) if p.is_file())


def run_playbook(playbook: Path | str, extra_vars: dict | None = None, *args: str, tree_dir: Path | None = None,
                 env: dict | None = None, timeout: int = 900) -> PlaybookRun:
    cmd = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
    if extra_vars:
        cmd += ["--extra-vars", json.dumps(extra_vars)]
    cmd += list(args)
    environ = dict(os.environ)
    environ.update({"ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0",
                    "ANSIBLE_NOCOLOR": "1", "PATH": f"{VENV_BIN}:{environ.get('PATH', '')}"})
    if tree_dir is not None:
        environ.update({"ANSIBLE_CALLBACKS_ENABLED": "ansible.builtin.tree",
                        "ANSIBLE_CALLBACK_TREE_DIR": str(tree_dir),
                        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1"})
    environ.update(env or {})
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=timeout,
                          check=False)
    return PlaybookRun(proc.returncode, proc.stdout + proc.stderr, tree_dir)
