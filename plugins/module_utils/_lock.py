# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the realm lock, a coordination.k8s.io/v1 Lease per realm.

The decisions (who holds the lock, whether that holder is gone, what to tell the user) are pure
functions of the Lease and of what this host can see, unit-tested without a cluster. The renewer at
the end is the one long-lived process of a run: started by realm_lock, in a session of its own so
that a signal to the run's process group does not reach it, it renews the Lease while the run's
ansible-playbook lives; when that process is gone without releasing the lock (killed), it stops the
run's remaining processes (workers, modules, helm, kubectl: ansible's workers sit in sessions of
their own, so a signal to the run's group reaches none of them) and releases the Lease once none is
left. A holder on this host whose processes are all gone is stale at once; a holder elsewhere is
stale when its Lease expired.

"The run" is the ansible-playbook process that started the task's worker, as the worker itself knows
it (the realm_lock action plugin, on the controller): a worker orphaned by a killed run must not take
the lock in the name of a run that has ended, nor pass itself off as the run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import datetime
import json
import os
import signal
import socket
import subprocess
import time

from ._helm import UTC, parse_time

LEASE_PREFIX = "magasin-realm-"
HOLDER_ANNOTATION = "magasin.unicef.org/holder"
REALM_LABEL = "magasin.unicef.org/realm"
DEFAULT_DURATION = 30
JOB_ENV = ("JOB_ID", "AWX_JOB_ID")
PLAYBOOK_NAMES = ("ansible-playbook",)


def lease_name(realm):
    return LEASE_PREFIX + realm


def format_time(when):
    """A Lease's MicroTime: RFC 3339 in UTC with microseconds."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now_utc():
    return datetime.datetime.now(UTC)


# --- who holds the lock -------------------------------------------------------------------


def identity(holder):
    """The Lease's holderIdentity: host/pid, and the AWX job when there is one."""
    text = "%s/%s" % (holder.get("host"), holder.get("pid"))
    if holder.get("job"):
        text += "/awx-job-%s" % holder["job"]
    return text


def job_id(environ):
    for name in JOB_ENV:
        if environ.get(name):
            return str(environ[name])
    return None


def parse_stat(text):
    """(ppid, start time in clock ticks, command name) from /proc/<pid>/stat. The name sits in parentheses and
    may itself hold spaces and parentheses, so the fields are read after the last ')'."""
    head, _sep, tail = text.rpartition(")")
    name = head.partition("(")[2]
    fields = tail.split()
    # tail starts at field 3 (state); ppid is field 4, starttime field 22.
    return int(fields[1]), int(fields[19]), name


def is_playbook(cmdline):
    """Whether a process's argv (a list) is ansible-playbook: its own script, or python running it."""
    return any(os.path.basename(arg) in PLAYBOOK_NAMES for arg in cmdline[:2])


def playbook_of(chain):
    """The ansible-playbook process of a run from the chain of ancestors of a module process ([(pid, argv)],
    nearest first). Ansible's workers are forks of it with the same argv, so the run's own process is the
    outermost of the first consecutive ansible-playbook processes; None when the module was not started by
    ansible-playbook."""
    found = None
    for pid, cmdline in chain:
        if is_playbook(cmdline):
            found = pid
        elif found is not None:
            break
    return found


def same_host(holder, me):
    return holder.get("host") == me.get("host") and holder.get("boot_id") == me.get("boot_id")


def same_run(holder, me):
    return same_host(holder, me) and holder.get("pid") == me.get("pid") and holder.get("pid_start") == me.get("pid_start")


def lease_holder(lease):
    """What a Lease says about its holder: the holder annotation (host, boot_id, pid, pid_start, job, renewer,
    renewer_start) with the Lease's identity and times; None when nobody holds it."""
    if not lease:
        return None
    spec = lease.get("spec") or {}
    if not spec.get("holderIdentity"):
        return None
    annotations = (lease.get("metadata") or {}).get("annotations") or {}
    try:
        holder = json.loads(annotations.get(HOLDER_ANNOTATION) or "{}")
    except ValueError:
        holder = {}
    if not isinstance(holder, dict):
        holder = {}
    holder.update(identity=spec["holderIdentity"], since=spec.get("acquireTime"), renewed=spec.get("renewTime"),
                  duration=spec.get("leaseDurationSeconds") or DEFAULT_DURATION)
    return holder


def expires_at(holder):
    renewed = parse_time(holder.get("renewed") or holder.get("since"))
    if renewed is None:
        return None
    return renewed + datetime.timedelta(seconds=int(holder.get("duration") or DEFAULT_DURATION))


def holder_state(holder, me, now, alive):
    """Decide about the holder of a realm's Lease. Pure but for ``alive(pid, start)``, which says whether a
    process of this host still runs (its start time tells a reused pid apart).

    Returns (state, reason): ``free`` nobody holds it; ``mine`` this run holds it; ``live`` another run holds
    it; ``ending`` a run of this host whose ansible-playbook is gone while its renewer still stops what it
    left running (a short wait); ``stale`` the holder is gone (this host: none of its processes runs; another
    host: its Lease expired), so the lock may be taken over at once.
    """
    if holder is None:
        return "free", "nobody holds it"
    if same_run(holder, me):
        return "mine", "this run holds it"
    if same_host(holder, me):
        if holder.get("pid") and alive(holder["pid"], holder.get("pid_start")):
            return "live", "its ansible-playbook (pid %s) still runs on this host" % holder["pid"]
        if holder.get("renewer") and alive(holder["renewer"], holder.get("renewer_start")):
            return "ending", ("its ansible-playbook (pid %s) is gone; its renewer (pid %s) is stopping the helm and "
                              "kubectl processes it left" % (holder.get("pid"), holder["renewer"]))
        return "stale", "none of its processes runs on this host any more"
    if holder.get("host") == me.get("host") and holder.get("boot_id") and holder.get("boot_id") != me.get("boot_id"):
        return "stale", "its host %s was restarted since" % holder.get("host")
    expiry = expires_at(holder)
    if expiry is None or now >= expiry:
        return "stale", "its Lease expired%s (not renewed for %ss)" % (
            "" if expiry is None else " at %s" % format_time(expiry), holder.get("duration"))
    return "live", "its Lease is renewed until %s" % format_time(expiry)


def describe_holder(holder, now):
    """'host h, pid 1234, AWX job 42, since 2026-12-01T12:00:00Z (75 s ago)'."""
    parts = ["host %s" % holder.get("host", "?"), "pid %s" % holder.get("pid", "?")]
    if holder.get("job"):
        parts.append("AWX job %s" % holder["job"])
    since = parse_time(holder.get("since"))
    if since is not None:
        parts.append("since %s (%d s ago)" % (since.strftime("%Y-%m-%dT%H:%M:%SZ"), max(0, int((now - since).total_seconds()))))
    if holder.get("identity") and not holder.get("host"):
        parts.insert(0, "holder %s" % holder["identity"])
    return ", ".join(parts)


def refusal(realm, namespace, holder, reason, now):
    """The message of a run refused because another run holds the realm."""
    expiry = expires_at(holder)
    return ("Realm %s is locked by another run: %s; %s. Two runs on one realm would collide, so this run stops "
            "before changing anything. Wait until that run ends (the lock is released at its end; if it was killed "
            "on another host, the Lease %s/%s expires %s), then run again."
            % (realm, describe_holder(holder, now), reason, namespace, lease_name(realm),
               "at %s" % format_time(expiry) if expiry else "after leaseDurationSeconds"))


# --- the Lease --------------------------------------------------------------------------


def lease_object(realm, namespace, holder, now, duration, lease=None):
    """The Lease that says ``holder`` holds the realm, as a new object or as a takeover of ``lease`` (its
    resourceVersion makes the replace fail when someone else changed it meanwhile)."""
    record = dict((k, holder[k]) for k in ("host", "boot_id", "pid", "pid_start", "job", "renewer", "renewer_start")
                  if holder.get(k) is not None)
    meta = {"name": lease_name(realm), "namespace": namespace, "labels": {REALM_LABEL: realm},
            "annotations": {HOLDER_ANNOTATION: json.dumps(record, sort_keys=True)}}
    spec = {"holderIdentity": identity(holder), "leaseDurationSeconds": int(duration),
            "acquireTime": format_time(now), "renewTime": format_time(now), "leaseTransitions": 0}
    if lease:
        meta["resourceVersion"] = lease["metadata"]["resourceVersion"]
        spec["leaseTransitions"] = int((lease.get("spec") or {}).get("leaseTransitions") or 0) + 1
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}


def renew_patch(holder, now):
    """A JSON patch that renews the Lease only while it names this holder (the test op fails otherwise)."""
    record = dict((k, holder[k]) for k in ("host", "boot_id", "pid", "pid_start", "job", "renewer", "renewer_start")
                  if holder.get(k) is not None)
    return [{"op": "test", "path": "/spec/holderIdentity", "value": identity(holder)},
            {"op": "replace", "path": "/spec/renewTime", "value": format_time(now)},
            {"op": "replace", "path": "/metadata/annotations/" + HOLDER_ANNOTATION.replace("~", "~0").replace("/", "~1"),
             "value": json.dumps(record, sort_keys=True)}]


def delete_body(resource_version):
    """DeleteOptions that delete the Lease only in the version this run last wrote."""
    return {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": {"resourceVersion": resource_version}}


def lease_path(namespace, realm):
    return "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s" % (namespace, lease_name(realm))


def is_conflict(text):
    text = (text or "").lower()
    return "conflict" in text or "already exists" in text or "the object has been modified" in text \
        or "test operation failed" in text or "testing value" in text or "the request is invalid" in text


# --- this host's processes --------------------------------------------------------------


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return None


def stat_state(text):
    """The state letter of /proc/<pid>/stat (field 3, after the last ')')."""
    return text.rpartition(")")[2].split()[0]


def process_stat(pid):
    """(ppid, start, name) of a process of this host, or None when it does not run: a zombie (a killed run
    its parent has not reaped yet, as when AWX or a test has just killed it) runs no more."""
    try:
        with open("/proc/%d/stat" % int(pid)) as handle:
            text = handle.read()
        if stat_state(text) in ("Z", "X", "x"):
            return None
        return parse_stat(text)
    except (OSError, ValueError, IndexError):
        return None


def process_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % int(pid), "rb") as handle:
            return [a.decode("utf-8", "replace") for a in handle.read().split(b"\0") if a]
    except OSError:
        return []


def alive(pid, start=None):
    stat = process_stat(pid)
    if stat is None:
        return False
    return start is None or stat[1] == start


def ancestors(pid):
    """[(pid, argv)] from ``pid``'s parent up to init."""
    chain = []
    stat = process_stat(pid)
    while stat and stat[0] > 1:
        pid = stat[0]
        chain.append((pid, process_cmdline(pid)))
        stat = process_stat(pid)
    return chain


def worker_run(parent_pid, ppid):
    """The pid of the run (its ansible-playbook) as a task's worker sees it: the process that forked the worker
    (``parent_pid``, multiprocessing's record) while it is still the worker's parent (``ppid``, os.getppid());
    None once it has ended (the worker was re-parented to init or a subreaper). Pure."""
    if parent_pid is None:
        return ppid if ppid > 1 else None
    return parent_pid if ppid == parent_pid else None


def run_gone(me, alive):
    """Why a module must not take or keep the lock for ``me``: the message when its run (the ansible-playbook,
    pid and start time as the action plugin found them) has ended, None while it runs. Pure but for
    ``alive(pid, start)``."""
    if me.get("pid") and not alive(me["pid"], me.get("pid_start")):
        return ("This task's run (ansible-playbook pid %s) has ended: its worker outlived it (a run killed while the "
                "task started), so the lock is not taken in its name." % me["pid"])
    return None


def this_run(environ=None, run=None):
    """The holder record of the run this module belongs to: ``run`` (pid, start, worker, worker_start) as the
    realm_lock action plugin found it on the controller, else the outermost ansible-playbook above the module."""
    environ = os.environ if environ is None else environ
    record = {"host": socket.gethostname(), "boot_id": boot_id(), "job": job_id(environ)}
    if run and run.get("pid"):
        record.update(pid=run["pid"], pid_start=run.get("start"), worker=run.get("worker"),
                      worker_start=run.get("worker_start"))
        return record
    pid = playbook_of(ancestors(os.getpid())) or os.getppid()
    stat = process_stat(pid)
    record.update(pid=pid, pid_start=stat[1] if stat else None)
    return record


def pipe_links(pid):
    """The pipes and sockets a process holds beyond its standard streams ('pipe:[123]'): ansible's workers are
    forks of the run and keep the run's own (its result queue) open, also once the run was killed."""
    try:
        names = os.listdir("/proc/%d/fd" % int(pid))
    except OSError:
        return frozenset()
    links = set()
    for name in names:
        if name.isdigit() and int(name) > 2:
            with contextlib.suppress(OSError):
                link = os.readlink("/proc/%d/fd/%s" % (int(pid), name))
                if link.startswith(("pipe:", "socket:")):
                    links.add(link)
    return frozenset(links)


def forks_of(run, candidates):
    """The workers of an ended run that tracking has not seen (forked in the moment before the run was killed,
    then re-parented): processes with the run's argv, started after it, holding a pipe the run held. ``run`` is
    (start, argv, links), ``candidates`` {pid: (start, argv, links)}; returns {(pid, start)}. Pure."""
    start, argv, links = run
    if not argv or not links:
        return set()
    return set((pid, begun) for pid, (begun, cmdline, held) in candidates.items()
               if start is not None and begun >= start and cmdline == argv and links & held)


RENEWER_NAME = "magasin-lock"
PR_SET_NAME = 15


def process_table():
    """{pid: (ppid, start)} of every process of this host but the lock renewers (one realm's renewer is no
    process of another realm's run, even when both were started by one run)."""
    table = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = process_stat(name)
            if stat and stat[2] != RENEWER_NAME:
                table[int(name)] = (stat[0], stat[1])
    return table


def name_renewer():
    """Give this process the name the renewers are told apart by (ps and /proc show it)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_NAME, RENEWER_NAME.encode(), 0, 0, 0)


def track(tracked, table):
    """The processes of a run still running: those tracked before (pid and start time match) and every
    descendant of them. Tracking outlives the parent: a worker whose ansible-playbook was killed is re-parented
    to init but stays tracked, and so do the helm and kubectl processes it starts. Pure."""
    alive_now = set((pid, start) for pid, start in tracked if table.get(pid, (None, None))[1] == start)
    children = {}
    for pid, (ppid, start) in table.items():
        children.setdefault(ppid, []).append((pid, start))
    todo = [pid for pid, _start in alive_now]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in alive_now:
                alive_now.add(child)
                todo.append(child[0])
    return alive_now


class Renewer:
    """Renews the Lease while the run lives, then stops what the run left and releases the Lease.

    ``kubectl`` is the argv of kubectl with the connection's arguments, ``environ`` its environment. Runs in
    a detached process (see realm_lock); nothing here may print: its standard streams are /dev/null.
    """

    def __init__(self, kubectl, environ, realm, namespace, holder, resource_version, duration=DEFAULT_DURATION,
                 poll=0.25, stop_grace=10):
        self.kubectl = list(kubectl)
        self.environ = environ
        self.realm = realm
        self.namespace = namespace
        self.holder = dict(holder)
        self.resource_version = resource_version
        self.duration = duration
        self.every = max(1.0, duration / 3.0)
        self.poll = poll
        self.stop_grace = stop_grace
        self.stopping = False

    def call(self, args, data=None):
        proc = subprocess.run(self.kubectl + list(args), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self.environ, universal_newlines=True, timeout=max(10, self.duration), check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def renew(self):
        """True while the Lease is ours (renewed, or a transient error); False once someone else holds it."""
        rc, out, err = self.call(["patch", "lease", lease_name(self.realm), "--namespace", self.namespace,
                                  "--type", "json", "--patch", json.dumps(renew_patch(self.holder, now_utc())),
                                  "--output", "json"])
        if rc == 0:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.resource_version = json.loads(out)["metadata"]["resourceVersion"]
            return True
        return not (is_conflict(err) or "not found" in (err or "").lower())

    def release(self):
        for _attempt in range(3):
            rc, out, err = self.call(["delete", "--raw", lease_path(self.namespace, self.realm), "-f", "-"],
                                     data=json.dumps(delete_body(self.resource_version)))
            if rc == 0 or "not found" in (err or "").lower():
                return
            if not is_conflict(err):
                time.sleep(1)
                continue
            rc, out, err = self.call(["get", "lease", lease_name(self.realm), "--namespace", self.namespace,
                                      "--ignore-not-found", "--output", "json"])
            try:
                lease = json.loads(out) if out.strip() else None
            except ValueError:
                lease = None
            if not lease or (lease.get("spec") or {}).get("holderIdentity") != identity(self.holder):
                return
            self.resource_version = lease["metadata"]["resourceVersion"]

    def on_signal(self, signum, frame):
        self.stopping = True

    def run(self, ready=None):
        """The loop; ``ready`` is called once after the first renewal (which records the renewer's pid)."""
        name_renewer()
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        me = os.getpid()
        self.holder.update(renewer=me, renewer_start=(process_stat(me) or (None, None))[1])
        run = (self.holder["pid"], self.holder["pid_start"])
        # The worker that runs the lock task is tracked from the start: when the run is killed before the renewer
        # has seen it as the run's child, it is already an orphan.
        tracked = set(p for p in [run, (self.holder.get("worker"), self.holder.get("worker_start"))] if p[0])
        self.holder.pop("worker", None)
        self.holder.pop("worker_start", None)
        run_argv, run_links = process_cmdline(run[0]), pipe_links(run[0])
        if not self.renew():
            return
        if ready:
            ready()
        last = time.monotonic()
        ended_at = None
        while not self.stopping:
            table = process_table()
            if run not in tracked or table.get(run[0], (None, None))[1] != run[1]:
                tracked |= self.orphans(run, run_argv, run_links, table, tracked)
            tracked = set(p for p in track(tracked, table) if p[0] != me)
            if run not in tracked:
                if not tracked:
                    break
                if ended_at is None:
                    ended_at = time.monotonic()
                    self.signal_all(tracked, signal.SIGTERM)
                elif time.monotonic() - ended_at > self.stop_grace:
                    self.signal_all(tracked, signal.SIGKILL)
            if time.monotonic() - last >= self.every:
                if not self.renew():
                    return
                last = time.monotonic()
                if run in tracked:
                    run_links = pipe_links(run[0]) or run_links
            time.sleep(self.poll)
        self.release()

    @staticmethod
    def orphans(run, run_argv, run_links, table, tracked):
        """Workers of the ended run that tracking missed (see forks_of), among this host's processes."""
        known = set(pid for pid, _start in tracked)
        candidates = {}
        for pid, (_ppid, start) in table.items():
            if pid in known or run[1] is None or start < run[1]:
                continue
            cmdline = process_cmdline(pid)
            if cmdline == run_argv:
                candidates[pid] = (start, cmdline, pipe_links(pid))
        return forks_of((run[1], run_argv, run_links), candidates)

    @staticmethod
    def signal_all(processes, signum):
        for pid, start in processes:
            if alive(pid, start):
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)
