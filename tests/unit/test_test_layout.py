"""The test tree can be collected in one pytest run.

pytest imports test files without an ``__init__.py`` by their basename, so two files with the
same name under tests/ break the collection of ``make pytest`` (seen in CI) while each half
still passes on its own.
"""

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_has_a_unique_basename() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py") if "output" not in p.relative_to(TESTS).parts)
    assert [name for name, count in names.items() if count > 1] == []
