"""Declared MinIO content (minio_buckets, minio_policies, minio_users): the setup Job on the test cluster, and the
script it runs against a REAL MinIO.

Two halves, one realm (`mc1`, only minio selected), converged three times by site.yml (module-scoped):
  1. FIRST content; 2. SECOND content: a user, a policy and two buckets named for removal, a policy taken from a
  user, a key rotated; 3. SECOND again without the rotation (changed=0, the Job kept).

On the test cluster (real API server, real helm and charts, the collection's playbooks): the setup Job, the
Secrets of the users' keys (generated once, never printed), the Job named after its input (a new Job exactly
when the content or a key changes, the earlier one pruned, none otherwise) and the removed user's Secret gone
after its Job. Jobs never RUN there: kwok runs no container (it only marks the Job's pod complete).

What the Job runs is therefore run here: roles/minio/files/minio-setup.sh with a REAL mc against a REAL MinIO
server on 127.0.0.1 (both built from the Go module proxy, tests/support/minio_build.py), with the environment of
the Job the cluster holds (its literal content and its Secret references resolved from the cluster, as the
kubelet would; only MINIO_ENDPOINT points at 127.0.0.1). Every allow and deny below is MinIO's own answer to S3
requests signed with each user's keys by the collection's SigV4 signer (plugins/module_utils/_sigv4.py).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import minio_build
import pytest
from realms import RECAP_RE, REPO_ROOT, helm4_unless_asked, leaks, namespaces

sys.path.insert(0, str(REPO_ROOT / ".collections"))
from ansible_collections.magasin.platform.plugins.module_utils import _sigv4  # noqa: E402

REALM = "mc1"
NS = namespaces(REALM)["tenant"]
SCRIPT = REPO_ROOT / "roles" / "minio" / "files" / "minio-setup.sh"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions, *resources):
    return {"Effect": "Allow", "Action": actions, "Resource": list(resources)}


FIRST = {
    "minio_buckets": [{"name": "raw", "versioning": True, "quota": "1GiB"}, {"name": "scratch"},
                      {"name": "vault", "object_lock": True}, {"name": "tmp"}],
    "minio_policies": {
        "raw-read": policy(allow(["s3:ListBucket"], "arn:aws:s3:::raw"), allow(["s3:GetObject"], "arn:aws:s3:::raw/*")),
        "scratch-rw": policy(allow(["s3:*"], "arn:aws:s3:::scratch", "arn:aws:s3:::scratch/*")),
        "unused": policy(allow(["s3:GetObject"], "arn:aws:s3:::tmp/*")),
    },
    "minio_users": {"analyst": ["raw-read"], "etl": ["scratch-rw", "raw-read"], "former": ["raw-read"]},
}
SECOND = {
    # scratch holds an object by then: named for removal without purge, it stays; tmp is empty and goes.
    "minio_buckets": [{"name": "raw", "versioning": True, "quota": "1GiB"}, {"name": "scratch", "state": "absent"},
                      {"name": "vault", "object_lock": True}, {"name": "tmp", "state": "absent"}],
    "minio_policies": {"raw-read": FIRST["minio_policies"]["raw-read"], "scratch-rw": FIRST["minio_policies"]["scratch-rw"],
                       "unused": {"state": "absent"}},
    "minio_users": {"analyst": ["raw-read"], "etl": ["scratch-rw"], "former": {"state": "absent"}},
    "minio_rotate_keys": ["analyst"],
}
SECOND_AGAIN = {k: v for k, v in SECOND.items() if k != "minio_rotate_keys"}
USERS = ("analyst", "etl", "former")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_jobs(cluster) -> list[dict]:
    return cluster.items("jobs", NS, "-l", "app.kubernetes.io/component=minio-setup")


class Keys(dict):
    """A user's keys, which an assertion's report does not show."""

    def __repr__(self) -> str:
        return "<keys>"


def user_keys(cluster) -> dict[str, Keys]:
    return {u: Keys(cluster.secret(NS, f"magasin-minio-user-{u}")) for u in USERS
            if cluster.exists("secret", f"magasin-minio-user-{u}", "-n", NS)}


def job_env(cluster, job: dict, endpoint: str, earlier: dict[str, dict[str, str]] | None = None) -> dict[str, str]:
    """The Job container's environment as the kubelet resolves it when its pod starts (an optional reference to a
    missing Secret gives no variable), with MINIO_ENDPOINT on 127.0.0.1. ``earlier``: Secrets as they were when
    the pod started and that the role deleted after the Job completed (a removed user's keys)."""
    env = {}
    for item in job["spec"]["template"]["spec"]["containers"][0]["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        ref = item["valueFrom"]["secretKeyRef"]
        if ref["name"] in (earlier or {}) and not cluster.exists("secret", ref["name"], "-n", NS):
            env[item["name"]] = earlier[ref["name"]][ref["key"]]
            continue
        if not cluster.exists("secret", ref["name"], "-n", NS):
            assert ref.get("optional"), f"{job['metadata']['name']} needs the missing Secret {ref['name']}"
            continue
        env[item["name"]] = cluster.secret(NS, ref["name"])[ref["key"]]
    env["MINIO_ENDPOINT"] = endpoint
    return env


class MinIO:
    """A real MinIO server on 127.0.0.1 and a real mc, with the realm's root credentials."""

    def __init__(self, tmp, root: dict[str, str]):
        self.tmp, self.root = tmp, root
        self.root_keys = Keys(CONSOLE_ACCESS_KEY=root["root-user"], CONSOLE_SECRET_KEY=root["root-password"])
        self.server, self.mc = minio_build.build("minio"), minio_build.build("mc")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MINIO_ROOT_USER=root["root-user"], MINIO_ROOT_PASSWORD=root["root-password"])
        self.proc = subprocess.Popen([str(self.server), "server", str(tmp / "data"), "--address", f"127.0.0.1:{self.port}",
                                      "--console-address", f"127.0.0.1:{free_port()}", "--quiet"],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.endpoint}/minio/health/live", timeout=2):
                    break
            except OSError:
                assert self.proc.poll() is None, self.proc.stderr.read()
                assert time.monotonic() < deadline, "MinIO did not start"
                time.sleep(0.3)
        self.admin("alias", "set", "root", self.endpoint, root["root-user"], root["root-password"])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return dict(os.environ, **(extra or {}), PATH=f"{self.mc.parent}:{os.environ['PATH']}",
                    MC_CONFIG_DIR=str(self.tmp / "mc"))

    def admin(self, *args: str) -> str:
        proc = subprocess.run([str(self.mc), *args], env=self.env(), capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def json(self, *args: str) -> dict:
        return json.loads(self.admin(*args, "--json").strip().splitlines()[-1])

    def run_script(self, env: dict[str, str]) -> subprocess.CompletedProcess:
        proc = subprocess.run(["sh", str(SCRIPT)], env=self.env(env), capture_output=True, text=True, timeout=180,
                              check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def s3(self, keys: dict[str, str], method: str, path: str, body: bytes = b"") -> int:
        """The HTTP status MinIO answers to one request signed with a user's keys."""
        return self.s3_answer(keys, method, path, body)[0]

    def s3_answer(self, keys: dict[str, str], method: str, path: str, body: bytes = b"") -> tuple[int, str]:
        url = self.endpoint + path
        amz_date = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        headers = _sigv4.sign(method, url, keys["CONSOLE_ACCESS_KEY"], keys["CONSOLE_SECRET_KEY"], amz_date,
                              payload_hash=hashlib.sha256(body).hexdigest())
        request = urllib.request.Request(url, data=body if method == "PUT" else None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def state(self) -> dict:
        """Buckets (versioning, quota, object lock), policies (documents, sets sorted) and users (policies)."""
        buckets = {}
        for line in self.admin("ls", "--json", "root").splitlines():
            name = json.loads(line)["key"].rstrip("/")
            lock = subprocess.run([str(self.mc), "retention", "info", "--default", f"root/{name}", "--json"],
                                  env=self.env(), capture_output=True, text=True, check=False)
            buckets[name] = {"versioning": self.json("version", "info", f"root/{name}")["versioning"]["status"],
                             "quota": self.json("quota", "info", f"root/{name}").get("quota", 0),
                             "lock": '"enabled":"Enabled"' in lock.stdout}
        policies = {}
        for line in self.admin("admin", "policy", "ls", "root", "--json").splitlines():
            name = json.loads(line)["policy"]
            doc = self.json("admin", "policy", "info", "root", name)["policyInfo"]["Policy"]
            policies[name] = sorted(json.dumps({k: sorted(v) if isinstance(v, list) else v for k, v in s.items()},
                                               sort_keys=True) for s in doc["Statement"])
        users = {}
        for line in self.admin("admin", "user", "ls", "root", "--json").splitlines():
            item = json.loads(line)
            users[item["accessKey"]] = sorted((item.get("policyName") or "").split(",")) if item.get("policyName") else []
        return {"buckets": buckets, "policies": policies, "users": users}


@pytest.fixture(scope="module")
def realm(site_dir, cluster, helm_bin, tmp_path_factory):
    helm4_unless_asked(helm_bin, "the content Job and its script do not depend on the Helm major")
    cluster.teardown(REALM)
    base = {"magasin_realm": REALM, "magasin_components": ["minio"]}
    out = {"runs": {}, "jobs": {}, "keys": {}, "script": {}, "state": {}}
    server = None
    try:
        out["runs"]["first"] = site_dir("site.yml", {**base, **FIRST}).ok()
        out["jobs"]["first"] = setup_jobs(cluster)
        out["keys"]["first"] = user_keys(cluster)
        out["secrets"] = {u: cluster.kubectl_json("get", "secret", f"magasin-minio-user-{u}", "-n", NS)["metadata"]
                          for u in USERS}
        root = cluster.secret(NS, "magasin-minio-root")
        server = MinIO(tmp_path_factory.mktemp("minio"), root)
        out["server"] = server
        env = job_env(cluster, out["jobs"]["first"][0], server.endpoint)
        out["script"]["first"] = server.run_script(env)
        out["state"]["first"] = server.state()
        out["script"]["first_again"] = server.run_script(env)
        out["state"]["first_again"] = server.state()
        out["runs"]["second"] = site_dir("site.yml", {**base, **SECOND}).ok()
        out["jobs"]["second"] = setup_jobs(cluster)
        out["keys"]["second"] = user_keys(cluster)
        out["runs"]["second_again"] = site_dir("site.yml", {**base, **SECOND_AGAIN}).ok()
        out["jobs"]["second_again"] = setup_jobs(cluster)
        yield out
    finally:
        if server:
            server.stop()
        cluster.teardown(REALM)


def changed(run) -> int:
    match = RECAP_RE.search(run.output)
    assert match, run.output[-4000:]
    return int(match.group(2))


def test_content_converges_and_the_next_run_changes_nothing(realm):
    runs = realm["runs"]
    assert changed(runs["first"]) > 0 and changed(runs["second"]) > 0
    assert changed(runs["second_again"]) == 0, runs["second_again"].output[-6000:]


def test_keys_are_generated_once_into_labelled_secrets_and_never_printed(realm):
    first, second = realm["keys"]["first"], realm["keys"]["second"]
    assert set(first) == set(USERS)
    for user, meta in realm["secrets"].items():
        assert meta["labels"]["magasin.unicef.org/minio-user"] == user and meta["labels"]["magasin.unicef.org/realm"] == REALM
    # The rotation made a new secret key, kept the access key; the others kept both; the removed user's Secret went.
    assert second["analyst"]["CONSOLE_ACCESS_KEY"] == first["analyst"]["CONSOLE_ACCESS_KEY"]
    assert second["analyst"]["CONSOLE_SECRET_KEY"] != first["analyst"]["CONSOLE_SECRET_KEY"]
    assert second["etl"] == first["etl"] and "former" not in second
    values = [v for keys in (first, second) for user in keys.values() for v in user.values()]
    for name, run in realm["runs"].items():
        assert leaks(run.output, values) == [], f"the {name} run printed a user's key"


def test_the_job_is_named_after_its_input_and_runs_again_only_when_it_changes(realm):
    jobs = realm["jobs"]
    assert len(jobs["first"]) == 1 and len(jobs["second"]) == 1, "the Jobs of earlier contents are pruned"
    first, second = jobs["first"][0], jobs["second"][0]
    for job in (first, second):
        digest = job["metadata"]["labels"]["magasin.unicef.org/minio-content"]
        assert job["metadata"]["name"] == f"magasin-minio-setup-{digest}"
        assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"].get("conditions") or [])
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        assert all("valueFrom" in e for e in env if e["name"].endswith(("_KEY", "_USER", "_PASSWORD"))), \
            "keys by Secret reference only"
    assert first["metadata"]["name"] != second["metadata"]["name"]
    # The run without the rotation kept the Job (same content, same keys): not re-created.
    again = jobs["second_again"]
    assert [j["metadata"]["uid"] for j in again] == [second["metadata"]["uid"]]


def test_users_read_and_write_exactly_what_their_policies_allow(realm):
    server, keys = realm["server"], realm["keys"]["first"]
    assert server.s3(server.root_keys, "PUT", "/raw/seed.csv", b"a,b\n1,2\n") == 200
    analyst, etl, former = keys["analyst"], keys["etl"], keys["former"]
    # analyst (raw-read): lists and reads raw, writes nothing, sees no other bucket.
    assert server.s3(analyst, "GET", "/raw/seed.csv") == 200
    assert server.s3(analyst, "GET", "/raw?list-type=2") == 200
    assert server.s3(analyst, "PUT", "/raw/x.csv", b"x") == 403
    assert server.s3(analyst, "DELETE", "/raw/seed.csv") == 403
    assert server.s3(analyst, "PUT", "/scratch/x.csv", b"x") == 403
    assert server.s3(analyst, "GET", "/scratch?list-type=2") == 403
    # MinIO lists only the buckets a user may read.
    status, listing = server.s3_answer(analyst, "GET", "/")
    assert status == 200 and "<Name>raw</Name>" in listing and "<Name>scratch</Name>" not in listing
    # etl (scratch-rw, raw-read): everything in scratch, reads raw, writes no other bucket.
    assert server.s3(etl, "PUT", "/scratch/run-1/out.csv", b"done\n") == 200
    assert server.s3(etl, "GET", "/scratch/run-1/out.csv") == 200
    assert server.s3(etl, "PUT", "/scratch/run-1/tmp.csv", b"t") == 200
    assert server.s3(etl, "DELETE", "/scratch/run-1/tmp.csv") == 204
    assert server.s3(etl, "GET", "/raw/seed.csv") == 200
    assert server.s3(etl, "PUT", "/raw/y.csv", b"y") == 403
    assert server.s3(etl, "PUT", "/vault/y.csv", b"y") == 403
    assert server.s3(etl, "PUT", "/tmp/y.csv", b"y") == 403
    assert server.s3(former, "GET", "/raw/seed.csv") == 200
    bad = dict(analyst, CONSOLE_SECRET_KEY="not-" + analyst["CONSOLE_SECRET_KEY"])
    assert server.s3(bad, "GET", "/raw/seed.csv") == 403


def test_buckets_get_their_versioning_quota_and_object_lock(realm):
    state = realm["state"]["first"]
    buckets = state["buckets"]
    assert set(buckets) == {"magasin", "raw", "scratch", "vault", "tmp"}
    assert buckets["raw"] == {"versioning": "Enabled", "quota": 2 ** 30, "lock": False}
    assert buckets["scratch"] == {"versioning": "", "quota": 0, "lock": False}
    assert buckets["vault"] == {"versioning": "Enabled", "quota": 0, "lock": True}
    # The realm's bucket, not listed, is only created.
    assert buckets["magasin"] == {"versioning": "", "quota": 0, "lock": False}
    assert {"raw-read", "scratch-rw", "unused", "magasin-read-magasin", "magasin-readwrite-magasin"} <= set(state["policies"])
    keys = realm["keys"]["first"]
    assert {keys[u]["CONSOLE_ACCESS_KEY"]: p for u, p in (("analyst", ["raw-read"]), ("etl", ["raw-read", "scratch-rw"]),
                                                          ("former", ["raw-read"]))} == state["users"]


def test_a_second_run_of_the_script_changes_nothing(realm):
    first = realm["script"]["first"].stdout
    assert "changed: bucket raw created" in first and "changed: user analyst created" in first
    again = realm["script"]["first_again"]
    assert "changed:" not in again.stdout, again.stdout
    assert realm["state"]["first_again"] == realm["state"]["first"]


@pytest.fixture(scope="module")
def removal(realm, cluster):
    """The SECOND content's Job, run on the same MinIO (holding the objects the tests above wrote), twice. The
    removed user's Secret was still there when that Job's pod started (the role deletes it once the Job is
    Complete), so its keys come from the first run's Secret."""
    server = realm["server"]
    earlier = {"magasin-minio-user-former": realm["keys"]["first"]["former"]}
    env = job_env(cluster, realm["jobs"]["second"][0], server.endpoint, earlier)
    # Data in scratch (as etl wrote it above) and raw, which the removal must keep.
    for path in ("/scratch/run-1/out.csv", "/raw/seed.csv"):
        assert server.s3(server.root_keys, "PUT", path, b"kept\n") == 200
    before = server.state()
    return {"before": before, "run": server.run_script(env), "after": server.state(),
            "again": server.run_script(env), "after_again": server.state()}


def test_a_removal_removes_only_what_is_named(realm, removal):
    keys, server = realm["keys"], realm["server"]
    before, after = removal["before"], removal["after"]
    out = removal["run"].stdout + removal["run"].stderr
    for line in ("changed: user former removed", "changed: policy unused removed", "changed: bucket tmp removed",
                 "changed: user etl policy raw-read detached", "kept: bucket scratch holds objects"):
        assert line in out, out
    assert set(after["buckets"]) == set(before["buckets"]) - {"tmp"}
    assert {n: after["buckets"][n] for n in ("magasin", "raw", "vault", "scratch")} == \
        {n: before["buckets"][n] for n in ("magasin", "raw", "vault", "scratch")}
    assert set(after["policies"]) == set(before["policies"]) - {"unused"}
    assert {n: after["policies"][n] for n in after["policies"]} == {n: before["policies"][n] for n in after["policies"]}
    analyst, etl, former = (keys["first"][u]["CONSOLE_ACCESS_KEY"] for u in USERS)
    assert after["users"] == {analyst: ["raw-read"], etl: ["scratch-rw"]} and former in before["users"]
    assert server.s3(keys["first"]["former"], "GET", "/raw/seed.csv") == 403
    # Kept: the objects of raw and scratch; etl lost raw only.
    assert server.s3(keys["second"]["etl"], "GET", "/scratch/run-1/out.csv") == 200
    assert server.s3(keys["second"]["etl"], "GET", "/raw/seed.csv") == 403
    assert "changed:" not in removal["again"].stdout and removal["after_again"] == after


def test_a_rotated_key_replaces_the_old_one(realm, removal):
    server, keys = realm["server"], realm["keys"]
    assert server.s3(keys["second"]["analyst"], "GET", "/raw/seed.csv") == 200
    assert server.s3(keys["first"]["analyst"], "GET", "/raw/seed.csv") == 403
