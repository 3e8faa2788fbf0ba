# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Filters that hand the roles the collection's pure functions: the realm model, each
component's chart values and release plan, the preflight checks and the capacity check.

The roles compute nothing in Jinja: they pass their inputs to these filters and hand the
results to the modules.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib

from ansible.errors import AnsibleFilterError
from ansible_collections.magasin.platform.plugins.module_utils import _realm, _security, _validate, _values
from ansible_collections.magasin.platform.plugins.module_utils._helm import merge_values
from ansible_collections.magasin.platform.plugins.module_utils._minio import ACCESS_KEY, SECRET_KEY, key_users, key_version, removed_users, setup_job


def _plain(data):
    """Ansible's lazy containers and tagged strings as plain Python data."""
    if isinstance(data, dict):
        return dict((str(k), _plain(v)) for k, v in data.items())
    if isinstance(data, (list, tuple)):
        return [_plain(v) for v in data]
    if isinstance(data, str):
        return str(data)
    return data


def realm_namespaces(settings):
    """The namespaces a realm uses (the shared operator's default one included)."""
    _prefix, _suffix, namespaces = _realm.realm_names(str(_plain(settings).get("magasin_realm") or "magasin"))
    return sorted(set(namespaces.values()) | {_realm.OPERATOR_RELEASE["namespace"]})


def realm_model(settings, observed):
    settings, observed = _plain(settings), _plain(observed)
    try:
        sizing = _values.sizing(settings.get("magasin_profile") or "lab", settings.get("magasin_sizing") or {})
    except (KeyError, ValueError, TypeError) as exc:
        raise AnsibleFilterError("magasin_sizing: %s" % exc) from None
    return _realm.realm_model(settings, observed, sizing)


def selected_charts(settings):
    return _realm.selected_charts(_plain(settings))


def chart_queries(settings):
    """The selected charts as realm_info's `charts` option takes them."""
    return [dict((k, c[k]) for k in ("key", "chart", "version", "repo_url") if c[k])
            for c in _realm.selected_charts(_plain(settings))]


def component_plan(model, component, settings):
    """{releases: [...], workloads: [...]} of one component from its role's settings
    (``<component>_*`` variables). The user's `<role>_values` are merged last, as helm
    merges values files, and the workloads are read from those final values."""
    model, settings, component = _plain(model), _plain(settings), str(component)
    prefix = component + "_"
    inputs = dict((k[len(prefix):], v) for k, v in settings.items() if k.startswith(prefix))
    for key in ("console_enabled", "skip_schema_validation"):
        if key in inputs:
            inputs[key] = _validate.as_bool(inputs[key])
    model = _realm.for_component(model, component, inputs)
    keys = _realm.COMPONENT_CHARTS[component]
    if component != "minio":
        inputs["chart_version"] = model["charts"][component]["version"]
    if component == "drill":
        # The drillbits restart when the plugin changes: a digest of its content (without keys).
        inputs["plugin_checksum"] = hashlib.sha256(
            _values.drill_storage_plugin(model, inputs, "", "").encode()).hexdigest()
    values = _values.component_values(component, model, inputs)
    final = {}
    for key in keys:
        override = inputs.get("values") if key == component else inputs.get(key + "_values")
        final[key] = merge_values(values.get(key) or {}, override or {})
    return {"releases": _realm.release_plan(model, component, final),
            "workloads": _values.workloads(component, final)}


def globals_problems(settings):
    """The global settings' problems, as the lines a failed preflight prints ('' if none)."""
    return _validate.format_problems(_validate.validate_globals(_plain(settings)))


def component_problems(component, settings, global_settings):
    settings = _plain(settings)
    # An empty chart version means the pinned one: check what will be used.
    for key, var in _realm.CHART_VARS.items():
        if settings.get(var + "_version", None) == "":
            settings[var + "_version"] = _realm.PINNED[key]
    return _validate.format_problems(_validate.validate_component(str(component), settings,
                                                                  _plain(global_settings)))


def cluster_problems(settings, observed):
    return _validate.format_problems(_validate.validate_cluster(_plain(settings), _plain(observed)))


def kubeconfig_problems(path, context, text, exists):
    return _validate.format_problems(_validate.validate_kubeconfig(
        "magasin_kubeconfig", str(path), str(context) if context else None, str(text) if exists else None))


def chart_problems(charts, found):
    """Problems with the selected charts, from realm_info's `charts` result."""
    return _validate.format_problems(_realm.chart_problems(_plain(charts), _plain(found)))


def preflight_warnings(settings):
    return _validate.warnings(_plain(settings))


def capacity_problem(plans, observed, profile):
    """'' when the selected components' requests fit the ready nodes, else the message."""
    return _realm.capacity_problem(_plain(plans), _plain(observed), str(profile))


def drill_storage_plugin(model, inputs, access_key, secret_key):
    return _values.drill_storage_plugin(_plain(model), _plain(inputs), str(access_key), str(secret_key))


def s3_consumers(model):
    """The selected components that get a MinIO user of their own."""
    return [c for c in _plain(model)["components"] if c in _values.S3_CONSUMERS]


def minio_user(consumer):
    """{user, secret, policy} of one consumer's MinIO user."""
    return _realm.minio_user(str(consumer))


def minio_user_data(consumer, keys_results=None, own_result=None):
    """The base64 keys of one consumer's MinIO user, from the minio role's results of this run or its own."""
    return _realm.minio_user_data(str(consumer), _plain(keys_results or []), _plain(own_result or {}))


def minio_setup_job(model, script, image, settings=None, key_versions=None):
    """The Job applying the realm's MinIO content (the minio role's settings), named after its input."""
    return setup_job(_plain(model), _plain(settings or {}), str(script), str(image), _plain(key_versions or {}))


def minio_key_users(model, settings):
    """The MinIO users whose keys the minio role keeps in Secrets: [{name, secret, rotate, builtin}]."""
    return key_users(_plain(model), _plain(settings))


def minio_removed_users(model, settings):
    """The Secrets of the MinIO users named for removal (state: absent)."""
    return removed_users(_plain(model), _plain(settings))


def minio_key_versions(results):
    """{user: digest of its keys} from the credentials results of a loop over minio_key_users."""
    out = {}
    for result in _plain(results):
        data = result.get("data") or {}
        if ACCESS_KEY in data and SECRET_KEY in data:
            out[result["item"]["name"]] = key_version(
                result["item"]["name"], base64.b64decode(data[ACCESS_KEY]).decode("utf-8"),
                base64.b64decode(data[SECRET_KEY]).decode("utf-8"))
    return out


def namespace(model, key, name=""):
    """A realm namespace, labelled (Pod Security included); ``name`` overrides the model's. With a list of keys,
    the list of their namespaces (``name`` then a dict: key -> name)."""
    if isinstance(key, str):
        return _security.namespace(_plain(model), str(key), str(name or ""))
    names = _plain(name) or {}
    return [_security.namespace(_plain(model), str(k), str(names.get(str(k)) or "")) for k in _plain(key)]


def namespace_keys(components):
    """The realm namespace keys of components, in order (minio -> operator, tenant)."""
    return [k for c in _plain(components) for k in _security.COMPONENT_NAMESPACES[str(c)]]


def network_policies(model, keys, with_namespaces=False):
    """The realm's NetworkPolicies in the namespaces of ``keys`` (one key or a list; [] when they are turned off),
    after those namespaces' own objects with ``with_namespaces`` (so that a check run can predict them in a
    namespace that does not exist yet)."""
    model = _plain(model)
    keys = [str(keys)] if isinstance(keys, str) else [str(k) for k in _plain(keys)]
    policies = [p for key in keys for p in _security.network_policies(model, key)]
    if not (with_namespaces and policies):
        return policies
    return [_security.namespace(model, key) for key in keys] + policies


def summary_table(summary, model):
    return _realm.summary_table(_plain(summary), _plain(model))


def superset_admin_warning(model, admin_user):
    return _realm.superset_admin_warning(_plain(model), str(admin_user))


class FilterModule(object):
    def filters(self):
        return {
            "realm_namespaces": realm_namespaces,
            "realm_model": realm_model,
            "selected_charts": selected_charts,
            "chart_queries": chart_queries,
            "component_plan": component_plan,
            "globals_problems": globals_problems,
            "component_problems": component_problems,
            "cluster_problems": cluster_problems,
            "kubeconfig_problems": kubeconfig_problems,
            "chart_problems": chart_problems,
            "preflight_warnings": preflight_warnings,
            "capacity_problem": capacity_problem,
            "drill_storage_plugin": drill_storage_plugin,
            "s3_consumers": s3_consumers,
            "minio_user": minio_user,
            "minio_user_data": minio_user_data,
            "minio_setup_job": minio_setup_job,
            "minio_key_users": minio_key_users,
            "minio_removed_users": minio_removed_users,
            "minio_key_versions": minio_key_versions,
            "namespace": namespace,
            "namespace_keys": namespace_keys,
            "network_policies": network_policies,
            "summary_table": summary_table,
            "superset_admin_warning": superset_admin_warning,
        }
