"""Masking of secrets (module_utils/_redact.py)."""

import base64

import pytest
from ansible_collections.magasin.platform.plugins.module_utils import _redact as r


@pytest.mark.parametrize(("key", "secret"), [
    ("password", True), ("adminPassword", True), ("SECRET_KEY", True), ("apiToken", True), ("accessKey", True),
    ("MINIO_ROOT_PASSWORD", True), ("secretKey", True), ("credentials", True),
    ("key", False), ("topologyKey", False), ("existingSecret", False), ("secretKeyRef", False),
    ("replicas", False), ("image", False), ("tokenFromSecretName", False), (None, False), (3, False),
])
def test_is_secret_key(key, secret):
    assert r.is_secret_key(key) is secret


def test_mask_values_masks_subtrees_and_env_entries():
    found = set()
    masked = r.mask_values({
        "auth": {"adminPassword": "hunter22", "user": "admin"},
        "secretEnv": {"ANY": "value-1", "n": 3},
        "env": [{"name": "DB_PASSWORD", "value": "pg-pass"}, {"name": "MODE", "value": "lab"}],
        "enabled": True,
        "existingSecret": "my-secret",
    }, found)
    assert masked["auth"] == {"adminPassword": r.MASK, "user": "admin"}
    assert masked["secretEnv"] == {"ANY": r.MASK, "n": r.MASK}
    assert masked["env"] == [{"name": "DB_PASSWORD", "value": r.MASK}, {"name": "MODE", "value": "lab"}]
    assert masked["enabled"] is True and masked["existingSecret"] == "my-secret"
    assert found == {"hunter22", "value-1", "pg-pass"}


def test_mask_manifest_masks_secret_data_and_learns_values():
    found = set()
    encoded = base64.b64encode(b"s3cr3t-value").decode()
    secret = {"kind": "Secret", "metadata": {"name": "x"}, "data": {"conf": encoded},
              "stringData": {"plain": "plain-secret"}}
    masked = r.mask_manifest(secret, found)
    assert masked["data"] == {"conf": r.MASK} and masked["stringData"] == {"plain": r.MASK}
    assert {"s3cr3t-value", encoded, "plain-secret"} <= found
    assert secret["data"]["conf"] == encoded  # the input is not modified


def test_redact_text_hides_secrets_everywhere_longest_first():
    text = "url=s3://abcdef1234:abcdef12345678@minio and abc"
    assert r.redact_text(text, {"abcdef1234", "abcdef12345678", "abc"}) == \
        "url=s3://%s:%s@minio and abc" % (r.MASK, r.MASK)
    assert r.redact_text("", {"x"}) == ""
    assert r.redact_text("nothing", set()) == "nothing"
