# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: validators of every inventory input, and of the cluster it names.

Pure functions of the inventory's values (and of what ``realm_info`` observed), run by the
preflight before anything changes. Each problem names the INVENTORY variable, never a module
option, and carries an example of a valid value, so that ``format_problems`` prints lines of
the shape ``<variable>: <message>, e.g. <variable>: <example>``.

Decisions:
- Booleans: a YAML boolean, or one of the strings Ansible's ``bool`` filter and
  ``argument_specs`` ``type: bool`` accept (yes/no, true/false, on/off, y/n, t/f, 1/0, any case),
  since ``-e name=value`` always passes strings. Anything else ('enabled', 2, a list) is refused.
  Code that reads these variables in Python must go through ``as_bool``.
- Strings: a number where a string belongs is refused (``drill_chart_version: 0.10`` is the
  float 0.1 by the time it is read), with the quoted form as the fix.
- Secrets are never echoed: messages about a password say what is wrong with it, not what it is;
  their examples are placeholders in angle brackets. No example holds a Jinja expression, which
  ansible-core before 2.19 would template again inside the fail message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import os
import re
import shutil

from ._lifecycle import PURGE_KINDS
from ._minio import CANNED_POLICIES, builtin_policies, builtin_users, parse_size
from ._values import CHART_VERSIONS, DEFAULT_SIZING, OPERATOR_SIZING

try:
    import yaml
except ImportError:  # pragma: no cover - the controller always has PyYAML
    yaml = None

KNOWN_COMPONENTS = ("minio", "drill", "dagster", "daskhub", "superset")
KNOWN_PROFILES = ("lab", "small", "production")
STATES = ("present", "absent")
# Workloads a magasin_sizing override may name, per component, and the pinned chart versions
# shown as examples: both from the one place that holds them.
SIZING_WORKLOADS = dict((c, tuple(sorted(DEFAULT_SIZING[c]["lab"]))) for c in DEFAULT_SIZING)
OPERATOR_WORKLOADS = tuple(sorted(OPERATOR_SIZING))
SIZING_KEYS = {
    "replicas": "count", "requests": "resources", "limits": "resources", "size": "memory",
    "storage": "memory", "max_memory": "memory", "volumes_per_server": "positive",
}
CHARTS = {
    "minio": (("minio_operator_chart", CHART_VERSIONS["operator"]), ("minio_tenant_chart", CHART_VERSIONS["tenant"])),
    "drill": (("drill_chart", CHART_VERSIONS["drill"]),),
    "dagster": (("dagster_chart", CHART_VERSIONS["dagster"]),),
    "daskhub": (("daskhub_chart", CHART_VERSIONS["daskhub"]),),
    "superset": (("superset_chart", CHART_VERSIONS["superset"]),),
}
# Oldest Kubernetes the collection supports: the README's matrix (1.30). The charts ask less
# (Chart.yaml kubeVersion: dagster and its user deployments >= 1.18, daskhub 2024.1.0's
# dask-gateway >= 1.24 and jupyterhub >= 1.23; drill, superset, operator and tenant say nothing).
MIN_KUBERNETES = (1, 30)
CHART_KUBE_VERSIONS = {"dagster": (1, 18), "daskhub": (1, 24)}
# Architectures every image the roles deploy is published for.
IMAGE_ARCHITECTURES = ("amd64", "arm64")
# SECRET_KEY values shipped in Superset and its chart; Superset refuses to start with its default.
SUPERSET_DEFAULT_KEYS = (
    "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET", "ON_MAGASIN_PROD_CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
    "thisISaSECRET_1234", "\\2\\1thisismyscretkey\\1\\2\\e\\y\\y\\h",
)
BOOL_STRINGS = {"yes": True, "y": True, "true": True, "t": True, "on": True, "1": True,
                "no": False, "n": False, "false": False, "f": False, "off": False, "0": False}

DNS_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
REALM_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
HOST_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", re.IGNORECASE)
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$")
DURATION_PART_RE = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
QUANTITY_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$")
# Reference path components, as the distribution reference grammar has them.
PATH_COMPONENT_RE = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
USER_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
DRILL_PLUGIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PIP_REQUIREMENT_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\[[A-Za-z0-9._,-]+\])?\s*((==|>=|<=|~=|!=|>|<)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*$")
DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
QUANTITY_SUFFIXES = {
    "": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}
# Characters that break the files the values end up in: MinIO's config.env is sourced by a
# shell with the values in double quotes; Superset interpolates its database and Redis
# passwords unquoted into SQLAlchemy and Redis URLs (the chart's superset_config.py).
SHELL_UNSAFE = ('"', "$", "`", "\\", "\n", "\r")
URL_UNSAFE = ("@", ":", "/", "?", "#", "%", " ", "\n", "\r", "\t")


def problem(variable, message, example):
    return {"variable": variable, "message": message, "example": example}


# ---------------------------------------------------------------- parsers

def parse_duration(text):
    """Seconds in a Go duration (what helm's --timeout takes); ValueError when Go would refuse it."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    s = text
    sign = 1.0
    if s[:1] in ("+", "-"):
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError("empty duration")
    total = 0.0
    pos = 0
    while pos < len(s):
        match = DURATION_PART_RE.match(s, pos)
        if not match:
            raise ValueError("not a Go duration")
        total += float(match.group(1)) * DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def parse_quantity(value):
    """A Kubernetes quantity as a number (cores for CPU, bytes for memory); ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a quantity")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("not a quantity")
    match = QUANTITY_RE.match(value)
    if not match:
        raise ValueError("not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    if suffix not in QUANTITY_SUFFIXES:
        return float(number) * 10 ** int(suffix[1:])
    return float(number) * QUANTITY_SUFFIXES[suffix]


def as_bool(value):
    """The boolean of an inventory value as Ansible reads it; ValueError when it is none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in BOOL_STRINGS:
        return BOOL_STRINGS[value.strip().lower()]
    raise ValueError("not a boolean")


def kube_version(version):
    """(major, minor) of realm_info's version dict; GKE/EKS minors like '30+' count as 30."""
    version = version or {}
    try:
        major = int(re.sub(r"\D", "", str(version.get("major", ""))))
        minor = int(re.sub(r"\D", "", str(version.get("minor", ""))))
        return major, minor
    except ValueError:
        match = re.match(r"^v?(\d+)\.(\d+)", str(version.get("git_version") or ""))
        return (int(match.group(1)), int(match.group(2))) if match else None


# ---------------------------------------------------------------- value checks (message or None)

def _show(value):
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return "'%s'" % text
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value):
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a %s" % type(value).__name__


def _not_string(value):
    if isinstance(value, str):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "is %s (%s), not a string: quote it" % (_kind(value), _show(value))
    return "is %s (%s), not a string" % (_kind(value), _show(value))


def check_string(value):
    return _not_string(value)


def check_bool(value):
    try:
        as_bool(value)
        return None
    except ValueError:
        return "is %s (%s), not a boolean: write true or false" % (_kind(value), _show(value))


def check_dict(value):
    if isinstance(value, dict):
        return None
    if isinstance(value, str):
        return ("is a string, not a dict: write the mapping as YAML (key: value lines), "
                "not as a quoted or folded block")
    return "is %s (%s), not a dict" % (_kind(value), _show(value))


def check_state(value):
    return _not_string(value) or (None if value in STATES else "%s is not one of %s" % (_show(value), ", ".join(STATES)))


def check_dns_label(value, maximum=63, what="a DNS label"):
    bad = _not_string(value)
    if bad:
        return bad
    if len(value) > maximum or not DNS_LABEL_RE.match(value):
        return ("%s is not %s: lowercase letters, digits and '-', starting and ending with a letter "
                "or digit, at most %d characters" % (_show(value), what, maximum))
    return None


def check_dns_subdomain(value, what="a Kubernetes object name"):
    bad = _not_string(value)
    if bad:
        return bad
    labels = value.split(".")
    if len(value) > 253 or not all(DNS_LABEL_RE.match(label) and len(label) <= 63 for label in labels):
        return ("%s is not %s: lowercase letters, digits, '-' and '.', starting and ending with a "
                "letter or digit" % (_show(value), what))
    return None


def check_realm(value):
    bad = _not_string(value)
    if bad:
        return bad
    if len(value) > 30 or not REALM_RE.match(value):
        return ("%s is not valid: lowercase letters, digits and dashes, start with a letter, end with a "
                "letter or digit, at most 30 characters" % _show(value))
    return None


def _host_only(value):
    """The host of a URL the user gave where a host name belongs, for the fix."""
    rest = value.split("://", 1)[-1]
    return re.split(r"[/:?#]", rest, maxsplit=1)[0].lower()


def _host_example(default):
    """The fix for a host variable: the host of the URL the user gave, else the default."""
    def example(value):
        host = _host_only(value) if isinstance(value, str) and value else ""
        return host if host and check_host(host) is None else default
    return example


def check_host(value):
    """An Ingress host: a DNS name (a wildcard first label allowed), no scheme, port or path."""
    bad = _not_string(value)
    if bad:
        return bad
    if value == "":
        return None
    if "://" in value:
        return "%s is a URL; give the host name only (no scheme, port or path)" % _show(value)
    if "/" in value or ":" in value:
        return "%s holds a port or path; give the host name only" % _show(value)
    if value != value.lower():
        return "%s has capitals; Kubernetes takes host names in lowercase" % _show(value)
    if _is_ip(value):
        return "%s is an IP address; an Ingress host must be a DNS name" % _show(value)
    labels = value.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    if len(value) > 253 or not labels or not all(len(lab) <= 63 and DNS_LABEL_RE.match(lab) for lab in labels):
        return "%s is not a DNS host name" % _show(value)
    return None


def _is_ip(text):
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return False


def _valid_netloc(netloc):
    host, _sep, port = netloc.rpartition(":") if not netloc.endswith("]") else (netloc, "", "")
    if not _sep:
        host, port = netloc, ""
    if port and (not port.isdigit() or not 0 < int(port) < 65536):
        return False
    if not host:
        return False
    if _is_ip(host):
        return True
    labels = host.split(".")
    return len(host) <= 253 and all(len(lab) <= 63 and HOST_LABEL_RE.match(lab) for lab in labels)


def check_url(value, schemes=("http", "https"), path=True):
    bad = _not_string(value)
    if bad:
        return bad
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$", value)
    if not match:
        return "%s is not a URL (%s://host[:port]%s)" % (_show(value), "|".join(schemes), "/path" if path else "")
    scheme, netloc, rest = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in schemes:
        return "%s: the scheme must be %s" % (_show(value), " or ".join(s + "://" for s in schemes))
    if "@" in netloc:
        return "%s carries credentials in the URL; give them in their own variables" % _show(value)
    if not _valid_netloc(netloc):
        return "%s has no valid host[:port]" % _show(value)
    if match.group(4) or match.group(5) or (not path and rest not in ("", "/")):
        return "%s must be scheme://host[:port] only, without %s" % (_show(value), "a path, query or fragment" if not path else "a query or fragment")
    return None


def _reference_path(path):
    return all(PATH_COMPONENT_RE.match(part) for part in path.split("/")) if path else True


def _registry_host(first):
    return "." in first or ":" in first or first == "localhost"


def check_registry(value):
    """A registry and optional path that replaces every image's registry: host[:port][/path]."""
    bad = _not_string(value)
    if bad:
        return bad
    if value == "":
        return None
    if "://" in value:
        return "%s has a scheme; give host[:port][/path] only" % _show(value)
    if "@" in value:
        return "%s holds a digest; give host[:port][/path] only, the images keep their own" % _show(value)
    stripped = value.rstrip("/")
    first, _sep, path = stripped.partition("/")
    if ":" in path:
        return "%s holds a tag; give host[:port][/path] only, the images keep their own tags" % _show(value)
    if not _registry_host(first) or not _valid_netloc(first):
        return ("%s does not start with a registry host (a name with a dot or a port, or localhost), "
                "so images would be looked up on Docker Hub" % _show(value))
    if not _reference_path(path):
        return "%s has a path that is not lowercase letters, digits and '.', '_', '-' separated by '/'" % _show(value)
    return None


def check_image(value):
    """A full image reference with a tag or digest: [host[:port]/]path(:tag|@sha256:...)."""
    bad = _not_string(value)
    if bad:
        return bad
    if "://" in value:
        return "%s has a scheme; an image reference has none" % _show(value)
    name, _at, digest = value.partition("@")
    if _at and not re.match(r"^sha256:[0-9a-f]{64}$", digest):
        return "%s has an invalid digest" % _show(value)
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
        if not TAG_RE.match(tag):
            return "%s has an invalid tag" % _show(value)
    if not tag and not _at:
        return "%s has no tag: pin one" % _show(value)
    first, _sep, path = name.partition("/")
    if not (_sep and _registry_host(first)):
        first, path = "", name
    if (first and not _valid_netloc(first)) or not path or not _reference_path(path):
        return "%s is not an image reference" % _show(value)
    return None


def check_chart_version(value):
    """Empty (the pinned version) or an exact SemVer version, as helm's Chart.yaml requires."""
    bad = _not_string(value)
    if bad or value == "":
        return bad
    if not SEMVER_RE.match(value):
        return "%s is not an exact chart version (SemVer: MAJOR.MINOR.PATCH)" % _show(value)
    return None


def check_chart_ref(value):
    """A local chart directory or archive, or oci://registry/path; a repository URL goes to *_chart_repo."""
    bad = _not_string(value)
    if bad:
        return bad
    if value == "":
        return None
    if value.startswith("oci://"):
        return check_url(value, schemes=("oci",))
    if re.match(r"^https?://", value):
        return "%s is a repository URL: put it into the *_chart_repo variable, or give a local path or oci:// reference" % _show(value)
    if not os.path.exists(value):
        return "%s does not exist on the controller" % _show(value)
    return None


def check_duration(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "is the number %s; helm takes a Go duration with a unit" % _show(value)
    bad = _not_string(value)
    if bad:
        return bad
    try:
        seconds = parse_duration(value)
    except ValueError:
        return "%s is not a Go duration (numbers with units ns, us, ms, s, m, h, as in 1h30m)" % _show(value)
    if seconds <= 0:
        return "%s is not a positive duration" % _show(value)
    return None


def check_bucket(value):
    bad = _not_string(value)
    if bad:
        return bad
    if not 3 <= len(value) <= 63:
        return "%s is not a valid S3 bucket name: 3 to 63 characters" % _show(value)
    if not re.match(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$", value) or ".." in value or ".-" in value or "-." in value:
        return ("%s is not a valid S3 bucket name: lowercase letters, digits, '.' and '-', starting and "
                "ending with a letter or digit" % _show(value))
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", value) or value.startswith("xn--") or value.endswith("-s3alias"):
        return "%s is not a valid S3 bucket name (an IP address, xn-- or -s3alias)" % _show(value)
    return None


def _secret_string(value):
    """The type check of a secret: never shows the value."""
    if isinstance(value, str):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "is a number, not a string: quote it"
    return "is %s, not a string" % _kind(value)


def _unsafe(value, characters):
    found = sorted({c for c in value if c in characters})
    return ", ".join(repr(c) for c in found)


def check_minio_root_user(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if len(value) < 3:
        return "is %d characters; MinIO refuses root users shorter than 3" % len(value)
    if _unsafe(value, SHELL_UNSAFE + (" ", "=", "'")):
        return "holds %s, which MinIO's config.env cannot carry" % _unsafe(value, SHELL_UNSAFE + (" ", "=", "'"))
    return None


def check_minio_root_password(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if len(value) < 8:
        return "is %d characters; MinIO refuses root passwords shorter than 8" % len(value)
    if _unsafe(value, SHELL_UNSAFE):
        return "holds %s, which MinIO's config.env cannot carry" % _unsafe(value, SHELL_UNSAFE)
    return None


def check_url_password(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if _unsafe(value, URL_UNSAFE):
        return "holds %s, which the chart puts unquoted into a connection URL" % _unsafe(value, URL_UNSAFE)
    return None


def check_secret(value):
    return _secret_string(value)


def check_gateway_token(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if len(value) < 8:
        return "is %d characters; JupyterHub takes API tokens of at least 8 (make one with openssl rand -hex 32)" % len(value)
    if value != value.strip() or any(c.isspace() for c in value):
        return "holds whitespace; a token must be one word"
    return None


def check_superset_password(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if value.strip().lower() == "admin":
        return "is the public default 'admin'; give another (or leave it empty to generate one)"
    if value != value.strip():
        return "starts or ends with whitespace"
    return None


def check_superset_secret_key(value):
    bad = _secret_string(value)
    if bad or value == "":
        return bad
    if value in SUPERSET_DEFAULT_KEYS:
        return "is a SECRET_KEY published with Superset or its chart, which Superset refuses (make one with openssl rand -base64 42)"
    return None


def check_user_name(value):
    bad = _not_string(value)
    if bad:
        return bad
    if not USER_NAME_RE.match(value):
        return "%s may hold letters, digits, '.', '_' and '-' only" % _show(value)
    return None


def check_email(value):
    bad = _not_string(value)
    if bad:
        return bad
    if not EMAIL_RE.match(value):
        return "%s is not an e-mail address" % _show(value)
    return None


def check_nonempty(value):
    bad = _not_string(value)
    if bad:
        return bad
    return "is empty" if not value.strip() else None


def check_drill_plugin(value):
    bad = _not_string(value)
    if bad:
        return bad
    if not DRILL_PLUGIN_RE.match(value):
        return "%s must be lowercase letters, digits and _, starting with a letter" % _show(value)
    return None


def check_pip_requirement(value):
    bad = _not_string(value)
    if bad:
        return bad
    if not PIP_REQUIREMENT_RE.match(value) or value.strip() == "":
        return "%s is not a pip requirement (name[==version])" % _show(value)
    return None


def check_admin_users(value):
    if isinstance(value, str):
        return "is a string, not a list: write [%s]" % value
    if not isinstance(value, list):
        return "is %s (%s), not a list of user names" % (_kind(value), _show(value))
    for name in value:
        if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
            return "holds %s, which is not a user name (a non-empty word)" % _show(name)
    if len(set(value)) != len(value):
        return "names a user twice"
    return None


def check_release_name(value, allow_empty=False):
    if allow_empty and value == "":
        return None
    return check_dns_label(value, maximum=53, what="a helm release name")


def check_user_deployments(value):
    if isinstance(value, dict):
        return "is a dict, not a list: put each deployment in a list item (- name: ...)"
    if isinstance(value, str):
        return "is a string, not a list of deployments"
    if not isinstance(value, list):
        return "is %s, not a list of deployments" % _kind(value)
    names = []
    for index, entry in enumerate(value):
        where = "entry %d" % (index + 1)
        if not isinstance(entry, dict):
            return "%s is %s, not a dict with name, image, dagsterApiGrpcArgs and port" % (where, _kind(entry))
        name = entry.get("name")
        if check_dns_label(name, maximum=40):
            return "%s: name %s is not a DNS label of at most 40 characters" % (where, _show(name))
        where = "entry %s" % name
        names.append(name)
        image = entry.get("image")
        if not isinstance(image, dict):
            return "%s: image must be a dict with repository (and tag), not %s" % (where, _kind(image))
        repository = image.get("repository")
        if not isinstance(repository, str) or not repository or ":" in repository.rsplit("/", 1)[-1] or "://" in repository:
            return "%s: image.repository must be an image name without tag, not %s" % (where, _show(repository))
        if "tag" in image and not (isinstance(image["tag"], str) and TAG_RE.match(image["tag"])):
            return "%s: image.tag %s must be a quoted tag" % (where, _show(image["tag"]))
        args = entry.get("dagsterApiGrpcArgs", entry.get("codeServerArgs"))
        if not (isinstance(args, list) and args and all(isinstance(a, str) for a in args)):
            return "%s: dagsterApiGrpcArgs (or codeServerArgs) must be a list of strings, not %s" % (where, _show(args))
        port = entry.get("port")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            return "%s: port must be a number from 1 to 65535, not %s" % (where, _show(port))
    if len(set(names)) != len(names):
        return "names a deployment twice"
    return None


def check_components(value):
    if isinstance(value, str):
        return "is a string, not a list: write [%s]" % ", ".join(p.strip() for p in value.split(",") if p.strip())
    if not isinstance(value, list):
        return "is %s (%s), not a list" % (_kind(value), _show(value))
    unknown = [c for c in value if c not in KNOWN_COMPONENTS]
    if unknown:
        return "holds unknown components %s; valid ones are %s" % (_show(unknown), ", ".join(KNOWN_COMPONENTS))
    if len(set(value)) != len(value):
        return "names a component twice"
    return None


def check_purge(value):
    bad = check_dict(value)
    if bad:
        return bad
    unknown = [c for c in value if c not in KNOWN_COMPONENTS]
    if unknown:
        return "names unknown components %s; valid ones are %s" % (_show(unknown), ", ".join(KNOWN_COMPONENTS))
    for component, kinds in value.items():
        if isinstance(kinds, str):
            return "%s is a string, not a list: write %s: [%s]" % (component, component, kinds)
        if not isinstance(kinds, list) or not kinds:
            return "%s is %s (%s), not a list of what may go (%s)" % (component, _kind(kinds), _show(kinds), ", ".join(PURGE_KINDS))
        wrong = [k for k in kinds if k not in PURGE_KINDS]
        if wrong:
            return "%s holds unknown kinds %s; valid ones are %s" % (component, _show(wrong), ", ".join(PURGE_KINDS))
    return None


def _purge_problems(inputs, failed):
    """magasin_purge goes with magasin_state: absent, the selected components, and a confirmation naming the realm."""
    purge = inputs.get("magasin_purge") or {}
    if "magasin_purge" in failed or not isinstance(purge, dict) or not purge:
        return []
    example = "{%s}" % ", ".join("%s: [%s]" % (c, ", ".join(k)) for c, k in purge.items())
    if inputs.get("magasin_state", "present") != "absent":
        return [problem("magasin_purge", "is set but magasin_state is %s: a purge deletes, for good, what an uninstall keeps; "
                        "run it with magasin_state: absent (or leave magasin_purge empty)" % _show(inputs.get("magasin_state", "present")),
                        "{}")]
    components = inputs.get("magasin_components", KNOWN_COMPONENTS)
    if "magasin_components" not in failed and isinstance(components, (list, tuple)):
        unselected = [c for c in purge if c not in components]
        if unselected:
            return [problem("magasin_purge", "names %s, which magasin_components does not select (a purge follows the "
                            "uninstall of a selected component)" % _show(unselected), example)]
    realm = inputs.get("magasin_realm") or "magasin"
    confirm = inputs.get("magasin_purge_confirm") or ""
    if "magasin_realm" not in failed and "magasin_purge_confirm" not in failed and confirm != realm:
        what = "; ".join("%s: %s" % (c, ", ".join(k)) for c, k in purge.items())
        return [problem("magasin_purge_confirm", "%s, so nothing is deleted: magasin_purge deletes for good, in realm %s, %s; "
                        "to confirm, set it to the realm's name" % ("is empty" if not confirm else "is %s, not the realm's name" % _show(confirm),
                                                                    _show(realm), what), realm)]
    return []


def check_profile(value):
    bad = _not_string(value)
    if bad:
        return bad
    return None if value in KNOWN_PROFILES else "%s is unknown; valid: %s" % (_show(value), ", ".join(KNOWN_PROFILES))


def check_binary(value):
    bad = _not_string(value)
    if bad or value == "":
        return bad
    if "/" in value:
        if not os.path.isfile(value) or not os.access(value, os.X_OK):
            return "%s is not an executable file on the controller" % _show(value)
    elif not shutil.which(value):
        return "%s is not found on the controller's PATH" % _show(value)
    return None


def check_path(value):
    return _not_string(value)


def check_charts_dir(value):
    bad = _not_string(value)
    if bad or value == "":
        return bad
    if not os.path.isdir(value):
        return "%s is not a directory on the controller (give an absolute path)" % _show(value)
    return None


def check_sizing(value):
    """magasin_sizing: {component: {workload: {replicas, requests, limits, size, ...}}}."""
    if not isinstance(value, dict):
        return check_dict(value)
    for component, workloads in value.items():
        if component not in SIZING_WORKLOADS:
            return "names unknown component %s; valid: %s" % (_show(component), ", ".join(KNOWN_COMPONENTS))
        if not isinstance(workloads, dict):
            return "%s must be a dict of workloads, not %s" % (component, _kind(workloads))
        for workload, spec in workloads.items():
            where = "%s.%s" % (component, workload)
            if workload not in SIZING_WORKLOADS[component]:
                return "names unknown workload %s; %s has %s" % (where, component, ", ".join(SIZING_WORKLOADS[component]))
            if not isinstance(spec, dict):
                return "%s must be a dict (replicas, requests, limits, size), not %s" % (where, _kind(spec))
            bad = _check_workload(where, spec)
            if bad:
                return bad
    return None


def check_operator_sizing(value):
    """minio_operator_sizing: {operator|console: {replicas, requests, limits}}, cluster-level."""
    if not isinstance(value, dict):
        return check_dict(value)
    for workload, spec in value.items():
        if workload not in OPERATOR_WORKLOADS:
            return "names unknown workload %s; valid: %s" % (_show(workload), ", ".join(OPERATOR_WORKLOADS))
        if not isinstance(spec, dict):
            return "%s must be a dict (replicas, requests, limits), not %s" % (workload, _kind(spec))
        bad = _check_workload(workload, spec)
        if bad:
            return bad
    return None


def _check_workload(where, spec):
    for key, item in spec.items():
        kind = SIZING_KEYS.get(key)
        if kind is None:
            return "%s.%s is not a sizing key; valid: %s" % (where, key, ", ".join(sorted(SIZING_KEYS)))
        if kind in ("count", "positive"):
            if isinstance(item, bool) or not isinstance(item, int) or item < (1 if kind == "positive" else 0):
                return "%s.%s must be a whole number%s, not %s" % (where, key, " from 1" if kind == "positive" else " from 0", _show(item))
        elif kind == "memory":
            bad = _check_quantity(item, memory=True)
            if bad:
                return "%s.%s %s" % (where, key, bad)
        else:
            if not isinstance(item, dict):
                return "%s.%s must be a dict of cpu and memory, not %s" % (where, key, _kind(item))
            for resource, quantity in item.items():
                if resource not in ("cpu", "memory"):
                    return "%s.%s.%s is not a resource; valid: cpu, memory" % (where, key, resource)
                bad = _check_quantity(quantity, memory=resource == "memory")
                if bad:
                    return "%s.%s.%s %s" % (where, key, resource, bad)
    requests, limits = spec.get("requests") or {}, spec.get("limits") or {}
    for resource in ("cpu", "memory"):
        if resource in requests and resource in limits and parse_quantity(requests[resource]) > parse_quantity(limits[resource]):
            return "%s: requests.%s %s is above limits.%s %s" % (where, resource, requests[resource], resource, limits[resource])
    return None


def _check_quantity(value, memory):
    try:
        number = parse_quantity(value)
    except ValueError:
        return "%s is not a Kubernetes quantity (e.g. %s)" % (_show(value), "512Mi, 2Gi" if memory else "500m, 2")
    if number < 0:
        return "%s is negative" % _show(value)
    if memory and isinstance(value, str) and value.endswith("m"):
        return "%s is in thousandths of a byte; did you mean %si?" % (_show(value), value[:-1] + "M")
    return None


# ---------------------------------------------------------------- the inventory

GLOBAL_RULES = (
    ("magasin_components", check_components, "[minio, drill, superset]"),
    ("magasin_realm", check_realm, "magasin-dev"),
    ("magasin_profile", check_profile, "small"),
    ("magasin_state", check_state, "present"),
    ("magasin_charts_dir", check_charts_dir, "/srv/charts/magasin"),
    ("magasin_chart_repo", lambda v: None if v == "" else check_url(v, schemes=("http", "https", "oci")), "https://unicef.github.io/magasin"),
    ("magasin_image_registry", check_registry, "registry.example.org/magasin"),
    ("magasin_offline", check_bool, "true"),
    ("magasin_storage_class", lambda v: None if v == "" else check_dns_subdomain(v, "a StorageClass name"), "standard"),
    ("magasin_ingress_class", lambda v: None if v == "" else check_dns_subdomain(v, "an IngressClass name"), "nginx"),
    ("magasin_kubeconfig", check_path, "~/.kube/config"),
    ("magasin_context", check_string, "my-cluster"),
    ("magasin_helm_binary", check_binary, "/usr/local/bin/helm"),
    ("magasin_kubectl_binary", check_binary, "/usr/local/bin/kubectl"),
    ("magasin_bucket", check_bucket, "magasin"),
    ("magasin_s3_endpoint", lambda v: None if v == "" else check_url(v, path=False), "https://s3.example.org"),
    ("magasin_s3_access_key", check_secret, "<from a vault>"),
    ("magasin_s3_secret_key", check_secret, "<from a vault>"),
    ("magasin_timeout", check_duration, "10m"),
    ("magasin_check_cluster_fit", check_bool, "true"),
    ("magasin_network_policies", check_bool, "false"),
    ("magasin_ingress_namespace", lambda v: None if v == "" else check_dns_label(v, what="a namespace name"), "ingress-nginx"),
    ("magasin_sizing", check_sizing, "{drill: {drillbit: {replicas: 2, requests: {cpu: '1', memory: 4Gi}}}}"),
    ("magasin_purge", check_purge, "{superset: [volumes, credentials], daskhub: [namespace]}"),
    ("magasin_purge_confirm", check_string, "magasin"),
)


def _run_rules(rules, inputs):
    problems = []
    for variable, check, example in rules:
        if variable not in inputs:
            continue
        value = inputs[variable]
        message = check(value)
        if message:
            problems.append(problem(variable, message, example(value) if callable(example) else example))
    return problems


def validate_globals(inputs):
    """Problems with the magasin_* variables (those absent from inputs take their defaults)."""
    problems = _run_rules(GLOBAL_RULES, inputs)
    failed = {p["variable"] for p in problems}
    endpoint = inputs.get("magasin_s3_endpoint") or ""
    if "magasin_s3_endpoint" not in failed and isinstance(endpoint, str) and endpoint:
        for key in ("magasin_s3_access_key", "magasin_s3_secret_key"):
            if key not in failed and not inputs.get(key):
                problems.append(problem(key, "is empty, but magasin_s3_endpoint %s needs it (from a vault)" % endpoint,
                                        "<from a vault>"))
    if not inputs.get("magasin_chart_repo") and not inputs.get("magasin_charts_dir") and "magasin_chart_repo" in inputs:
        problems.append(problem("magasin_chart_repo", "is empty and so is magasin_charts_dir: the charts come from nowhere",
                                "https://unicef.github.io/magasin"))
    problems.extend(offline_problems(inputs, failed))
    problems.extend(_purge_problems(inputs, failed))
    # The charts' sources, which the preflight resolves for every selected component at once.
    problems.extend(_all_chart_problems(KNOWN_COMPONENTS, inputs))
    # The ingress hosts, which the cluster check reads before the component roles check them.
    examples = dict((variable, example) for rules in COMPONENT_RULES.values() for variable, check, example in rules
                    if check is check_host)
    for variable, host in _hosts(inputs):
        message = check_host(host) if variable in examples else None
        if message:
            problems.append(problem(variable, message, examples[variable](host)))
    return problems


def _state_rule(component):
    return ("%s_state" % component, check_state, "present")


def _values_rule(variable):
    return (variable, check_dict, "{}")


COMPONENT_RULES = {
    "minio": (
        ("minio_operator_namespace", lambda v: check_dns_label(v, what="a namespace name"), "magasin-operator"),
        ("minio_operator_release", check_release_name, "operator"),
        _values_rule("minio_operator_values"),
        ("minio_tenant_name", lambda v: check_dns_label(v, maximum=42, what="a Tenant name"), "myminio"),
        _values_rule("minio_tenant_values"),
        ("minio_console_enabled", check_bool, "true"),
        ("minio_api_host", check_host, _host_example("s3.example.org")),
        ("minio_console_host", check_host, _host_example("minio-console.example.org")),
        ("minio_root_user", check_minio_root_user, "<3 characters or more, from a vault>"),
        ("minio_root_password", check_minio_root_password, "<8 characters or more, from a vault>"),
        ("minio_mc_image", check_image, "quay.io/minio/mc:RELEASE.2023-11-20T16-30-59Z"),
        ("minio_operator_sizing", check_operator_sizing, "{operator: {replicas: 1, requests: {cpu: 100m, memory: 128Mi}}}"),
    ),
    "drill": (
        ("drill_s3_plugin", check_drill_plugin, "s3"),
        _values_rule("drill_values"),
    ),
    "dagster": (
        ("dagster_skip_schema_validation", check_bool, "true"),
        ("dagster_user_deployments", check_user_deployments,
         "[{name: etl, image: {repository: registry.example.org/etl, tag: '1.0'}, "
         "dagsterApiGrpcArgs: [--module-name, etl], port: 3030}]"),
        ("dagster_postgresql_password", check_secret, "<from a vault>"),
        ("dagster_webserver_host", check_host, _host_example("dagster.example.org")),
        _values_rule("dagster_values"),
    ),
    "daskhub": (
        ("daskhub_release", lambda v: check_release_name(v, allow_empty=True) if isinstance(v, str) and len(v) <= 40
         else (check_string(v) or "%s is longer than 40 characters" % _show(v)), "daskhub-dev"),
        ("daskhub_notebook_password", check_secret, "<from a vault>"),
        ("daskhub_gateway_api_token", check_gateway_token, "<openssl rand -hex 32, from a vault>"),
        ("daskhub_admin_users", check_admin_users, "[admin, alice]"),
        ("daskhub_host", check_host, _host_example("jupyter.example.org")),
        _values_rule("daskhub_values"),
    ),
    "superset": (
        ("superset_admin_user", check_user_name, "admin"),
        ("superset_admin_email", check_email, "admin@example.org"),
        ("superset_admin_password", check_superset_password, "<anything but admin, from a vault>"),
        ("superset_secret_key", check_superset_secret_key, "<openssl rand -base64 42, from a vault>"),
        ("superset_postgresql_password", check_url_password, "<letters, digits, - and _ only, from a vault>"),
        ("superset_redis_password", check_url_password, "<letters, digits, - and _ only, from a vault>"),
        ("superset_drill_database_name", check_nonempty, "Drill"),
        ("superset_drill_schema", check_drill_plugin, "s3"),
        ("superset_drill_driver", check_pip_requirement, "sqlalchemy-drill==1.1.5"),
        ("superset_pip_index_url", lambda v: None if v == "" else check_url(v) or (
            "holds a quote, which the bootstrap script cannot take" if "'" in v else None),
         "https://pypi.site.example.org/simple"),
        ("superset_host", check_host, _host_example("superset.example.org")),
        _values_rule("superset_values"),
    ),
}


def _chart_problems(prefix, default_version, inputs):
    """The form of one chart's <prefix>_version, _repo and _ref (empty: pinned, magasin_chart_repo, none)."""
    problems = []
    version_var, repo_var, ref_var = prefix + "_version", prefix + "_repo", prefix + "_ref"
    if version_var in inputs:
        message = check_chart_version(inputs[version_var])
        if message:
            problems.append(problem(version_var, message, default_version))
    if repo_var in inputs and inputs[repo_var] != "":
        message = check_url(inputs[repo_var], schemes=("http", "https", "oci"))
        if message:
            problems.append(problem(repo_var, message, "https://unicef.github.io/magasin"))
    if ref_var in inputs:
        message = check_chart_ref(inputs[ref_var])
        if message:
            chart = prefix[:-len("_chart")].split("_")[-1]
            problems.append(problem(ref_var, message, "oci://registry.example.org/charts/%s" % chart))
    return problems


def _all_chart_problems(components, inputs):
    problems = []
    for component in components:
        for prefix, version in CHARTS.get(component, ()):
            problems.extend(_chart_problems(prefix, version, inputs))
    return problems


def offline_problems(inputs, failed=()):
    """An offline site (magasin_offline) names the registry every image comes from and a chart source inside the site."""
    if "magasin_offline" in failed or not as_bool(inputs.get("magasin_offline", False)):
        return []
    registry = inputs.get("magasin_image_registry") or ""
    problems = []
    if not registry and "magasin_image_registry" not in failed:
        problems.append(problem("magasin_image_registry", "is empty, but magasin_offline needs the site registry every "
                                "image comes from (playbooks/mirror.yml fills it)", "registry.site.example.org/magasin"))
    repo = inputs.get("magasin_chart_repo") or ""
    if not inputs.get("magasin_charts_dir") and isinstance(repo, str) and not repo.startswith("oci://"):
        problems.append(problem("magasin_chart_repo", "is %s, which an offline site cannot reach: install from the site "
                                "registry (oci://<site registry>/charts, where playbooks/mirror.yml pushes them) or "
                                "magasin_charts_dir" % _show(repo), "oci://%s/charts" % (registry or "registry.site.example.org/magasin")))
    return problems


def _offline_component_problems(component, inputs, globals_):
    if component != "superset" or not as_bool((globals_ or {}).get("magasin_offline", False)):
        return []
    if inputs.get("superset_pip_index_url"):
        return []
    return [problem("superset_pip_index_url", "is empty, but magasin_offline is on: Superset pip installs its Drill and "
                    "PostgreSQL drivers at start-up, and PyPI is out of reach; name the site's package index",
                    "https://pypi.site.example.org/simple")]


def validate_component(component, inputs, globals_):
    """Problems with one role's variables (given with their prefix), in the light of the globals."""
    return _validate_component(component, inputs, globals_) + _offline_component_problems(component, inputs, globals_)


def _validate_component(component, inputs, globals_):
    if component not in COMPONENT_RULES:
        return [problem("magasin_components", "holds unknown component %s" % _show(component), "[minio, drill]")]
    # The charts' sources are checked with the globals.
    problems = _run_rules((_state_rule(component),) + COMPONENT_RULES[component], inputs)
    problems.extend(_all_chart_problems([component], inputs))
    if component == "minio":
        problems.extend(minio_content_problems(inputs, globals_))
        api, console = inputs.get("minio_api_host"), inputs.get("minio_console_host")
        if api and api == console:
            problems.append(problem("minio_console_host", "is the same host as minio_api_host; each ingress needs its own",
                                    "minio-console.example.org"))
    return problems


# ---------------------------------------------------------------- the MinIO content (minio role)

POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=@+-]{0,127}$")
POLICY_ACTION_RE = re.compile(r"^(s3|admin|kms|sts):[A-Za-z0-9*]+$")
BUCKET_KEYS = ("name", "state", "versioning", "quota", "object_lock", "purge")
STATEMENT_KEYS = ("Sid", "Effect", "Principal", "Action", "NotAction", "Resource", "NotResource", "Condition")
USER_KEYS = ("policies", "state")
BUCKET_EXAMPLE = "[{name: raw, versioning: true, quota: 100GiB}, {name: old-exports, state: absent}]"
POLICY_EXAMPLE = ("{raw-read: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: ['s3:GetObject', "
                  "'s3:ListBucket'], Resource: ['arn:aws:s3:::raw', 'arn:aws:s3:::raw/*']}]}, old-policy: {state: absent}}")
USER_EXAMPLE = "{analyst: [raw-read], etl: {policies: [readwrite]}, former: {state: absent}}"


def _strings(value):
    return [value] if isinstance(value, str) else value if isinstance(value, list) else None


def check_policy_document(document):
    """A MinIO (IAM-style) policy document: Version 2012-10-17 and a list of statements, each with an
    Effect, Actions of s3:/admin:/kms:/sts: and, for s3 actions, arn:aws:s3::: Resources. Message or None."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError as exc:
            return "is a string that is not JSON (%s): write the document as YAML" % exc
    if not isinstance(document, dict):
        return "is %s, not a policy document (Version, Statement)" % _kind(document)
    unknown = sorted(set(document) - {"Version", "Statement", "Id"})
    if unknown:
        return "has keys %s; a policy document has Version, Statement (and Id)" % _show(unknown)
    if document.get("Version") != "2012-10-17":
        return "has Version %s; MinIO reads '2012-10-17' (quote it)" % _show(document.get("Version"))
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not statements:
        return "has no Statement list"
    for number, statement in enumerate(statements, 1):
        where = "Statement %d" % number
        if not isinstance(statement, dict):
            return "%s is %s, not a mapping" % (where, _kind(statement))
        unknown = sorted(set(statement) - set(STATEMENT_KEYS))
        if unknown:
            return "%s has keys %s; a statement has %s" % (where, _show(unknown), ", ".join(STATEMENT_KEYS))
        if statement.get("Effect") not in ("Allow", "Deny"):
            return "%s has Effect %s, not Allow or Deny" % (where, _show(statement.get("Effect")))
        actions = _strings(statement.get("Action", statement.get("NotAction")))
        if not actions or not all(isinstance(a, str) and POLICY_ACTION_RE.match(a) for a in actions):
            return ("%s has Action %s: a list of actions such as s3:GetObject, s3:* or admin:ServerInfo"
                    % (where, _show(statement.get("Action", statement.get("NotAction")))))
        resources = _strings(statement.get("Resource", statement.get("NotResource")))
        if resources is None and any(a.startswith("s3:") for a in actions):
            return "%s has s3 actions but no Resource: name the buckets, arn:aws:s3:::raw and arn:aws:s3:::raw/*" % where
        if resources is not None and not all(isinstance(r, str) and r.startswith("arn:") for r in resources):
            return "%s has Resource %s: ARNs such as arn:aws:s3:::raw/*" % (where, _show(resources))
        if "Condition" in statement and not isinstance(statement["Condition"], dict):
            return "%s has a Condition that is %s, not a mapping" % (where, _kind(statement["Condition"]))
    return None


def _bucket_problems(buckets, realm_bucket):
    var = "minio_buckets"
    if not isinstance(buckets, list):
        return [problem(var, "is %s (%s), not a list of buckets" % (_kind(buckets), _show(buckets)), BUCKET_EXAMPLE)]
    problems, seen = [], set()
    for number, entry in enumerate(buckets, 1):
        where = "entry %d" % number
        if not isinstance(entry, dict) or "name" not in entry:
            problems.append(problem(var, "%s is %s, not a mapping with a name" % (where, _show(entry)), BUCKET_EXAMPLE))
            continue
        name = entry["name"]
        message = check_bucket(name)
        if message:
            problems.append(problem(var, "%s: name %s" % (where, message), BUCKET_EXAMPLE))
            continue
        where = "bucket %s" % name
        if name in seen:
            problems.append(problem(var, "%s is listed twice: one entry per bucket" % where, BUCKET_EXAMPLE))
        seen.add(name)
        unknown = sorted(set(entry) - set(BUCKET_KEYS))
        if unknown:
            problems.append(problem(var, "%s has keys %s; a bucket has %s" % (where, _show(unknown), ", ".join(BUCKET_KEYS)),
                                    BUCKET_EXAMPLE))
        state = entry.get("state", "present")
        message = check_state(state)
        if message:
            problems.append(problem(var, "%s: state %s" % (where, message), BUCKET_EXAMPLE))
        for key in ("versioning", "object_lock", "purge"):
            if entry.get(key) is not None and check_bool(entry[key]):
                problems.append(problem(var, "%s: %s %s" % (where, key, check_bool(entry[key])), BUCKET_EXAMPLE))
        if entry.get("quota") not in (None, "", 0):
            try:
                parse_size(entry["quota"])
            except ValueError:
                problems.append(problem(var, "%s: quota %s is not a size such as 500MiB, 100GiB or 2TB (empty for none)"
                                        % (where, _show(entry["quota"])), BUCKET_EXAMPLE))
        lock = entry.get("object_lock") is not None and not check_bool(entry["object_lock"]) and as_bool(entry["object_lock"])
        if lock and entry.get("versioning") is not None and not check_bool(entry["versioning"]) \
                and not as_bool(entry["versioning"]):
            problems.append(problem(var, "%s has object_lock with versioning false: object lock needs versioning; "
                                    "set versioning: true" % where, BUCKET_EXAMPLE))
        if name == realm_bucket and state == "absent":
            problems.append(problem(var, "%s is magasin_bucket, the realm's bucket, which the consumers use: it cannot be "
                                    "removed here (remove the entry, or uninstall the realm)" % where, BUCKET_EXAMPLE))
        if name == realm_bucket and lock:
            problems.append(problem(var, "%s is magasin_bucket, which the tenant creates without object lock, and MinIO sets "
                                    "object lock only when a bucket is created: put locked data in a new bucket" % where,
                                    BUCKET_EXAMPLE))
        if entry.get("purge") is not None and not check_bool(entry["purge"]) and as_bool(entry["purge"]) \
                and state != "absent":
            problems.append(problem(var, "%s has purge without state: absent; purge only says that a removal may delete "
                                    "the bucket's objects" % where, BUCKET_EXAMPLE))
    return problems


def _policy_problems(policies, realm_bucket):
    var = "minio_policies"
    message = check_dict(policies)
    if message:
        return [problem(var, message, POLICY_EXAMPLE)]
    problems = []
    reserved = set(CANNED_POLICIES) | set(builtin_policies(realm_bucket))
    for name, spec in policies.items():
        if not isinstance(name, str) or not POLICY_NAME_RE.match(name):
            problems.append(problem(var, "policy name %s is not a MinIO policy name: letters, digits and _ . = @ + -, "
                                    "starting with a letter or digit, 128 at most" % _show(name), POLICY_EXAMPLE))
            continue
        if name in reserved:
            problems.append(problem(var, "policy %s is one of MinIO's own or the collection's (%s): choose another name"
                                    % (name, ", ".join(sorted(reserved))), POLICY_EXAMPLE))
            continue
        if isinstance(spec, dict) and "state" in spec:
            if set(spec) != {"state"} or spec["state"] != "absent":
                problems.append(problem(var, "policy %s has a state: write {state: absent} alone to remove it, or give its "
                                        "document (without state) to keep it" % name, POLICY_EXAMPLE))
            continue
        message = check_policy_document(spec)
        if message:
            problems.append(problem(var, "policy %s %s" % (name, message), POLICY_EXAMPLE))
    return problems


def _user_problems(users, policies, realm_bucket, rotate):
    var = "minio_users"
    message = check_dict(users)
    if message:
        return [problem(var, message, USER_EXAMPLE)]
    problems = []
    policies = policies if isinstance(policies, dict) else {}
    absent = set(n for n, s in policies.items() if isinstance(s, dict) and s.get("state") == "absent")
    known = (set(policies) - absent) | set(CANNED_POLICIES) | set(builtin_policies(realm_bucket))
    present_users = set()
    for name, spec in users.items():
        message = check_dns_label(name, what="a user name")
        if message:
            problems.append(problem(var, "user %s" % message, USER_EXAMPLE))
            continue
        if name in builtin_users():
            problems.append(problem(var, "user %s is a consumer's own user (%s): choose another name"
                                    % (name, ", ".join(builtin_users())), USER_EXAMPLE))
            continue
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - set(USER_KEYS))
            if unknown:
                problems.append(problem(var, "user %s has keys %s; a user has policies and state" % (name, _show(unknown)),
                                        USER_EXAMPLE))
                continue
            state = spec.get("state", "present")
            message = check_state(state)
            if message:
                problems.append(problem(var, "user %s: state %s" % (name, message), USER_EXAMPLE))
                continue
            named = spec.get("policies") or []
        elif isinstance(spec, list):
            state, named = "present", spec
        else:
            problems.append(problem(var, "user %s is %s (%s), not a list of policies or {policies, state}"
                                    % (name, _kind(spec), _show(spec)), USER_EXAMPLE))
            continue
        named = [named] if isinstance(named, str) else named
        if not isinstance(named, list) or not all(isinstance(p, str) for p in named):
            problems.append(problem(var, "user %s: policies is %s, not a list of policy names" % (name, _show(named)),
                                    USER_EXAMPLE))
            continue
        if state == "present":
            present_users.add(name)
            for policy in named:
                if policy in absent:
                    problems.append(problem(var, "user %s has policy %s, which minio_policies removes (state: absent): "
                                            "take it from the user, or keep the policy" % (name, policy), USER_EXAMPLE))
                elif policy not in known:
                    problems.append(problem(var, "user %s has policy %s, which minio_policies does not declare and MinIO does "
                                            "not have (%s): declare it in minio_policies, or fix the name"
                                            % (name, policy, ", ".join(sorted(known))), USER_EXAMPLE))
    if not isinstance(rotate, list):
        problems.append(problem("minio_rotate_keys", "is %s, not a list of user names" % _kind(rotate), "[analyst]"))
    else:
        for name in rotate:
            if name not in present_users:
                problems.append(problem("minio_rotate_keys", "names %s, which is not a present user of minio_users: the "
                                        "consumers' own users are not rotated here" % _show(name),
                                        "[%s]" % ", ".join(sorted(present_users)) if present_users else "[]"))
    return problems


def minio_content_problems(inputs, globals_):
    """Problems with minio_buckets, minio_policies, minio_users and minio_rotate_keys."""
    realm_bucket = (globals_ or {}).get("magasin_bucket") or "magasin"
    return (_bucket_problems(inputs.get("minio_buckets") or [], realm_bucket)
            + _policy_problems(inputs.get("minio_policies") or {}, realm_bucket)
            + _user_problems(inputs.get("minio_users") or {}, inputs.get("minio_policies") or {}, realm_bucket,
                             inputs.get("minio_rotate_keys") or []))


# ---------------------------------------------------------------- the cluster

def _hosts(globals_):
    """[(variable or None, host)] from globals_["hosts"]: {variable: host}, [{variable, host}] or [host]."""
    hosts = globals_.get("hosts") or []
    if isinstance(hosts, dict):
        return [(k, v) for k, v in hosts.items() if v]
    result = []
    for item in hosts:
        if isinstance(item, dict):
            if item.get("host"):
                result.append((item.get("variable") or "host", item["host"]))
        elif item:
            result.append((None, item))
    return result


def validate_cluster(globals_, observed):
    """Problems between the inventory and the cluster realm_info observed."""
    if globals_.get("magasin_state", "present") == "absent":
        return []
    problems = []
    observed = observed or {}
    cluster = observed.get("cluster") or {}
    target = "magasin_context"
    version = kube_version(cluster.get("version"))
    if version is not None and version < MIN_KUBERNETES:
        charts = ", ".join("%s >= %d.%d" % (c, v[0], v[1]) for c, v in sorted(CHART_KUBE_VERSIONS.items()))
        problems.append(problem(
            target, "the cluster runs Kubernetes %d.%d; the collection supports %d.%d or later (charts' kubeVersion: %s)"
            % (version[0], version[1], MIN_KUBERNETES[0], MIN_KUBERNETES[1], charts),
            "<context of a Kubernetes %d.%d or later cluster>" % MIN_KUBERNETES))
    nodes = cluster.get("nodes")
    if nodes is not None:
        ready = [n for n in nodes if n.get("ready") and n.get("schedulable", True)]
        arches = sorted({str(n.get("arch") or n.get("architecture") or "?") for n in ready})
        if not ready:
            problems.append(problem(target, "the cluster has no ready, schedulable node", "<context of a cluster with ready nodes>"))
        elif not set(arches) & set(IMAGE_ARCHITECTURES):
            problems.append(problem(
                target, "the cluster's ready nodes are %s; the images exist for %s only" % (", ".join(arches), ", ".join(IMAGE_ARCHITECTURES)),
                "<context of a cluster with amd64 or arm64 nodes>"))

    if globals_.get("magasin_components", KNOWN_COMPONENTS):
        classes = [c.get("name") for c in observed.get("storage_classes") or []]
        wanted = globals_.get("magasin_storage_class") or ""
        default = observed.get("default_storage_class") or next(
            (c.get("name") for c in observed.get("storage_classes") or [] if c.get("default")), "")
        if wanted and wanted not in classes:
            problems.append(problem(
                "magasin_storage_class", "StorageClass %s does not exist in the cluster; it has %s" % (
                    _show(wanted), ", ".join(classes) if classes else "none"), classes[0] if classes else "standard"))
        elif not wanted and not default:
            problems.append(problem(
                "magasin_storage_class", "is empty and the cluster has no default StorageClass; name one of %s" % (
                    ", ".join(classes) if classes else "its classes (it has none: install a provisioner first)"),
                classes[0] if classes else "standard"))

    hosts = _hosts(globals_)
    if hosts:
        ingress = observed.get("ingress_classes") or []
        names = [c.get("name") for c in ingress]
        wanted = globals_.get("magasin_ingress_class") or ""
        users = ", ".join(sorted({var or "the ingress host %s" % host for var, host in hosts}))
        if wanted and wanted not in names:
            problems.append(problem(
                "magasin_ingress_class", "IngressClass %s does not exist in the cluster (wanted by %s); it has %s" % (
                    _show(wanted), users, ", ".join(names) if names else "none"), names[0] if names else "nginx"))
        elif not wanted and not any(c.get("default") for c in ingress):
            problems.append(problem(
                "magasin_ingress_class", "is empty, %s is set and the cluster has no default IngressClass; name one of %s" % (
                    users, ", ".join(names) if names else "its classes (it has none: install an ingress controller)"),
                names[0] if names else "nginx"))
    return problems


def validate_kubeconfig(variable, path, context, text):
    """Problems with the kubeconfig file at path (its text, None when missing or unreadable) and the context."""
    shown = path or "(empty)"
    if text is None:
        return [problem(variable, "the file %s does not exist or cannot be read" % shown, "~/.kube/config")]
    data = None
    try:
        data = json.loads(text)
    except ValueError:
        if yaml is not None:
            try:
                data = yaml.safe_load(text)
            except yaml.YAMLError:
                data = None
    if not isinstance(data, dict) or not isinstance(data.get("contexts", []), list):
        return [problem(variable, "%s is not a kubeconfig (YAML or JSON with clusters, contexts and users)" % shown, "~/.kube/config")]
    contexts = {c.get("name"): c.get("context") or {} for c in data.get("contexts") or [] if isinstance(c, dict)}
    names = ", ".join(sorted(str(n) for n in contexts)) or "none"
    chosen = context or data.get("current-context") or ""
    if context and context not in contexts:
        return [problem("magasin_context", "context %s is not in %s; it has %s" % (_show(context), shown, names),
                        sorted(contexts)[0] if contexts else "my-cluster")]
    if not chosen:
        return [problem("magasin_context", "is empty and %s names no current-context; it has %s" % (shown, names),
                        sorted(contexts)[0] if contexts else "my-cluster")]
    if chosen not in contexts:
        return [problem("magasin_context", "%s's current-context %s is not among its contexts (%s)" % (shown, _show(chosen), names),
                        sorted(contexts)[0] if contexts else "my-cluster")]
    entry = contexts[chosen]
    clusters = {c.get("name") for c in data.get("clusters") or [] if isinstance(c, dict)}
    users = {u.get("name") for u in data.get("users") or [] if isinstance(u, dict)}
    if entry.get("cluster") not in clusters:
        return [problem(variable, "context %s names cluster %s, which %s does not define" % (_show(chosen), _show(entry.get("cluster")), shown),
                        "~/.kube/config")]
    if entry.get("user") and entry.get("user") not in users:
        return [problem(variable, "context %s names user %s, which %s does not define" % (_show(chosen), _show(entry.get("user")), shown),
                        "~/.kube/config")]
    return []


# ---------------------------------------------------------------- warnings and output

def warnings(globals_):
    """Legal but odd choices, one sentence each."""
    components = globals_.get("magasin_components")
    if not isinstance(components, list):
        return []
    endpoint = globals_.get("magasin_s3_endpoint") or ""
    result = []
    if not components:
        result.append("magasin_components is empty: this play deploys nothing")
    if "minio" not in components and not endpoint:
        for component in ("drill", "superset"):
            if component in components:
                result.append("%s is selected without an S3 source (no minio in magasin_components, no magasin_s3_endpoint): "
                              "it will have no data to query" % component)
    if "superset" in components and "drill" not in components:
        result.append("superset is selected without drill: no database is registered in Superset")
    if "minio" in components and endpoint:
        result.append("magasin_s3_endpoint is set but minio is selected: the realm's MinIO is wired, the endpoint is ignored")
    if not endpoint and (globals_.get("magasin_s3_access_key") or globals_.get("magasin_s3_secret_key")):
        result.append("magasin_s3_access_key/magasin_s3_secret_key are set without magasin_s3_endpoint: they are ignored")
    return result


def format_problems(problems):
    """One line per problem: '<variable>: <message>, e.g. <variable>: <example>'."""
    return "\n".join("%s: %s, e.g. %s: %s" % (p["variable"], p["message"], p["variable"], p["example"]) for p in problems)
