"""Backup and restore on REAL servers on 127.0.0.1: what the backup and restore Jobs run, end to end.

Real: two PostgreSQL 15 servers (Debian's packages; one per realm, each with the realms' own users and
passwords, password authentication), two MinIO servers (github.com/minio/minio and mc built from the Go
module proxy by tests/support/minio_build.py), the collection's roles/backup/files/magasin-backup.sh,
pg_dump/pg_restore/mc, and the Jobs exactly as plugins/module_utils/_backup.py builds them for the realms
bk1 (backed up) and bk2 (a NEW realm restored from bk1's backup, read from bk1's MinIO as an external
target). Each Job container's command runs here with its environment; its Secret references are resolved
from the credentials the playbook would copy into the Job's Secret, and the Services' names are replaced
by the servers' 127.0.0.1 addresses (the only change). Not here: the cluster (tests/integration/test_backup.py
checks the Jobs, their Secret and ordering there; kwok runs no container).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest
from backup_servers import PG_BIN, mc, minio, object_digests, postgresql, psql, run_job, table_digests
from realms import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / ".collections"))
from ansible_collections.magasin.platform.plugins.module_utils import _backup, _realm

SCRIPT = (REPO_ROOT / "roles" / "backup" / "files" / "magasin-backup.sh").read_text()
COMPONENTS = ["minio", "dagster", "superset"]
IMAGES = {"postgresql": "docker.io/library/postgres:16.6", "mc": "quay.io/minio/mc:RELEASE.2023-11-20T16-30-59Z"}
BACKUP_BUCKET = "magasin-backup"

SUPERSET_SQL = """
CREATE TABLE dashboards (id serial PRIMARY KEY, title text NOT NULL, position jsonb, created timestamptz DEFAULT now());
CREATE TABLE slices (id bigserial PRIMARY KEY, dashboard_id int REFERENCES dashboards(id), params bytea, ratio numeric(10,4));
CREATE INDEX slices_dashboard ON slices (dashboard_id);
CREATE VIEW dashboard_sizes AS SELECT d.title, count(s.id) AS n FROM dashboards d LEFT JOIN slices s ON s.dashboard_id = d.id GROUP BY d.title;
INSERT INTO dashboards (title, position) SELECT 'board ' || i, jsonb_build_object('row', i, 'tags', jsonb_build_array('a', i)) FROM generate_series(1, 200) i;
INSERT INTO slices (dashboard_id, params, ratio) SELECT 1 + i % 200, decode(md5(i::text), 'hex'), i / 7.0 FROM generate_series(1, 3000) i;
"""
DAGSTER_SQL = """
CREATE TABLE runs (run_id text PRIMARY KEY, status text, run_body text, update_timestamp timestamp);
CREATE TABLE event_logs (id bigserial PRIMARY KEY, run_id text REFERENCES runs(run_id), event text, dagster_event_type text);
INSERT INTO runs SELECT 'run-' || i, CASE WHEN i % 3 = 0 THEN 'FAILURE' ELSE 'SUCCESS' END, repeat('x', i),
  timestamp '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 500) i;
INSERT INTO event_logs (run_id, event, dagster_event_type) SELECT 'run-' || (1 + i % 500), '{"n": ' || i || '}', 'STEP_SUCCESS' FROM generate_series(1, 5000) i;
"""


def realm_model(realm: str) -> dict:
    return _realm.realm_model({"magasin_realm": realm, "magasin_components": COMPONENTS}, {})


def pw() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def servers():
    """bk1 (with data) and bk2 (empty, as a fresh install leaves it): a PostgreSQL and a MinIO each."""
    creds = {realm: {"superset": pw(), "dagster": pw(), "root": ("root" + secrets.token_hex(6), pw())}
             for realm in ("bk1", "bk2")}
    with postgresql({"superset": (creds["bk1"]["superset"], "superset"), "test": (creds["bk1"]["dagster"], "test")}) as pg1, \
            postgresql({"superset": (creds["bk2"]["superset"], "superset"), "test": (creds["bk2"]["dagster"], "test")}) as pg2, \
            minio(*creds["bk1"]["root"]) as s3a, minio(*creds["bk2"]["root"]) as s3b:
        psql(pg1, "superset", "superset", creds["bk1"]["superset"], SUPERSET_SQL)
        psql(pg1, "test", "test", creds["bk1"]["dagster"], DAGSTER_SQL)
        mc(s3a, "mb", "s3/magasin")
        for i in range(8):
            mc(s3a, "pipe", f"s3/magasin/data/part-{i:03d}.csv", data=(f"id,value\n{i},{i * i}\n" * (i + 1)).encode())
        mc(s3a, "pipe", "s3/magasin/blobs/random.bin", data=os.urandom(3 * 1024 * 1024 + 17))
        mc(s3a, "pipe", "s3/magasin/empty", data=b"")
        mc(s3a, "pipe", "s3/magasin/a dir/with spaces & symbols+.txt", data=b"odd key\n")
        yield {"pg": {"bk1": pg1, "bk2": pg2}, "s3": {"bk1": s3a, "bk2": s3b}, "creds": creds}


def state(servers: dict, realm: str) -> dict:
    c = servers["creds"][realm]
    pg = servers["pg"][realm]
    return {"superset": table_digests(pg, "superset", "superset", c["superset"]),
            "dagster": table_digests(pg, "test", "test", c["dagster"]),
            "minio": object_digests(servers["s3"][realm], "magasin")}


def backup(servers: dict, backup_id: str, work: Path) -> dict:
    """The bk1 backup Job, run here; returns the manifest it wrote."""
    model = realm_model("bk1")
    job = _backup.backup_job(model, {"id": backup_id, "buckets": ["magasin"], "images": IMAGES}, SCRIPT)
    c = servers["creds"]["bk1"]
    secret = {"superset-password": c["superset"], "dagster-password": c["dagster"],
              "realm-access-key": c["root"][0], "realm-secret-key": c["root"][1]}
    pg, s3 = servers["pg"]["bk1"], servers["s3"]["bk1"]
    local = {"PGHOST": "127.0.0.1", "PGPORT": str(pg["port"])}
    results = run_job(job, secret, {"dump-superset": local, "dump-dagster": local,
                                    "store": {"SRC_URL": s3["url"], "DST_URL": s3["url"]}}, work, [PG_BIN, s3["mc_bin"].parent])
    assert [r.returncode for r in results] == [0, 0, 0], "\n".join(r.stdout + r.stderr for r in results)
    text = mc(s3, "cat", f"s3/{BACKUP_BUCKET}/bk1/{backup_id}/{_backup.MANIFEST}").stdout.decode()
    return _backup.parse_manifest(text)


def restore(servers: dict, backup_id: str, manifest: dict, work: Path):
    """The bk2 restore Job (from bk1's MinIO, an external target for bk2), run here."""
    model = realm_model("bk2")
    spec = {"id": backup_id, "from_realm": "bk1", "images": IMAGES, "buckets": ["magasin"], "parts": ["postgresql", "minio"],
            "target": {"endpoint": "http://minio.bk1-tenant.svc.cluster.local", "bucket": BACKUP_BUCKET,
                       "access_key": "x", "secret_key": "y"}}
    assert _backup.problems(model, spec) == []
    job = _backup.restore_job(model, spec, SCRIPT)
    c1, c2 = servers["creds"]["bk1"], servers["creds"]["bk2"]
    secret = {"superset-password": c2["superset"], "dagster-password": c2["dagster"],
              "realm-access-key": c2["root"][0], "realm-secret-key": c2["root"][1],
              "target-access-key": c1["root"][0], "target-secret-key": c1["root"][1]}
    pg = servers["pg"]["bk2"]
    local = {"PGHOST": "127.0.0.1", "PGPORT": str(pg["port"])}
    return run_job(job, secret, {"load": {"SRC_URL": servers["s3"]["bk1"]["url"], "DST_URL": servers["s3"]["bk2"]["url"]},
                                 "restore-superset": local, "restore-dagster": local},
                   work, [PG_BIN, servers["s3"]["bk1"]["mc_bin"].parent])


def test_backup_then_restore_into_a_new_realm_gives_equal_tables_and_objects(servers, tmp_path):
    original = state(servers, "bk1")
    assert len(original["minio"]) == 11 and original["superset"]["public.slices"].startswith("3000:")

    manifest = backup(servers, "first", tmp_path / "backup-1")
    paths = {a["path"] for a in manifest["artifacts"]}
    assert {"postgresql/superset.dump", "postgresql/dagster.dump"} <= paths
    dumps = {"postgresql/superset.dump", "postgresql/dagster.dump"}
    assert {"minio/magasin/" + key for key in original["minio"]} == paths - dumps
    # The manifest's checksums are the stored objects' own.
    stored = object_digests(servers["s3"]["bk1"], BACKUP_BUCKET, "bk1/first")
    wanted = {k: v for k, v in stored.items() if k != _backup.MANIFEST}
    assert {a["path"]: a["sha256"] for a in manifest["artifacts"]} == wanted
    assert manifest["realm"] == "bk1" and manifest["id"] == "first"

    results = restore(servers, "first", manifest, tmp_path / "restore-1")
    assert [r.returncode for r in results] == [0, 0, 0], "\n".join(r.stdout + r.stderr for r in results)
    assert "backup first matches its manifest (13 artifacts)" in results[0].stdout
    assert state(servers, "bk2") == original

    # Restore again (idempotent) after bk2 drifted: a new row, a changed and an extra object -- back to the backup.
    c2 = servers["creds"]["bk2"]
    psql(servers["pg"]["bk2"], "superset", "superset", c2["superset"], "INSERT INTO dashboards (title) VALUES ('drift')")
    mc(servers["s3"]["bk2"], "pipe", "s3/magasin/data/part-000.csv", data=b"changed\n")
    mc(servers["s3"]["bk2"], "pipe", "s3/magasin/extra.txt", data=b"extra\n")
    assert state(servers, "bk2") != original
    again = restore(servers, "first", manifest, tmp_path / "restore-2")
    assert [r.returncode for r in again] == [0, 0, 0], "\n".join(r.stdout + r.stderr for r in again)
    assert state(servers, "bk2") == original

    # A second backup and restore gives the same result.
    second = backup(servers, "second", tmp_path / "backup-2")
    assert sorted(a["path"] for a in second["artifacts"]) == sorted(paths)
    minio_digests = {a["path"]: a["sha256"] for a in manifest["artifacts"] if a["path"].startswith("minio/")}
    assert {a["path"]: a["sha256"] for a in second["artifacts"] if a["path"].startswith("minio/")} == minio_digests
    results = restore(servers, "second", second, tmp_path / "restore-3")
    assert [r.returncode for r in results] == [0, 0, 0], "\n".join(r.stdout + r.stderr for r in results)
    assert state(servers, "bk2") == original == state(servers, "bk1")


def test_restore_refuses_a_backup_that_differs_from_its_manifest_and_writes_nothing(servers, tmp_path):
    manifest = backup(servers, "tampered", tmp_path / "backup")
    s3 = servers["s3"]["bk1"]
    mc(s3, "pipe", f"s3/{BACKUP_BUCKET}/bk1/tampered/minio/magasin/data/part-001.csv", data=b"not what was backed up\n")
    mc(s3, "rm", f"s3/{BACKUP_BUCKET}/bk1/tampered/minio/magasin/empty")
    c2 = servers["creds"]["bk2"]
    psql(servers["pg"]["bk2"], "test", "test", c2["dagster"], "CREATE TABLE IF NOT EXISTS marker (x int)")
    mc(servers["s3"]["bk2"], "pipe", "s3/magasin/marker.txt", data=b"kept\n")
    before = state(servers, "bk2")
    results = restore(servers, "tampered", manifest, tmp_path / "restore")
    assert len(results) == 1 and results[0].returncode != 0
    assert "differs from the manifest: minio/magasin/data/part-001.csv" in results[0].stderr
    assert "missing: minio/magasin/empty" in results[0].stderr
    assert "does not match its manifest: nothing restored" in results[0].stderr
    assert state(servers, "bk2") == before


def test_no_credential_reaches_a_command_line():
    """The Jobs' args hold the script and the step only; every credential is a Secret reference."""
    jobs = [_backup.backup_job(realm_model("bk1"), {"id": "x", "buckets": ["magasin"], "images": IMAGES}, SCRIPT),
            _backup.restore_job(realm_model("bk2"), {"id": "x", "buckets": ["magasin"], "images": IMAGES}, SCRIPT)]
    for job in jobs:
        spec = job["spec"]["template"]["spec"]
        for container in (spec.get("initContainers") or []) + spec["containers"]:
            assert container["command"][:3] == ["/bin/sh", "-c", SCRIPT] and len(container["command"]) == 5
            for item in container["env"]:
                if any(word in item["name"] for word in ("PASSWORD", "SECRET", "ACCESS")):
                    assert set(item) == {"name", "valueFrom"}, item
