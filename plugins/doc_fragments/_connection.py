# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
# Private to magasin.platform: the connection options every module of the collection takes.

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path to a kubeconfig file (or several, separated by V(:)), or a whole kubeconfig as a dictionary.
      - A dictionary is written to a private temporary file (mode 0600) that is removed when the task ends.
      - Falls back to E(K8S_AUTH_KUBECONFIG), then E(KUBECONFIG); without any, helm and kubectl use V(~/.kube/config).
    type: raw
  context:
    description:
      - The kubeconfig context to use. Falls back to E(K8S_AUTH_CONTEXT); without it the current context is used.
    type: str
  host:
    description:
      - API server URL, used with O(api_key) instead of a kubeconfig, as AWX's Kubernetes bearer token credential
        provides them. Falls back to E(K8S_AUTH_HOST).
    type: str
  api_key:
    description:
      - Bearer token for O(host). It reaches helm and kubectl in a private temporary kubeconfig, never on a command
        line. Falls back to E(K8S_AUTH_API_KEY).
    type: str
  validate_certs:
    description:
      - With O(host), whether to verify the API server's certificate. Falls back to E(K8S_AUTH_VERIFY_SSL).
    type: bool
  ca_cert:
    description:
      - With O(host), the CA certificate file that signed the API server's certificate. Falls back to
        E(K8S_AUTH_SSL_CA_CERT).
    type: path
  helm_binary:
    description:
      - Path to the helm binary (Helm 3.16 or later, or Helm 4). Falls back to E(MAGASIN_HELM_BINARY), then to
        V(helm) on E(PATH).
    type: path
  kubectl_binary:
    description:
      - Path to the kubectl binary. Falls back to E(MAGASIN_KUBECTL_BINARY), then to V(kubectl) on E(PATH).
    type: path
notes:
  - Set these options once for all modules of the collection with
    C(module_defaults) and the action group C(group/magasin.platform.k8s).
"""
