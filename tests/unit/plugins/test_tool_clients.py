"""The client calls behind tools_info and api_ready: argv and parsing of the tools' own answers."""

import json

from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection
from ansible_collections.magasin.platform.plugins.module_utils._helm import HelmClient
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient
from fake_module import FakeModule

# kubectl 1.37's `version --client --output json`, as it prints it.
KUBECTL_VERSION = {"clientVersion": {"major": "1", "minor": "37", "gitVersion": "v1.37.1", "platform": "linux/amd64"},
                   "kustomizeVersion": "v5.7.1"}


def test_helm_version_is_asked_once_and_kept_as_printed():
    module = FakeModule({}, [(lambda c: c[1] == "version", (0, "v3.17.2\n", ""))])
    helm = HelmClient(module, Connection(module))
    assert helm.version_text() == "v3.17.2"
    assert helm.version() == (3, 17, 2) and helm.major == 3
    assert module.commands == [["/bin/helm", "version", "--template", "{{.Version}}"]]


def test_kubectl_client_version_asks_no_cluster():
    module = FakeModule({}, [(lambda c: c[1] == "version", (0, json.dumps(KUBECTL_VERSION), ""))])
    assert KubectlClient(module, Connection(module)).client_version() == "v1.37.1"
    assert module.commands == [["/bin/kubectl", "version", "--client", "--output", "json"]]


def test_readyz_is_ready_only_on_ok():
    answers = iter([(1, "", "The connection to the server 127.0.0.1:6443 was refused"),
                    (0, "[-]etcd failed: reason withheld\nreadyz check failed", ""), (0, "ok", "")])
    module = FakeModule({}, [(lambda c: c[1:] == ["get", "--raw=/readyz"], lambda c, d: next(answers))])
    kubectl = KubectlClient(module, Connection(module))
    assert kubectl.readyz() == (False, "The connection to the server 127.0.0.1:6443 was refused")
    assert kubectl.readyz()[0] is False
    assert kubectl.readyz() == (True, "ok")
