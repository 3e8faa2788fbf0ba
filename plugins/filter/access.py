# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""The least-privilege account of a realm (playbooks/access.yml): its objects from module_utils/_access.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.magasin.platform.plugins.module_utils import _access


def _plain(data):
    if isinstance(data, dict):
        return dict((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data if data is None or isinstance(data, (bool, int, float)) else str(data)


def access_objects(realm, components, operator=None, account="", manage_operator=False):
    realm = str(realm)
    operator = _plain(operator) or {}
    daskhub_release = "daskhub" if realm == "magasin" else "daskhub-" + realm
    return _access.access_objects(realm, [str(c) for c in components], str(operator.get("namespace") or ""),
                                  str(account or ""), daskhub_release, manage_operator=bool(manage_operator))


class FilterModule(object):
    def filters(self):
        return {"access_objects": access_objects}
