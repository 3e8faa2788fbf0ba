# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""The realm's TLS (roles/_common/tasks/tls.yml): its checks and its certificates from module_utils/_tls.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.magasin.platform.plugins.module_utils import _security, _tls


def _plain(data):
    if isinstance(data, dict):
        return dict((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    return data if data is None or isinstance(data, (bool, int, float)) else str(data)


def tls_problems(settings, hosts):
    """The TLS settings' problems, one line each ('' if none)."""
    return _tls.format_problems(_tls.validate(_plain(settings), _plain(hosts) or {}))


def tls_plan(model, hosts, certificates=None):
    """The tls_certificates module's ca, certificates (with the site's own pairs of magasin_tls_certificates)
    and the Namespace objects of their namespaces."""
    model, certificates = _plain(model), _plain(certificates) or {}
    plan = _tls.certificate_plan(model, _plain(hosts) or {})
    entries = []
    for entry in plan["certificates"]:
        out = dict((k, entry[k]) for k in ("host", "namespace", "secret"))
        own = certificates.get(entry["host"]) or {}
        if own.get("cert"):
            out.update({"certificate": own["cert"], "private_key": own.get("key")})
            if own.get("ca"):
                out["ca_certificate"] = own["ca"]
        entries.append(out)
    return {"ca": plan["ca"], "certificates": entries,
            "namespaces": [_security.namespace(model, key) for key in plan["namespace_keys"]]}


class FilterModule(object):
    def filters(self):
        return {"tls_problems": tls_problems, "tls_plan": tls_plan}
