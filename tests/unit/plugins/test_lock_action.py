"""The realm_lock action plugin names the run as Ansible's worker sees it, with real processes: a run (a process
that forks a worker in a session of its own, as ansible-playbook does) is killed, and its worker no longer names
it, so a module it would start cannot take the lock in the name of the ended run."""

import contextlib
import multiprocessing
import os
import signal
import time

from ansible_collections.magasin.platform.plugins.action.realm_lock import controller_run
from ansible_collections.magasin.platform.plugins.module_utils import _lock as lk

CTX = multiprocessing.get_context("fork")


def worker(report, go):
    os.setsid()  # as ansible's WorkerProcess._detach
    report.send(controller_run())
    go.recv()  # the run is being killed
    deadline = time.monotonic() + 10
    while os.getppid() == multiprocessing.parent_process().pid and time.monotonic() < deadline:
        time.sleep(0.01)
    report.send(controller_run())


def run(report, go):
    child = CTX.Process(target=worker, args=(report, go))
    child.start()
    child.join()


def test_an_orphaned_worker_does_not_name_the_killed_run():
    report_in, report_out = CTX.Pipe(duplex=False)
    go_in, go_out = CTX.Pipe(duplex=False)
    the_run = CTX.Process(target=run, args=(report_out, go_in))
    the_run.start()
    try:
        assert report_in.poll(20)
        named = report_in.recv()
        assert named["pid"] == the_run.pid and named["start"] == lk.process_stat(the_run.pid)[1]
        assert named["worker"] != the_run.pid and named["worker_start"] >= named["start"]
        os.kill(the_run.pid, signal.SIGKILL)
        go_out.send(True)
        assert report_in.poll(20)
        assert report_in.recv() is None
    finally:
        the_run.join(10)


def orphan_maker(report):
    """A run that forks a worker (the same argv, its pipes inherited) and is then killed: the worker lives on."""
    read_end, write_end = os.pipe()  # held by the run and, inherited, by its worker
    child = os.fork()
    if child == 0:  # pragma: no cover - the worker
        os.setsid()
        time.sleep(60)  # killed by the test
        os._exit(0)
    report.send(child)
    time.sleep(60)


def test_the_renewer_finds_a_worker_of_the_killed_run_it_had_not_seen():
    report_in, report_out = CTX.Pipe(duplex=False)
    the_run = CTX.Process(target=orphan_maker, args=(report_out,))
    the_run.start()
    assert report_in.poll(20)
    worker = report_in.recv()
    try:
        run = (the_run.pid, lk.process_stat(the_run.pid)[1])
        argv, links = lk.process_cmdline(the_run.pid), lk.pipe_links(the_run.pid)
        os.kill(the_run.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while lk.process_stat(the_run.pid) is not None and time.monotonic() < deadline:
            time.sleep(0.01)  # a zombie: the worker holds the sentinel of the_run, so join would wait for it too
        found = lk.Renewer.orphans(run, argv, links, lk.process_table(), set())
        assert found == {(worker, lk.process_stat(worker)[1])}
        # This test's own process has the same argv but not the run's pipes, and started before it.
        assert os.getpid() not in {pid for pid, _start in found}
    finally:
        with contextlib.suppress(OSError):
            os.kill(worker, signal.SIGKILL)
        the_run.join(10)
