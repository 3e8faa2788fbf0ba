"""The realm_lock action plugin names the run as Ansible's worker sees it, with real processes: a run (a process
that forks a worker in a session of its own, as ansible-playbook does) is killed, and its worker no longer names
it, so a module it would start cannot take the lock in the name of the ended run."""

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
