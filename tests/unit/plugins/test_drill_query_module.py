"""drill_query: Drill's REST request and answers (no cluster, no Drill)."""

import json

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _drill as d


@pytest.mark.parametrize(("sql", "reads"), [
    ("SELECT 1", True), ("  show schemas", True), ("-- a comment\nWITH x AS (SELECT 1) SELECT * FROM x", True),
    ("DESCRIBE s3.t", True), ("EXPLAIN PLAN FOR SELECT 1", True), ("CREATE TABLE t AS SELECT 1", False),
    ("DROP TABLE t", False), ("ALTER SESSION SET x = 1", False), ("", False),
])
def test_read_only(sql, reads):
    assert d.read_only(sql) is reads


def test_query_body():
    assert json.loads(d.query_body("SELECT 1", 10)) == {"queryType": "SQL", "query": "SELECT 1", "autoLimit": 10}
    assert "autoLimit" not in json.loads(d.query_body("SELECT 1", 0))


# Drill 1.21's answer to SHOW SCHEMAS (shape as its REST API documents it).
ANSWER = json.dumps({"queryId": "1c4f-x", "columns": ["SCHEMA_NAME"], "rows": [{"SCHEMA_NAME": "s3.root"},
                                                                               {"SCHEMA_NAME": "sys"}],
                     "metadata": ["VARCHAR"], "queryState": "COMPLETED", "attemptedAutoLimit": 0})


def test_parse_query():
    assert d.parse_query(200, ANSWER) == (["SCHEMA_NAME"], [{"SCHEMA_NAME": "s3.root"}, {"SCHEMA_NAME": "sys"}], "1c4f-x")


@pytest.mark.parametrize(("status", "text", "says"), [
    (200, json.dumps({"queryState": "FAILED", "errorMessage": "PARSE ERROR: Encountered \"SELEKT\""}), "PARSE ERROR"),
    (500, json.dumps({"errorMessage": "VALIDATION ERROR: Object 'x' not found"}), "VALIDATION ERROR"),
    (502, "<html>Bad Gateway</html>", "not JSON"),
])
def test_parse_query_errors_keep_drills_message(status, text, says):
    with pytest.raises(d.DrillError, match=says):
        d.parse_query(status, text)


def test_parse_storage_and_table():
    storage = json.dumps([{"name": "s3", "config": {"type": "file", "enabled": True, "connection": "s3a://magasin"}},
                          {"name": "cp", "config": {"type": "file", "enabled": False}}])
    assert d.parse_storage(200, storage) == {"s3": {"type": "file", "enabled": True},
                                             "cp": {"type": "file", "enabled": False}}
    assert d.table(["a", "bb"], [{"a": "1", "bb": None}]) == ["a  bb", "1"]
