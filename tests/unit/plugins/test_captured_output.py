"""Parsers on output captured from real runs (tests/unit/fixtures): Helm 3.17.2, Helm 4.3.1, kubectl 1.37.1
against the test cluster (Kubernetes 1.37.2). Regenerate them when a pinned version changes."""

import json
from pathlib import Path

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _helm as h
from ansible_collections.magasin.platform.plugins.module_utils import _kubectl as k
from ansible_collections.magasin.platform.plugins.modules import cluster_info

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAJORS = ["helm3", "helm4"]


def load(name):
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


@pytest.mark.parametrize("major", MAJORS)
def test_status_lacks_chart_and_list_supplies_it(major):
    release = h.parse_release(load(f"{major}/status.json"))
    assert release["status"] == "deployed" and release["revision"] == 2
    assert release["values"] == {"auth": {"password": "captured-not-a-secret"}, "replicas": 2}
    assert release["chart_name"] is None  # helm status -o json has no chart, on both majors
    assert "kind: Deployment" in release["manifest"]
    assert release["description"] == "magasin.platform: demo-0.1.0"
    assert h.parse_time(release["updated"]) is not None
    entry = h.parse_list_entry(load(f"{major}/list.json")[0])
    assert entry == {"chart_name": "demo", "chart_version": "0.1.0", "app_version": "1.0.0"}
    release.update(entry)
    assert h.release_result(release) == {"name": "demo", "namespace": f"capture-{major}", "status": "deployed",
                                         "revision": 2, "chart": "demo-0.1.0", "chart_version": "0.1.0",
                                         "app_version": "1.0.0"}


@pytest.mark.parametrize("major", MAJORS)
def test_install_output_carries_the_chart(major):
    release = h.parse_release(load(f"{major}/install.json"))
    assert (release["chart_name"], release["chart_version"], release["app_version"]) == ("demo", "0.1.0", "1.0.0")
    assert release["revision"] == 1 and release["status"] == "deployed"


@pytest.mark.parametrize("major", MAJORS)
def test_history_and_version(major):
    history = h.parse_history(load(f"{major}/history.json"))
    assert [(r["revision"], r["status"]) for r in history] == [(1, "superseded"), (2, "deployed")]
    assert h.last_good_revision(history) == 2
    assert h.parse_version(load(f"{major}/version.txt"))[0] == int(major[-1])
    assert h.is_not_found(load(f"{major}/status-not-found.stderr"))


@pytest.mark.parametrize(("chart", "expected"), [
    ("demo-0.1.0", ("demo", "0.1.0")), ("my-chart-1.2.3-rc.1", ("my-chart", "1.2.3-rc.1")),
    ("operator-5.0.11", ("operator", "5.0.11")), ("weird", ("weird", None)),
])
def test_split_chart(chart, expected):
    assert h.split_chart(chart) == expected


def test_kubectl_captured_cluster():
    info = k.summarize(k.list_items(load("kubectl/nodes-classes.json")))
    assert info["totals"]["nodes"] == 3 and info["totals"]["cpu"] == 24
    assert info["totals"]["memory"] == 3 * 32 * 1024 ** 3
    assert info["default_storage_class"] == "standard"
    assert k.parse_server_version(load("kubectl/version.json"))["minor"] == 37
    context, server = cluster_info.parse_config_view(load("kubectl/config-view.json"))
    assert context and server.startswith("https://127.0.0.1:")
