"""Real servers on 127.0.0.1 for the backup tests: a throwaway PostgreSQL cluster (Debian's
PostgreSQL 15: initdb, pg_ctl) and a MinIO server (tests/support/minio_build.py), and a runner
that executes one container of a backup or restore Job -- the collection's own script with the
container's environment, its Secret references resolved from a dict as the kubelet would from the
Job's Secret -- on this machine, with an emptyDir of its own per Job.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import minio_build

# Debian's server binaries of whichever major is installed (make setup installs postgresql).
PG_BIN = Path(os.environ.get("MAGASIN_PG_BIN") or max(
    (str(p.parent) for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")),
    key=lambda d: int(Path(d).parent.name) if Path(d).parent.name.isdigit() else 0,
    default="/usr/lib/postgresql/15/bin"))
# initdb refuses root: the cluster's files belong to this user when the tests run as root.
PG_USER = "nobody"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_pg_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


@contextlib.contextmanager
def postgresql(users: dict[str, tuple[str, str]]) -> Iterator[dict]:
    """A PostgreSQL server with password (scram) authentication on a free port; ``users``:
    {user: (password, database)}, each database owned by its user. Yields {port, superuser, password}."""
    top = Path(tempfile.mkdtemp(prefix="magasin-pg-"))
    os.chmod(top, 0o755)
    data, run = top / "data", top / "run"
    run.mkdir()
    password = "superuser-" + os.urandom(6).hex()
    pwfile = top / "pw"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        uid = pwd.getpwnam(PG_USER).pw_uid
        for path in (top, run, pwfile):
            os.chown(path, uid, -1)
    port = free_port()
    subprocess.run(_as_pg_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                                f"--pwfile={pwfile}", "--no-sync"]), check=True, capture_output=True)
    subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(top / "log"), "-o",
                                f"-p {port} -k {run} -c listen_addresses=127.0.0.1 -c fsync=off", "start"]),
                   check=True, capture_output=True)
    server = {"port": port, "superuser": "postgres", "password": password}
    try:
        for user, (secret, db) in users.items():
            psql(server, "postgres", "postgres", password, f"CREATE ROLE \"{user}\" LOGIN PASSWORD '{secret}'")
            psql(server, "postgres", "postgres", password, f'CREATE DATABASE "{db}" OWNER "{user}"')
        yield server
    finally:
        subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       check=False, capture_output=True)
        shutil.rmtree(top, ignore_errors=True)


def psql(server: dict, db: str, user: str, password: str, sql: str) -> str:
    res = subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(server["port"]),
                          "-U", user, "-d", db, "-c", sql], env=dict(os.environ, PGPASSWORD=password),
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
    return res.stdout


def table_digests(server: dict, db: str, user: str, password: str) -> dict[str, str]:
    """{schema.table: md5 of its rows in order}, every table of the database's public schema, and the
    next value of each sequence (a restore must carry them too)."""
    tables = psql(server, db, user, password, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    out = {}
    for table in tables.split():
        out["public." + table] = psql(server, db, user, password,
                                      f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '')"
                                      f' FROM public."{table}" t').strip()
    for seq in psql(server, db, user, password,
                    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1").split():
        out["sequence." + seq] = psql(server, db, user, password, f'SELECT last_value FROM public."{seq}"').strip()
    return out


@contextlib.contextmanager
def minio(root_user: str, root_password: str) -> Iterator[dict]:
    """A real MinIO server on a free port with these root credentials: {url, mc (argv), mc_env}."""
    top = Path(tempfile.mkdtemp(prefix="magasin-minio-"))
    server_bin, mc_bin = minio_build.build("minio"), minio_build.build("mc")
    port, console = free_port(), free_port()
    env = dict(os.environ, MINIO_ROOT_USER=root_user, MINIO_ROOT_PASSWORD=root_password)
    proc = subprocess.Popen([str(server_bin), "server", str(top / "data"), "--address", f"127.0.0.1:{port}",
                             "--console-address", f"127.0.0.1:{console}", "--quiet"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/minio/health/live", timeout=2):
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "MinIO did not start"
                time.sleep(0.3)
        mc_env = dict(os.environ, MC_CONFIG_DIR=str(top / "mc"),
                      MC_HOST_s3=f"http://{root_user}:{root_password}@127.0.0.1:{port}")
        yield {"url": url, "mc": [str(mc_bin)], "mc_bin": mc_bin, "mc_env": mc_env, "port": port}
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(top, ignore_errors=True)


def mc(server: dict, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess:
    res = subprocess.run([*server["mc"], *args], env=server["mc_env"], input=data, capture_output=True, check=False)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res


def object_digests(server: dict, bucket: str, prefix: str = "") -> dict[str, str]:
    """{key: sha256} of every object of a bucket (under prefix), read back through S3."""
    base = f"s3/{bucket}/{prefix}".rstrip("/")
    found = mc(server, "find", base, "--print", "{}").stdout.decode().split("\n")
    out = {}
    for name in filter(None, found):
        out[name[len(base) + 1:]] = hashlib.sha256(mc(server, "cat", name).stdout).hexdigest()
    return out


def run_job(job: dict, secret: dict[str, str], overrides: dict[str, dict[str, str]], work: Path,
            path_dirs: list[Path]) -> list[subprocess.CompletedProcess]:
    """Run a Job's containers in order (init containers, then the container) on this machine: each
    one's command, with its env resolved (literal values; secretKeyRef from ``secret``, the Job's
    credentials Secret) and ``overrides[container name]`` on top (the 127.0.0.1 addresses of the servers
    standing in for the cluster's Services). The emptyDir is ``work``. Stops at the first failure."""
    spec = job["spec"]["template"]["spec"]
    results = []
    work.mkdir(parents=True, exist_ok=True)
    for container in (spec.get("initContainers") or []) + spec["containers"]:
        env = {"PATH": ":".join(str(p) for p in path_dirs) + ":" + os.environ["PATH"], "LC_ALL": "C"}
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                ref = item["valueFrom"]["secretKeyRef"]
                env[item["name"]] = secret[ref["key"]]
        env.update(overrides.get(container["name"], {}))
        env = {k: (str(work) + v[len("/work"):] if isinstance(v, str) and v.startswith("/work") else v)
               for k, v in env.items()}
        res = subprocess.run(container["command"], env=env, capture_output=True, text=True, timeout=300, check=False)
        results.append(res)
        if res.returncode != 0:
            break
    return results
