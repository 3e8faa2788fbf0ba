"""The backup and restore Jobs, the request checks, the manifest and the sealed Secrets (_backup): pure, no cluster."""

from __future__ import annotations

import base64
import json

import pytest
from ansible_collections.magasin.platform.plugins.filter import backup as F
from ansible_collections.magasin.platform.plugins.module_utils import _backup, _realm

IMAGES = {"postgresql": "docker.io/library/postgres:16.6", "mc": "quay.io/minio/mc:RELEASE.2023-11-20T16-30-59Z"}


def model(realm="bk1", components=("minio", "dagster", "superset"), registry=""):
    return _realm.realm_model({"magasin_realm": realm, "magasin_components": list(components),
                               "magasin_image_registry": registry}, {})


def spec(**extra):
    return dict({"id": "20261201T120000Z", "parts": ["postgresql", "minio"], "buckets": ["magasin"], "images": IMAGES},
                **extra)


def containers(job):
    pod = job["spec"]["template"]["spec"]
    return (pod.get("initContainers") or []) + pod["containers"]


def test_backup_job_dumps_each_database_then_stores_with_credentials_by_reference_only():
    job = _backup.backup_job(model(registry="r.example.org/m"), spec(), "SCRIPT")
    assert [c["name"] for c in containers(job)] == ["dump-superset", "dump-dagster", "store"]
    assert [c["image"] for c in containers(job)] == ["r.example.org/m/library/postgres:16.6"] * 2 + [
        "r.example.org/m/minio/mc:RELEASE.2023-11-20T16-30-59Z"]
    assert job["metadata"]["namespace"] == "bk1-tenant"
    dump = {e["name"]: e for e in containers(job)[0]["env"]}
    assert dump["PGHOST"]["value"] == "superset-postgresql.bk1-superset.svc.cluster.local"
    assert dump["PGPASSWORD"] == {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {
        "name": _backup.CREDENTIALS_SECRET, "key": "superset-password"}}}
    store = {e["name"]: e for e in containers(job)[2]["env"]}
    assert store["DST_PREFIX"]["value"] == "bk1/20261201T120000Z" and store["DST_BUCKET"]["value"] == "magasin-backup"
    assert store["SRC_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "realm-secret-key"
    assert all(c["command"] == ["/bin/sh", "-c", "SCRIPT", "magasin-backup", c["command"][4]] for c in containers(job))
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["restartPolicy"] == "Never"
    # The same request is the same Job; another id, another Job.
    assert _backup.backup_job(model(registry="r.example.org/m"), spec(), "SCRIPT") == job
    assert _backup.backup_job(model(registry="r.example.org/m"), spec(id="other"), "SCRIPT")["metadata"]["name"] != \
        job["metadata"]["name"]


def test_parts_choose_the_steps():
    only_db = _backup.backup_job(model(), spec(parts=["postgresql"]), "S")
    assert {e["name"]: e.get("value") for e in containers(only_db)[-1]["env"]}["BUCKETS"] == ""
    only_minio = _backup.backup_job(model(), spec(parts=["minio"]), "S")
    assert [c["name"] for c in containers(only_minio)] == ["store"]
    restore = _backup.restore_job(model("bk2"), spec(parts=["minio"], from_realm="bk1", bucket_map={"magasin": "old"}), "S")
    assert [c["name"] for c in containers(restore)] == ["load"]
    env = {e["name"]: e.get("value") for e in containers(restore)[0]["env"]}
    assert env["SRC_PREFIX"] == "bk1/20261201T120000Z" and env["BUCKET_MAP"] == "magasin=old" and env["DUMPS"] == ""


def test_a_realm_without_minio_backs_up_to_an_external_target_from_a_database_namespace():
    m = model(components=("superset",))
    target = {"endpoint": "https://s3.example.org/", "bucket": "backups", "prefix": "ministry", "access_key": "a",
              "secret_key": "b"}
    job = _backup.backup_job(m, spec(parts=["postgresql"], target=target), "S")
    assert job["metadata"]["namespace"] == "bk1-superset"
    env = {e["name"]: e for e in containers(job)[-1]["env"]}
    assert env["DST_URL"]["value"] == "https://s3.example.org" and env["DST_PREFIX"]["value"] == "ministry/bk1/20261201T120000Z"
    assert env["DST_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "target-access-key"
    assert "SRC_URL" not in env
    assert [s["key"] for s in _backup.credential_sources(m, {})] == ["superset-password"]


def test_problems_name_the_variable_and_the_fix():
    lines = F.backup_problems(model(components=("superset",)), spec(id="no/slash", parts=["minio", "secrets", "x"],
                                                                    passphrase=True, passphrase_length=5, dir=""))
    assert "backup_id: 'no/slash' is not a backup id" in lines
    assert "backup_parts: x: choose from postgresql, minio, secrets" in lines
    assert "backup_parts: minio: the buckets are mirrored from the realm's MinIO" in lines
    assert "backup_target: the realm has no MinIO" in lines
    assert "backup_passphrase: at least 12 characters" in lines
    assert "backup_dir: the sealed Secrets are written to" in lines
    assert F.backup_problems(model(), spec(parts=["postgresql", "minio", "secrets"], passphrase=True,
                                           passphrase_length=20, dir="/srv")) == ""
    ext = F.backup_problems(model(), spec(target={"endpoint": "https://s3.example.org"}))
    assert "backup_target: an external endpoint needs access_key and secret_key" in ext


def test_manifest_checks(tmp_path):
    (tmp_path / "postgresql").mkdir()
    (tmp_path / "postgresql" / "superset.dump").write_bytes(b"dump")
    (tmp_path / "extra").write_text("x")
    size, digest = _backup.file_digest(str(tmp_path / "postgresql" / "superset.dump"))
    manifest = _backup.parse_manifest(json.dumps({"format": _backup.MANIFEST_FORMAT, "artifacts": [
        {"path": "postgresql/superset.dump", "size": size, "sha256": digest},
        {"path": "minio/magasin/a", "size": 1, "sha256": "0" * 64}]}))
    assert _backup.verify_dir(str(tmp_path), manifest) == [{"path": "extra", "problem": "not in the manifest"},
                                                           {"path": "minio/magasin/a", "problem": "missing"}]
    (tmp_path / "postgresql" / "superset.dump").write_bytes(b"dumq")
    assert _backup.verify_dir(str(tmp_path), manifest)[2]["problem"].startswith("sha256 ")
    assert _backup.artifacts_by_kind(manifest) == {"postgresql": ["superset"], "minio": ["magasin"], "secrets": False}
    for bad in ("{", json.dumps({"format": "x"}), json.dumps({"format": _backup.MANIFEST_FORMAT, "artifacts": [
            {"path": "../etc/passwd", "size": 1, "sha256": "0" * 64}]})):
        with pytest.raises(_backup.BackupError):
            _backup.parse_manifest(bad)


def test_sealed_secrets_open_only_with_the_passphrase_and_move_to_another_realm():
    sealed = [{"namespace": "bk1-tenant", "name": "magasin-minio-root", "type": "Opaque",
               "labels": {"magasin.unicef.org/realm": "bk1"}, "data": {"root-password": base64.b64encode(b"s3cr3t!").decode()}},
              {"namespace": "elsewhere", "name": "x", "type": "Opaque", "labels": {}, "data": {}}]
    blob = _backup.seal(sealed, "a long passphrase", "bk1")
    assert b"s3cr3t" not in blob and base64.b64encode(b"s3cr3t!") not in blob
    assert _backup.unseal(blob, "a long passphrase") == ("bk1", sealed)
    with pytest.raises(_backup.BackupError, match="does not open with this passphrase"):
        _backup.unseal(blob, "another passphrase")
    doc = json.loads(blob)
    with pytest.raises(_backup.BackupError, match="does not open"):
        _backup.unseal(json.dumps(dict(doc, realm="bk2")), "a long passphrase")
    with pytest.raises(_backup.BackupError, match="at least 12"):
        _backup.seal(sealed, "short", "bk1")
    moved = _backup.rehome(sealed, _realm.realm_names("bk1")[2], _realm.realm_names("bk2")[2],
                           {"magasin.unicef.org/realm": "bk2"})
    assert moved == [{"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                      "metadata": {"name": "magasin-minio-root", "namespace": "bk2-tenant",
                                   "labels": {"magasin.unicef.org/realm": "bk2"}},
                      "data": sealed[0]["data"]}]
