"""The realm's least-privilege account (playbooks/access.yml), used the way AWX uses the collection (issue 15).

Realm `aw1` (minio + drill) on Helm 4 (Helm 3 with MAGASIN_HELM=3: the rights do not depend on the major):
1. access.yml, run with the admin kubeconfig, makes the ServiceAccount default/magasin-aw1, its rights and a token
   kubeconfig (mode 0600); a second run changes nothing. With magasin_access_operator: the shared test cluster's
   MinIO operator is another realm's, and a converge upgrades it whenever the values this checkout computes for
   it differ from the installed ones (the read-only operator path is covered by tests/unit/plugins/
   test_access_objects.py).
2. ansible-runner (as AWX's job runs it) with a private data dir: an inventory, env/extravars holding the survey's
   answers, env/envvars holding only what AWX's bearer-token credential injects (K8S_AUTH_HOST, K8S_AUTH_API_KEY =
   that account's token, K8S_AUTH_VERIFY_SSL, K8S_AUTH_SSL_CA_CERT) and no KUBECONFIG: converge (site.yml), status
   and uninstall (site.yml with magasin_state: absent) all pass with the account's rights only.
3. Every value of every Secret the collection made in the realm (read from the cluster with the admin kubeconfig
   before the uninstall), and its base64, appears in none of the artifacts ansible-runner writes (job_events/*.json,
   stdout, command, every other file) -- what AWX stores and serves through its API. The token itself appears in
   no job event and not in stdout (ansible-runner's `command` file holds the job's environment, as AWX's job env
   does, which AWX masks).
4. With the access kubeconfig file itself (magasin_kubeconfig): status passes (and backup, when
   playbooks/backup.yml exists); `kubectl auth can-i` says no to Secrets in kube-system, and a real
   `kubectl get secret -n kube-system` is Forbidden, as is a Secret of another realm.
"""

from __future__ import annotations

import base64
import json
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from realms import NAME_RE, REPO_ROOT, VENV_BIN, helm4_unless_asked, leaks, namespaces, secret_strings

REALM = "aw1"
COMPONENTS = ["minio", "drill"]
ACCOUNT = f"magasin-{REALM}"
RECAP = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)


def recap(output: str) -> dict[str, int]:
    match = RECAP.search(output)
    assert match, f"no PLAY RECAP:\n{output[-4000:]}"
    return {"ok": int(match.group(1)), "changed": int(match.group(2)), "failed": int(match.group(4))}


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("K8S_AUTH_", "HELM_KUBE")) and k not in ("KUBECONFIG", "MAGASIN_KUBECONFIG")}
    env.update(ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    return env


def playbook(path: str, extra: dict, timeout: int = 1200) -> tuple[int, str, float]:
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", path, "--extra-vars", json.dumps(extra)]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=clean_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    seconds = time.monotonic() - started
    print(f"[access] {seconds:6.0f}s rc={proc.returncode} {path} {json.dumps(extra)[:120]}")
    return proc.returncode, proc.stdout + proc.stderr, seconds


def runner(pdd: Path, ident: str, play: str, extravars: dict) -> dict:
    """ansible-runner run <pdd> -p <play>, the survey's answers in env/extravars (rewritten per job, as AWX does)."""
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    cmd = [str(VENV_BIN / "ansible-runner"), "run", str(pdd), "-p", play, "--ident", ident]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=1800, check=False)
    seconds = time.monotonic() - started
    artifacts = pdd / "artifacts" / ident
    status = (artifacts / "status").read_text().strip() if (artifacts / "status").exists() else "missing"
    print(f"[runner] {seconds:6.0f}s {ident} {status}")
    return {"rc": proc.returncode, "status": status, "stdout": (artifacts / "stdout").read_text()
            if (artifacts / "stdout").exists() else proc.stdout + proc.stderr, "seconds": seconds}


def access_kubeconfig(path: Path) -> tuple[str, str, bytes]:
    """server, token, CA of the kubeconfig access.yml wrote."""
    config = yaml.safe_load(path.read_text())
    cluster = config["clusters"][0]["cluster"]
    return cluster["server"], config["users"][0]["user"]["token"], base64.b64decode(cluster["certificate-authority-data"])


@pytest.fixture(scope="module")
def aw1(cluster, helm_bin: Path, kubectl_bin: Path, charts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    helm4_unless_asked(helm_bin, "the account's rights do not depend on the Helm major")
    cluster.teardown(REALM)
    work = tmp_path_factory.mktemp("aw1")
    kubeconfig = work / "aw1.kubeconfig"
    admin = {"magasin_kubeconfig": str(cluster.kubeconfig), "magasin_realm": REALM, "magasin_components": COMPONENTS,
             "magasin_helm_binary": str(helm_bin), "magasin_kubectl_binary": str(kubectl_bin),
             "magasin_access_kubeconfig": str(kubeconfig), "magasin_access_operator": True}
    out: dict = {"kubeconfig": kubeconfig, "access": [playbook("playbooks/access.yml", admin) for dummy in range(2)]}
    if out["access"][0][0] != 0:
        yield out
        return
    server, token, ca = access_kubeconfig(kubeconfig)
    out["token"] = token

    # The private data dir AWX makes for a job: project, inventory, env/envvars (the credential), env/extravars.
    pdd = work / "pdd"
    (pdd / "env").mkdir(parents=True)
    (pdd / "inventory").mkdir()
    (pdd / "project").symlink_to(REPO_ROOT)
    (pdd / "ca.crt").write_bytes(ca)
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {
        "ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python"),
        "magasin_helm_binary": str(helm_bin), "magasin_kubectl_binary": str(kubectl_bin),
        "magasin_charts_dir": str(charts_dir), "magasin_kubeconfig": ""}}}}))
    envvars = {"K8S_AUTH_HOST": server, "K8S_AUTH_API_KEY": token, "K8S_AUTH_VERIFY_SSL": "true",
               "K8S_AUTH_SSL_CA_CERT": str(pdd / "ca.crt"), "ANSIBLE_CONFIG": str(REPO_ROOT / "ansible.cfg")}
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(envvars))
    written = {pdd / "env" / "envvars", pdd / "env" / "extravars", pdd / "ca.crt"}
    survey = {"magasin_realm": REALM, "magasin_components": COMPONENTS, "magasin_profile": "lab"}
    out["converge"] = runner(pdd, "converge", "site.yml", survey)
    out["status"] = runner(pdd, "status", "playbooks/status.yml", survey)
    out["secrets"] = cluster.secret_values(REALM)
    # Every value of the Secrets the collection itself made (labelled with the realm), whatever the key's name.
    out["generated"] = {base64.b64decode(v).decode(errors="replace") for ns in cluster.realm_namespaces(REALM)
                        for item in cluster.items("secrets", ns)
                        if (item["metadata"].get("labels") or {}).get("magasin.unicef.org/realm") == REALM
                        for v in (item.get("data") or {}).values()}
    # The access kubeconfig file itself, as magasin_kubeconfig.
    with_file = {"magasin_kubeconfig": str(kubeconfig), "magasin_realm": REALM, "magasin_components": COMPONENTS,
                 "magasin_helm_binary": str(helm_bin), "magasin_kubectl_binary": str(kubectl_bin),
                 "magasin_charts_dir": str(charts_dir)}
    out["status_file"] = playbook("playbooks/status.yml", with_file)
    if (REPO_ROOT / "playbooks" / "backup.yml").exists():
        out["backup"] = playbook("playbooks/backup.yml", {**with_file, "backup_dir": str(work / "backups"),
                                                          "backup_passphrase": "aw1-test-passphrase-not-secret"})
    out["uninstall"] = runner(pdd, "uninstall", "site.yml", {**survey, "magasin_state": "absent"})
    out["releases_after"] = [r for r in cluster.releases() if r["namespace"] in namespaces(REALM).values()]
    out["artifacts"] = {p: p.read_text(errors="replace") for p in sorted(pdd.rglob("*"))
                        if p.is_file() and not p.is_symlink() and p not in written and "project" not in p.parts}

    def as_account(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(kubectl_bin), *args], env=dict(clean_env(), KUBECONFIG=str(kubeconfig)),
                              capture_output=True, text=True, timeout=60, check=False)

    out["can_i"] = {where: as_account("auth", "can-i", "get", "secrets", "--namespace", where).stdout.strip()
                    for where in ("kube-system", "lead-tenant", namespaces(REALM)["tenant"])}
    out["get_kube_system"] = as_account("get", "secret", "--namespace", "kube-system")
    other = next((s["metadata"]["name"] for s in cluster.items("secrets", "kube-system")), None)
    out["get_named"] = as_account("get", "secret", other, "--namespace", "kube-system") if other else None
    yield out
    cluster.teardown(REALM)
    playbook("playbooks/access.yml", {**admin, "magasin_access_state": "absent"})


def test_access_playbook_writes_a_private_kubeconfig_once(aw1: dict):
    first, second = aw1["access"]
    assert first[0] == 0, first[1][-6000:]
    assert recap(first[1])["changed"] > 0
    assert second[0] == 0 and recap(second[1])["changed"] == 0, second[1][-6000:]
    assert stat.S_IMODE(aw1["kubeconfig"].stat().st_mode) == 0o600
    assert aw1["token"] not in first[1] + second[1]


def test_runner_converges_reports_and_uninstalls_with_the_account(aw1: dict):
    for job in ("converge", "status", "uninstall"):
        assert aw1[job]["status"] == "successful", f"{job}: {aw1[job]['stdout'][-8000:]}"
        assert aw1[job]["rc"] == 0
    assert recap(aw1["converge"]["stdout"])["changed"] > 0
    assert recap(aw1["uninstall"]["stdout"])["changed"] > 0
    assert [(r["namespace"], r["name"]) for r in aw1["releases_after"] if not r["chart"].startswith("operator-")] == []


def test_no_generated_secret_in_the_runner_artifacts(aw1: dict):
    generated = {v.strip() for v in aw1["generated"] if "\n" not in v.strip() and len(v.strip()) >= 16
                 and "://" not in v and not NAME_RE.match(v.strip())}
    strings = secret_strings(aw1["secrets"]) | generated
    # minio's root user and password, and the drill user's access and secret keys, at least
    assert len(generated) >= 4, f"too few generated secrets found to prove anything: {len(generated)}"
    names = {p.name for p in aw1["artifacts"]}
    assert {"stdout", "command", "status", "rc"} <= names
    assert any("job_events" in p.parts for p in aw1["artifacts"]), "ansible-runner wrote no job events"
    for path, text in aw1["artifacts"].items():
        found = leaks(text, sorted(strings))
        assert not found, f"{path} holds {len(found)} generated secret(s)"
        if "job_events" in path.parts or path.name == "stdout":
            assert aw1["token"] not in text, f"{path} holds the bearer token"


def test_account_kubeconfig_runs_status_and_backup(aw1: dict):
    rc, output, dummy = aw1["status_file"]
    assert rc == 0, output[-6000:]
    if "backup" not in aw1:
        pytest.skip("no playbooks/backup.yml")
    rc, output, dummy = aw1["backup"]
    assert rc == 0, output[-8000:]


def test_account_cannot_read_secrets_outside_the_realm(aw1: dict):
    assert aw1["can_i"] == {"kube-system": "no", "lead-tenant": "no", namespaces(REALM)["tenant"]: "yes"}
    listing = aw1["get_kube_system"]
    assert listing.returncode != 0 and "Forbidden" in listing.stderr, listing.stderr
    if aw1["get_named"] is not None:
        assert aw1["get_named"].returncode != 0 and "Forbidden" in aw1["get_named"].stderr
