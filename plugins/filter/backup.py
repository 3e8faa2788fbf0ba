# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Filters of the backup role: the backup and restore Jobs and the checks of a request
(plugins/module_utils/_backup.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.magasin.platform.plugins.filter.realm import _plain
from ansible_collections.magasin.platform.plugins.module_utils import _backup, _validate


def backup_problems(model, spec):
    """The problems of a backup or restore request, as the lines a failed preflight prints ('' if none)."""
    return _validate.format_problems(_backup.problems(_plain(model), _plain(spec)))


def backup_job(model, spec, script):
    return _backup.backup_job(_plain(model), _plain(spec), str(script))


def restore_job(model, spec, script):
    return _backup.restore_job(_plain(model), _plain(spec), str(script))


class FilterModule(object):
    def filters(self):
        return {"backup_problems": backup_problems, "backup_job": backup_job, "restore_job": restore_job}
