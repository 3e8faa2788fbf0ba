"""drill_query.yml: a SQL statement through Drill's REST API, reached by a port-forward the module holds.

Real: the control plane, helm and the real drill chart (realm `bnd`, converged with site.yml), the
collection's module and playbook, kubectl port-forward through the API server and kwok's kubelet
endpoint to the drillbit pod, and what answers behind it: an HTTP server of this test on 127.0.0.1
speaking Drill's /query.json shape, whose SQL is run by SQLite (the rows are a real answer to the
statement). Simulated: the drillbit pod (kwok; no container runs) and Drill itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from day2_servers import api_server, port_forward_rule
from kwok_debug import applied
from realms import helm4_unless_asked, namespaces

REALM = "bnd"
NS = namespaces(REALM)


@pytest.fixture(scope="module")
def drillbit(site_dir, cluster, helm_bin) -> str:
    """The realm `bnd` converged with site.yml; its drillbit pod's name."""
    helm4_unless_asked(helm_bin, "drill_query reaches Drill with kubectl only")
    run = site_dir("site.yml", {"magasin_realm": REALM})
    assert run.rc == 0, run.output[-6000:]
    pods = [p["metadata"]["name"] for p in cluster.items("pods", NS["drill"]) if p["metadata"]["name"].startswith("drillbit-")]
    assert pods
    return pods[0]


def test_drill_query_returns_the_rows_through_a_port_forward(drillbit, site_dir, cluster, tmp_path: Path) -> None:
    kubectl = [str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}"]
    out = tmp_path / "rows.json"
    sql = "SELECT 'drill says hi' AS greeting, 6 * 7 AS answer UNION ALL SELECT 'second', 2"
    with api_server(sql=True) as server, applied(kubectl, [port_forward_rule(NS["drill"], drillbit, server.server_address[1])]):
        run = site_dir("playbooks/drill_query.yml", {"magasin_realm": REALM, "sql": sql, "magasin_drill_file": str(out)})
        assert run.rc == 0, run.output[-4000:]
        assert json.loads(out.read_text()) == {"columns": ["greeting", "answer"],
                                               "rows": [{"greeting": "drill says hi", "answer": "42"},
                                                        {"greeting": "second", "answer": "2"}]}
        assert "drill says hi" in run.output and "2 row(s)" in run.output
        (method, path, body), = server.requests
        assert (method, path) == ("POST", "/query.json")
        assert json.loads(body) == {"queryType": "SQL", "query": sql, "autoLimit": 1000}

        limited = site_dir("playbooks/drill_query.yml",
                           {"magasin_realm": REALM, "sql": sql, "magasin_drill_limit": 1, "magasin_drill_file": str(out)})
        assert limited.rc == 0 and len(json.loads(out.read_text())["rows"]) == 1

        bad = site_dir("playbooks/drill_query.yml", {"magasin_realm": REALM, "sql": "SELEKT nothing"})
        assert bad.rc != 0 and "Drill refused the query" in bad.output and "PARSE ERROR" in bad.output

        checked = site_dir("playbooks/drill_query.yml", {"magasin_realm": REALM, "sql": "CREATE TABLE t AS SELECT 1"},
                           "--check")
        assert checked.rc == 0 and "not sent in check mode" in checked.output
        assert [r for r in server.requests if "CREATE TABLE" in (r[2] or "")] == []


def test_drill_query_says_when_drill_is_not_there(drillbit, site_dir) -> None:
    run = site_dir("playbooks/drill_query.yml", {"magasin_realm": "smk-bad", "sql": "SELECT 1"})
    assert run.rc != 0 and "port-forward to service drill-service in smk-drill-bad" in run.output, run.output[-3000:]
