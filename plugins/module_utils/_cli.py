# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the one way this collection runs a command-line tool.

A client resolves its binary once (module option, then PATH), builds its base argv once,
runs argv lists only (never a shell), hands data over stdin, parses JSON in one place and
fails through one method that carries the command, rc, stdout and stderr with every known
secret masked.

Every client of a module counts the processes it starts in one tally per module run, and the
module's result carries it (``processes``: {helm: n, kubectl: n}) with the module's own wall time
(``duration``, seconds): the run report sums them without asking any tool again. Where the environment
names a tally file (``MAGASIN_PROCESS_TALLY``, which playbooks/magasin.yml sets for its run), each module run
also appends its counts there, one JSON line, so the run report counts every module call of the run, not
only those whose results it holds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import threading
import time

from ansible.module_utils.common.text.converters import to_text

from ._redact import redact_text

PR_SET_PDEATHSIG = 1
TALLY_ENV = "MAGASIN_PROCESS_TALLY"


def _die_with_parent():
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def count_processes(module):
    """The tally of processes the clients of ``module`` start ({binary name: count}), made once per module; from
    then on the module's exit_json adds it to the result as ``processes``, with ``duration`` (seconds since the
    tally was made, that is about the module's own run time). A module without exit_json (a test's fake) is
    only counted."""
    tally = getattr(module, "_magasin_processes", None)
    if tally is None:
        tally = {"counts": {}, "lock": threading.Lock(), "started": time.monotonic()}
        module._magasin_processes = tally
        exit_json = getattr(module, "exit_json", None)
        if exit_json is not None:
            def exit_with_counts(**result):
                result.setdefault("processes", dict(tally["counts"]))
                result.setdefault("duration", round(time.monotonic() - tally["started"], 3))
                append_tally(os.environ.get(TALLY_ENV), result["processes"])
                exit_json(**result)
            module.exit_json = exit_with_counts
    return tally


def append_tally(path, counts):
    """Append one module run's process counts to the run's tally file as a JSON line; no path, no tally. One
    write of a short line to a file opened for appending, so the modules of realms converged side by side do
    not mix their lines. A tally that cannot be written costs the report its totals, never the module its
    result."""
    if not path:
        return
    line = (json.dumps(dict(counts or {}), sort_keys=True) + "\n").encode("utf-8")
    with contextlib.suppress(OSError):
        fd = os.open(os.path.expanduser(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def start_tally(path):
    """Make the run's tally file empty (and its directory, if missing): the run's counts start here. True when
    it could be written."""
    try:
        directory = os.path.dirname(path)
        if directory and not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
    except OSError:
        return False
    return True


def skip_to_json(out):
    """The output from its first line that opens a JSON document: Helm 4 prints ``Pulled: <ref>`` and
    ``Digest: <digest>`` on stdout before the JSON of an install or upgrade from an oci:// chart."""
    lines = out.splitlines(True)
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("{", "[")):
            return "".join(lines[i:])
    return out


class CliError(Exception):
    def __init__(self, msg, cmd=None, rc=None, stdout=None, stderr=None):
        super(CliError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr


class CliClient:
    binary_name = None
    binary_option = None

    def __init__(self, module, connection):
        self.module = module
        self.connection = connection
        self.secrets = set()
        self.calls = []
        self.tally = count_processes(module)
        with self.tally["lock"]:
            self.tally["counts"].setdefault(self.binary_name, 0)
        path = module.params.get(self.binary_option)
        if path:
            self.binary = path
        else:
            self.binary = module.get_bin_path(self.binary_name, required=False)
            if not self.binary:
                self.fail("'%s' was not found on PATH. Install it or set the '%s' option to its path."
                          % (self.binary_name, self.binary_option))
        self.environ = connection.environment()

    def base_args(self):
        return [self.binary]

    def add_secrets(self, strings):
        self.secrets.update(s for s in strings if isinstance(s, str))

    def redact(self, text):
        return redact_text(to_text(text or ""), self.secrets)

    def count(self, cmd):
        self.calls.append(cmd)
        with self.tally["lock"]:
            self.tally["counts"][self.binary_name] = self.tally["counts"].get(self.binary_name, 0) + 1

    def run(self, args, data=None, check=True, ok_rcs=(0,)):
        """Run the tool; return (rc, stdout, stderr). ``data`` goes to stdin."""
        cmd = self.base_args() + list(args)
        self.count(cmd)
        rc, out, err = self.module.run_command(cmd, data=data, binary_data=data is not None and isinstance(data, bytes),
                                               environ_update=self.environ, check_rc=False, encoding="utf-8")
        if check and rc not in ok_rcs:
            raise CliError(self.error_message(err, out), cmd=cmd, rc=rc,
                           stdout=self.redact(out), stderr=self.redact(err))
        return rc, out, err

    def spawn(self, args):
        """Start the tool to run on beside the module (a port-forward held for a while); the caller reads its
        output and stops it. It gets SIGTERM when the module's process dies, so no port stays open behind a
        killed module. ``run`` cannot do this: it waits for the process to end."""
        cmd = self.base_args() + list(args)
        self.count(cmd)
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, **self.environ), universal_newlines=True,
                                # Only prctl runs between fork and exec (no lock is taken there).
                                preexec_fn=_die_with_parent)  # noqa: PLW1509

    def run_json(self, args, data=None):
        rc, out, err = self.run(args, data=data)
        return self.parse_json(out, args)

    def parse_json(self, out, args=()):
        try:
            return json.loads(skip_to_json(out)) if out.strip() else None
        except ValueError as exc:
            raise CliError("%s %s printed output that is not JSON: %s"
                           % (self.binary_name, " ".join(args[:2]), exc), stdout=self.redact(out)) from None

    def error_message(self, stderr, stdout):
        text = (stderr or "").strip() or (stdout or "").strip() or "no output"
        return self.redact(text)

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=self.redact(msg), **kwargs)

    def fail_from(self, exc, **kwargs):
        self.module.fail_json(msg=self.redact(exc.msg), command=exc.cmd, rc=exc.rc,
                              stdout=exc.stdout, stderr=exc.stderr, **kwargs)
