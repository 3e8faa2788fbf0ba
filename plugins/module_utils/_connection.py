# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: how modules reach the cluster.

One argument spec for every module (documented by the ``magasin.platform._connection``
doc fragment), with the environment fallbacks that kubectl users and AWX's Kubernetes
credentials set (``KUBECONFIG``, ``K8S_AUTH_*``). Everything ends up as one kubeconfig
file handed to helm and kubectl through the ``KUBECONFIG`` environment variable, so that
tokens never travel on a command line; the context goes to helm as ``HELM_KUBECONTEXT``
and to kubectl as ``--context``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import tempfile

from ansible.module_utils.basic import env_fallback

CONNECTION_ARGS = dict(
    kubeconfig=dict(type="raw", fallback=(env_fallback, ["K8S_AUTH_KUBECONFIG", "KUBECONFIG"])),
    context=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_CONTEXT"])),
    host=dict(type="str", fallback=(env_fallback, ["K8S_AUTH_HOST"])),
    api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["K8S_AUTH_API_KEY"])),
    validate_certs=dict(type="bool", fallback=(env_fallback, ["K8S_AUTH_VERIFY_SSL"])),
    ca_cert=dict(type="path", fallback=(env_fallback, ["K8S_AUTH_SSL_CA_CERT"])),
    helm_binary=dict(type="path", fallback=(env_fallback, ["MAGASIN_HELM_BINARY"])),
    kubectl_binary=dict(type="path", fallback=(env_fallback, ["MAGASIN_KUBECTL_BINARY"])),
)


def connection_args(**extra):
    spec = dict((k, dict(v)) for k, v in CONNECTION_ARGS.items())
    spec.update(extra)
    return spec


def token_kubeconfig(host, api_key, ca_cert=None, validate_certs=None):
    """A kubeconfig (as a dict) for a bearer token, as AWX's credential provides one."""
    cluster = {"server": host}
    if ca_cert:
        cluster["certificate-authority"] = ca_cert
    if validate_certs is False:
        cluster["insecure-skip-tls-verify"] = True
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "magasin", "cluster": cluster}],
        "users": [{"name": "magasin", "user": {"token": api_key}}],
        "contexts": [{"name": "magasin", "context": {"cluster": "magasin", "user": "magasin"}}],
        "current-context": "magasin",
    }


class Connection:
    """Resolves the connection options once per task into an environment and a context."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.context = params.get("context")
        self.kubeconfig_path = None
        kubeconfig = params.get("kubeconfig")
        if params.get("host") and params.get("api_key"):
            kubeconfig = token_kubeconfig(params["host"], params["api_key"], params.get("ca_cert"),
                                          params.get("validate_certs"))
            self.context = None
        if isinstance(kubeconfig, dict):
            self.kubeconfig_path = self._write_temp(kubeconfig)
        elif isinstance(kubeconfig, str) and kubeconfig:
            paths = [os.path.expanduser(p) for p in kubeconfig.split(os.pathsep) if p]
            missing = [p for p in paths if not os.path.exists(p)]
            if missing:
                module.fail_json(msg="kubeconfig file not found: %s. Set 'kubeconfig' (or KUBECONFIG) "
                                     "to the path of a readable kubeconfig file." % ", ".join(missing))
            self.kubeconfig_path = os.pathsep.join(paths)
        elif kubeconfig not in (None, ""):
            module.fail_json(msg="kubeconfig must be a file path or a kubeconfig as a dictionary, got %s"
                             % type(kubeconfig).__name__)

    def _write_temp(self, config):
        fd, path = tempfile.mkstemp(prefix="magasin-kubeconfig-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(config, handle)
        os.chmod(path, 0o600)
        self.module.add_cleanup_file(path)
        return path

    def environment(self):
        env = {}
        if self.kubeconfig_path:
            env["KUBECONFIG"] = self.kubeconfig_path
        if self.context:
            env["HELM_KUBECONTEXT"] = self.context
        return env

    def kubectl_args(self):
        return ["--context", self.context] if self.context else []
