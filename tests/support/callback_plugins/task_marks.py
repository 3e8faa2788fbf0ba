# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Test-only callback: one line per task as it starts, naming its module and the role file it comes from.

    MAGASIN-TASK action=magasin.platform.helm_release file=_common/tasks/release.yml name=Release tenant in lk1-tenant

tests/integration/test_realm_lock.py kills runs at points chosen by module and file, which stay put when a
task is renamed. Enabled by ANSIBLE_CALLBACK_PLUGINS=<this dir> and ANSIBLE_CALLBACKS_ENABLED=task_marks.
"""

import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: task_marks
type: aggregate
short_description: Prints the module and role file of each task as it starts (tests only)
description:
  - Prints C(MAGASIN-TASK action=<module> file=<role>/tasks/<file> name=<task name>) when a task starts.
requirements:
  - enabled in callbacks_enabled
"""


def task_file(path):
    """'<role>/tasks/<file>' or 'playbooks/<file>' from a task's path ('/x/roles/_common/tasks/release.yml:12')."""
    path = (path or "").rpartition(":")[0] or path or ""
    parts = path.split(os.sep)
    if "tasks" in parts:
        i = len(parts) - 1 - parts[::-1].index("tasks")
        return "/".join(parts[max(0, i - 1):])
    return "/".join(parts[-2:])


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_marks"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task, is_conditional):
        action = getattr(task, "resolved_action", None) or task.action
        self._display.display("MAGASIN-TASK action=%s file=%s name=%s"
                              % (action, task_file(task.get_path()), task.get_name()))
