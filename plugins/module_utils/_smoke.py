# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: what the smoke test of a realm checks, and what each answer means.

Pure functions, unit-tested without a cluster: the S3 steps of each consumer with its own keys
(Drill may read and list, never write; Dagster and the notebooks write, read and delete), each
UI's health path, and the readers of Drill's storage list and Superset's database list. The module
runs the requests through port-forwards; no key ever reaches a result.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ._values import S3_CONSUMERS

# Health path of each UI behind its forward (minio: the S3 API's own liveness path).
HEALTH = {"minio": "/minio/health/live", "drill": "/status", "dagster": "/server_info", "daskhub": "/hub/health",
          "superset": "/health"}
SMOKE_PREFIX = "magasin-smoke"
DENIED = (403,)


def consumers(components):
    """[(component, user, policy)] of the selected S3 consumers, writers first (Drill reads what they wrote)."""
    found = [(c, S3_CONSUMERS[c]["user"], S3_CONSUMERS[c]["policy"]) for c in ("dagster", "daskhub", "drill")
             if c in components]
    return sorted(found, key=lambda item: item[2] != "readwrite")


def s3_steps(components, bucket, run_id):
    """The S3 requests, in order: {component, user, method, key (object, or '' for the bucket), expect (statuses),
    proves, needs (the key another consumer must have written first, else '')}. Each writer's object is read by
    Drill before the writer deletes it; a read of an object its writer could not write is left out, so one
    consumer's failure is not reported as another's."""
    users = consumers(components)
    writers = [u for u in users if u[2] == "readwrite"]
    steps = []
    for component, user, _policy in writers:
        steps.append((component, user, "PUT", "%s/%s-%s.txt" % (SMOKE_PREFIX, user, run_id), (200,), "writes"))
    for component, user, policy in users:
        if policy != "read":
            continue
        steps.append((component, user, "GET", "", (200,), "lists the bucket"))
        for writer, writer_user, _policy in writers:
            steps.append((component, user, "GET", "%s/%s-%s.txt" % (SMOKE_PREFIX, writer_user, run_id), (200,),
                          "reads what %s wrote" % writer))
        steps.append((component, user, "PUT", "%s/%s-%s.txt" % (SMOKE_PREFIX, user, run_id), DENIED,
                      "may not write"))
    for component, user, _policy in writers:
        key = "%s/%s-%s.txt" % (SMOKE_PREFIX, user, run_id)
        steps.append((component, user, "GET", key, (200,), "reads back"))
        steps.append((component, user, "DELETE", key, (204,), "deletes"))
    return [{"component": c, "user": u, "method": m, "key": k, "expect": e, "proves": p,
             "needs": k if p.startswith("reads what") else ""} for c, u, m, k, e, p in steps]


def s3_url(endpoint, bucket, key):
    return "%s/%s/%s" % (endpoint.rstrip("/"), bucket, key) if key else "%s/%s?list-type=2" % (endpoint.rstrip("/"),
                                                                                               bucket)


def s3_body(step, run_id):
    return ("magasin smoke test %s by %s\n" % (run_id, step["user"])).encode("utf-8") if step["method"] == "PUT" else b""


def s3_error_code(text):
    """The <Code> of an S3 error document ('' when none)."""
    start = (text or "").find("<Code>")
    end = (text or "").find("</Code>")
    return text[start + 6:end] if 0 <= start < end else ""


def check(component, name, ok, detail):
    return {"component": component, "check": name, "ok": bool(ok), "detail": detail}


def s3_check(step, status, text, expected_body=None):
    what = "S3 %s %s as %s (%s)" % (step["method"], step["key"] or "bucket listing", step["user"], step["proves"])
    ok = status in step["expect"]
    if ok and expected_body is not None and step["method"] == "GET" and step["key"]:
        ok = text == expected_body
        detail = "read back what was written" if ok else "read something else than was written"
    elif status == 0:
        detail = "%s (expected HTTP %s)" % (text, "/".join(str(s) for s in step["expect"]))
    else:
        detail = "HTTP %s%s (expected %s)" % (status, (" " + s3_error_code(text)) if s3_error_code(text) else "",
                                              "/".join(str(s) for s in step["expect"]))
    return check(step["component"], what, ok, detail)


def storage_check(plugins, name):
    plugin = (plugins or {}).get(name)
    ok = bool(plugin and plugin.get("enabled"))
    detail = ("plugin %s enabled (%s)" % (name, plugin.get("type")) if ok else
              "plugin %s %s; Drill lists: %s" % (name, "disabled" if plugin else "missing", ", ".join(sorted(plugins or {}))))
    return check("drill", "Drill lists the storage plugin %s" % name, ok, detail)


def superset_databases(text):
    """database_name of each entry of Superset's GET /api/v1/database/ answer."""
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return [d.get("database_name") for d in (data.get("result") or []) if isinstance(d, dict)]


def report(checks):
    """(ok, failed components in order of appearance, lines for people)."""
    failed = []
    for item in checks:
        if not item["ok"] and item["component"] not in failed:
            failed.append(item["component"])
    lines = ["%-4s %-9s %s: %s" % ("ok" if c["ok"] else "FAIL", c["component"], c["check"], c["detail"]) for c in checks]
    return not failed, failed, lines
