# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: kubectl port-forwards held by a module while it works, then stopped.

One place for starting a forward (through KubectlClient.spawn, so the child gets SIGTERM when the module
dies), waiting for kubectl's "Forwarding from" line, and stopping every forward it started.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import select
import subprocess
import threading
import time

from . import _ui


class ForwardError(Exception):
    def __init__(self, msg, cmd=None):
        super(ForwardError, self).__init__(msg)
        self.msg = msg
        self.cmd = cmd


def _drain(stream):
    for _line in iter(stream.readline, ""):
        pass


class Forwards:
    """Port-forwards of one module run. Use as a context manager: every kubectl is stopped on exit."""

    def __init__(self, kubectl, start_timeout=30):
        self.kubectl = kubectl
        self.start_timeout = start_timeout
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, target, address=_ui.DEFAULT_ADDRESS, local_port=0):
        """Forward ``target`` ({namespace, service, port, key}); return the local port it listens on."""
        args = _ui.port_forward_args(target, address, local_port)
        argv = self.kubectl.base_args() + args
        proc = self.kubectl.spawn(args)
        self.procs.append(proc)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                line = proc.stdout.readline()
                found = _ui.parse_forwarding(line)
                if found:
                    threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
                    threading.Thread(target=_drain, args=(proc.stderr,), daemon=True).start()
                    return found[1]
                if line == "":
                    break
            if proc.poll() is not None:
                break
        err = proc.stderr.read() if proc.poll() is not None else "no listener after %ss" % self.start_timeout
        self.stop()
        raise ForwardError("port-forward to service %s in %s (%s) failed: %s" % (
            target["service"], target["namespace"], target.get("key", target["service"]),
            self.kubectl.redact(err).strip()), cmd=argv)

    def gone(self):
        """The forwards that stopped on their own."""
        return [p for p in self.procs if p.poll() is not None]

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []
