"""The realm lock and the recovery of killed runs (issue 11), on the test cluster with the real charts.

Realm `lk1`, MinIO and daskhub: daskhub's chart-owned PVC hub-db-dir is the volume a careless recovery would
lose, and the realm's Secrets (MinIO root, users' keys, daskhub's logins, JupyterHub's own hub Secret) are the
credentials. playbooks/magasin.yml is started as AWX starts a job, in a process group of its own, and that group
is sent SIGKILL or SIGTERM, as AWX cancels, at points spread over every phase of a converge: the preflight, the
lock, the credentials, MinIO's operator and tenant releases, the queued consumer releases (helm_releases), the
configuration, the NetworkPolicies and the run report. A point is found by the module a task calls and the role
file it sits in (tests/support/callback_plugins/task_marks.py prints them as each task starts), or, for the
releases, by the pending record the run's helm install, upgrade, rollback or uninstall writes in the release's
namespace, so renamed tasks do not move it. Each kill is followed at once by a rerun, which is killed at the next
point; the run after the last kill must converge. Each run has a sizing of its own, so each one has real upgrades
to make.

Checked throughout: no credential regenerated (every Secret's data as it was first seen, Helm's own release
records aside), no PVC recreated (same UIDs), and no process of a killed run (its ansible-playbook, workers,
modules, helm, kubectl) still running once the rerun holds the lock. While the last run holds the lock, a second
run on the realm is started: it is refused at once naming the holder, and the first one converges unharmed.

The whole chain is one module-scoped fixture: one fresh realm, twelve runs (eleven and the refused one), about
four minutes on a quiet machine (5.5 with the load of four other sessions). Helm 4 only
unless MAGASIN_HELM=3: the lock and the recovery of a pending release do not depend on the Helm major.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field

import pytest
from realms import KUBECONFIG, REPO_ROOT, VENV_BIN, helm4_unless_asked, namespaces

REALM = "lk1"
COMPONENTS = ["minio", "daskhub"]
NS = namespaces(REALM)


def sizing(run: int) -> dict:
    """Each run's own sizing: every run has a tenant and a daskhub upgrade to make."""
    return {"minio": {"pool": {"requests": {"cpu": f"{250 + run}m"}}}, "daskhub": {"hub": {"requests": {"cpu": f"{100 + run}m"}}}}


CALLBACKS = REPO_ROOT / "tests" / "support" / "callback_plugins"
MARK_RE = re.compile(r"^MAGASIN-TASK action=(?P<action>\S+) file=(?P<file>\S+) name=(?P<name>.*)$")


@dataclass(frozen=True)
class Point:
    """Where a run is killed: at the start of the ``occurrence``-th task that calls module ``action`` (and whose
    file or name holds ``where``, when given), or once the run's helm works on the release in ``helm_ns``
    (install, upgrade, rollback or uninstall), ``delay`` seconds later."""

    phase: str
    signum: int
    action: str | None = None
    where: str | None = None
    occurrence: int = 1
    helm_ns: str | None = None
    delay: float = 0.3

    def matches(self, mark: dict) -> bool:
        if self.action is None or not mark["action"].endswith(self.action):
            return False
        return self.where is None or self.where in mark["file"] or self.where.lower() in mark["name"].lower()

    def __str__(self) -> str:
        what = f"helm on {self.helm_ns}" if self.helm_ns else f"{self.action}{'/' + self.where if self.where else ''}"
        return f"{self.phase} ({what}, {signal.Signals(self.signum).name})"


KILL, TERM = signal.SIGKILL, signal.SIGTERM
# The order keeps the chain short (the early points are cheap) and makes each recovery path happen: the first
# run, on a new realm, is killed while it generates credentials; the second while helm installs the tenant (left
# pending-install); three more runs are killed before they reach it, so the sixth finds it pending and is killed
# while it recovers it; daskhub's first install is let to finish (the run is killed at its report), and the next
# run is killed in the middle of daskhub's upgrade (left pending-upgrade), which the last run rolls back.
POINTS = [
    Point("credentials", KILL, action="credentials"),
    Point("MinIO tenant release", TERM, helm_ns=NS["tenant"], delay=0.0),
    Point("lock", KILL, action="realm_lock", delay=0.0),
    Point("preflight", TERM, action="realm_info"),
    Point("MinIO operator release", KILL, action="helm_release"),
    Point("MinIO tenant release", KILL, helm_ns=NS["tenant"], delay=0.0),
    Point("network policies", TERM, action="kubectl_apply", where="network"),
    Point("configuration", KILL, action="kubectl_apply", where="configure"),
    Point("report", TERM, action="report_file", where="report"),
    Point("queued consumer releases", KILL, helm_ns=NS["daskhub"], delay=0.0),
]


# --- processes ----------------------------------------------------------------------------


def stat(pid: int) -> tuple[int, int] | None:
    """(ppid, start time) of a process, None when it is gone or a zombie: a killed process its parent has not
    reaped yet (a module the killed run's renewer stopped, before its worker ends) runs nothing any more."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        if fields[0] in ("Z", "X", "x"):
            return None
        return int(fields[1]), int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def argv_of(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [a.decode(errors="replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return []


def table() -> dict[int, tuple[int, int]]:
    out = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (st := stat(int(name))):
            out[int(name)] = st
    return out


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start) of a process and all its descendants."""
    procs = table()
    children: dict[int, list[int]] = {}
    for child, (ppid, _start) in procs.items():
        children.setdefault(ppid, []).append(child)
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current in procs:
            found.add((current, procs[current][1]))
        todo.extend(children.get(current, []))
    return found


def tools_on(namespaces_: tuple[str, ...]) -> dict[tuple[int, int], list[str]]:
    """helm and kubectl processes (of any run) working on one of the namespaces: {(pid, start): argv}."""
    found = {}
    for pid, (_ppid, start) in table().items():
        argv = argv_of(pid)
        if argv and re.match(r"^(helm\d?|kubectl)$", os.path.basename(argv[0])) and any(n in argv for n in namespaces_):
            found[(pid, start)] = argv
    return found


def still_running(procs: set[tuple[int, int]]) -> list[str]:
    """The processes that still run (an empty command line is a process the kernel is ending: it has no memory
    left to run in)."""
    return [f"{pid} {' '.join(argv)[:200]}" for pid, start in sorted(procs)
            if (st := stat(pid)) and st[1] == start and (argv := argv_of(pid))]


# --- runs ---------------------------------------------------------------------------------


class Run:
    """ansible-playbook playbooks/magasin.yml in a process group of its own, as AWX's runner starts a job; its
    output is read by a thread, line by line, with the time each line came."""

    def __init__(self, helm_bin, sizing: dict, report: str):
        extra = {"magasin_kubeconfig": str(KUBECONFIG), "magasin_helm_binary": str(helm_bin),
                 "magasin_charts_dir": str((REPO_ROOT.parent / "shared" / "charts" / "magasin").resolve()),
                 "magasin_realm": REALM, "magasin_components": COMPONENTS, "magasin_sizing": sizing,
                 "magasin_report_path": report}
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}", PYTHONUNBUFFERED="1",
                   ANSIBLE_CALLBACK_PLUGINS=str(CALLBACKS), ANSIBLE_CALLBACKS_ENABLED="task_marks")
        self.report = report
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/magasin.yml",
             "--extra-vars", json.dumps(extra)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        self.lines: list[str] = []
        self.marks: list[dict] = []
        self.events: queue.Queue = queue.Queue()
        self.locked_at: float | None = None  # when its lock task had succeeded (the next task started)
        self.lock_task_at: float | None = None
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            match = MARK_RE.match(line)
            if match:
                mark = dict(match.groupdict(), at=time.monotonic())
                if self.lock_task_at is not None and self.locked_at is None:
                    self.locked_at = mark["at"]  # the lock task ended well: the play went on
                if mark["action"].endswith("realm_lock") and self.lock_task_at is None:
                    self.lock_task_at = mark["at"]
                self.marks.append(mark)
                self.events.put(mark)
        self.events.put(None)

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait(self, timeout: float = 900) -> int:
        rc = self.proc.wait(timeout)
        self.reader.join(30)
        return rc

    def until(self, point: Point) -> bool:
        """Wait for the point; False when the run ended first."""
        seen = 0
        while True:
            if point.helm_ns:
                with PendingWatch(point.helm_ns) as pending:
                    while not pending.seen.wait(0.05):
                        if self.proc.poll() is not None:
                            return False
                break
            mark = self.events.get(timeout=900)
            if mark is None:
                return False
            if point.matches(mark):
                seen += 1
                if seen == point.occurrence:
                    break
        time.sleep(point.delay)  # inside the task, not at its first line
        return self.proc.poll() is None

    def kill(self, signum: int) -> set[tuple[int, int]]:
        """Signal the run's process group, as AWX cancels a job; returns every process the run had then (its
        ansible-playbook, workers, modules, helm, kubectl: Ansible's workers sit in sessions of their own)."""
        procs = descendants(self.pid) | set(tools_on(tuple(NS.values())))
        os.killpg(self.pid, signum)
        procs |= set(tools_on(tuple(NS.values())))
        return procs


def kubectl_json(*args: str) -> dict:
    env = dict(os.environ, KUBECONFIG=str(KUBECONFIG))
    out = subprocess.run([str(VENV_BIN / "kubectl"), *args, "-o", "json"], env=env, capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out or "{}")


def realm_state() -> tuple[dict[str, str], dict[str, str]]:
    """(every Secret value of the realm but Helm's release records, which change with each revision; the UID of
    every PVC), read in one request per kind."""
    secrets, claims = {}, {}
    mine = set(NS.values())
    for item in kubectl_json("get", "secrets,persistentvolumeclaims", "--all-namespaces").get("items", []):
        meta = item["metadata"]
        if meta["namespace"] not in mine:
            continue
        if item["kind"] == "PersistentVolumeClaim":
            claims[f"{meta['namespace']}/{meta['name']}"] = meta["uid"]
        elif item.get("type") != "helm.sh/release.v1":
            for key, value in (item.get("data") or {}).items():
                if key == "values.yaml" and meta["name"] == "hub":
                    continue  # JupyterHub's copy of its chart values (the sizing), beside its credentials
                secrets[f"{meta['namespace']}/{meta['name']}/{key}"] = base64.b64decode(value).decode(errors="replace")
    return secrets, claims


PENDING = ("pending-install", "pending-upgrade", "pending-rollback", "uninstalling")


def release_records(namespace: str | None = None, selector: str = "owner=helm") -> dict[str, tuple[int, str]]:
    """{namespace/name: (latest revision, its status)} from Helm's release records (their labels only)."""
    env = dict(os.environ, KUBECONFIG=str(KUBECONFIG))
    where = ["-n", namespace] if namespace else ["--all-namespaces"]
    out = subprocess.run([str(VENV_BIN / "kubectl"), "get", "secrets", *where, "-l", selector, "-o",
                          "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.labels.name} "
                          "{.metadata.labels.version} {.metadata.labels.status}{'\\n'}{end}"],
                         env=env, capture_output=True, text=True, check=True).stdout
    latest: dict[str, tuple[int, str]] = {}
    for line in out.splitlines():
        ns, name, version, status = line.split()
        if ns in NS.values() and int(version) >= latest.get(f"{ns}/{name}", (0, ""))[0]:
            latest[f"{ns}/{name}"] = (int(version), status)
    return latest


def pending_releases(helm_bin=None) -> list[str]:
    """The realm's releases whose latest revision is not deployed: pending-*, uninstalling or failed."""
    return sorted(f"{key} {status} (revision {version})" for key, (version, status) in release_records().items()
                  if status != "deployed")


class PendingWatch:
    """Watches Helm's release records in a namespace; ``seen`` is set as soon as a revision is written pending
    that was not so when the watch began (an install, upgrade, rollback or uninstall has begun to change the
    release: before that, helm only reads and renders, and a signal leaves nothing behind). The recovery of a
    first install left pending writes no newer revision: it uninstalls revision 1, then installs it again."""

    def __init__(self, namespace: str):
        env = dict(os.environ, KUBECONFIG=str(KUBECONFIG))
        self.latest = {k.partition("/")[2]: v for k, v in release_records(namespace).items()}
        self.seen = threading.Event()
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "kubectl"), "get", "secrets", "-n", namespace, "-l", "owner=helm", "--watch",
             "--no-headers", "-o", "custom-columns=N:.metadata.labels.name,V:.metadata.labels.version,"
             "S:.metadata.labels.status"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self.read, daemon=True)
        self.reader.start()

    def read(self) -> None:
        for line in self.proc.stdout:
            fields = line.split()
            if len(fields) == 3 and fields[1].isdigit() and fields[2] in PENDING:
                version, status = self.latest.get(fields[0], (0, ""))
                if int(fields[1]) > version or (int(fields[1]) == version and fields[2] != status):
                    self.seen.set()

    def __enter__(self) -> PendingWatch:
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait()


def lease() -> dict | None:
    return kubectl_json("get", "lease", f"magasin-realm-{REALM}", "-n", "default", "--ignore-not-found") or None


@dataclass
class Killed:
    point: Point
    pid: int
    seconds: float
    processes: set = field(default_factory=set)
    task: str = ""  # the last task the run had started
    ended_first: int | None = None  # the run's rc when it ended before its point
    output: str = ""


@pytest.fixture(scope="module")
def chain(cluster, helm_bin, tmp_path_factory) -> dict:
    helm4_unless_asked(helm_bin, "the realm lock and the recovery of a pending release do not depend on the Helm major")
    cluster.teardown(REALM)
    reports = tmp_path_factory.mktemp("lock-reports")
    began = time.monotonic()
    kills: list[Killed] = []
    unseen: set = set()  # processes of killed runs, until a rerun holds the lock
    behind: list[dict] = []  # what was still running when a rerun held the lock
    seen_secrets: dict[str, str] = {}
    changed_secrets: list[str] = []
    first_claims: dict[str, str] = {}
    recreated: list[str] = []

    def check_state(after: str) -> None:
        secrets, claims = realm_state()
        for key, value in secrets.items():
            if seen_secrets.setdefault(key, value) != value:
                changed_secrets.append(f"{key} changed after {after}")
        changed_secrets.extend(f"{key} gone after {after}" for key in seen_secrets if key not in secrets)
        for key, uid in claims.items():
            if first_claims.setdefault(key, uid) != uid:
                recreated.append(f"{key} recreated after {after}")
        recreated.extend(f"{key} gone after {after}" for key in first_claims if key not in claims)

    def watch(run: Run, leftovers: set, after: str) -> None:
        """Once the rerun holds the lock: which processes of the killed runs still run, and what they left."""
        while run.locked_at is None and run.proc.poll() is None:
            time.sleep(0.02)
        if run.locked_at is not None:
            # What the killed runs left, as the rerun finds it: none of their processes changes it any more.
            behind.append({"run": run.pid, "running": still_running(leftovers), "pending": pending_releases(),
                           "after": after})
            unseen.difference_update(leftovers)
        check_state(after)

    run = Run(helm_bin, sizing(0), str(reports / "run0.json"))
    runs, watchers = [run], []
    try:
        for i, point in enumerate(POINTS):
            reached = run.until(point)
            if not reached:
                kills.append(Killed(point, run.pid, time.monotonic() - run.started, ended_first=run.wait(),
                                    output=run.output))
                break
            procs = run.kill(point.signum)
            run.wait(120)
            unseen |= procs
            kills.append(Killed(point, run.pid, time.monotonic() - run.started, procs,
                                task=run.marks[-1]["name"] if run.marks else ""))
            # At once: the rerun's preflight takes the lock (the killed run's renewer stops what that run left and
            # releases it) and recovers whatever the killed run left pending.
            run = Run(helm_bin, sizing(i + 1), str(reports / f"run{i + 1}.json"))
            runs.append(run)
            # Watched beside the run: the next kill point may come while the checks still read the cluster.
            watchers.append(threading.Thread(target=watch, args=(run, set(unseen), str(point)), daemon=True))
            watchers[-1].start()
        # The run after the last kill converges; while it holds the lock, a second run on the realm is refused.
        last = run
        while last.locked_at is None and last.proc.poll() is None:
            time.sleep(0.02)
        holder = lease()
        second = Run(helm_bin, sizing(len(POINTS) + 1), str(reports / "second.json"))
        second_rc = second.wait(300)
        second_ended = time.monotonic()
        lease_after_refusal = lease()
        last_rc = last.wait(900)
        last_seconds = time.monotonic() - last.started
        for watcher in watchers:
            watcher.join(300)
        check_state("the last run")
    finally:
        for r in runs + ([second] if "second" in locals() else []):
            if r.proc.poll() is None:
                os.killpg(r.pid, signal.SIGKILL)
                r.wait(60)
    return {"kills": kills, "runs": runs, "last": last, "last_rc": last_rc, "last_seconds": last_seconds, "behind": behind,
            "changed_secrets": changed_secrets, "recreated": recreated, "secrets": seen_secrets,
            "claims": first_claims, "second": second, "second_rc": second_rc,
            "second_refused_in": second_ended - (second.lock_task_at or second_ended),
            "holder": holder, "lease_after_refusal": lease_after_refusal, "lease_at_end": lease(),
            "tools_at_end": still_running(set(tools_on(tuple(NS.values())))), "seconds": time.monotonic() - began}


def test_every_run_after_a_kill_converges(chain: dict):
    for kill in chain["kills"]:
        assert kill.ended_first is None, \
            f"the run to kill at {kill.point} ended first (rc {kill.ended_first}):\n{kill.output[-6000:]}"
    assert len(chain["kills"]) == len(POINTS) >= 10
    assert {p.phase for p in POINTS} >= {"preflight", "lock", "credentials", "MinIO operator release",
                                         "MinIO tenant release", "queued consumer releases", "configuration",
                                         "network policies", "report"}
    # Every rerun that was killed had passed its lock (none was refused by a lock left behind).
    for run in chain["runs"]:
        assert "is locked by another run" not in run.output, run.output[-4000:]
    last = chain["last"]
    assert chain["last_rc"] == 0, f"the run after the last kill failed:\n{last.output[-8000:]}"
    print(f"[lock] {len(chain['kills'])} kills at "
          + ", ".join(f"{k.point.phase} {k.seconds:.0f}s [{k.task}]" for k in chain["kills"])
          + f"; last run {chain['last_seconds']:.0f}s; {chain['seconds']:.0f}s in all, load {os.getloadavg()[0]:.1f}")


def test_the_kills_left_pending_releases_that_were_recovered(chain: dict, helm_bin):
    """The kills in the middle of helm left the releases undeployed (pending, or failed when helm was stopped with
    SIGTERM), as the rerun that took the lock found them; the last run recovered daskhub's."""
    found = [(seen["after"], line) for seen in chain["behind"] for line in seen["pending"]]
    print("[lock] left by the kills: " + "; ".join(f"after {after}: {line}" for after, line in found))
    # daskhub's upgrade waits for its workloads: the kill always finds it under way. The tenant's install or
    # upgrade may finish before the killed run's renewer stops its helm; then the rerun finds it deployed.
    assert any(line.startswith(f"{NS['daskhub']}/daskhub-{REALM} ") for _after, line in found), chain["behind"]
    with open(chain["last"].report) as handle:
        report = json.load(handle)
    recovered = {r["name"]: r.get("recovered") for r in report["releases"]}
    left = next(line for after, line in reversed(found) if line.startswith(f"{NS['daskhub']}/"))
    if "pending-" in left:
        assert re.match(r"rolled back pending-upgrade revision \d+ to revision \d+", recovered[f"daskhub-{REALM}"] or ""), \
            recovered
    assert pending_releases(helm_bin) == []


def test_no_credential_regenerated_and_no_volume_claim_recreated(chain: dict):
    assert not chain["changed_secrets"], chain["changed_secrets"]
    assert not chain["recreated"], chain["recreated"]
    secrets = chain["secrets"]
    for name in (f"{NS['tenant']}/magasin-minio-root/", f"{NS['daskhub']}/hub/", f"{NS['daskhub']}/magasin-s3/"):
        assert any(key.startswith(name) for key in secrets), sorted(secrets)
    assert f"{NS['daskhub']}/hub-db-dir" in chain["claims"], chain["claims"]


def test_no_process_of_a_killed_run_works_behind_the_lock(chain: dict):
    # One check per kill whose rerun took the lock (a rerun killed in its lock task leaves it to the next one).
    assert len(chain["behind"]) >= len(POINTS) - 1, chain["behind"]
    for seen in chain["behind"]:
        assert seen["running"] == [], f"processes of killed runs running when run {seen['run']} held the lock: {seen}"
    assert all(k.processes for k in chain["kills"])
    assert chain["lease_at_end"] is None, "the last run left its lock behind"
    assert chain["tools_at_end"] == []


def test_a_second_concurrent_run_is_refused_at_once_naming_the_holder(chain: dict):
    second, first = chain["second"], chain["last"]
    output = second.output
    assert chain["second_rc"] != 0, output[-4000:]
    assert second.lock_task_at is not None and second.locked_at is None, output[-4000:]
    assert re.search(rf"Realm {REALM} is locked by another run: host \S+, pid {first.pid}, since \S+ \(\d+ s ago\)",
                     output), output[-4000:]
    assert chain["second_refused_in"] < 5, f"refused {chain['second_refused_in']:.1f}s after its lock task started"
    assert re.search(r"changed=0\s", output), output[-2000:]
    # The first run's lock was left alone: still its own, and released at its end.
    holder = chain["holder"]["spec"]["holderIdentity"]
    assert f"/{first.pid}" in holder, holder
    assert chain["lease_after_refusal"]["spec"]["holderIdentity"] == holder
    assert chain["lease_after_refusal"]["metadata"]["uid"] == chain["holder"]["metadata"]["uid"]
    assert chain["last_rc"] == 0, first.output[-6000:]
    print(f"[lock] the second run was refused {chain['second_refused_in']:.2f}s after its lock task started")
