# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Action plugin of report_file: writes the run report on the controller, in the task's worker.

The report is a file of the controller (playbooks/magasin.yml runs with a local connection): writing it needs no
module process, where ansible.builtin.copy starts two (stat, then copy).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes
from ansible.plugins.action import ActionBase


def write_atomically(path, text, mode):
    """Write ``text`` to ``path`` through a file beside it renamed over it (a reader never sees half a report);
    the directory is made when missing. Returns the path written."""
    path = os.path.abspath(os.path.expanduser(path))
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(to_bytes(text))
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        dest, content, mode = args.get("dest"), args.get("content"), args.get("mode", "0644")
        if not isinstance(dest, str) or not dest.strip():
            return dict(result, failed=True, msg="report_file: dest must be the path of the report file")
        if not isinstance(content, str):
            return dict(result, failed=True, msg="report_file: content must be the report's text")
        try:
            mode = int(str(mode), 8)
        except ValueError:
            return dict(result, failed=True, msg="report_file: mode must be octal, e.g. '0644', not %r" % (mode,))
        try:
            path = write_atomically(dest, content, mode)
        except OSError as exc:
            return dict(result, failed=True, msg="report_file: cannot write %s: %s" % (dest, exc))
        # Writing the report changes nothing in the realm: never a change, in check mode too.
        result.update(changed=False, dest=path, size=len(to_bytes(content)))
        return result
