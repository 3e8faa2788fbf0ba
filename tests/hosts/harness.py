#!/usr/bin/env python3
"""Boot real Debian bookworm test hosts (systemd + sshd) with systemd-nspawn.

Usage:
    harness.py up [NAME ...]     boot hosts (default: server1 agent1), print state as JSON
    harness.py down              stop every host and remove what ``up`` created
    harness.py status            print the state as JSON
    harness.py ssh NAME [CMD...] run a command on a host over SSH

Each host is a systemd-nspawn container booted with ``-b`` from one cached root file
system (``~/.cache/magasin-hosts/``, built once with debootstrap).  Every host gets its
own writable overlay on a tmpfs, its own network namespace with a veth pair plugged into
a private bridge, an address in a /24 that this script creates, and is reached over real
SSH with a key generated for the run.  Nothing else on the machine is touched.

Only the Python standard library is used, so the script runs before any virtualenv exists.
It needs root, ``debootstrap``, ``systemd-nspawn`` (package systemd-container),
``ip`` (iproute2) and ``ssh``/``ssh-keygen``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SUITE = "bookworm"
MIRROR = os.environ.get("MAGASIN_HOSTS_MIRROR", "http://deb.debian.org/debian")
PACKAGES = [
    "systemd", "systemd-sysv", "dbus", "openssh-server", "python3", "sudo",
    "iproute2", "kmod", "procps",
]
# Changing what goes into the root file system must invalidate the cache.
ROOTFS_STAMP = hashlib.sha256(
    json.dumps([SUITE, MIRROR, PACKAGES, 3]).encode()).hexdigest()[:12]

CACHE_DIR = Path(os.environ.get(
    "MAGASIN_HOSTS_CACHE", Path.home() / ".cache" / "magasin-hosts"))
STATE_DIR = Path(os.environ.get("MAGASIN_HOSTS_STATE", "/tmp/magasin-hosts"))
STATE_FILE = STATE_DIR / "state.json"
# The three first octets of the /24 this harness creates; .1 is the bridge (the controller).
SUBNET = os.environ.get("MAGASIN_HOSTS_SUBNET", "10.139.59")
BRIDGE = "mgsbr0"
NS_PREFIX = "mgs-"
FIRST_HOST_OCTET = 11
NSPAWN_LOCK_DIR = Path("/run/systemd/nspawn")
BOOT_TIMEOUT = float(os.environ.get("MAGASIN_HOSTS_BOOT_TIMEOUT", "120"))
LOCK_TIMEOUT = float(os.environ.get("MAGASIN_HOSTS_LOCK_TIMEOUT", "1800"))


def log(msg: str) -> None:
    print(f"[harness] {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, text=True, **kw)


def quiet(argv: list[str]) -> bool:
    """Run a clean-up command whose failure only means there was nothing to clean."""
    return subprocess.run(argv, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode == 0


# ---------------------------------------------------------------- root file system
def rootfs_path() -> Path:
    return CACHE_DIR / f"{SUITE}-{ROOTFS_STAMP}"


def build_rootfs() -> Path:
    target = rootfs_path()
    if (target / "etc" / "magasin-test-host").exists():
        return target
    for tool in ("debootstrap", "systemd-nspawn"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get update && "
                     "apt-get install -y debootstrap systemd-container")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = CACHE_DIR / f".build-{ROOTFS_STAMP}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    log(f"building the {SUITE} root file system in {target} (debootstrap, once)")
    started = time.monotonic()
    run(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
         SUITE, str(work), MIRROR], stdout=subprocess.DEVNULL)
    # An empty machine-id makes systemd generate a fresh one on every boot, so the
    # hosts sharing this tree still get distinct identities.
    (work / "etc" / "machine-id").write_text("")
    ssh_dir = work / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").touch(mode=0o600)
    (work / "etc" / "ssh" / "sshd_config.d" / "magasin-test.conf").write_text(
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nUseDNS no\n")
    # Nothing in these hosts may reach out; apt would only time out.
    (work / "etc" / "apt" / "sources.list").write_text("")
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_all.timer",
                 "fstrim.timer", "console-getty.service"):
        link = work / "etc" / "systemd" / "system" / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    (work / "etc" / "magasin-test-host").write_text(
        "A magasin test host: Debian bookworm booted by systemd-nspawn from "
        "tests/hosts/harness.py. It is not a VM and k3s never runs here.\n")
    work.rename(target)
    log(f"root file system ready in {time.monotonic() - started:.0f}s")
    return target


# ---------------------------------------------------------------- state
@contextlib.contextmanager
def locked():
    """Hold the harness for one user at a time (two test runs would share addresses).

    The test suite holds it from ``up`` to ``down``; a second run waits for it."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / "lock", "w") as lock:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{STATE_DIR / 'lock'} is held by another run") from None
                time.sleep(2)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def load_state() -> dict:
    if STATE_FILE.exists():
        return json.loads(STATE_FILE.read_text())
    return {"hosts": {}}


def save_state(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(STATE_FILE)


def ssh_key() -> Path:
    key = STATE_DIR / "id_ed25519"
    if not key.exists():
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "magasin-test-hosts",
             "-f", str(key)])
    return key


def ssh_argv(host: dict, key: str | Path | None = None) -> list[str]:
    return ["ssh", "-i", str(key or STATE_DIR / "id_ed25519"), "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            f"root@{host['address']}"]


# ---------------------------------------------------------------- network
def ensure_bridge() -> None:
    if quiet(["ip", "link", "show", BRIDGE]):
        return
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])


def make_netns(name: str, octet: int) -> None:
    ns, veth = NS_PREFIX + name, f"mgsv{octet}"
    quiet(["ip", "netns", "del", ns])
    # A namespace of an earlier run is freed asynchronously; its veth may linger a while.
    quiet(["ip", "link", "del", veth])
    run(["ip", "netns", "add", ns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns])
    run(["ip", "link", "set", veth, "master", BRIDGE, "up"])
    run(["ip", "-n", ns, "link", "set", "lo", "up"])
    run(["ip", "-n", ns, "addr", "add", f"{SUBNET}.{octet}/24", "dev", "eth0"])
    run(["ip", "-n", ns, "link", "set", "eth0", "up"])
    run(["ip", "-n", ns, "route", "add", "default", "via", f"{SUBNET}.1"])


# ---------------------------------------------------------------- hosts
def ensure_nspawn_lock_dir() -> bool:
    """nspawn keeps its image locks there; without systemd as PID 1 nobody mounts it."""
    NSPAWN_LOCK_DIR.mkdir(parents=True, exist_ok=True)
    if quiet(["mountpoint", "-q", str(NSPAWN_LOCK_DIR)]):
        return False
    run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=16m", "tmpfs", str(NSPAWN_LOCK_DIR)])
    return True


def start_host(name: str, octet: int, rootfs: Path, key: Path) -> dict:
    hdir = STATE_DIR / name
    if hdir.exists():
        quiet(["umount", "-R", str(hdir)])
        shutil.rmtree(hdir, ignore_errors=True)
    hdir.mkdir(parents=True)
    # A per-host tmpfs holds the overlay's writable layer: the cached tree stays pristine.
    run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=2g", "tmpfs", str(hdir)])
    for sub in ("upper", "work", "root"):
        (hdir / sub).mkdir()
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={rootfs},upperdir={hdir}/upper,workdir={hdir}/work", str(hdir / "root")])
    auth = hdir / "root" / "root" / ".ssh" / "authorized_keys"
    auth.write_text(Path(str(key) + ".pub").read_text())
    auth.chmod(0o600)
    # systemd in the container takes its hostname from /etc/hostname, not from nspawn.
    (hdir / "root" / "etc" / "hostname").write_text(name + "\n")
    (hdir / "root" / "etc" / "hosts").write_text(
        f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost\n")
    make_netns(name, octet)
    logf = open(STATE_DIR / f"{name}.console.log", "w")
    proc = subprocess.Popen(
        ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit", "--link-journal=no",
         "--console=passive", f"--directory={hdir / 'root'}", f"--machine=mgs-{name}",
         f"--hostname={name}", f"--network-namespace-path=/run/netns/{NS_PREFIX}{name}"],
        stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
        start_new_session=True)
    return {"name": name, "address": f"{SUBNET}.{octet}", "pid": proc.pid,
            "netns": NS_PREFIX + name, "dir": str(hdir)}


def wait_ready(host: dict, deadline: float) -> None:
    while True:
        if not pid_alive(host["pid"]):
            log_tail = (STATE_DIR / f"{host['name']}.console.log").read_text()[-2000:]
            raise RuntimeError(f"{host['name']}: systemd-nspawn exited\n{log_tail}")
        with contextlib.suppress(OSError), socket.create_connection((host["address"], 22), timeout=1):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{host['name']}: sshd not reachable on {host['address']}:22")
        time.sleep(0.5)
    # is-system-running --wait returns once boot finished ("running" or "degraded").
    res = subprocess.run(ssh_argv(host) + ["systemctl", "is-system-running", "--wait"],
                         capture_output=True, text=True,
                         timeout=max(5.0, deadline - time.monotonic()))
    state = res.stdout.strip()
    if state not in ("running", "degraded"):
        raise RuntimeError(f"{host['name']}: systemd state {state!r}: {res.stderr}")
    host["systemd_state"] = state


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of a finished harness process still answers kill(0).
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    return False


def up(names: list[str]) -> dict:
    if os.geteuid() != 0:
        sys.exit("harness.py must run as root (network namespaces, mounts, nspawn)")
    state = load_state()
    if state["hosts"]:
        down()
        state = load_state()
    rootfs = build_rootfs()
    key = ssh_key()
    state["mounted_nspawn_tmpfs"] = ensure_nspawn_lock_dir()
    state.update(subnet=f"{SUBNET}.0/24", controller_address=f"{SUBNET}.1",
                 bridge=BRIDGE, ssh_key=str(key), rootfs=str(rootfs))
    ensure_bridge()
    started = time.monotonic()
    try:
        for i, name in enumerate(names):
            state["hosts"][name] = start_host(name, FIRST_HOST_OCTET + i, rootfs, key)
            save_state(state)
        deadline = time.monotonic() + BOOT_TIMEOUT
        for host in state["hosts"].values():
            wait_ready(host, deadline)
    except BaseException:
        save_state(state)
        down()
        raise
    state["boot_seconds"] = round(time.monotonic() - started, 1)
    save_state(state)
    return state


def stop_host(host: dict) -> None:
    pid = host.get("pid")
    if pid and pid_alive(pid):
        # nspawn turns SIGTERM into SIGRTMIN+3 for the container's systemd: a clean poweroff.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.5)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    hdir = Path(host.get("dir", STATE_DIR / host["name"]))
    if hdir.exists():
        if not quiet(["umount", "-R", str(hdir)]):
            quiet(["umount", "-R", "-l", str(hdir)])
        shutil.rmtree(hdir, ignore_errors=True)
    # Deleting the namespace destroys the veth pair with it.
    quiet(["ip", "netns", "del", host.get("netns", NS_PREFIX + host["name"])])


def stray_host_pids() -> list[int]:
    """Processes of hosts this harness booted that outlived their nspawn (an interrupted
    run): found by their network namespace holding an address of this harness's /24."""
    own = os.stat("/proc/self/ns/net").st_ino
    namespaces: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                ino = os.stat(entry / "ns" / "net").st_ino
                if ino != own:
                    namespaces.setdefault(ino, []).append(int(entry.name))
    stray = []
    for pids in namespaces.values():
        res = subprocess.run(["nsenter", f"--net=/proc/{pids[0]}/ns/net", "ip", "-o", "-4", "addr", "show"],
                             capture_output=True, text=True, check=False)
        if f" {SUBNET}." in res.stdout:
            stray.extend(pids)
    return stray


def down() -> None:
    state = load_state()
    for host in state["hosts"].values():
        stop_host(host)
    for pid in stray_host_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    # Mounts of hosts this harness lost track of.
    for line in reversed(Path("/proc/mounts").read_text().splitlines()):
        mountpoint = line.split()[1]
        if mountpoint.startswith(str(STATE_DIR) + "/"):
            quiet(["umount", "-l", mountpoint])
    for leftover in STATE_DIR.iterdir() if STATE_DIR.exists() else []:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    # Namespaces this harness named but lost track of (an interrupted run).
    res = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    for line in res.stdout.splitlines():
        ns = line.split()[0] if line.split() else ""
        if ns.startswith(NS_PREFIX):
            quiet(["ip", "netns", "del", ns])
    res = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=False)
    for line in res.stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0] if ":" in line else ""
        if name.startswith("mgsv"):
            quiet(["ip", "link", "del", name])
    quiet(["ip", "link", "del", BRIDGE])
    if state.get("mounted_nspawn_tmpfs"):
        quiet(["umount", str(NSPAWN_LOCK_DIR)])
    state = {"hosts": {}}
    save_state(state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_up = sub.add_parser("up", help="boot hosts")
    p_up.add_argument("names", nargs="*", default=["server1", "agent1"])
    sub.add_parser("down", help="stop hosts, remove namespaces, mounts and the bridge")
    sub.add_parser("status", help="print the state")
    sub.add_parser("build", help="only build the cached root file system")
    p_ssh = sub.add_parser("ssh", help="run a command on a host")
    p_ssh.add_argument("name")
    p_ssh.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.cmd == "up":
        print(json.dumps(up(args.names), indent=2, sort_keys=True))
    elif args.cmd == "down":
        down()
    elif args.cmd == "status":
        print(json.dumps(load_state(), indent=2, sort_keys=True))
    elif args.cmd == "build":
        print(build_rootfs())
    elif args.cmd == "ssh":
        host = load_state()["hosts"][args.name]
        return subprocess.call(ssh_argv(host) + args.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
