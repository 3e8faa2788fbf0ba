# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: masking of secrets in values, manifests, diffs and errors.

Two complementary rules, because either alone leaks:
- by key: a scalar under a key that looks like a password, secret, token or key is masked;
- by value: every string known to be secret (collected by the first rule, from Secret
  data, or handed in by a module) is replaced wherever it appears in text, so a password
  rendered into a ConfigMap or echoed in an error message is hidden too.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy

MASK = "********"
SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "private")
# Field names that look secret but only name or locate one.
NOT_SECRET_KEYS = frozenset(["key", "topologykey", "secretkeyref", "configmapkeyref", "existingsecret",
                             "existingsecretkey", "secretname", "secretref", "secretkeyname", "secrets",
                             "envsecrets", "extrasecretenv_from", "tokenfromsecretname", "apitokenfromsecretname",
                             "apitokenfromsecretkey", "imagepullsecrets", "configsecret"])
MIN_REDACT_LENGTH = 4


def is_secret_key(name):
    if not isinstance(name, str):
        return False
    lowered = name.lower()
    if lowered in NOT_SECRET_KEYS:
        return False
    return lowered.endswith("key") or lowered == "pass" or any(word in lowered for word in SECRET_WORDS)


def mask_values(data, secrets=None, _under_secret=False):
    """Return a copy of ``data`` with scalars under secret-looking keys masked.

    When ``secrets`` (a set) is given, every masked string is added to it.
    """
    if isinstance(data, dict):
        # An env-style entry {name: DB_PASSWORD, value: ...} keeps its secret under "value".
        named_secret = is_secret_key(data.get("name")) and "value" in data
        out = {}
        for key, value in data.items():
            under = _under_secret or is_secret_key(key) or (named_secret and key == "value")
            out[key] = mask_values(value, secrets, under)
        return out
    if isinstance(data, list):
        return [mask_values(item, secrets, _under_secret) for item in data]
    if _under_secret and data is not None and not isinstance(data, bool):
        if secrets is not None and isinstance(data, str) and len(data) >= MIN_REDACT_LENGTH:
            secrets.add(data)
        return MASK
    return data


def secret_strings(data):
    """The strings that mask_values would hide in ``data``."""
    found = set()
    mask_values(data, found)
    return found


def mask_manifest(obj, secrets=None):
    """Mask a Kubernetes object: Secret data and stringData, then secret-looking keys."""
    if not isinstance(obj, dict):
        return obj
    obj = copy.deepcopy(obj)
    if obj.get("kind") == "Secret":
        for field in ("data", "stringData"):
            values = obj.get(field)
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if secrets is not None and isinstance(value, str):
                    if len(value) >= MIN_REDACT_LENGTH:
                        secrets.add(value)
                    if field == "data":
                        try:
                            decoded = base64.b64decode(value).decode("utf-8")
                        except (ValueError, UnicodeDecodeError):
                            decoded = None
                        if decoded and len(decoded) >= MIN_REDACT_LENGTH:
                            secrets.add(decoded)
                values[key] = MASK
    return mask_values(obj, secrets)


def redact_text(text, secrets):
    """Replace every occurrence of each secret string (longest first) in text."""
    if not text or not secrets:
        return text
    for secret in sorted((s for s in secrets if s and len(s) >= MIN_REDACT_LENGTH), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
