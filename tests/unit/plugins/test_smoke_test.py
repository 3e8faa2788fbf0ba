"""smoke_test: the S3 steps per consumer and policy, and the readers of the answers (no cluster)."""

import json

from ansible_collections.magasin.platform.plugins.module_utils import _smoke as s


def test_writers_first_then_drill_reads_what_they_wrote_and_may_not_write():
    steps = s.s3_steps(["minio", "drill", "dagster", "daskhub"], "magasin", "r1")
    seen = [(st["user"], st["method"], st["key"], st["expect"]) for st in steps]
    assert seen == [
        ("dagster", "PUT", "magasin-smoke/dagster-r1.txt", (200,)),
        ("notebooks", "PUT", "magasin-smoke/notebooks-r1.txt", (200,)),
        ("drill", "GET", "", (200,)),
        ("drill", "GET", "magasin-smoke/dagster-r1.txt", (200,)),
        ("drill", "GET", "magasin-smoke/notebooks-r1.txt", (200,)),
        ("drill", "PUT", "magasin-smoke/drill-r1.txt", (403,)),
        ("dagster", "GET", "magasin-smoke/dagster-r1.txt", (200,)),
        ("dagster", "DELETE", "magasin-smoke/dagster-r1.txt", (204,)),
        ("notebooks", "GET", "magasin-smoke/notebooks-r1.txt", (200,)),
        ("notebooks", "DELETE", "magasin-smoke/notebooks-r1.txt", (204,)),
    ]
    assert {st["component"] for st in steps} == {"drill", "dagster", "daskhub"}
    assert [st["needs"] for st in steps if st["needs"]] == ["magasin-smoke/dagster-r1.txt",
                                                            "magasin-smoke/notebooks-r1.txt"]
    only_drill = s.s3_steps(["minio", "drill"], "magasin", "r1")
    assert [(st["method"], st["key"]) for st in only_drill] == [("GET", ""), ("PUT", "magasin-smoke/drill-r1.txt")]


def test_s3_url_and_checks():
    assert s.s3_url("http://127.0.0.1:9000/", "magasin", "") == "http://127.0.0.1:9000/magasin?list-type=2"
    step = s.s3_steps(["drill", "dagster"], "magasin", "r")[3]  # drill may not write
    assert step["proves"] == "may not write"
    denied = "<Error><Code>AccessDenied</Code><Message>Access Denied.</Message></Error>"
    assert s.s3_check(step, 403, denied)["ok"] is True
    wrote = s.s3_check(step, 200, "")
    assert wrote["ok"] is False and wrote["component"] == "drill" and wrote["detail"] == "HTTP 200 (expected 403)"
    read = s.s3_steps(["dagster"], "magasin", "r")[1]
    assert s.s3_check(read, 200, "x", expected_body="x")["ok"] is True
    assert s.s3_check(read, 200, "y", expected_body="x")["ok"] is False
    bad_key = s.s3_check(s.s3_steps(["dagster"], "magasin", "r")[0], 403,
                         "<Error><Code>InvalidAccessKeyId</Code></Error>")
    assert bad_key["detail"] == "HTTP 403 InvalidAccessKeyId (expected 200)"


def test_storage_superset_and_report():
    assert s.storage_check({"s3": {"type": "file", "enabled": True}}, "s3")["ok"] is True
    missing = s.storage_check({"cp": {"type": "file", "enabled": True}}, "s3")
    assert missing["ok"] is False and "missing; Drill lists: cp" in missing["detail"]
    assert s.superset_databases(json.dumps({"result": [{"database_name": "Drill"}, {"database_name": "x"}]})) == \
        ["Drill", "x"]
    assert s.superset_databases("<html>") == []
    checks = [s.check("minio", "a", True, "ok"), s.check("drill", "b", False, "no"), s.check("drill", "c", False, "no")]
    ok, failed, lines = s.report(checks)
    assert ok is False and failed == ["drill"] and lines[1] == "FAIL drill     b: no"
