# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""The run report filter: hands roles/_common/tasks/report.yml the pure function of _report.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.magasin.platform.plugins.module_utils import _report


def _plain(data):
    """Ansible's lazy containers and tagged strings as plain Python data."""
    if isinstance(data, dict):
        return dict((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, str):
        return str(data)
    return data


def run_report(summary, settings, model, observed, finished, check_mode=False, tally=None):
    return _report.run_report(_plain(settings), _plain(model), _plain(observed), _plain(summary), str(finished),
                              bool(check_mode), str(tally or ""))


class FilterModule(object):
    def filters(self):
        return {"run_report": run_report}
