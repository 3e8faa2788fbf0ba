"""`site.yml --check --diff` at platform level, with the real charts, once per Helm major.

On a fresh realm (`chk`) it must succeed, predict changes (changed > 0) and change nothing; on
the deployed default realm (`magasin`, shared with test_site.py) it must report changed=0 and
change nothing. Neither run may print a credential. "Nothing changed" is a snapshot of the
realm before and after: its namespaces, every release in them and the cluster's MinIO operator
(revision, status, chart), every Secret and ConfigMap in them (resourceVersion and a digest of
the data), and ClusterRoles/Bindings released into them -- scoped to the realm because the test
cluster is shared. Check mode renders with helm's server-side dry run, which the API server
validates against the real CRDs; kwok plays no part in it.
"""

from __future__ import annotations

import re

from realms import leaks, secret_strings

# A credential-looking assignment with a value that is neither masked nor a reference: what a diff must never show.
CLEAR_CREDENTIAL_RE = re.compile(
    r"""(?im)^[+\- ]?\s*["']?[\w.-]*(?:password|secret[_-]?key|secretkey|api[_-]?token|auth[_-]?token|secret_access_key)"""
    r"""["']?\s*[:=]\s*["']?(?![*]|\$|os\.|<|\{\{|VALUE_SPECIFIED|[A-Za-z]+(?:[_-][A-Za-z]+)+\b)[A-Za-z0-9+/=_-]{12,}""")


def test_check_mode_on_a_fresh_realm_changes_nothing(cluster, site_repo):
    cluster.teardown("chk")
    before = cluster.snapshot("chk")
    run = site_repo("site.yml", {"magasin_realm": "chk"}, "--check", "--diff")
    assert run.rc == 0, run.output[-8000:]
    assert run.changed > 0, "check mode on a realm that does not exist predicted no change"
    assert cluster.snapshot("chk") == before
    assert cluster.realm_namespaces("chk") == []
    # No Secret of the realm exists to grep for; nothing credential-like may show in the diffs either.
    assert cluster.secret_values("chk") == {}
    assert [m.group(0) for m in CLEAR_CREDENTIAL_RE.finditer(run.output)] == []
    assert "minio123" not in run.output


def test_check_mode_on_a_deployed_realm_reports_nothing_and_changes_nothing(default_realm: dict, cluster, site_dir):
    before = cluster.snapshot("magasin")
    secrets = cluster.secret_values("magasin")
    run = site_dir("site.yml", {}, "--check", "--diff")
    assert run.rc == 0, run.output[-8000:]
    assert run.changed == 0, run.output[-8000:]
    assert cluster.snapshot("magasin") == before
    assert leaks(run.output, sorted(secret_strings(secrets))) == []
    assert [m.group(0) for m in CLEAR_CREDENTIAL_RE.finditer(run.output)] == []
