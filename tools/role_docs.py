"""Rewrite the variable table of each component role's README from its meta/argument_specs.yml.

    python3 tools/role_docs.py          # rewrite the tables
    python3 tools/role_docs.py --check  # exit 1 when a table is out of date (tests/unit/test_role_specs.py)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[1] / "roles"
COMPONENT_ROLES = ["minio", "drill", "dagster", "daskhub", "superset"]
HEADER = "| variable | default | description |\n| --- | --- | --- |\n"


def cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def table(role: str) -> str:
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    rows = []
    for name, option in specs["options"].items():
        default = option.get("default", None)
        shown = "" if "default" not in option else "`%s`" % json.dumps(default) if not isinstance(default, str) \
            else ("`\"\"`" if default == "" else "`%s`" % default)
        description = option.get("description") or ""
        if isinstance(description, list):
            description = " ".join(description)
        rows.append("| `%s` | %s | %s |" % (name, cell(shown), cell(description)))
    return HEADER + "\n".join(rows) + "\n"


def rewrite(role: str) -> tuple[str, str]:
    path = ROLES / role / "README.md"
    text = path.read_text()
    start = text.index("## Variables\n")
    begin = text.index(HEADER, start)
    end = begin + len(HEADER)
    lines = text[end:].split("\n")
    count = 0
    while count < len(lines) and lines[count].startswith("|"):
        count += 1
    rest = "\n".join(lines[count:])
    return text, text[:begin] + table(role) + rest


def main(argv: list[str]) -> int:
    stale = []
    for role in COMPONENT_ROLES:
        old, new = rewrite(role)
        if old != new:
            stale.append(role)
            if "--check" not in argv:
                (ROLES / role / "README.md").write_text(new)
    if "--check" in argv and stale:
        print("README variable tables out of date: %s (run python3 tools/role_docs.py)" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
