#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kubectl_apply
short_description: Server-side apply Kubernetes objects with kubectl, changed only when the cluster changes
version_added: 0.1.0
description:
  - Applies a list of objects (or a YAML file of them) with C(kubectl apply --server-side) under its own field
    manager, or deletes them with O(state=absent).
  - First asks the API server with C(kubectl diff --server-side) (a server-side dry run) whether anything would
    change; when nothing would, that one kubectl process is the whole task. Only then does it apply.
  - Namespaces in the list are handled first (one more kubectl process), since the server cannot dry-run objects
    in a namespace that does not exist yet. In check mode, objects in a namespace that would be created are
    reported as new.
  - Objects reach kubectl on standard input, never on the command line.
  - With O(prune), objects of the given kinds that carry the given labels in the definitions' namespaces but are not
    among the definitions are deleted, in one more kubectl process per namespace (C(kubectl delete) with a label
    selector and a field selector that excludes the definitions' names).
  - O(definitions) is not a C(no_log) option; set C(no_log) on a task that applies a Secret. Its diff masks Secret
    data either way.
author:
  - magasin.platform developers (@unicef)
extends_documentation_fragment:
  - magasin.platform._attributes
  - magasin.platform._connection
attributes:
  check_mode:
    support: full
    details: The server-side dry run decides (for O(prune), C(kubectl delete --dry-run=server)); nothing is written.
  diff_mode:
    support: full
    details: The output of C(kubectl diff), with Secret data masked and every secret-looking value masked; objects
      that O(prune) removes are listed.
  idempotent:
    support: full
    details: Applying the same objects again changes nothing and reports no change.
options:
  definitions:
    description:
      - The objects, as a list of dictionaries (a single dictionary is accepted too).
      - Mutually exclusive with O(src).
    type: list
    elements: dict
  src:
    description:
      - Path of a YAML or JSON file with one or more objects, on the host that runs the task.
    type: path
  namespace:
    description: Namespace for objects that do not name one.
    type: str
  state:
    description: V(present) applies; V(absent) deletes the objects (those missing are ignored).
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description: Field manager name for server-side apply.
    type: str
    default: magasin-platform
  force_conflicts:
    description: Take over fields that another field manager owns.
    type: bool
    default: false
  wait:
    description:
      - After applying (even when nothing changed), wait with C(kubectl wait) until every object meets
        O(wait_condition). Namespaces among the definitions are not waited for.
    type: bool
    default: false
  wait_condition:
    description: Condition for O(wait), in C(kubectl wait --for) syntax.
    type: str
    default: condition=Ready
  wait_timeout:
    description: Seconds to wait for O(wait_condition), or for deletion with O(state=absent) or O(prune).
    type: int
    default: 120
  prune:
    description:
      - With O(state=present), delete the objects of O(prune.kinds) that match O(prune.selector) in the namespaces
        of the definitions (or O(prune.namespaces)) and are not among the definitions; for example the Jobs of
        earlier runs, whose names change with their content.
      - An object is kept when a definition in its namespace has its name, whatever the definition's kind (so a
        kind written as a short name, V(cm), never removes what was just applied).
    type: dict
    suboptions:
      selector:
        description: Label selector, in C(kubectl --selector) syntax; required, so that pruning never removes
          objects of others.
        type: str
        required: true
      kinds:
        description:
          - Kinds to prune, as kubectl names them (V(Job), V(jobs.batch), V(ConfigMap)).
        type: list
        elements: str
        required: true
      namespaces:
        description: Namespaces to prune in; by default those of the definitions (and O(namespace)).
        type: list
        elements: str
"""

EXAMPLES = r"""
- name: A namespace and a network policy
  magasin.platform.kubectl_apply:
    definitions:
      - apiVersion: v1
        kind: Namespace
        metadata:
          name: magasin-drill
      - apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata:
          name: allow-minio
          namespace: magasin-drill
        spec:
          podSelector: {}
          policyTypes: [Egress]

- name: A CRD, waited for
  magasin.platform.kubectl_apply:
    src: files/crd.yaml
    wait: true
    wait_condition: condition=Established

- name: Remove them
  magasin.platform.kubectl_apply:
    src: files/crd.yaml
    state: absent

- name: This run's setup Job; those of earlier runs are removed
  magasin.platform.kubectl_apply:
    namespace: magasin-tenant
    definitions:
      - "{{ lookup('template', 'setup-job.yml.j2') | from_yaml }}"
    prune:
      selector: app.kubernetes.io/component=minio-setup
      kinds: [Job]
"""

RETURN = r"""
objects:
  description: The objects of the task, as C(Kind/name) or C(namespace/Kind/name).
  returned: always
  type: list
  elements: str
changed_objects:
  description: The objects that were (or, in check mode, would be) created, changed or deleted.
  returned: always
  type: list
  elements: str
pruned:
  description: The objects that O(prune) deleted (or would delete), as C(namespace/kind.group/name).
  returned: always
  type: list
  elements: str
  sample: [magasin-tenant/job.batch/minio-setup-3f2a]
"""

import json
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.magasin.platform.plugins.module_utils._cli import CliError
from ansible_collections.magasin.platform.plugins.module_utils._connection import Connection, connection_args
from ansible_collections.magasin.platform.plugins.module_utils._kubectl import KubectlClient, object_ref, split_manifest
from ansible_collections.magasin.platform.plugins.module_utils._redact import mask_manifest

# Namespaces pruned side by side (one kubectl delete each: a least-privilege account may list only its own
# namespaces, so there is no one call over all of them).
MAX_THREADS = 4

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False


class KubectlApplyManager:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.kubectl = KubectlClient(module, Connection(module))
        self.result = {"changed": False, "objects": [], "changed_objects": [], "pruned": []}
        self.diffs = []

    def load(self):
        if self.params["src"]:
            try:
                with open(self.params["src"]) as handle:
                    objects = split_manifest(handle.read(), yaml.safe_load_all)
            except (OSError, yaml.YAMLError) as exc:
                self.module.fail_json(msg="src: cannot read %s: %s" % (self.params["src"], exc))
        else:
            objects = [o for o in self.params["definitions"] or [] if o]
        for obj in objects:
            if not obj.get("apiVersion") or not obj.get("kind") or not (obj.get("metadata") or {}).get("name"):
                self.module.fail_json(msg="every object needs apiVersion, kind and metadata.name; got %s"
                                      % json.dumps(mask_manifest(obj))[:300])
            secrets = set()
            mask_manifest(obj, secrets)
            self.kubectl.add_secrets(secrets)
        return objects

    def run(self):
        objects = self.load()
        self.result["objects"] = [object_ref(o) for o in objects]
        if self.params["state"] == "absent":
            return self.delete(objects) if objects else self.result
        if not objects and not self.params["prune"]:
            return self.result
        # Namespaces go first: the server cannot dry-run objects in a namespace that does not exist yet.
        namespaces = [o for o in objects if o["kind"] == "Namespace"]
        others = [o for o in objects if o["kind"] != "Namespace"]
        missing = set()
        if namespaces and self.converge(namespaces) and self.module.check_mode:
            live = set(o["metadata"]["name"] for o in self.kubectl.get_objects(namespaces))
            missing = set(o["metadata"]["name"] for o in namespaces) - live
        in_missing = [o for o in others if (o["metadata"].get("namespace") or self.params["namespace"]) in missing]
        if in_missing:
            # Check mode only: these would be created along with their namespace.
            self.result["changed"] = True
            self.result["changed_objects"] += [object_ref(o) for o in in_missing]
            self.diffs.append("".join("+ %s (new, in a new namespace)\n" % object_ref(o) for o in in_missing))
        rest = [o for o in others if o not in in_missing]
        if rest:
            self.converge(rest)
        if self.params["prune"]:
            self.prune(objects, missing)
        if self.module._diff and self.diffs:
            self.result["diff"] = {"prepared": self.kubectl.redact("".join(self.diffs))}
        # A Namespace has no condition to wait for: it is there once applied.
        if self.params["wait"] and others and not self.module.check_mode:
            self.kubectl.wait(others, self.params["wait_condition"], self.params["wait_timeout"],
                              self.params["namespace"])
        return self.result

    def converge(self, objects):
        """Diff these objects on the server and apply them if they differ; True if they did."""
        changed, diff_text = self.kubectl.diff(objects, self.params["namespace"], self.params["field_manager"],
                                               self.params["force_conflicts"])
        if changed:
            self.result["changed"] = True
            self.result["changed_objects"] += changed_refs(diff_text)
            self.diffs.append(diff_text)
            if not self.module.check_mode:
                self.kubectl.apply(objects, self.params["namespace"], self.params["field_manager"],
                                   self.params["force_conflicts"])
        return changed

    def prune(self, objects, new_namespaces):
        """Delete what the selector finds but the definitions do not name: one kubectl delete per namespace. In
        check mode the server dry-runs the same delete."""
        prune = self.params["prune"]
        if not (prune.get("selector") or "").strip():
            self.module.fail_json(msg="prune.selector must be a label selector, e.g. app.kubernetes.io/component=setup")
        namespaces = (prune.get("namespaces") or definition_namespaces(objects, self.params["namespace"])
                      or [n for n in [self.params["namespace"]] if n])
        if not namespaces:
            self.module.fail_json(msg="prune: the definitions name no namespace; set namespace or prune.namespaces")

        def prune_in(namespace):
            keep = kept_names(objects, namespace, self.params["namespace"])
            rc, out, err = self.kubectl.run(prune_args(prune["kinds"], prune["selector"], keep, namespace,
                                                       self.module.check_mode, self.params["wait_timeout"]))
            return ["%s/%s" % (namespace, name) for name in deleted_names(out)]

        # Check mode: a namespace that would be created holds nothing to prune.
        todo = [namespace for namespace in namespaces if namespace not in new_namespaces]
        with ThreadPoolExecutor(max_workers=MAX_THREADS) as pool:
            pruned = [ref for refs in pool.map(prune_in, todo) for ref in refs]
        self.result["pruned"] = pruned
        if pruned:
            self.result["changed"] = True
            self.result["changed_objects"] += pruned
            self.diffs.append("".join("- %s (pruned)\n" % ref for ref in pruned))

    def delete(self, objects):
        if self.module.check_mode:
            live = self.kubectl.get_objects(objects, self.params["namespace"])
            gone = [object_ref(o) for o in live]
        else:
            gone = self.kubectl.delete(objects, self.params["namespace"], wait=True,
                                       timeout=self.params["wait_timeout"])
        self.result["changed"] = bool(gone)
        self.result["changed_objects"] = gone
        if self.module._diff and gone:
            self.result["diff"] = {"before": "\n".join(gone) + "\n", "after": ""}
        return self.result


def changed_refs(diff_text):
    """Object names from kubectl diff's per-object headers (``diff -u -N /tmp/LIVE-x/<group>.<kind>.<ns>.<name>``)."""
    refs = []
    for line in (diff_text or "").splitlines():
        if line.startswith("diff ") and "/LIVE-" in line:
            path = line.split()[-2] if len(line.split()) >= 2 else ""
            name = path.rsplit("/", 1)[-1]
            if name and name not in refs:
                refs.append(name)
    return refs


def definition_namespaces(objects, default_namespace):
    """The namespaces the definitions live in, in order of appearance."""
    out = []
    for obj in objects:
        if obj.get("kind") == "Namespace":
            continue
        namespace = (obj.get("metadata") or {}).get("namespace") or default_namespace
        if namespace and namespace not in out:
            out.append(namespace)
    return out


def kept_names(objects, namespace, default_namespace):
    """Names of the definitions in ``namespace``, whatever their kind. Pure."""
    return sorted(set(o["metadata"]["name"] for o in objects if o.get("kind") != "Namespace"
                      and ((o.get("metadata") or {}).get("namespace") or default_namespace) == namespace))


def prune_args(kinds, selector, keep, namespace, dry_run, timeout):
    """argv (after kubectl) deleting the selected objects of ``kinds`` in ``namespace`` except ``keep``."""
    args = ["delete", ",".join(kinds), "--namespace", namespace, "--selector", selector, "--ignore-not-found",
            "--output", "name"]
    if keep:
        args += ["--field-selector", ",".join("metadata.name!=%s" % name for name in keep)]
    if dry_run:
        args.append("--dry-run=server")
    else:
        args += ["--wait=true", "--timeout=%ss" % int(timeout)]
    return args


def deleted_names(out):
    """``kubectl delete -o name`` lines (kind.group/name); 'No resources found' goes elsewhere."""
    return [line.strip() for line in (out or "").splitlines() if "/" in line and " " not in line.strip()]


def main():
    module = AnsibleModule(
        argument_spec=connection_args(
            definitions=dict(type="list", elements="dict"),
            src=dict(type="path"),
            namespace=dict(type="str"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            field_manager=dict(type="str", default="magasin-platform"),
            force_conflicts=dict(type="bool", default=False),
            wait=dict(type="bool", default=False),
            wait_condition=dict(type="str", default="condition=Ready"),
            wait_timeout=dict(type="int", default=120),
            prune=dict(type="dict", options=dict(
                selector=dict(type="str", required=True),
                kinds=dict(type="list", elements="str", required=True),
                namespaces=dict(type="list", elements="str"),
            )),
        ),
        mutually_exclusive=[("definitions", "src")],
        required_one_of=[("definitions", "src")],
        supports_check_mode=True,
    )
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    manager = KubectlApplyManager(module)
    try:
        module.exit_json(**manager.run())
    except CliError as exc:
        manager.kubectl.fail_from(exc)


if __name__ == "__main__":
    main()
