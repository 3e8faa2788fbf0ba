# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: Apache Drill's REST API (POST /query.json, GET /storage.json), request and answer.

Pure functions, unit-tested without a cluster or a Drill. Drill answers /query.json with
{"queryId", "columns": [names], "rows": [{name: value}], "metadata": [types], "queryState"}; a failed
query is HTTP 200 with queryState FAILED and errorMessage in recent versions, HTTP 500 with
errorMessage in older ones.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

QUERY_PATH = "/query.json"
STORAGE_PATH = "/storage.json"
PORT = 8047
SERVICE = "drill-service"
# Statements that only read: what check mode runs.
READ_ONLY_RE = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(SELECT|SHOW|DESCRIBE|DESC|EXPLAIN|VALUES|WITH)\b", re.IGNORECASE)


def read_only(sql):
    return bool(READ_ONLY_RE.match(sql or ""))


def query_body(sql, limit=0):
    """The JSON body of POST /query.json; ``limit`` > 0 asks Drill to stop after that many rows (autoLimit)."""
    body = {"queryType": "SQL", "query": sql}
    if limit:
        body["autoLimit"] = int(limit)
    return json.dumps(body).encode("utf-8")


class DrillError(Exception):
    pass


def parse_query(status, text):
    """(columns, rows, query id) of a /query.json answer; DrillError with Drill's own message otherwise."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise DrillError("Drill answered HTTP %s with something that is not JSON: %s" % (status, text[:300])) from None
    if not isinstance(data, dict):
        raise DrillError("Drill answered HTTP %s with %s" % (status, type(data).__name__))
    message = data.get("errorMessage")
    if status != 200 or message or data.get("queryState") in ("FAILED", "CANCELED"):
        raise DrillError("Drill refused the query (HTTP %s, %s): %s" % (
            status, data.get("queryState") or "no state", (message or text[:300]).strip()))
    columns = list(data.get("columns") or [])
    rows = list(data.get("rows") or [])
    if not columns and rows:
        columns = list(rows[0])
    return columns, rows, data.get("queryId")


def parse_storage(status, text):
    """{plugin name: {type, enabled}} of a /storage.json answer (a list of {name, config})."""
    if status != 200:
        raise DrillError("Drill answered /storage.json with HTTP %s: %s" % (status, text[:300]))
    try:
        data = json.loads(text)
    except ValueError:
        raise DrillError("Drill's /storage.json is not JSON: %s" % text[:300]) from None
    out = {}
    for item in data if isinstance(data, list) else []:
        config = item.get("config") or {}
        out[item.get("name")] = {"type": config.get("type"), "enabled": bool(config.get("enabled"))}
    return out


def table(columns, rows, width=40):
    """The rows as aligned text lines for people."""
    cells = [[str(c) for c in columns]] + [[("" if r.get(c) is None else str(r.get(c)))[:width] for c in columns]
                                           for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
