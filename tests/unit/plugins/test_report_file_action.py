"""report_file's write: through a file renamed over the report, the directory made, the mode set."""

import os
import stat

import pytest
from ansible_collections.magasin.platform.plugins.action.report_file import write_atomically


def test_writes_the_text_makes_the_directory_and_sets_the_mode(tmp_path):
    path = write_atomically(str(tmp_path / "reports" / "realm.json"), '{"a": 1}\n', 0o640)
    assert path == str(tmp_path / "reports" / "realm.json")
    assert (tmp_path / "reports" / "realm.json").read_text() == '{"a": 1}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_replaces_a_report_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "realm.json"
    target.write_text("old\n")
    write_atomically(str(target), "new\n", 0o644)
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["realm.json"]


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path):
    target = tmp_path / "realm.json"
    target.write_text("old\n")
    with pytest.raises(TypeError):
        write_atomically(str(target), "new\n", "0644")  # os.chmod refuses the mode once the text is written
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["realm.json"]
