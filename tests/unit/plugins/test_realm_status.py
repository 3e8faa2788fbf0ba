"""realm_status: argv, parsers and the report of a realm from kubectl/helm output (no cluster)."""

import json

import yaml
from ansible_collections.magasin.platform.plugins.module_utils import _status as s
from ansible_collections.magasin.platform.plugins.modules import realm_status
from fake_module import FakeModule

NS = "magasin-superset"
DEPLOY = {"kind": "Deployment", "metadata": {"name": "superset", "namespace": NS},
          "spec": {"replicas": 1}, "status": {"availableReplicas": 1}}
POD = {"kind": "Pod", "metadata": {"name": "superset-5d9c-x1", "namespace": NS,
                                   "ownerReferences": [{"kind": "ReplicaSet", "name": "superset-5d9c"}]},
       "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
SVC = {"kind": "Service", "metadata": {"name": "superset", "namespace": NS},
       "spec": {"ports": [{"name": "http", "port": 8088}]}}
ING = {"kind": "Ingress", "metadata": {"name": "superset", "namespace": NS}, "spec": {
    "tls": [{"hosts": ["bi.example.org"]}], "rules": [{"host": "bi.example.org", "http": {"paths": [{"path": "/"}]}}]}}
PENDING = {"kind": "Pod", "metadata": {"name": "superset-77aa-y2", "namespace": NS,
                                       "ownerReferences": [{"kind": "ReplicaSet", "name": "superset-77aa"}]},
           "status": {"phase": "Pending", "conditions": [{
               "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
               "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}}
EVENT = {"kind": "Event", "metadata": {"name": "e1", "namespace": NS}, "type": "Warning", "reason": "FailedScheduling", "lastTimestamp": "2026-12-01T10:00:00Z",
         "message": "0/3 nodes are available", "involvedObject": {"kind": "Pod", "name": "superset-77aa-y2",
                                                                  "namespace": NS}}
RELEASES = {"%s/superset" % NS: {"status": "deployed", "revision": 2, "chart_name": "superset",
                                 "chart_version": "0.13.4", "app_version": "4.1.1", "updated": "u"}}
MANIFEST = "---\n# Source: x\napiVersion: v1\nkind: Service\nmetadata:\n  name: superset\n---\napiVersion: apps/v1\n" \
           "kind: Deployment\nmetadata:\n  name: superset\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
SECRET_TEXT = ("%s/magasin-superset-credentials:admin-password,password,\n%s/sh.helm.release.v1.superset.v2:release,\n"
               "%s/magasin-s3:AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,\nmagasin-tenant/magasin-minio-user-drill:"
               "CONSOLE_ACCESS_KEY,CONSOLE_SECRET_KEY,\nmagasin-drill/magasin-drill-storage-plugin:"
               "storage-plugins-override.conf,\n" % (NS, NS, NS))


def superset(objects, manifests=None):
    return s.report("magasin", ["superset"], objects, RELEASES, s.parse_secret_keys(SECRET_TEXT),
                    manifests if manifests is not None else {"%s/superset" % NS: MANIFEST}, yaml.safe_load_all)


def test_argv():
    assert s.objects_args(NS) == ["get", ",".join(s.KINDS), "--namespace", NS, "--output", "json"]
    assert s.secrets_args(NS)[:4] == ["get", "secrets", "--namespace", NS]
    assert "{{$k}}" in s.secrets_args(NS)[-1] and "$v}}" not in s.secrets_args(NS)[-1].replace("$v := ", "")
    assert s.operator_args()[:2] == ["get", "clusterroles.rbac.authorization.k8s.io/minio-operator-role"]
    assert s.manifest_args("drill", "magasin-drill") == ["get", "manifest", "drill", "--namespace", "magasin-drill"]


def test_namespaces_per_component():
    assert s.component_namespaces("ab-cd", ["superset", "minio"]) == {
        "minio": ["ab-operator-cd", "ab-tenant-cd"], "superset": ["ab-superset-cd"]}


def test_secret_keys_and_read_commands():
    keys = s.parse_secret_keys(SECRET_TEXT)
    assert keys["%s/magasin-s3" % NS] == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    creds = s.credentials(keys, ["magasin-tenant", "magasin-drill"])
    assert [c["secret"] for c in creds] == ["magasin-drill-storage-plugin", "magasin-minio-user-drill"]
    assert creds[0]["commands"]["storage-plugins-override.conf"] == (
        "kubectl -n magasin-drill get secret magasin-drill-storage-plugin "
        "-o jsonpath='{.data.storage-plugins-override\\.conf}' | base64 -d")


def test_ready_component():
    status = superset([DEPLOY, POD, SVC, ING])
    entry = status["components"]["superset"]
    assert status["ready"] and entry["ready"] and entry["problems"] == []
    assert entry["releases"] == [{"name": "superset", "namespace": NS, "status": "deployed", "revision": 2,
                                  "updated": "u", "chart": "superset-0.13.4", "app_version": "4.1.1",
                                  "shared": False}]
    assert entry["endpoints"][0]["url"] == "http://superset.magasin-superset.svc.cluster.local:8088"
    assert entry["ingress_urls"] == ["https://bi.example.org/"]
    assert [c["secret"] for c in entry["credentials"]] == ["magasin-s3", "magasin-superset-credentials"]
    text = "\n".join(s.table(status))
    assert "Realm magasin: ready" in text and "sh.helm.release" not in text
    assert "magasin-superset/superset" in text and "superset-0.13.4" in text


def test_pending_pod_names_the_cause_and_the_event():
    stuck = dict(DEPLOY, status={"availableReplicas": 0})
    status = superset([stuck, PENDING, SVC, EVENT])
    assert status["not_ready"] == ["superset"] and not status["ready"]
    problem = status["components"]["superset"]["problems"][0]
    assert problem.startswith("Deployment magasin-superset/superset: 0/1 availableReplicas -- pod superset-77aa-y2 "
                              "Pending: PodScheduled=False Unschedulable: 0/3 nodes")
    assert "FailedScheduling: 0/3 nodes are available" in problem
    assert "NOT READY" in s.table(status)[0] and any("Unschedulable" in line for line in s.table(status))


def test_deleted_service_and_failed_release():
    status = superset([DEPLOY, POD])
    assert status["components"]["superset"]["problems"] == [
        "Service magasin-superset/superset: missing (in release superset's manifest, not in the cluster)"]
    failed = dict(RELEASES["%s/superset" % NS], status="failed")
    status = s.report("magasin", ["superset"], [DEPLOY, POD, SVC], {"%s/superset" % NS: failed}, {}, {},
                      yaml.safe_load_all)
    assert status["components"]["superset"]["problems"] == ["release magasin-superset/superset: failed"]


def test_absent_component_and_waiting_container():
    status = s.report("magasin", ["drill"], [], {}, {}, {}, yaml.safe_load_all)
    assert status["components"]["drill"]["problems"] == ["no Helm release in magasin-drill"]
    pod = {"kind": "Pod", "status": {"phase": "Pending", "containerStatuses": [
        {"name": "app", "state": {"waiting": {"reason": "ImagePullBackOff", "message": "no such image"}}}]}}
    assert s.pod_causes(pod) == ["container app waiting: ImagePullBackOff no such image"]


def test_manager_reads_per_namespace_never_across_all():
    objects = {"kind": "List", "items": [DEPLOY, POD, SVC]}
    helm_list = [{"name": "superset", "namespace": NS, "revision": "2", "status": "deployed",
                  "chart": "superset-0.13.4", "app_version": "4.1.1", "updated": "u"}]
    # The shared operator is another realm's: its namespace comes from its ClusterRole's Helm annotations.
    operator_list = [{"name": "operator", "namespace": "magasin-operator", "revision": "1", "status": "deployed",
                      "chart": "operator-5.0.11", "app_version": "v5.0.11", "updated": "u"},
                     {"name": "stray", "namespace": "magasin-operator", "revision": "1", "status": "failed",
                      "chart": "stray-1.0.0", "app_version": "1", "updated": "u"}]
    role = {"kind": "ClusterRole", "metadata": {"name": "minio-operator-role", "annotations": {
        "meta.helm.sh/release-name": "operator", "meta.helm.sh/release-namespace": "magasin-operator"}}}
    module = FakeModule({"realm": "magasin", "components": ["superset"]}, [
        (lambda c: c[0] == "/bin/kubectl" and "clusterroles" in c[2], (0, json.dumps(role), "")),
        (lambda c: c[0] == "/bin/kubectl" and "secrets" in c, (0, SECRET_TEXT, "")),
        (lambda c: c[0] == "/bin/kubectl" and NS in c, (0, json.dumps(objects), "")),
        (lambda c: c[0] == "/bin/kubectl" and "magasin-operator" in c, (0, '{"kind": "List", "items": []}', "")),
        (lambda c: c[0] == "/bin/helm" and "list" in c and NS in c, (0, json.dumps(helm_list), "")),
        (lambda c: c[0] == "/bin/helm" and "list" in c, (0, json.dumps(operator_list), "")),
        (lambda c: c[0] == "/bin/helm" and "manifest" in c and NS in c, (0, MANIFEST, "")),
        (lambda c: c[0] == "/bin/helm" and "manifest" in c, (0, "", "")),
        (lambda c: "version" in c, (0, '{"version": "v3.17.2"}', "")),
    ])
    result = realm_status.RealmStatusManager(module).run()
    assert not [c for c in module.commands if "--all-namespaces" in c or "-A" in c]
    kubectl = [c for c in module.commands if c[0] == "/bin/kubectl"]
    assert sorted((c[1], c[2].split(",")[0], c[c.index("--namespace") + 1] if "--namespace" in c else None)
                  for c in kubectl) == [("get", "clusterroles.rbac.authorization.k8s.io/minio-operator-role", None),
                                        ("get", "deployments.apps", "magasin-operator"), ("get", "deployments.apps", NS),
                                        ("get", "secrets", NS)]
    lists = [c for c in module.commands if c[0] == "/bin/helm" and c[1] == "list"]
    assert sorted(c[c.index("--namespace") + 1] for c in lists) == ["magasin-operator", NS]
    manifests = [c for c in module.commands if "manifest" in c]
    assert sorted(c[c.index("manifest") + 1] for c in manifests) == ["operator", "superset"]
    assert result["ready"] and result["changed"] is False
    assert [e["service"] for e in result["components"]["superset"]["endpoints"]] == ["superset"]


def test_stuck_rollout_with_old_pod_still_available():
    rolling = dict(DEPLOY, status={"availableReplicas": 1, "updatedReplicas": 1, "unavailableReplicas": 1})
    problem = superset([rolling, POD, PENDING, SVC, EVENT])["components"]["superset"]["problems"][0]
    assert problem.startswith("Deployment magasin-superset/superset: rollout stuck: 1/1 updated, 1 unavailable -- "
                              "pod superset-77aa-y2 Pending")
    assert "superset-5d9c-x1" not in problem


def test_endpoint_urls_by_port_name():
    svc = dict(SVC, spec={"ports": [{"name": "tcp-postgresql", "port": 5432}, {"name": "https", "port": 4223}]})
    assert [e["url"] for e in s.endpoints([svc])] == [
        "superset.magasin-superset.svc.cluster.local:5432", "https://superset.magasin-superset.svc.cluster.local:4223"]


def test_shared_operator_of_another_realm_is_reported_under_minio():
    releases = {"magasin-operator/operator": {"status": "deployed", "chart_name": "operator", "chart_version": "5.0.11"},
                "ab-tenant-cd/tenant": {"status": "deployed", "chart_name": "tenant", "chart_version": "5.0.11"}}
    status = s.report("ab-cd", ["minio"], [], releases, {}, {}, yaml.safe_load_all)
    rels = status["components"]["minio"]["releases"]
    assert [(r["namespace"], r["name"], r["shared"]) for r in rels] == [
        ("ab-tenant-cd", "tenant", False), ("magasin-operator", "operator", True)]
    assert status["ready"]
