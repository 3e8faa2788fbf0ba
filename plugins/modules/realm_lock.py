#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: realm_lock
short_description: Take or release the lock of a magasin realm, a Lease in the cluster renewed while the run lives
version_added: 0.4.0
description:
  - One run at a time per realm. The lock is the C(coordination.k8s.io/v1) Lease C(magasin-realm-<realm>) in
    O(namespace); its C(holderIdentity) is C(<host>/<pid>[/awx-job-<id>]) of the run's C(ansible-playbook)
    process (the AWX job from C(JOB_ID) or C(AWX_JOB_ID)), and an annotation records the host's boot id and the
    processes' start times.
  - O(state=present) takes the lock, or renews it when this run holds it already. When another run holds it, the
    task fails at once naming that run (host, pid, AWX job) and since when. A holder is gone, and its lock is
    taken over at once, when it ran on this host and none of its processes runs any more, or when it ran
    elsewhere and its Lease expired (not renewed for C(leaseDurationSeconds), O(duration)).
  - Taking the lock starts a renewer, a process in a session of its own (a signal to the run's process group
    does not reach it) that renews the Lease every third of O(duration) while the run's C(ansible-playbook)
    lives. When that process ends without releasing the lock (killed), the renewer stops the processes the run
    left (ansible's workers and modules, helm, kubectl; ansible's workers run in sessions of their own, so a
    signal to the run's group reaches none of them), first with SIGTERM, then SIGKILL, keeps the lock while any
    runs, and then releases it. So no helm or kubectl of a cancelled run works on behind a released lock.
  - O(state=absent) stops this run's renewer and deletes the Lease; a lock held by another run is left alone.
  - The run is the C(ansible-playbook) process that started the task's worker, as the action plugin of the same
    name finds it on the controller (O(run)). A task whose run has already ended (a worker that outlived a killed
    run, in a session of its own) neither takes nor renews the lock; it fails, holding nothing.
  - Reaches the cluster through the connection options every module of the collection shares; needs C(get),
    C(create), C(update), C(patch) and C(delete) on C(leases) in O(namespace).
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: Never takes, renews or releases the lock, but still fails when another live run holds it, as the run
      would.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Taking a lock this run holds renews it and reports no change; releasing a lock not held reports none.
options:
  realm:
    description: The realm (C(magasin_realm)).
    type: str
    required: true
  namespace:
    description: Namespace of the Lease (C(magasin_lock_namespace)).
    type: str
    default: default
  state:
    description: V(present) takes (or renews) the lock; V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  duration:
    description:
      - C(leaseDurationSeconds) of the Lease - how long a holder on another host that stopped renewing (its
        machine gone) keeps the realm.
    type: int
    default: 30
  wait_ending:
    description:
      - Seconds to wait for a run of this host whose C(ansible-playbook) is gone while its renewer still stops the
        processes it left (a killed run, usually a second or less); a live run is refused at once.
    type: int
    default: 20
  tally:
    description:
      - A file the run's module calls append their helm and kubectl process counts to (the run report's totals).
        Emptied, its directory made if missing, once this run holds the lock (in check mode, once it would), so
        that the counts are this run's only and a run refused by the lock leaves the holder's alone.
    type: path
  run:
    description:
      - The run's processes on the controller, set by the action plugin C(magasin.platform.realm_lock) when the
        task runs on the C(local) connection; not for playbooks. Without it the run is the outermost
        C(ansible-playbook) above the module.
    type: dict
    suboptions:
      pid:
        description: Pid of the run's C(ansible-playbook).
        type: int
        required: true
      start:
        description: Its start time in clock ticks after boot (C(/proc/<pid>/stat)), which tells a reused pid apart.
        type: int
      worker:
        description: Pid of the worker that runs the task.
        type: int
      worker_start:
        description: The worker's start time in clock ticks after boot.
        type: int
"""

EXAMPLES = r"""
- name: One run at a time on the realm
  magasin.platform.realm_lock:
    realm: "{{ magasin_realm }}"
  changed_when: false

- name: Release it at the end
  magasin.platform.realm_lock:
    realm: "{{ magasin_realm }}"
    state: absent
"""

RETURN = r"""
held:
  description: Whether this run holds the lock after the task (in check mode, whether it would).
  returned: always
  type: bool
tally_started:
  description: Whether the file O(tally) names was emptied for this run.
  returned: when O(tally) is set and O(state=present)
  type: bool
action:
  description: V(acquired), V(took-over), V(renewed), V(released), V(none), or in check mode V(would-acquire).
  returned: always
  type: str
lease:
  description: Namespace and name of the Lease.
  returned: always
  type: dict
  sample: {namespace: default, name: magasin-realm-magasin}
holder:
  description: The holder after the task - host, pid, job, identity, since.
  returned: when someone holds the lock
  type: dict
previous:
  description: The holder taken over, and why it was gone.
  returned: when a stale lock was taken over
  type: dict
"""

import json
import os
import select
import signal
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.magasin.platform.plugins.module_utils import _lock
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError, start_tally
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient


def public(holder):
    if not holder:
        return None
    return dict((k, holder.get(k)) for k in ("identity", "host", "pid", "job", "since", "renewed", "renewer"))


class RealmLock:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.realm = self.params["realm"]
        self.namespace = self.params["namespace"]
        self.connection = Connection(module)
        self.kubectl = KubectlClient(module, self.connection)
        self.me = _lock.this_run(run=self.params["run"])
        self.result = {"changed": False, "held": False, "action": "none",
                       "lease": {"namespace": self.namespace, "name": _lock.lease_name(self.realm)}}

    def get(self):
        rc, out, err = self.kubectl.run(["get", "lease", _lock.lease_name(self.realm), "--namespace", self.namespace,
                                         "--ignore-not-found", "--output", "json"])
        return self.kubectl.parse_json(out, ["get", "lease"])

    def write(self, verb, obj):
        """create or replace; None when another run changed the Lease meanwhile (re-read and decide again)."""
        rc, out, err = self.kubectl.run([verb, "-f", "-", "--output", "json"], data=json.dumps(obj), ok_rcs=(0, 1))
        if rc != 0:
            if _lock.is_conflict(err):
                return None
            raise CliError(self.kubectl.error_message(err, out), cmd=self.kubectl.calls[-1], rc=rc, stderr=err)
        return self.kubectl.parse_json(out, [verb])

    def acquire(self):
        waited_until = time.monotonic() + self.params["wait_ending"]
        for _attempt in range(50):
            lease = self.get()
            holder = _lock.lease_holder(lease)
            now = _lock.now_utc()
            state, reason = _lock.holder_state(holder, self.me, now, _lock.alive)
            if state == "live":
                self.module.fail_json(msg=_lock.refusal(self.realm, self.namespace, holder, reason, now),
                                      holder=public(holder), **self.result)
            if state == "ending":
                if time.monotonic() < waited_until:
                    time.sleep(0.25)
                    continue
                self.module.fail_json(msg=_lock.refusal(self.realm, self.namespace, holder, reason, now),
                                      holder=public(holder), **self.result)
            if state == "mine" and holder.get("renewer") and _lock.alive(holder["renewer"], holder.get("renewer_start")):
                self.result.update(held=True, action="renewed", holder=public(holder))
                return self.result
            self.fail_if_run_gone()
            if self.module.check_mode:
                self.result.update(changed=True, held=True, action="would-acquire", holder=public(self.me))
                return self.result
            obj = _lock.lease_object(self.realm, self.namespace, self.me, now, self.params["duration"], lease)
            written = self.write("replace" if lease else "create", obj)
            if written is None:
                continue
            self.start_renewer(written)
            # Ended meanwhile: its renewer, tracking this task's worker, stops it and releases the Lease.
            self.fail_if_run_gone()
            self.result.update(changed=True, held=True, action="took-over" if holder else "acquired",
                               holder=public(_lock.lease_holder(written)))
            if holder and state != "mine":
                self.result["previous"] = dict(public(holder), reason=reason)
            return self.result
        self.module.fail_json(msg="The Lease %s/%s kept changing while this run tried to take it"
                              % (self.namespace, _lock.lease_name(self.realm)), **self.result)

    def fail_if_run_gone(self):
        gone = _lock.run_gone(self.me, _lock.alive)
        if gone:
            self.module.fail_json(msg=gone, **self.result)

    def start_renewer(self, lease):
        environ = dict(os.environ, **self.kubectl.environ)
        kubeconfig = None
        path = self.connection.kubeconfig_path
        if path and path in getattr(self.module, "cleanup_files", []):
            # A kubeconfig this task wrote (from a token) is removed when the module exits: the renewer keeps a
            # copy of its own.
            with open(path) as handle:
                kubeconfig = handle.read()
        renewer = _lock.Renewer(self.kubectl.base_args(), environ, self.realm, self.namespace, self.me,
                                lease["metadata"]["resourceVersion"], self.params["duration"])
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - the detached renewer
            try:
                os.setsid()
                if os.fork():
                    os._exit(0)
                os.close(read_end)
                devnull = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(devnull, fd)
                os.closerange(3, write_end)
                os.closerange(write_end + 1, 65536)
                copy = None
                if kubeconfig is not None:
                    fd, copy = tempfile.mkstemp(prefix="magasin-lock-kubeconfig-", suffix=".json")
                    with os.fdopen(fd, "w") as handle:
                        handle.write(kubeconfig)
                    renewer.environ["KUBECONFIG"] = copy

                def ready():
                    os.write(write_end, b"ready\n")
                    os.close(write_end)

                try:
                    renewer.run(ready)
                finally:
                    if copy:
                        os.unlink(copy)
            finally:
                os._exit(0)
        os.close(write_end)
        os.waitpid(child, 0)
        try:
            got = b""
            if select.select([read_end], [], [], 30)[0]:
                got = os.read(read_end, 64)
        finally:
            os.close(read_end)
        if not got.startswith(b"ready"):
            self.module.fail_json(msg="The renewer of the realm lock did not start (it renews the Lease %s/%s); check "
                                      "that this run may patch leases there." % (self.namespace,
                                                                                 _lock.lease_name(self.realm)),
                                  **self.result)

    def release(self):
        lease = self.get()
        holder = _lock.lease_holder(lease)
        state, reason = _lock.holder_state(holder, self.me, _lock.now_utc(), _lock.alive)
        if state != "mine":
            self.result.update(holder=public(holder))
            return self.result
        self.result.update(changed=True, action="released")
        if self.module.check_mode:
            return self.result
        renewer, start = holder.get("renewer"), holder.get("renewer_start")
        running = bool(renewer) and _lock.alive(renewer, start)
        if running:
            os.kill(renewer, signal.SIGTERM)
        # The Lease goes at once, in the version just read: the stopping renewer then finds it gone. Only when the
        # renewer renewed it meanwhile (another version: a conflict) is it deleted once the renewer has ended.
        rc, out, err = self.kubectl.run(["delete", "--raw", _lock.lease_path(self.namespace, self.realm), "-f", "-"],
                                        data=json.dumps(_lock.delete_body(lease["metadata"]["resourceVersion"])),
                                        ok_rcs=(0, 1))
        if rc == 0 or "not found" in (err or "").lower():
            return self.result
        if running:
            deadline = time.monotonic() + 15
            while _lock.alive(renewer, start) and time.monotonic() < deadline:
                time.sleep(0.05)
            if _lock.alive(renewer, start):
                os.kill(renewer, signal.SIGKILL)
        lease = self.get()
        holder = _lock.lease_holder(lease)
        if holder and _lock.same_run(holder, self.me):
            rc, out, err = self.kubectl.run(["delete", "--raw", _lock.lease_path(self.namespace, self.realm), "-f", "-"],
                                            data=json.dumps(_lock.delete_body(lease["metadata"]["resourceVersion"])),
                                            ok_rcs=(0, 1))
        return self.result


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            realm=dict(type="str", required=True),
            namespace=dict(type="str", default="default"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            duration=dict(type="int", default=_lock.DEFAULT_DURATION),
            wait_ending=dict(type="int", default=20),
            tally=dict(type="path"),
            run=dict(type="dict", options=dict(pid=dict(type="int", required=True), start=dict(type="int"),
                                               worker=dict(type="int"), worker_start=dict(type="int"))),
        ),
        supports_check_mode=True,
    )
    if module.params["duration"] < 5:
        module.fail_json(msg="duration must be at least 5 seconds (it is the Lease's leaseDurationSeconds), got %s"
                         % module.params["duration"])
    lock = RealmLock(module)
    try:
        if module.params["state"] == "absent":
            module.exit_json(**lock.release())
        result = lock.acquire()
        if module.params["tally"]:
            result["tally_started"] = bool(result["held"]) and start_tally(module.params["tally"])
        module.exit_json(**result)
    except CliError as exc:
        lock.kubectl.fail_from(exc, **lock.result)


if __name__ == "__main__":
    main()
