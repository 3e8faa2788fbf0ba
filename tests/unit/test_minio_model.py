"""The declared MinIO content (module_utils/_minio.py), its checks (_validate.minio_content_problems) and the filters
the minio role calls: pure functions, no cluster. The script these inputs drive is run against a real MinIO in
tests/integration/test_minio_content.py."""

from __future__ import annotations

import base64
import json

import pytest
from ansible_collections.magasin.platform.plugins.filter import realm as F
from ansible_collections.magasin.platform.plugins.module_utils import _minio as M
from ansible_collections.magasin.platform.plugins.module_utils import _validate as v

MODEL = {"bucket": "magasin", "components": ["minio", "drill", "dagster"], "image_registry": "",
         "s3": {"endpoint": "http://minio.mc1-tenant.svc.cluster.local"}, "labels": {"magasin.unicef.org/realm": "mc1"},
         "namespaces": {"tenant": "mc1-tenant"}}
RAW_READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
                                                    "Resource": ["arn:aws:s3:::raw", "arn:aws:s3:::raw/*"]}]}
SETTINGS = {"minio_buckets": [{"name": "raw", "versioning": True, "quota": "1GiB"}, {"name": "old", "state": "absent"},
                              {"name": "magasin", "quota": "10GiB"}],
            "minio_policies": {"raw-read": RAW_READ, "gone": {"state": "absent"}},
            "minio_users": {"analyst": ["raw-read"], "etl": {"policies": ["readwrite", "magasin-read-magasin"]},
                            "former": {"state": "absent"}},
            "minio_rotate_keys": ["analyst"]}
GLOBALS = {"magasin_bucket": "magasin"}


def env(job):
    return {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


def test_content_puts_the_realm_bucket_and_the_consumers_first_and_reads_the_declared_options():
    content = M.content(MODEL, SETTINGS)
    assert [(b["name"], b["state"], b["versioning"], b["quota"]) for b in content["buckets"]] == [
        ("magasin", "present", False, 10 * 2 ** 30), ("raw", "present", True, 2 ** 30), ("old", "absent", False, 0)]
    assert [(p["name"], p["state"]) for p in content["policies"]] == [
        ("magasin-read-magasin", "present"), ("magasin-readwrite-magasin", "present"), ("gone", "absent"),
        ("raw-read", "present")]
    assert [(u["name"], u["state"], u["policies"], u["rotate"]) for u in content["users"]] == [
        ("drill", "present", ["magasin-read-magasin"], False), ("dagster", "present", ["magasin-readwrite-magasin"], False),
        ("analyst", "present", ["raw-read"], True), ("etl", "present", ["readwrite", "magasin-read-magasin"], False),
        ("former", "absent", [], False)]
    # The realm bucket without an entry is only created: its versioning and quota are left alone.
    bare = M.content(MODEL, {})["buckets"]
    assert bare == [{"name": "magasin", "state": "present", "versioning": None, "quota": None, "object_lock": False,
                     "purge": False}]
    # Object lock implies versioning (MinIO turns it on with the lock).
    locked = M.content(MODEL, {"minio_buckets": [{"name": "vault", "object_lock": True}]})["buckets"][1]
    assert locked["versioning"] is True and locked["object_lock"] is True


@pytest.mark.parametrize("text,size", [(1024, 1024), ("1024", 1024), ("500MiB", 500 * 2 ** 20), ("2TB", 2 * 10 ** 12),
                                       ("1.5GiB", 3 * 2 ** 29), ("10 GiB", 10 * 2 ** 30), ("3gi", 3 * 2 ** 30)])
def test_parse_size(text, size):
    assert M.parse_size(text) == size


@pytest.mark.parametrize("text", ["ten", "10XB", "-1GiB", True, [1], "GiB"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        M.parse_size(text)


def test_the_job_carries_content_literally_and_keys_by_reference_optional_for_removed_users():
    job = M.setup_job(MODEL, SETTINGS, "echo", "quay.io/minio/mc:1", {})
    e = env(job)
    assert e["MAGASIN_BUCKETS"]["value"].splitlines() == [
        "magasin present off %d off no" % (10 * 2 ** 30), "raw present on %d off no" % 2 ** 30, "old absent off 0 off no"]
    assert e["MAGASIN_POLICIES"]["value"].splitlines() == [
        "1 magasin-read-magasin present", "2 magasin-readwrite-magasin present", "3 gone absent", "4 raw-read present"]
    assert json.loads(e["MAGASIN_POLICY_4"]["value"]) == RAW_READ and "MAGASIN_POLICY_3" not in e
    assert e["MAGASIN_USERS"]["value"].splitlines() == [
        "1 drill present magasin-read-magasin", "2 dagster present magasin-readwrite-magasin", "3 analyst present raw-read",
        "4 etl present readwrite,magasin-read-magasin", "5 former absent -"]
    assert e["MAGASIN_USER_3_SECRET_KEY"]["valueFrom"] == {
        "secretKeyRef": {"name": "magasin-minio-user-analyst", "key": "CONSOLE_SECRET_KEY"}}
    assert e["MAGASIN_USER_5_ACCESS_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "magasin-minio-user-former", "key": "CONSOLE_ACCESS_KEY", "optional": True}
    assert all("valueFrom" in item for name, item in e.items() if name.endswith(("_KEY", "_USER", "_PASSWORD")))
    pod = job["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["containers"][0]["securityContext"]["capabilities"] == {
        "drop": ["ALL"]}


def test_the_job_is_named_after_its_content_and_the_present_users_keys():
    versions = {"drill": "a", "dagster": "b", "analyst": "c", "etl": "d"}
    job = M.setup_job(MODEL, SETTINGS, "echo", "mc:1", versions)
    digest = job["metadata"]["labels"][M.CONTENT_LABEL]
    assert job["metadata"]["name"] == "magasin-minio-setup-" + digest and len(digest) == 10
    assert M.setup_job(MODEL, SETTINGS, "echo", "mc:1", dict(versions))["metadata"]["name"] == job["metadata"]["name"]
    # A rotated key, another script, another content: another Job.
    names = {M.setup_job(MODEL, SETTINGS, "echo", "mc:1", dict(versions, analyst="c2"))["metadata"]["name"],
             M.setup_job(MODEL, SETTINGS, "echo two", "mc:1", versions)["metadata"]["name"],
             M.setup_job(MODEL, dict(SETTINGS, minio_users={"analyst": ["readonly"]}), "echo", "mc:1", versions)
             ["metadata"]["name"]}
    assert len(names) == 3 and job["metadata"]["name"] not in names
    # The keys of a removed user (its Secret goes after the Job) do not count, so the next run keeps the Job.
    assert M.setup_job(MODEL, SETTINGS, "echo", "mc:1", dict(versions, former="x"))["metadata"]["name"] == \
        job["metadata"]["name"]


def test_key_users_and_removed_users():
    users = M.key_users(MODEL, SETTINGS)
    assert [(u["name"], u["secret"], u["rotate"], u["builtin"]) for u in users] == [
        ("drill", "magasin-minio-user-drill", False, True), ("dagster", "magasin-minio-user-dagster", False, True),
        ("analyst", "magasin-minio-user-analyst", True, False), ("etl", "magasin-minio-user-etl", False, False)]
    assert M.removed_users(MODEL, SETTINGS) == [{"apiVersion": "v1", "kind": "Secret",
                                                 "metadata": {"name": "magasin-minio-user-former", "namespace": "mc1-tenant"}}]


def test_key_versions_filter_digests_the_keys_and_shows_none():
    def result(name, access, secret):
        return {"item": {"name": name}, "data": {"CONSOLE_ACCESS_KEY": base64.b64encode(access.encode()).decode(),
                                                 "CONSOLE_SECRET_KEY": base64.b64encode(secret.encode()).decode()}}
    versions = F.minio_key_versions([result("analyst", "akey", "s" * 40), {"item": {"name": "x"}, "skipped": True}])
    assert set(versions) == {"analyst"} and "s" * 8 not in json.dumps(versions) and "akey" not in json.dumps(versions)
    assert F.minio_key_versions([result("analyst", "akey", "t" * 40)]) != versions
    job = F.minio_setup_job(MODEL, "echo", "mc:1", SETTINGS, versions)
    assert job == M.setup_job(MODEL, SETTINGS, "echo", "mc:1", versions)


def problems(**settings):
    return v.validate_component("minio", settings, GLOBALS)


def test_the_example_content_passes():
    assert problems(**SETTINGS) == []
    assert problems(minio_policies={"p": json.dumps(RAW_READ)}, minio_users={"u": {"policies": "p"}}) == []


BAD = [
    ({"minio_buckets": {"name": "raw"}}, "minio_buckets", "not a list of buckets"),
    ({"minio_buckets": [{"versioning": True}]}, "minio_buckets", "not a mapping with a name"),
    ({"minio_buckets": [{"name": "Raw_Data"}]}, "minio_buckets", "not a valid S3 bucket name"),
    ({"minio_buckets": [{"name": "ab"}]}, "minio_buckets", "3 to 63 characters"),
    ({"minio_buckets": [{"name": "192.168.1.1"}]}, "minio_buckets", "an IP address"),
    ({"minio_buckets": [{"name": "raw"}, {"name": "raw"}]}, "minio_buckets", "listed twice"),
    ({"minio_buckets": [{"name": "raw", "versioned": True}]}, "minio_buckets", 'has keys ["versioned"]'),
    ({"minio_buckets": [{"name": "raw", "state": "deleted"}]}, "minio_buckets", "not one of present, absent"),
    ({"minio_buckets": [{"name": "raw", "versioning": "enabled"}]}, "minio_buckets", "versioning is a string"),
    ({"minio_buckets": [{"name": "raw", "quota": "lots"}]}, "minio_buckets", "quota 'lots' is not a size"),
    ({"minio_buckets": [{"name": "raw", "object_lock": True, "versioning": False}]}, "minio_buckets",
     "object lock needs versioning; set versioning: true"),
    ({"minio_buckets": [{"name": "magasin", "object_lock": True}]}, "minio_buckets", "only when a bucket is created"),
    ({"minio_buckets": [{"name": "magasin", "state": "absent"}]}, "minio_buckets", "cannot be removed here"),
    ({"minio_buckets": [{"name": "raw", "purge": True}]}, "minio_buckets", "purge without state: absent"),
    ({"minio_policies": ["raw-read"]}, "minio_policies", "not a dict"),
    ({"minio_policies": {"raw read": RAW_READ}}, "minio_policies", "not a MinIO policy name"),
    ({"minio_policies": {"readonly": RAW_READ}}, "minio_policies", "one of MinIO's own or the collection's"),
    ({"minio_policies": {"magasin-read-magasin": RAW_READ}}, "minio_policies", "choose another name"),
    ({"minio_policies": {"p": "{not json"}}, "minio_policies", "not JSON"),
    ({"minio_policies": {"p": {"Statement": RAW_READ["Statement"]}}}, "minio_policies", "has Version null"),
    ({"minio_policies": {"p": {"Version": "2012-10-17", "Statement": []}}}, "minio_policies", "no Statement list"),
    ({"minio_policies": {"p": dict(RAW_READ, Rules=[])}}, "minio_policies", 'has keys ["Rules"]'),
    ({"minio_policies": {"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Permit", "Action": "s3:*",
                                                                       "Resource": "arn:aws:s3:::raw"}]}}},
     "minio_policies", "Effect 'Permit'"),
    ({"minio_policies": {"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "GetObject",
                                                                       "Resource": "arn:aws:s3:::raw"}]}}},
     "minio_policies", "such as s3:GetObject"),
    ({"minio_policies": {"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}}},
     "minio_policies", "no Resource"),
    ({"minio_policies": {"p": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                                       "Resource": "raw/*"}]}}},
     "minio_policies", "ARNs such as"),
    ({"minio_policies": {"p": {"state": "present"}}}, "minio_policies", "write {state: absent} alone"),
    ({"minio_users": ["analyst"]}, "minio_users", "not a dict"),
    ({"minio_users": {"Analyst": []}}, "minio_users", "not a user name"),
    ({"minio_users": {"drill": ["readonly"]}}, "minio_users", "a consumer's own user"),
    ({"minio_users": {"u": {"policy": ["readonly"]}}}, "minio_users", 'has keys ["policy"]'),
    ({"minio_users": {"u": ["raw-write"]}}, "minio_users", "has policy raw-write, which minio_policies does not declare"),
    ({"minio_users": {"u": {"policies": [3]}}}, "minio_users", "not a list of policy names"),
    ({"minio_users": {"u": ["gone"]}, "minio_policies": {"gone": {"state": "absent"}}}, "minio_users",
     "which minio_policies removes"),
    ({"minio_users": {"u": {"state": "gone"}}}, "minio_users", "not one of present, absent"),
    ({"minio_rotate_keys": ["drill"]}, "minio_rotate_keys", "not a present user of minio_users"),
    ({"minio_rotate_keys": "analyst"}, "minio_rotate_keys", "not a list of user names"),
]


@pytest.mark.parametrize("settings,variable,fragment", BAD, ids=[b[2][:40] for b in BAD])
def test_bad_content_names_the_variable_and_the_fix(settings, variable, fragment):
    found = problems(**settings)
    assert [p["variable"] for p in found] == [variable], found
    assert fragment in found[0]["message"], found[0]["message"]
    assert found[0]["example"]
    # The preflight prints `<variable>: <message>, e.g. <variable>: <example>`.
    assert v.format_problems(found).startswith(variable + ": ")
