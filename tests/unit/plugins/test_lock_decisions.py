"""Pure decisions of module_utils/_lock.py: who holds a realm's lock, whether that holder is gone, what to say."""

import datetime
import json
import os
import subprocess
import time

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _lock as lk

NOW = datetime.datetime(2026, 12, 1, 12, 0, 30, tzinfo=lk.UTC)
ME = {"host": "ctl", "boot_id": "boot-1", "pid": 500, "pid_start": 9000, "job": None}


def lease(holder, renewed="2026-12-01T12:00:20.000000Z", since="2026-12-01T11:59:00.000000Z", duration=30):
    return {
        "metadata": {"name": "magasin-realm-lk1", "namespace": "default", "resourceVersion": "7",
                     "annotations": {lk.HOLDER_ANNOTATION: json.dumps(holder)}},
        "spec": {"holderIdentity": lk.identity(holder), "acquireTime": since, "renewTime": renewed,
                 "leaseDurationSeconds": duration}}


def state(holder_record, alive=(), **kw):
    holder = lk.lease_holder(lease(holder_record, **kw))
    return lk.holder_state(holder, ME, NOW, lambda pid, start: (pid, start) in alive)


def test_nobody_holds_a_missing_or_released_lease():
    assert lk.holder_state(lk.lease_holder(None), ME, NOW, lambda p, s: True)[0] == "free"
    released = lease(ME)
    released["spec"]["holderIdentity"] = ""
    assert lk.lease_holder(released) is None


def test_this_run_holds_its_own_lease():
    assert state(dict(ME, renewer=501, renewer_start=9001))[0] == "mine"


def test_a_live_run_on_this_host_holds_it_and_a_reused_pid_does_not():
    other = {"host": "ctl", "boot_id": "boot-1", "pid": 600, "pid_start": 9500, "renewer": 601, "renewer_start": 9501}
    assert state(other, alive={(600, 9500)})[0] == "live"
    # pid 600 runs, but it started at another time: another process got the number; the renewer is gone too.
    assert state(other, alive={(600, 1)}) == ("stale", "none of its processes runs on this host any more")


def test_a_dead_run_of_this_host_is_stale_at_once_even_with_a_fresh_lease():
    other = {"host": "ctl", "boot_id": "boot-1", "pid": 600, "pid_start": 9500, "renewer": 601, "renewer_start": 9501}
    # renewed one second ago: no waiting for the Lease to expire.
    assert state(other, renewed="2026-12-01T12:00:29.000000Z")[0] == "stale"


def test_a_run_whose_playbook_is_gone_but_whose_renewer_stops_its_children_is_ending():
    other = {"host": "ctl", "boot_id": "boot-1", "pid": 600, "pid_start": 9500, "renewer": 601, "renewer_start": 9501}
    got, reason = state(other, alive={(601, 9501)})
    assert got == "ending" and "renewer (pid 601)" in reason


def test_a_remote_holder_is_live_until_its_lease_expires():
    remote = {"host": "awx-job-pod", "boot_id": "boot-9", "pid": 7, "pid_start": 1, "job": "42"}
    assert state(remote, renewed="2026-12-01T12:00:10.000000Z")[0] == "live"  # expires 12:00:40
    got, reason = state(remote, renewed="2026-12-01T11:59:59.000000Z")  # expired 12:00:29
    assert got == "stale" and "expired at 2026-12-01T12:00:29" in reason
    # its processes are not looked up here: a pid of another host means nothing on this one.
    assert state(remote, alive={(7, 1)}, renewed="2026-12-01T12:00:10.000000Z")[0] == "live"


def test_the_same_host_name_after_a_reboot_is_stale():
    before = {"host": "ctl", "boot_id": "boot-0", "pid": 600, "pid_start": 9500}
    assert state(before, renewed="2026-12-01T12:00:29.000000Z")[0] == "stale"


def test_a_lease_without_our_annotation_is_judged_by_its_expiry():
    foreign = lease(ME)
    foreign["metadata"]["annotations"] = {lk.HOLDER_ANNOTATION: "not json"}
    holder = lk.lease_holder(foreign)
    assert lk.holder_state(holder, ME, NOW, lambda p, s: False)[0] == "live"


def test_the_refusal_names_host_pid_job_and_since():
    holder = lk.lease_holder(lease({"host": "awx-7", "boot_id": "b", "pid": 31, "pid_start": 2, "job": "42"}))
    msg = lk.refusal("lk1", "default", holder, "its Lease is renewed until 2026-12-01T12:00:50.000000Z", NOW)
    assert msg.startswith("Realm lk1 is locked by another run: host awx-7, pid 31, AWX job 42, "
                          "since 2026-12-01T11:59:00Z (90 s ago)")
    assert "default/magasin-realm-lk1 expires at 2026-12-01T12:00:50.000000Z" in msg


def test_identity_and_job_from_awx_environment():
    assert lk.job_id({"AWX_JOB_ID": "9"}) == "9" and lk.job_id({"JOB_ID": "8", "AWX_JOB_ID": "9"}) == "8"
    assert lk.job_id({}) is None
    assert lk.identity({"host": "h", "pid": 3, "job": "9"}) == "h/3/awx-job-9"
    assert lk.identity({"host": "h", "pid": 3}) == "h/3"


def test_lease_object_for_a_takeover_carries_the_resource_version():
    new = lk.lease_object("lk1", "default", ME, NOW, 30)
    assert new["metadata"]["name"] == "magasin-realm-lk1" and "resourceVersion" not in new["metadata"]
    assert new["spec"]["renewTime"] == "2026-12-01T12:00:30.000000Z" and new["spec"]["leaseDurationSeconds"] == 30
    taken = lk.lease_object("lk1", "default", ME, NOW, 30, lease({"host": "x", "pid": 1}))
    assert taken["metadata"]["resourceVersion"] == "7" and taken["spec"]["leaseTransitions"] == 1
    assert json.loads(taken["metadata"]["annotations"][lk.HOLDER_ANNOTATION])["pid"] == 500


def test_renewal_only_while_the_lease_names_this_holder():
    patch = lk.renew_patch(dict(ME, renewer=501, renewer_start=9001), NOW)
    assert patch[0] == {"op": "test", "path": "/spec/holderIdentity", "value": "ctl/500"}
    assert patch[2]["path"] == "/metadata/annotations/magasin.unicef.org~1holder"
    assert json.loads(patch[2]["value"])["renewer"] == 501
    assert lk.delete_body("12")["preconditions"] == {"resourceVersion": "12"}


@pytest.mark.parametrize(("text", "expected"), [
    ("123 (python3) S 45 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1 1",
     (45, 98765, "python3")),
    ("9 (a (b) c) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 1", (1, 42, "a (b) c")),
])
def test_parse_stat_reads_after_the_last_parenthesis(text, expected):
    assert lk.parse_stat(text) == expected


def test_a_zombie_runs_no_more(tmp_path, monkeypatch):
    """A killed run its parent has not reaped yet still has /proc/<pid>/stat, in state Z: not a live holder."""
    assert lk.stat_state("7 (ansible-playboo) Z 6 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 1") == "Z"
    assert lk.stat_state("9 (a (b) c) R 1 9 9 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42 1 1") == "R"
    zombie = subprocess.Popen(["true"])
    deadline = time.monotonic() + 10
    while lk.process_stat(zombie.pid) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lk.process_stat(zombie.pid) is None and not lk.alive(zombie.pid)
    assert os.path.exists("/proc/%d/stat" % zombie.pid)  # not reaped yet: a zombie, not a missing process
    zombie.wait()
    assert lk.alive(os.getpid()) and lk.process_stat(os.getpid())[1] > 0


def test_the_run_is_the_outermost_ansible_playbook_above_the_module():
    chain = [(30, ["/bin/sh", "-c", "python AnsiballZ_x.py"]),
             (20, ["/venv/bin/python", "/venv/bin/ansible-playbook", "site.yml"]),  # a worker (fork)
             (10, ["/venv/bin/python", "/venv/bin/ansible-playbook", "site.yml"]),  # the run
             (5, ["/usr/bin/python", "/venv/bin/pytest"]),
             (4, ["/venv/bin/ansible-playbook", "other.yml"])]
    assert lk.playbook_of(chain) == 10
    assert lk.playbook_of([(30, ["/bin/sh"]), (1, ["/sbin/init"])]) is None


def test_tracking_keeps_orphans_and_their_new_children():
    # The run (10) had a worker (20) running a module (30) running helm (40).
    table = {10: (1, 100), 20: (10, 200), 30: (20, 300), 40: (30, 400), 99: (1, 990)}
    tracked = lk.track({(10, 100)}, table)
    assert tracked == {(10, 100), (20, 200), (30, 300), (40, 400)}
    # The run is killed: the worker goes to init, its module starts a kubectl (50); a reused pid 40 is not ours.
    table = {20: (1, 200), 30: (20, 300), 50: (30, 500), 40: (1, 4444), 99: (1, 990)}
    assert lk.track(tracked, table) == {(20, 200), (30, 300), (50, 500)}
    assert lk.track({(10, 100)}, {}) == set()


def test_the_run_is_the_worker_s_parent_while_it_is_its_parent():
    assert lk.worker_run(10, 10) == 10
    # The run was killed: its worker was re-parented to init or to a subreaper.
    assert lk.worker_run(10, 1) is None and lk.worker_run(10, 77) is None
    # Not a multiprocessing child: the parent, unless it is init already.
    assert lk.worker_run(None, 5) == 5 and lk.worker_run(None, 1) is None


def test_a_module_whose_run_ended_takes_no_lock():
    me = dict(ME, worker=501, worker_start=9001)
    assert lk.run_gone(me, lambda pid, start: (pid, start) == (500, 9000)) is None
    gone = lk.run_gone(me, lambda pid, start: (pid, start) == (501, 9001))
    assert "ansible-playbook pid 500" in gone and "not taken" in gone
    # The pid runs again, but another process got it.
    assert lk.run_gone(me, lambda pid, start: (pid, start) == (500, 1))


def test_this_run_is_the_run_the_action_plugin_named():
    me = lk.this_run({"JOB_ID": "42"}, run={"pid": 500, "start": 9000, "worker": 501, "worker_start": 9001})
    assert (me["pid"], me["pid_start"], me["worker"], me["worker_start"], me["job"]) == (500, 9000, 501, 9001, "42")
    record = json.loads(lk.lease_object("lk1", "default", me, NOW, 30)["metadata"]["annotations"][lk.HOLDER_ANNOTATION])
    assert "worker" not in record and record["pid"] == 500


def test_orphaned_workers_are_forks_holding_the_run_s_pipes():
    argv = ["/venv/bin/python", "/venv/bin/ansible-playbook", "magasin.yml"]
    run = (1000, argv, frozenset({"pipe:[11]", "socket:[12]"}))
    candidates = {
        20: (1010, argv, frozenset({"pipe:[11]", "pipe:[30]"})),  # a worker forked just before the kill
        21: (1020, argv, frozenset({"pipe:[40]"})),  # the rerun, with the same command line: pipes of its own
        22: (1030, ["/usr/bin/helm", "upgrade"], frozenset({"pipe:[11]"})),  # another program
        23: (900, argv, frozenset({"pipe:[11]"})),  # older than the run: not its fork
    }
    assert lk.forks_of(run, candidates) == {(20, 1010)}
    assert lk.forks_of((1000, [], run[2]), candidates) == set()
    assert lk.forks_of((1000, argv, frozenset()), candidates) == set()


def test_a_fork_holds_its_parent_s_pipes():
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        os.close(write_end)
        os.read(read_end, 1)
        os._exit(0)
    try:
        shared = lk.pipe_links(child) & lk.pipe_links(os.getpid())
        assert "pipe:[%d]" % os.fstat(read_end).st_ino in shared
    finally:
        os.close(write_end)
        os.waitpid(child, 0)
        os.close(read_end)
