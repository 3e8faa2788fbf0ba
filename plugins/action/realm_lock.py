# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin of realm_lock: names the run on the controller, in the task's worker.

Ansible's worker is a fork of the run's ansible-playbook in a session of its own: a signal to the run's
process group (SIGKILL, as AWX cancels) ends the run and leaves the worker running. The worker knows which
process forked it (multiprocessing's parent) and whether that process is still its parent; the module, two
processes further down, can only guess from its ancestors, and an orphaned worker looks like a run.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import multiprocessing
import os

from ansible.plugins.action import ActionBase
from ansible_collections.magasin.platform.plugins.module_utils import _lock

LOCAL = ("local", "ansible.builtin.local")


def controller_run():
    """{pid, start, worker, worker_start} of this worker's run, or None when the run has ended."""
    parent = multiprocessing.parent_process()
    pid = _lock.worker_run(parent.pid if parent else None, os.getppid())
    if pid is None:
        return None
    stat = _lock.process_stat(pid)
    # Read after the stat: a run that ended meanwhile is no longer the parent, so its pid is not taken for it.
    if stat is None or _lock.worker_run(pid, os.getppid()) is None:
        return None
    worker = _lock.process_stat(os.getpid())
    return {"pid": pid, "start": stat[1], "worker": os.getpid(), "worker_start": worker[1] if worker else None}


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        if getattr(self._connection, "transport", None) in LOCAL and not args.get("run"):
            run = controller_run()
            if run is None:
                result.update(failed=True, held=False, action="none",
                              msg="This task's run (its ansible-playbook) has ended: its worker outlived it (a run "
                                  "killed while the task started), so the lock is not taken in its name.")
                return result
            args["run"] = run
        result.update(self._execute_module(module_name="magasin.platform.realm_lock", module_args=args, task_vars=task_vars))
        return result
