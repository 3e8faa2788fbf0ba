"""support_bundle.yml on a converged realm: logs, events, helm history of every component, no secret in it.

Real: the control plane, helm and the real magasin charts, the collection's modules and playbooks,
kubectl (its `logs` and `logs --previous` through the API server and kwok's kubelet endpoint), and
the log files behind the pods, which this test writes -- seeded with the realm's own generated
credentials, read from its Secrets here, so that the bundle has something to mask. Simulated: the
pods (kwok; no container runs, so the logs are what kwok's Logs rule names).
"""

from __future__ import annotations

import json
import re
import tarfile
import time
from pathlib import Path

import pytest
from kwok_debug import API, applied, cri_log
from realms import helm4_unless_asked, leaks, namespaces, secret_strings

REALM = "bnd"
NS = namespaces(REALM)
COMPONENT_NAMESPACES = {"minio": [NS["tenant"]], "drill": [NS["drill"]], "dagster": [NS["dagster"]],
                        "daskhub": [NS["daskhub"]], "superset": [NS["superset"]]}
PATH_RE = re.compile(r"Support bundle: (\S+\.tar\.gz)")


@pytest.fixture(scope="module")
def realm(site_dir, cluster, helm_bin) -> dict:
    """The realm `bnd` with every component, converged with site.yml from the real charts."""
    helm4_unless_asked(helm_bin, "the bundle reads helm history and values, which test_modules parses on both majors")
    run = site_dir("site.yml", {"magasin_realm": REALM})
    assert run.rc == 0, run.output[-6000:]
    values = cluster.secret_values(REALM)
    key_names = {where.rsplit("/", 1)[-1] for where in values}
    strings = sorted(secret_strings(values) - key_names)
    assert len(strings) >= 10, strings
    return {"strings": strings}


def logs_rule(current: Path, previous: Path) -> list[dict]:
    return [{"apiVersion": API, "kind": "ClusterLogs", "metadata": {"name": f"{REALM}-bundle"},
             "spec": {"selector": {"matchNamespaces": sorted(NS.values())},
                      "logs": [{"logsFile": str(current), "previousLogsFile": str(previous)}]}}]


def bundle(site_dir, out: Path, **extra) -> tuple[str, Path]:
    run = site_dir("playbooks/support_bundle.yml",
                   {"magasin_realm": REALM, "magasin_support_bundle_dir": str(out), **extra})
    assert run.rc == 0, run.output[-6000:]
    match = PATH_RE.search(run.output)
    assert match, run.output[-3000:]
    path = Path(match.group(1))
    unpacked = out / "unpacked"
    with tarfile.open(path) as tar:
        tar.extractall(unpacked, filter="data")
    (top,) = list(unpacked.iterdir())
    return run.output, top


def test_bundle_holds_logs_events_and_history_of_every_component_and_no_secret(realm, site_dir, cluster, tmp_path):
    seeded = realm["strings"][:6]
    current = cri_log(tmp_path / "current.log", ["bnd current log: starting"]
                      + [f"connecting with password={value} to the database" for value in seeded]
                      + ["bnd current log: ready"])
    previous = cri_log(tmp_path / "previous.log", ["bnd previous log: crashed", f"token {seeded[0]} refused"])
    status_file = tmp_path / "status.json"
    site_dir("playbooks/status.yml", {"magasin_realm": REALM, "magasin_status_file": str(status_file),
                                      "magasin_status_warn_only": True})
    kubectl = [str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}"]
    with applied(kubectl, logs_rule(current, previous)):
        output, top = bundle(site_dir, tmp_path, magasin_status_file=str(status_file))

    files = {p.relative_to(top).as_posix(): p.read_text(errors="replace") for p in top.rglob("*") if p.is_file()}
    assert json.loads(files["version.json"])["collection_version"] == "0.1.0"
    assert json.loads(files["status.json"])["realm"] == REALM
    assert "reports/status.json" in files
    assert "nodes.json" in " ".join(files) and "kwok-node-0" in files["cluster/nodes.json"]
    releases = {(r["namespace"], r["name"]) for r in cluster.releases() if r["namespace"] in NS.values()}
    for namespace, name in releases:
        component = next(c for c, nss in COMPONENT_NAMESPACES.items() if namespace in nss)
        history = json.loads(files[f"{component}/helm/{namespace}-{name}-history.json"])
        assert history and history[-1]["status"] == "deployed", (namespace, name)
        status = json.loads(files[f"{component}/helm/{namespace}-{name}-status.json"])
        assert status["status"] == "deployed" and "config" not in status
    for component, nss in COMPONENT_NAMESPACES.items():
        # Events live an hour (the API server's --event-ttl): a realm converged earlier may have none left.
        events = [e for ns in nss for e in cluster.items("events", ns)]
        assert f"{component}/events.txt" in files, component
        if events:
            assert files[f"{component}/events.txt"].strip(), component
            assert any(e["reason"] in files[f"{component}/events.txt"] for e in events), component
        pods = [p["metadata"]["name"] for ns in nss for p in cluster.items("pods", ns)]
        assert pods, component
        # The realm's own pods (the shared MinIO operator's, in another realm's namespace, are in the bundle too).
        logs = [p for p in files if any(p.startswith(f"{component}/logs/{ns}/") for ns in nss)]
        current_logs = [p for p in logs if p.endswith(".log") and not p.endswith(".previous.log")]
        previous_logs = [p for p in logs if p.endswith(".previous.log")]
        assert current_logs and len(current_logs) == len(previous_logs), (component, logs)
        for path in current_logs:
            assert "bnd current log: ready" in files[path], path
            assert "connecting with password=******** to the database" in files[path], path
        for path in previous_logs:
            assert "bnd previous log: crashed" in files[path], path
    # Every generated credential of the realm, in plain or base64, anywhere in the unpacked bundle or the output.
    assert leaks("\n".join(files.values()) + output, realm["strings"]) == []
    assert "get values" not in output


def test_bundle_is_bounded_and_long_logs_keep_their_tail(realm, site_dir, cluster, tmp_path):
    lines = [f"line {i:06d} {'x' * 60}" for i in range(40000)]
    current = tmp_path / "big.log"  # CRI format, one timestamp per line (cri_log's seconds stop at 99 lines)
    current.write_text("".join(f"2026-01-01T00:00:00.{i:09d}Z stdout F {line}\n" for i, line in enumerate(lines)))
    kubectl = [str(cluster.kubectl_bin), f"--kubeconfig={cluster.kubeconfig}"]
    bound = 3 * 1024 * 1024
    with applied(kubectl, logs_rule(current, current)):
        output, top = bundle(site_dir, tmp_path, magasin_support_bundle_max_bytes=bound,
                             magasin_support_bundle_log_bytes=64 * 1024)
    sizes = {p: p.stat().st_size for p in top.rglob("*") if p.is_file()}
    assert sum(sizes.values()) <= bound
    logs = [p for p in sizes if p.suffix == ".log" and f"/logs/{REALM}-" in p.as_posix()]
    assert logs
    for path in logs:
        text = path.read_text()
        assert text.startswith("[... ") and text.rstrip().endswith(lines[-1]), path
        assert sizes[path] <= 64 * 1024 + 100
    assert "Cut from the head:" in output


def test_bundle_describes_what_is_not_ready(realm, site_dir, cluster, tmp_path):
    ns = NS["superset"]
    cluster.kubectl("-n", ns, "patch", "deployment", "superset", "--type=merge", "-p",
                    json.dumps({"spec": {"template": {"spec": {"nodeSelector": {"magasin.test/no-such": "node"}}}}}))
    try:
        deadline = time.monotonic() + 60
        while not (cluster.kubectl_json("-n", ns, "get", "deployment", "superset").get("status") or {}) \
                .get("unavailableReplicas"):
            assert time.monotonic() < deadline, "the rollout never got stuck"
            time.sleep(0.5)
        output, top = bundle(site_dir, tmp_path)
    finally:
        cluster.kubectl("-n", ns, "rollout", "undo", "deployment/superset")
        cluster.kubectl("-n", ns, "rollout", "status", "deployment/superset", "--timeout=120s")
    described = {p.name: p.read_text() for p in (top / "superset" / "describe").iterdir()}
    deployment = described[f"deployment-{ns}-superset.txt"]
    assert "Name:" in deployment and "superset" in deployment and "magasin.test/no-such" in deployment
    pending = [text for name, text in described.items() if name.startswith(f"pod-{ns}-superset-")]
    assert pending and "FailedScheduling" in pending[0], sorted(described)
    assert "not ready: superset" in " ".join(output.split())
    assert leaks("\n".join(described.values()), realm["strings"]) == []
