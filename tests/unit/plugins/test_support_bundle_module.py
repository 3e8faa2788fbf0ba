"""support_bundle: which strings are masked, how the bundle is bounded and packed (no cluster)."""

import base64
import gzip
import io
import json
import tarfile

from ansible_collections.magasin.platform.plugins.module_utils import _bundle as b
from ansible_collections.magasin.platform.plugins.module_utils._redact import MASK


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(name, data, kind_type="Opaque"):
    return {"kind": "Secret", "type": kind_type, "metadata": {"name": name, "namespace": "bnd-drill"},
            "data": dict((k, b64(v)) for k, v in data.items())}


def helm_release(config):
    inner = base64.b64encode(gzip.compress(json.dumps({"name": "drill", "config": config}).encode())).decode()
    return {"kind": "Secret", "type": "helm.sh/release.v1", "metadata": {"name": "sh.helm.release.v1.drill.v1"},
            "data": {"release": b64(inner)}}


def test_secret_strings_take_credentials_not_names_ports_or_locations():
    found = b.secret_strings([
        secret("magasin-minio-user-drill", {"CONSOLE_ACCESS_KEY": "drill-Xk29aQ", "CONSOLE_SECRET_KEY": "p4ss-w0rd-123"}),
        secret("magasin-s3", {"AWS_ACCESS_KEY_ID": "AKIA7Q2Z", "AWS_REGION": "us-east-1",
                              "AWS_ENDPOINT_URL": "http://minio.bnd-tenant.svc.cluster.local",
                              "MAGASIN_S3_BUCKET": "magasin"}),
        secret("magasin-superset-env", {"DB_USER": "superset", "DB_PORT": "5432", "DB_PASS": "Zz9-yy8-xx7"}),
    ])
    for value in ("drill-Xk29aQ", "p4ss-w0rd-123", "AKIA7Q2Z", "Zz9-yy8-xx7"):
        assert value in found and b64(value) in found
    for value in ("us-east-1", "magasin", "superset", "5432", "http://minio.bnd-tenant.svc.cluster.local"):
        assert value not in found


def test_secret_strings_look_inside_multi_line_values_and_helm_releases():
    env = "export MINIO_ROOT_USER=\"rootUser7k\"\nexport MINIO_ROOT_PASSWORD='R00t-pw-abc'\nexport MINIO_BROWSER=on\n"
    hocon = 'storage: { s3: { config: { "fs.s3a.secret.key": "hocon-S3cret9", "fs.s3a.endpoint": "http://m" } } }'
    found = b.secret_strings([secret("magasin-minio-env-configuration", {"config.env": env}),
                              secret("magasin-drill-storage-plugin", {"plugin.conf": hocon + "\n"}),
                              helm_release({"auth": {"adminPassword": "Helm-given-9x"}, "replicas": 2})])
    assert {"rootUser7k", "R00t-pw-abc", "hocon-S3cret9", "Helm-given-9x"} <= found
    assert "on" not in found and "http://m" not in found


def test_mask_replaces_longest_first_and_base64():
    secrets = b.secret_strings([secret("s", {"password": "abc123def", "token": "abc123def456"})])
    text = "login abc123def456 then abc123def, encoded %s" % b64("abc123def")
    masked = b.mask(text, secrets)
    assert masked == "login %s then %s, encoded %s" % (MASK, MASK, MASK)


def test_tail_keeps_whole_last_lines_and_says_what_was_cut():
    text = "".join("line %03d\n" % i for i in range(100))
    cut, was_cut = b.tail(text, 120)
    assert was_cut and cut.startswith("[... ") and cut.endswith("line 099\n") and len(cut) <= 120
    assert "line 000" not in cut
    kept = cut.split("\n", 1)[1]
    assert all(line.startswith("line ") for line in kept.splitlines())
    assert b.tail("short\n", 50) == ("short\n", False)


def test_fit_bounds_the_bundle_and_shares_what_is_left_between_the_logs():
    files = {"status.json": "x" * 100}
    logs = {"a.log": "a\n" * 10, "big.log": "b\n" * 5000, "other.log": "c\n" * 5000}
    out, cut = b.fit(files, logs, max_bytes=4300, log_bytes=3000)
    assert out["status.json"] == "x" * 100 and out["a.log"] == "a\n" * 10
    assert sum(len(t) for t in out.values()) <= 4300
    starved, cut_all = b.fit(files, dict(("%d.log" % i, "x\n" * 100) for i in range(30)), max_bytes=3000)
    assert sum(len(t) for t in starved.values()) <= 3000 and len(cut_all) == 30
    assert cut == ["big.log", "other.log"]
    assert out["big.log"].endswith("b\n") and out["big.log"].startswith("[... ")


def test_pack_writes_files_under_one_directory_mode_0600():
    data = b.pack({"b/x.log": "hello\n", "README.txt": "r\n"}, "magasin-support-bnd-1", 1700000000)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["magasin-support-bnd-1/README.txt", "magasin-support-bnd-1/b/x.log"]
        assert all(m.mode == 0o600 for m in members)
        assert tar.extractfile(members[1]).read() == b"hello\n"


def test_not_ready_and_log_targets():
    ready = {"kind": "Deployment", "metadata": {"name": "ok", "namespace": "n"}, "spec": {"replicas": 1},
             "status": {"availableReplicas": 1, "updatedReplicas": 1}}
    stuck = {"kind": "Deployment", "metadata": {"name": "stuck", "namespace": "n"}, "spec": {"replicas": 1},
             "status": {}}
    done = {"kind": "Pod", "metadata": {"name": "job-x", "namespace": "n"}, "status": {"phase": "Succeeded"},
            "spec": {"containers": [{"name": "run"}]}}
    pending = {"kind": "Pod", "metadata": {"name": "p", "namespace": "n"}, "status": {"phase": "Pending"},
               "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "main"}]}}
    assert b.not_ready([ready, stuck, done, pending]) == [("Deployment", "n", "stuck"), ("Pod", "n", "p")]
    assert b.log_targets([pending, done]) == [("n", "job-x", "run"), ("n", "p", "init"), ("n", "p", "main")]
    assert b.logs_args("n", "p", "main", previous=True, tail_lines=5) == [
        "logs", "--namespace", "n", "p", "--container", "main", "--tail", "5", "--previous"]


def test_release_status_never_keeps_the_values_or_the_manifest():
    status = {"name": "drill", "namespace": "bnd-drill", "version": 2, "config": {"password": "x"},
              "manifest": "kind: Secret", "info": {"status": "deployed", "notes": "hello", "description": "d"}}
    kept = b.release_status(status)
    assert "config" not in kept and "manifest" not in kept and kept["status"] == "deployed" and kept["revision"] == 2


def test_events_text_and_node_facts():
    ev = {"kind": "Event", "metadata": {"namespace": "n"}, "type": "Warning", "reason": "BackOff", "count": 3,
          "involvedObject": {"kind": "Pod", "name": "p"}, "message": "restarting ", "lastTimestamp": "t1"}
    assert b.events_text([ev]) == "t1 n Warning BackOff Pod/p x3: restarting\n"
    node = {"metadata": {"name": "kwok-node-0", "labels": {"a": "b"}, "managedFields": [1]},
            "status": {"images": [{"names": ["x"]}], "capacity": {"cpu": "8"}, "nodeInfo": {"kubeletVersion": "v1"},
                       "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "t"}]}}
    facts = b.node_facts([node])[0]
    assert "images" not in facts and facts["conditions"] == [{"type": "Ready", "status": "True", "reason": None,
                                                              "message": None}]
