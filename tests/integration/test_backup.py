"""playbooks/backup.yml and restore.yml against the test cluster: the Jobs, their Secret, their order.

Real: the control plane (API server with RBAC and PodSecurity admission), the collection's playbooks,
roles and modules, kubectl, and the Job controller; kwok turns a Job's pods Succeeded without running
them, so the Jobs complete here but NOTHING they would do happens (no dump, no mirror, no manifest in a
bucket). What they would do is tested on real servers in tests/integration/test_backup_scripts.py.
Made here instead of a converge (kept out for time; the contract is _values.SECRETS/SECRET_KEYS, which
the component roles write): the realm's namespaces and the Secrets the roles make, with their labels.
Realms: bk1 (backed up), bk2 (a new realm restored from bk1's backup).
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import sys
from pathlib import Path

import pytest
from realms import RECAP_RE, REPO_ROOT, helm4_unless_asked, leaks, namespaces

sys.path.insert(0, str(REPO_ROOT / ".collections"))
from ansible_collections.magasin.platform.plugins.module_utils import _backup  # noqa: E402

REGISTRY = "registry.example.org/mirror"
COMPONENTS = ["minio", "dagster", "superset"]
PASSPHRASE = "correct horse battery staple"


def realm_secrets(realm: str) -> dict[tuple[str, str], dict[str, str]]:
    ns = namespaces(realm)
    token = secrets.token_urlsafe

    return {
        (ns["tenant"], "magasin-minio-root"): {"root-user": "root" + secrets.token_hex(8), "root-password": token(30)},
        (ns["tenant"], "magasin-minio-user-dagster"): {"CONSOLE_ACCESS_KEY": secrets.token_hex(10),
                                                       "CONSOLE_SECRET_KEY": token(30)},
        (ns["dagster"], "magasin-dagster-postgresql"): {"postgresql-password": token(24)},
        (ns["superset"], "magasin-superset-credentials"): {k: token(24) for k in (
            "password", "postgres-password", "redis-password", "secret-key", "admin-password")},
    }


def apply(cluster, objects: list[dict], tmp: Path) -> None:
    path = tmp / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    cluster.kubectl("apply", "-f", str(path))
    path.unlink()


@pytest.fixture(scope="module")
def bk1(cluster, helm_bin, tmp_path_factory):
    helm4_unless_asked(helm_bin, "backup and restore use kubectl only")
    for realm in ("bk1", "bk2"):
        cluster.teardown(realm)
    made = realm_secrets("bk1")
    labels = {"app.kubernetes.io/part-of": "magasin", "magasin.unicef.org/realm": "bk1"}
    objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
               for n in sorted({ns for ns, _name in made})]
    objects += [{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns, "labels": labels},
                 "type": "Opaque", "stringData": data} for (ns, name), data in made.items()]
    apply(cluster, objects, tmp_path_factory.mktemp("bk1"))
    yield made
    for realm in ("bk1", "bk2"):
        cluster.teardown(realm)


@pytest.fixture(scope="module")
def backups(tmp_path_factory) -> Path:
    """The controller's backup directory, shared by the tests of this module."""
    return tmp_path_factory.mktemp("backups")


def play(site_dir, playbook: str, realm: str, tmp: Path, *args: str, **extra):
    return site_dir(playbook, {"magasin_realm": realm, "magasin_components": COMPONENTS, "magasin_image_registry": REGISTRY,
                               "backup_dir": str(tmp), "backup_passphrase": PASSPHRASE, **extra}, *args)


def jobs(cluster, realm: str, kind: str) -> list[dict]:
    return [j for j in cluster.items("jobs", namespaces(realm)["tenant"])
            if j["metadata"]["labels"].get("app.kubernetes.io/component") == kind]


def changed(run) -> int:
    match = RECAP_RE.search(run.output)
    assert match, run.output[-4000:]
    return int(match.group(2))


def values(made: dict) -> list[str]:
    return [v for data in made.values() for v in data.values()]


def check_job(job: dict, strings: list[str]) -> list[str]:
    """Names of the containers, in the order they run; asserts every credential is a reference."""
    spec = job["spec"]["template"]["spec"]
    order = []
    for c in (spec.get("initContainers") or []) + spec["containers"]:
        order.append(c["name"])
        assert c["image"].startswith(REGISTRY + "/"), c["image"]
        assert c["command"][:2] == ["/bin/sh", "-c"] and c["command"][3:] == ["magasin-backup", c["command"][4]]
        for item in c["env"]:
            if any(w in item["name"] for w in ("PASSWORD", "SECRET", "ACCESS")):
                assert item["valueFrom"]["secretKeyRef"]["name"] == _backup.CREDENTIALS_SECRET, item
    assert leaks(json.dumps(job), strings) == []
    return order


def test_backup_then_restore_into_a_new_realm_on_the_cluster(bk1, cluster, site_dir, backups):
    tmp_path = backups
    strings = values(bk1)
    ns1, ns2 = namespaces("bk1"), namespaces("bk2")

    # Check mode: nothing made, nothing written.
    checked = play(site_dir, "playbooks/backup.yml", "bk1", tmp_path, "--check", backup_id="t1")
    assert checked.rc == 0, checked.output[-6000:]
    assert jobs(cluster, "bk1", "backup") == [] and not cluster.exists("secret", _backup.CREDENTIALS_SECRET, "-n", ns1["tenant"])
    assert not (tmp_path / "bk1").exists()

    run = play(site_dir, "playbooks/backup.yml", "bk1", tmp_path, backup_id="t1")
    assert run.rc == 0, run.output[-6000:]
    assert leaks(run.output, strings) == []
    [job] = jobs(cluster, "bk1", "backup")
    assert job["metadata"]["labels"]["magasin.unicef.org/backup-id"] == "t1"
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    assert check_job(job, strings) == ["dump-superset", "dump-dagster", "store"]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DST_PREFIX"]["value"] == "bk1/t1" and env["DST_BUCKET"]["value"] == "magasin-backup"
    assert env["BUCKETS"]["value"] == "magasin"
    # The Jobs' Secret: exactly the realm's credentials they need, copied.
    creds = cluster.secret(ns1["tenant"], _backup.CREDENTIALS_SECRET)
    assert creds == {"superset-password": bk1[(ns1["superset"], "magasin-superset-credentials")]["password"],
                     "dagster-password": bk1[(ns1["dagster"], "magasin-dagster-postgresql")]["postgresql-password"],
                     "realm-access-key": bk1[(ns1["tenant"], "magasin-minio-root")]["root-user"],
                     "realm-secret-key": bk1[(ns1["tenant"], "magasin-minio-root")]["root-password"]}
    # The sealed Secrets and their manifest on the controller.
    where = tmp_path / "bk1" / "t1"
    manifest = _backup.parse_manifest((where / _backup.MANIFEST).read_text())
    assert _backup.verify_dir(str(where), manifest) == []
    sealed_realm, sealed = _backup.unseal((where / _backup.SECRETS_FILE).read_bytes(), PASSPHRASE)
    assert sealed_realm == "bk1"
    assert {(s["namespace"], s["name"]) for s in sealed} == set(bk1)
    assert leaks((where / _backup.SECRETS_FILE).read_text(), strings) == []

    # The same id again: the same Job, the same sealed file -- nothing changes.
    again = play(site_dir, "playbooks/backup.yml", "bk1", tmp_path, backup_id="t1")
    assert again.rc == 0 and changed(again) == 0, again.output[-6000:]

    # Restore into the new realm bk2: check mode first (nothing made), then for real, then again (changed=0).
    restore = {"backup_id": "t1", "backup_restore_from_realm": "bk1"}
    checked = play(site_dir, "playbooks/restore.yml", "bk2", tmp_path, "--check", **restore)
    assert checked.rc == 0, checked.output[-6000:]
    assert cluster.realm_namespaces("bk2") == []
    run = play(site_dir, "playbooks/restore.yml", "bk2", tmp_path, **restore)
    assert run.rc == 0, run.output[-6000:]
    assert leaks(run.output, strings) == []
    # In order: the Secrets unsealed into bk2's namespaces, the Jobs' Secret from them, then the Job.
    out = run.output
    assert out.index("unsealed into this realm") < out.index("copied from the realm's Secrets into its namespace, to restore") < out.index("Restore Job")
    for (ns, name), data in bk1.items():
        moved = ns.replace("bk1", "bk2")
        assert cluster.secret(moved, name) == data
        assert cluster.kubectl_json("get", "secret", name, "-n", moved)["metadata"]["labels"]["magasin.unicef.org/realm"] == "bk2"
    [job] = jobs(cluster, "bk2", "restore")
    assert check_job(job, strings) == ["load", "restore-superset", "restore-dagster"]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["initContainers"][0]["env"]}
    assert env["SRC_PREFIX"]["value"] == "bk1/t1" and env["BUCKET_MAP"]["value"] == "magasin=magasin"
    assert env["SRC_URL"]["value"] == env["DST_URL"]["value"] == f"http://minio.{ns2['tenant']}.svc.cluster.local"
    again = play(site_dir, "playbooks/restore.yml", "bk2", tmp_path, **restore)
    assert again.rc == 0 and changed(again) == 0, again.output[-6000:]


def test_restore_verifies_the_manifest_first_and_makes_nothing_when_it_differs(bk1, cluster, site_dir, backups):
    """A copy of the first test's backup, one bit of its sealed file flipped: restore fails before any change."""
    source = backups / "bk1" / "t1"
    if not source.is_dir():
        pytest.skip("needs the backup of test_backup_then_restore_into_a_new_realm_on_the_cluster")
    copy = backups / "bk1" / "t2"
    shutil.copytree(source, copy)
    sealed = copy / _backup.SECRETS_FILE
    doc = json.loads(sealed.read_text())
    box = bytearray(base64.b64decode(doc["ciphertext"]))
    box[0] ^= 1
    sealed.write_text(json.dumps(dict(doc, ciphertext=base64.b64encode(bytes(box)).decode())))
    before = {n: cluster.secret(namespaces("bk2")["tenant"], n) for n in ("magasin-minio-root", _backup.CREDENTIALS_SECRET)}
    failed = play(site_dir, "playbooks/restore.yml", "bk2", backups, backup_id="t2", backup_restore_from_realm="bk1")
    said = " ".join(failed.output.split())  # the callback wraps long messages
    assert failed.rc != 0 and "does not match its manifest, nothing restored" in said
    assert "secrets.enc: size" in said  # rewritten: another size, so the size is what differs
    assert [j for j in jobs(cluster, "bk2", "restore") if j["metadata"]["labels"]["magasin.unicef.org/backup-id"] == "t2"] == []
    assert {n: cluster.secret(namespaces("bk2")["tenant"], n) for n in before} == before
