# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""The offline-site filters: hand playbooks/mirror.yml and bundle.yml the pure functions of _images.py and
_offline_bundle.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible_collections.magasin.platform.plugins.module_utils import _images, _offline_bundle


def _plain(data):
    """Ansible's lazy containers and tagged strings as plain Python data."""
    if isinstance(data, dict):
        return dict((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, str):
        return str(data)
    return data


def mirror_plan(public, site, source=""):
    try:
        return _images.mirror_plan(_plain(public), _plain(site), str(source or ""))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def chart_archives(plans):
    try:
        return _images.chart_archives(_plain(plans))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def bundle_plan(entries, source=""):
    try:
        return _offline_bundle.bundle_plan(_plain(entries), str(source or ""))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def bundle_sources(plan, manifest, bundle_dir):
    try:
        return _offline_bundle.bundle_sources(_plain(plan), _plain(manifest), str(bundle_dir))
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule(object):
    def filters(self):
        return {"mirror_plan": mirror_plan, "chart_archives": chart_archives, "bundle_plan": bundle_plan,
                "bundle_sources": bundle_sources}
