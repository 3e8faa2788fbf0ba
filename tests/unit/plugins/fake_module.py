"""A fake AnsibleModule for the manager tests: canned answers per argv, every command recorded."""

import threading

CONNECTION_PARAMS = {"kubeconfig": None, "context": None, "host": None, "api_key": None, "validate_certs": None,
                     "ca_cert": None, "helm_binary": "/bin/helm", "kubectl_binary": "/bin/kubectl"}


class FailJson(Exception):
    pass


class FakeModule:
    """Just enough of AnsibleModule. ``answers`` is a list of (predicate on argv, (rc, stdout, stderr))."""

    def __init__(self, params, answers, check_mode=False, diff=False):
        self.params = dict(CONNECTION_PARAMS, **params)
        self.answers = answers
        self.check_mode = check_mode
        self._diff = diff
        self.commands = []
        self.stdin = []
        self.warnings = []
        self.lock = threading.Lock()

    def run_command(self, cmd, data=None, **kwargs):
        with self.lock:
            self.commands.append(cmd)
            self.stdin.append(data)
        for match, answer in self.answers:
            if match(cmd):
                return answer(cmd, data) if callable(answer) else answer
        raise AssertionError("unexpected command %s" % cmd)

    def get_bin_path(self, name, required=False):
        return "/bin/" + name

    def fail_json(self, **kwargs):
        raise FailJson(kwargs)

    def warn(self, msg):
        self.warnings.append(msg)

    def add_cleanup_file(self, path):
        pass
