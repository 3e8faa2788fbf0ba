# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: which Service each component's UI is behind, and kubectl port-forward's argv.

Pure functions, unit-tested without a cluster. Forwards listen on 127.0.0.1 unless an address is named
explicitly (magasin's own CLI used --address=0.0.0.0, which opens the UIs to the whole network).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

from . import _values
from ._realm import realm_names

DEFAULT_ADDRESS = "127.0.0.1"
# kubectl prints one line per listener: "Forwarding from 127.0.0.1:41234 -> 8088".
FORWARDING_RE = re.compile(r"^Forwarding from (\[[^\]]+\]|[^\s:]+):(\d+) -> (\d+)")
TARGETS = ("minio", "minio-api", "drill", "dagster", "daskhub", "superset")


def _read(namespace, secret, key):
    return "kubectl -n %s get secret %s -o jsonpath='{.data.%s}' | base64 -d" % (namespace, secret, key)


def targets(realm, names, tenant_name="myminio", superset_admin_user="admin", daskhub_release=""):
    """[{key, namespace, service, port, scheme, path, login}] for the asked components; ``minio`` is the
    console, ``minio-api`` the S3 API (for mc or boto3)."""
    ns = realm_names(realm)[2]
    root = _values.SECRETS["minio_root"]
    catalogue = {
        "minio": {"namespace": ns["tenant"], "service": "%s-console" % tenant_name, "port": 9090, "path": "/",
                  "login": "user and password: keys root-user and root-password of Secret %s (%s)"
                           % (root, _read(ns["tenant"], root, "root-password"))},
        "minio-api": {"namespace": ns["tenant"], "service": "minio", "port": 80, "path": "/",
                      "login": "S3 endpoint; keys: Secret %s, root-user / root-password, or a consumer's own "
                               "(Secret magasin-minio-user-<user>, CONSOLE_ACCESS_KEY / CONSOLE_SECRET_KEY)" % root},
        "drill": {"namespace": ns["drill"], "service": "drill-service", "port": 8047, "path": "/",
                  "login": "no login (Drill's web console; anyone who reaches it can query)"},
        "dagster": {"namespace": ns["dagster"], "service": "dagster-dagster-webserver", "port": 80, "path": "/",
                    "login": "no login (Dagster's webserver)"},
        "daskhub": {"namespace": ns["daskhub"], "service": "proxy-public", "port": 80, "path": "/hub/login",
                    "login": "any user name; password: key notebook-password of Secret %s (%s)"
                             % (_values.SECRETS["daskhub_credentials"],
                                _read(ns["daskhub"], _values.SECRETS["daskhub_credentials"], "notebook-password"))},
        "superset": {"namespace": ns["superset"], "service": "superset", "port": 8088, "path": "/login/",
                     "login": "user %s; password: key admin-password of Secret %s (%s)"
                              % (superset_admin_user, _values.SECRETS["superset_credentials"],
                                 _read(ns["superset"], _values.SECRETS["superset_credentials"], "admin-password"))},
    }
    return [dict(catalogue[name], key=name) for name in TARGETS if name in names]


def address_problem(address, explicit):
    """'' when the address may be listened on, else why. Only loopback addresses, unless explicit."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "address %r is not an IP address (use 127.0.0.1, or name a local address explicitly)" % address
    if ip.is_unspecified and not explicit:
        return "address %s listens on every interface; name it explicitly to mean it" % address
    return ""


def port_forward_args(target, address, local_port=0):
    """argv (after kubectl's base arguments) of one forward; local port 0 lets kubectl choose a free one."""
    return ["port-forward", "--namespace", target["namespace"], "--address", address,
            "service/%s" % target["service"], "%s:%s" % (local_port or "", target["port"])]


def parse_forwarding(line):
    """(address, local port) from kubectl's 'Forwarding from' line, else None."""
    match = FORWARDING_RE.match(line.strip())
    if not match:
        return None
    return match.group(1).strip("[]"), int(match.group(2))


def url(target, address, port):
    host = "[%s]" % address if ":" in address else address
    return "http://%s:%s%s" % (host, port, target["path"])


def line(forward):
    return "%-9s %s -> service %s/%s:%s; login: %s" % (forward["key"], forward["url"], forward["namespace"],
                                                       forward["service"], forward["port"], forward["login"])
