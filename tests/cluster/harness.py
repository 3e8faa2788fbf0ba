#!/usr/bin/env python3
"""Real Kubernetes control plane with kwok-simulated nodes, for tests and demos.

    python3 tests/cluster/harness.py build|up|down|status

Real: etcd, kube-apiserver (TLS, RBAC, default admission plugins),
kube-controller-manager and kube-scheduler, built from Go modules pinned in
tests/cluster/go.mod. Simulated: kwok plays the kubelets of the nodes and the
pod lifecycle (no container ever runs) and cluster-helper provisions PVs that
have no storage behind them. See tests/cluster/README.md.

Standard library only: the Makefile and the pytest fixture both drive it.
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
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

MODULE_DIR = Path(__file__).resolve().parent
REPO_ROOT = MODULE_DIR.parents[1]


def worker_index() -> int:
    """The pytest-xdist worker this process serves (gw0, gw1, ...: PYTEST_XDIST_WORKER, inherited by every
    process a test starts), 0 outside xdist. Each worker has a cluster of its own: worker 0 the checkout's
    .cluster, worker N .cluster-gwN on ports shifted by 20 N, so that tests running side by side share no
    cluster-wide object (the MinIO operator, CRDs, cluster roles)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0


WORKER = worker_index()
# Resolved: a worktree whose .cluster links to another checkout's shares that cluster (same argv,
# same fingerprint) instead of replacing it.
STATE_DIR = (REPO_ROOT / (".cluster" if WORKER == 0 else f".cluster-gw{WORKER}")).resolve()
KUBECONFIG = STATE_DIR / "kubeconfig"
STATE_FILE = STATE_DIR / "state.json"

KUBE_VERSION = "v1.37.2"
KWOK_VERSION = "v0.8.0"
# The module's go directive (1.26.0) is met by the machine's Go, so no
# toolchain is ever downloaded. A pin that needs a newer Go is built by
# exporting MAGASIN_GOTOOLCHAIN (e.g. go1.27.3) before running this script.
GOTOOLCHAIN = os.environ.get("MAGASIN_GOTOOLCHAIN", "local")
GOFLAGS = "-mod=readonly -trimpath -buildvcs=false"

# Fixed loopback ports, shifted together by MAGASIN_CLUSTER_PORT_BASE.
PORT_BASE = int(os.environ.get("MAGASIN_CLUSTER_PORT_BASE", "16440")) + 20 * WORKER
PORTS = {
    "etcd": PORT_BASE,
    "etcd-peer": PORT_BASE + 1,
    "kube-apiserver": PORT_BASE + 3,
    "kube-controller-manager": PORT_BASE + 4,
    "kube-scheduler": PORT_BASE + 5,
    "kwok": PORT_BASE + 7,
}
NODE_COUNT = int(os.environ.get("MAGASIN_CLUSTER_NODES", "3"))
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.1/16"

# kwok's debugging resources, served by its kubelet endpoint (--enable-crds): the
# rules that turn `kubectl port-forward`, `logs` and `exec` on a pod into a
# connection to a local address, a local log file, or a local command. Their
# CRDs ship in kwok's module (kustomize/crd/bases) and are installed by `up`.
KWOK_CRDS = {
    "PortForward": "portforwards",
    "ClusterPortForward": "clusterportforwards",
    "Logs": "logs",
    "ClusterLogs": "clusterlogs",
    "Exec": "execs",
    "ClusterExec": "clusterexecs",
}

UP_TIMEOUT = 180.0
STOP_TIMEOUT = 15.0

# Go packages of the binaries, and the file name `go build -o DIR/` gives each.
PACKAGES = {
    "go.etcd.io/etcd/server/v3": "server",
    "k8s.io/kubernetes/cmd/kube-apiserver": "kube-apiserver",
    "k8s.io/kubernetes/cmd/kube-controller-manager": "kube-controller-manager",
    "k8s.io/kubernetes/cmd/kube-scheduler": "kube-scheduler",
    "sigs.k8s.io/kwok/cmd/kwok": "kwok",
    "./cmd/cluster-helper": "cluster-helper",
}


class HarnessError(Exception):
    """A failure to report to the user without a traceback."""


def log(msg: str) -> None:
    print(f"[cluster] {msg}", flush=True)


# --------------------------------------------------------------------------- build


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "magasin-cluster"


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GOTOOLCHAIN=GOTOOLCHAIN,
        GOFLAGS=GOFLAGS,
        GOWORK="off",
        CGO_ENABLED="0",
    )
    return env


def go_bin() -> str:
    # Non-login shells (CI, make from an IDE) may lack the Go install on PATH.
    go = shutil.which("go") or shutil.which("go", path="/usr/local/go/bin")
    if go is None:
        raise HarnessError("`go` is not on PATH; install Go 1.26 to build the control plane")
    return go


def go_version() -> str:
    res = subprocess.run(
        [go_bin(), "env", "GOVERSION", "GOOS", "GOARCH"],
        cwd=MODULE_DIR,
        env=go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise HarnessError(f"go env failed: {res.stderr.strip()}")
    return "/".join(res.stdout.split())


def ldflags() -> str:
    major, minor = KUBE_VERSION.lstrip("v").split(".")[:2]
    ver = "k8s.io/component-base/version"
    return " ".join(
        [
            "-s",
            "-w",
            f"-X {ver}.gitVersion={KUBE_VERSION}",
            f"-X {ver}.gitMajor={major}",
            f"-X {ver}.gitMinor={minor}",
            f"-X {ver}.gitTreeState=clean",
            f"-X k8s.io/client-go/pkg/version.gitVersion={KUBE_VERSION}",
            f"-X sigs.k8s.io/kwok/pkg/consts.Version={KWOK_VERSION}",
            f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={KUBE_VERSION}",
        ]
    )


def cache_key() -> str:
    """Key of the binaries: go.mod, go.sum, the helper's sources, Go and flags."""
    h = hashlib.sha256()
    sources = [MODULE_DIR / "go.mod", MODULE_DIR / "go.sum"]
    sources += sorted((MODULE_DIR / "cmd").rglob("*.go"))
    for path in sources:
        h.update(str(path.relative_to(MODULE_DIR)).encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    h.update(f"{go_version()}\0{GOFLAGS}\0{ldflags()}\0".encode())
    return h.hexdigest()[:16]


def bin_dir() -> Path:
    return cache_root() / cache_key() / "bin"


def build(force: bool = False) -> Path:
    """Build the binaries unless the cache for this key has them; return their directory."""
    target = bin_dir()
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        # One build at a time, also across a make target and a pytest run.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and all((target / b).is_file() for b in PACKAGES.values()):
            log(f"binaries cached in {target}")
            return target
        tmp = target.parent / f"tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        argv = [go_bin(), "build", "-ldflags", ldflags(), "-o", str(tmp) + "/", *PACKAGES]
        log(f"building {KUBE_VERSION} control plane, etcd, kwok {KWOK_VERSION} into {target}")
        log("a first build takes about 10 minutes on 2 cores")
        start = time.monotonic()
        res = subprocess.run(argv, cwd=MODULE_DIR, env=go_env(), check=False)
        if res.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            raise HarnessError(f"go build failed (exit {res.returncode})")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        log(f"built in {time.monotonic() - start:.0f}s")
        return target


# --------------------------------------------------------------------------- processes


@dataclass
class Component:
    name: str
    argv: list[str]
    health: str | None  # https URL, None when the process has no endpoint


def pki(name: str) -> str:
    return str(STATE_DIR / "pki" / name)


def components(bins: Path) -> list[Component]:
    p = PORTS
    etcd_url = f"https://127.0.0.1:{p['etcd']}"
    api_url = f"https://127.0.0.1:{p['kube-apiserver']}"
    return [
        Component(
            "etcd",
            [
                str(bins / "server"),
                "--name=magasin",
                f"--data-dir={STATE_DIR / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{p['etcd-peer']}",
                f"--initial-cluster=magasin=http://127.0.0.1:{p['etcd-peer']}",
                f"--cert-file={pki('etcd-server.crt')}",
                f"--key-file={pki('etcd-server.key')}",
                f"--trusted-ca-file={pki('ca.crt')}",
                "--client-cert-auth",
                # State is thrown away on `down`; durability buys nothing here.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            f"{etcd_url}/health",
        ),
        Component(
            "kube-apiserver",
            [
                str(bins / "kube-apiserver"),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                # The endpoints of the `kubernetes` service may not be loopback
                # addresses, and no pod could reach them anyway: leave them empty.
                "--endpoint-reconciler-type=none",
                f"--secure-port={p['kube-apiserver']}",
                f"--etcd-servers={etcd_url}",
                f"--etcd-cafile={pki('ca.crt')}",
                f"--etcd-certfile={pki('apiserver-etcd-client.crt')}",
                f"--etcd-keyfile={pki('apiserver-etcd-client.key')}",
                f"--tls-cert-file={pki('apiserver.crt')}",
                f"--tls-private-key-file={pki('apiserver.key')}",
                f"--client-ca-file={pki('ca.crt')}",
                "--authorization-mode=Node,RBAC",
                # On top of the default plugins, as kubeadm does.
                "--enable-admission-plugins=NodeRestriction",
                "--allow-privileged=true",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki('sa.pub')}",
                f"--service-account-signing-key-file={pki('sa.key')}",
                f"--kubelet-client-certificate={pki('apiserver-kubelet-client.crt')}",
                f"--kubelet-client-key={pki('apiserver-kubelet-client.key')}",
                f"--kubelet-certificate-authority={pki('ca.crt')}",
                "--kubelet-preferred-address-types=InternalIP",
                "--profiling=false",
            ],
            f"{api_url}/readyz",
        ),
        Component(
            "kube-controller-manager",
            [
                str(bins / "kube-controller-manager"),
                "--bind-address=127.0.0.1",
                f"--secure-port={p['kube-controller-manager']}",
                f"--kubeconfig={STATE_DIR / 'controller-manager.kubeconfig'}",
                f"--authentication-kubeconfig={STATE_DIR / 'controller-manager.kubeconfig'}",
                f"--authorization-kubeconfig={STATE_DIR / 'controller-manager.kubeconfig'}",
                f"--tls-cert-file={pki('controller-manager-serving.crt')}",
                f"--tls-private-key-file={pki('controller-manager-serving.key')}",
                f"--root-ca-file={pki('ca.crt')}",
                f"--client-ca-file={pki('ca.crt')}",
                f"--cluster-signing-cert-file={pki('ca.crt')}",
                f"--cluster-signing-key-file={pki('ca.key')}",
                f"--service-account-private-key-file={pki('sa.key')}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=true",
                # A single instance: leader election would only delay a restart
                # by a lease duration.
                "--leader-elect=false",
                "--profiling=false",
            ],
            f"https://127.0.0.1:{p['kube-controller-manager']}/healthz",
        ),
        Component(
            "kube-scheduler",
            [
                str(bins / "kube-scheduler"),
                "--bind-address=127.0.0.1",
                f"--secure-port={p['kube-scheduler']}",
                f"--kubeconfig={STATE_DIR / 'scheduler.kubeconfig'}",
                f"--authentication-kubeconfig={STATE_DIR / 'scheduler.kubeconfig'}",
                f"--authorization-kubeconfig={STATE_DIR / 'scheduler.kubeconfig'}",
                f"--tls-cert-file={pki('scheduler-serving.crt')}",
                f"--tls-private-key-file={pki('scheduler-serving.key')}",
                f"--client-ca-file={pki('ca.crt')}",
                "--leader-elect=false",
                "--profiling=false",
            ],
            f"https://127.0.0.1:{p['kube-scheduler']}/healthz",
        ),
        Component(
            "kwok",
            [
                str(bins / "kwok"),
                f"--kubeconfig={STATE_DIR / 'kwok.kubeconfig'}",
                f"--config={STATE_DIR / 'kwok-stages.yaml'}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--node-lease-duration-seconds=40",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
                f"--node-port={p['kwok']}",
                f"--server-address=127.0.0.1:{p['kwok']}",
                f"--tls-cert-file={pki('kwok-serving.crt')}",
                f"--tls-private-key-file={pki('kwok-serving.key')}",
                "--enable-crds=" + ",".join(KWOK_CRDS),
            ],
            f"https://127.0.0.1:{p['kwok']}/healthz",
        ),
        Component(
            "provisioner",
            [
                str(bins / "cluster-helper"),
                "provisioner",
                f"-kubeconfig={STATE_DIR / 'provisioner.kubeconfig'}",
            ],
            None,
        ),
    ]


def read_state() -> dict:
    try:
        return json.loads(STATE_FILE.read_text())
    except (OSError, ValueError):
        return {}


def write_state(state: dict) -> None:
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(STATE_FILE)


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def alive(pid: int, exe: str) -> bool:
    """Whether pid is still the process we started (pids get reused)."""
    argv = cmdline(pid)
    return bool(argv) and argv[0] == exe and not is_zombie(pid)


def harness_processes() -> list[tuple[int, list[str]]]:
    """Every process running one of our cached binaries on this state directory."""
    root = str(cache_root()) + os.sep
    marker = str(STATE_DIR) + os.sep
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        argv = cmdline(pid)
        if argv and argv[0].startswith(root) and any(marker in a for a in argv) and not is_zombie(pid):
            found.append((pid, argv))
    return found


def start(comp: Component) -> subprocess.Popen:
    logs = STATE_DIR / "logs"
    with open(logs / f"{comp.name}.log", "ab") as out:
        proc = subprocess.Popen(
            comp.argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=STATE_DIR,
            # Own session: the cluster outlives the harness and a Ctrl-C in
            # the shell that ran `up` does not reach it.
            start_new_session=True,
            close_fds=True,
        )
    return proc


def stop_pids(pids: list[int]) -> list[int]:
    """SIGTERM, then SIGKILL what is left after STOP_TIMEOUT; return pids killed hard."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    remaining = list(pids)
    while remaining and time.monotonic() < deadline:
        remaining = [pid for pid in remaining if not _gone(pid)]
        if remaining:
            time.sleep(0.1)
    for pid in remaining:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in remaining:
        while not _gone(pid):
            time.sleep(0.05)
    return remaining


def _gone(pid: int) -> bool:
    # Reap our own children (when `up` failed half-way) so they do not linger as zombies.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    return not Path(f"/proc/{pid}").exists() or is_zombie(pid)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- API access


def tls_context(cert: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=pki("ca.crt"))
    ctx.load_cert_chain(pki(f"{cert}.crt"), pki(f"{cert}.key"))
    return ctx


def https_get(url: str, ctx: ssl.SSLContext, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (OSError, ssl.SSLError):
        return 0, b""


def api_create(path: str, body: bytes, ctx: ssl.SSLContext, content_type: str = "application/yaml") -> None:
    """POST an object (the API server decodes YAML itself); an existing one is left alone."""
    url = f"https://127.0.0.1:{PORTS['kube-apiserver']}{path}"
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            resp.read()
    except urllib.error.HTTPError as err:
        if err.code != 409:
            raise HarnessError(f"POST {path} failed: HTTP {err.code}: {err.read().decode(errors='replace')[:500]}") from err


def kwok_crd_dir() -> Path:
    """kwok's CRDs in the Go module cache (the build downloaded the module)."""
    res = subprocess.run([go_bin(), "env", "GOMODCACHE"], cwd=MODULE_DIR, env=go_env(), capture_output=True, text=True, check=False)
    path = Path(res.stdout.strip()) / f"sigs.k8s.io/kwok@{KWOK_VERSION}" / "kustomize" / "crd" / "bases"
    if res.returncode != 0 or not path.is_dir():
        raise HarnessError(f"kwok's CRDs are not in the Go module cache ({path}); run `go mod download sigs.k8s.io/kwok` in {MODULE_DIR}")
    return path


def install_kwok_crds(ctx: ssl.SSLContext) -> list[str]:
    crd_dir = kwok_crd_dir()
    names = []
    for plural in KWOK_CRDS.values():
        body = (crd_dir / f"kwok.x-k8s.io_{plural}.yaml").read_text().removeprefix("---\n")
        api_create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body.encode(), ctx)
        names.append(f"{plural}.kwok.x-k8s.io")
    return names


def crds_established(names: list[str], ctx: ssl.SSLContext) -> bool:
    for name in names:
        crd = api_json(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}", ctx) or {}
        conds = crd.get("status", {}).get("conditions", [])
        if not any(c["type"] == "Established" and c["status"] == "True" for c in conds):
            return False
    return True


def health_ok(comp: Component, ctx: ssl.SSLContext, etcd_ctx: ssl.SSLContext) -> bool:
    if comp.health is None:
        return True
    code, body = https_get(comp.health, etcd_ctx if comp.name == "etcd" else ctx)
    return code == 200 and (comp.name != "etcd" or b'"true"' in body)


def api_json(path: str, ctx: ssl.SSLContext) -> dict | None:
    code, body = https_get(f"https://127.0.0.1:{PORTS['kube-apiserver']}{path}", ctx)
    if code != 200:
        return None
    return json.loads(body)


def ready_nodes(ctx: ssl.SSLContext) -> list[str]:
    nodes = api_json("/api/v1/nodes", ctx) or {"items": []}
    ready = []
    for node in nodes["items"]:
        conds = node.get("status", {}).get("conditions", [])
        taints = node.get("spec", {}).get("taints", [])
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conds) and not any(t["key"].startswith("node.kubernetes.io/") for t in taints):
            ready.append(node["metadata"]["name"])
    return ready


# --------------------------------------------------------------------------- commands


def fingerprint(bins: Path, without_kwok_crds: bool = False) -> str:
    """What a running cluster must match to be reused: binaries, flags, node count."""
    argvs = [c.argv for c in components(bins)]
    if without_kwok_crds:
        argvs = [[a for a in argv if not a.startswith("--enable-crds=")] for argv in argvs]
    return hashlib.sha256(json.dumps(argvs + [NODE_COUNT]).encode()).hexdigest()[:16]


def upgrade_kwok_in_place(bins: Path) -> bool:
    """A healthy cluster started before kwok served port-forward/logs/exec (the same binaries and
    flags but --enable-crds) gets the CRDs and a restarted kwok; every object is kept, since kwok
    holds no state (others' realms on a shared cluster survive). False when that is not the case."""
    state = read_state()
    procs = state.get("processes", {})
    if not procs or state.get("fingerprint") != fingerprint(bins, without_kwok_crds=True):
        return False
    if not all(alive(p["pid"], p["argv0"]) for p in procs.values()):
        return False
    ctx = tls_context("admin")
    kwok = {c.name: c for c in components(bins)}["kwok"]
    crds = install_kwok_crds(ctx)
    deadline = time.monotonic() + 60
    while not crds_established(crds, ctx):
        if time.monotonic() > deadline:
            raise HarnessError("kwok's CRDs were not established within 60s")
        time.sleep(0.2)
    stop_pids([procs["kwok"]["pid"]])
    child = start(kwok)
    state["processes"]["kwok"] = {"pid": child.pid, "argv0": kwok.argv[0]}
    state["fingerprint"] = fingerprint(bins)
    write_state(state)
    while not health_ok(kwok, ctx, ctx):
        if child.poll() is not None or time.monotonic() > deadline:
            raise HarnessError(f"kwok did not come back; see {STATE_DIR / 'logs' / 'kwok.log'}")
        time.sleep(0.2)
    log("kwok restarted in place with --enable-crds (port-forward, logs, exec); every object kept")
    return True


def healthy(bins: Path) -> bool:
    """A running cluster of these binaries and flags whose processes and endpoints are all fine."""
    state = read_state()
    procs = state.get("processes", {})
    if not procs or not KUBECONFIG.is_file() or state.get("fingerprint") != fingerprint(bins):
        return False
    if not all(alive(p["pid"], p["argv0"]) for p in procs.values()):
        return False
    try:
        ctx, etcd_ctx = tls_context("admin"), tls_context("apiserver-etcd-client")
    except (OSError, ssl.SSLError):
        return False
    if not all(health_ok(c, ctx, etcd_ctx) for c in components(bins)):
        return False
    return len(ready_nodes(ctx)) >= state.get("nodes", NODE_COUNT)


# A cluster whose processes all run, from the binaries and flags asked for, may answer its health
# checks late on a loaded machine (several test sessions at once): it is given this long before it is
# judged unhealthy and replaced -- replacing it wipes every object of everyone who shares it.
BUSY_GRACE = 90


def running_as_asked(bins: Path) -> bool:
    state = read_state()
    procs = state.get("processes", {})
    return bool(procs) and KUBECONFIG.is_file() and state.get("fingerprint") == fingerprint(bins) \
        and all(alive(p["pid"], p["argv0"]) for p in procs.values())


def healthy_within(bins: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not running_as_asked(bins):
            return False
        if healthy(bins):
            return True
        time.sleep(3)
    return False


@contextlib.contextmanager
def state_lock():
    """Serialise up and down on one state directory (make and pytest may race)."""
    locks = cache_root() / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha256(str(STATE_DIR).encode()).hexdigest()[:16]
    with open(locks / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def cmd_up(_args: argparse.Namespace) -> int:
    with state_lock():
        return up()


def up() -> int:
    t0 = time.monotonic()
    wanted = bin_dir()
    if healthy(wanted) or (running_as_asked(wanted) and healthy_within(wanted, BUSY_GRACE)):
        log(f"reusing the healthy cluster in {STATE_DIR} (checked in {time.monotonic() - t0:.1f}s)")
        log(f"KUBECONFIG={KUBECONFIG}")
        return 0
    if STATE_DIR.exists() and upgrade_kwok_in_place(wanted) and healthy(wanted):
        log(f"KUBECONFIG={KUBECONFIG}")
        return 0
    if STATE_DIR.exists():
        # Stopped, unhealthy, or started from other binaries or flags than
        # these sources ask for: a reused cluster must be the one asked for.
        log("found a stopped, unhealthy or outdated cluster: replacing it")
        down()
    bins = build()
    t0 = time.monotonic()
    busy = [f"{name} {port}" for name, port in PORTS.items() if port_in_use(port)]
    if busy:
        raise HarnessError("loopback ports in use: " + ", ".join(busy) + "; stop what holds them or set MAGASIN_CLUSTER_PORT_BASE to another base")
    for sub in ("logs", "etcd"):
        (STATE_DIR / sub).mkdir(parents=True, exist_ok=True)
    STATE_DIR.chmod(0o700)
    helper = str(bins / "cluster-helper")
    run_helper([helper, "pki", f"-dir={STATE_DIR}", f"-server=https://127.0.0.1:{PORTS['kube-apiserver']}"])
    stages = run_helper([helper, "kwok-stages"])
    (STATE_DIR / "kwok-stages.yaml").write_text(stages)

    comps = {c.name: c for c in components(bins)}
    state = {"bin_dir": str(bins), "fingerprint": fingerprint(bins), "nodes": NODE_COUNT, "ports": PORTS, "processes": {}}
    ctx, etcd_ctx = tls_context("admin"), tls_context("apiserver-etcd-client")

    children: dict[str, subprocess.Popen] = {}

    def launch(names: list[str]) -> None:
        for name in names:
            children[name] = start(comps[name])
            state["processes"][name] = {"pid": children[name].pid, "argv0": comps[name].argv[0]}
        write_state(state)

    def wait(what: str, check) -> None:
        deadline = t0 + UP_TIMEOUT
        while not check():
            for name, child in children.items():
                if child.poll() is not None:
                    log_file = STATE_DIR / "logs" / f"{name}.log"
                    raise HarnessError(f"{name} exited ({describe_exit(child.returncode)}) while waiting for {what}; end of {log_file}:\n{tail(log_file)}")
            if time.monotonic() > deadline:
                raise HarnessError(f"timed out after {UP_TIMEOUT:.0f}s waiting for {what}; logs in {STATE_DIR / 'logs'}")
            time.sleep(0.2)
        log(f"{what}: ok ({time.monotonic() - t0:.1f}s)")

    try:
        # The controller manager gives up if the API server is not healthy
        # within seconds, so the rest starts once the API server is ready.
        launch(["etcd", "kube-apiserver"])
        wait("kube-apiserver ready", lambda: health_ok(comps["kube-apiserver"], ctx, etcd_ctx))
        # kwok watches its debugging rules from start: their CRDs come first.
        crds = install_kwok_crds(ctx)
        wait("kwok's port-forward, logs and exec CRDs established", lambda: crds_established(crds, ctx))
        launch(["kube-controller-manager", "kube-scheduler", "kwok", "provisioner"])
        run_helper([helper, "bootstrap", f"-kubeconfig={KUBECONFIG}", f"-nodes={NODE_COUNT}"])
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            wait(f"{name} healthy", lambda n=name: health_ok(comps[n], ctx, etcd_ctx))
        wait(f"{NODE_COUNT} nodes Ready", lambda: len(ready_nodes(ctx)) >= NODE_COUNT)
        wait(
            "default service account",
            lambda: api_json("/api/v1/namespaces/default/serviceaccounts/default", ctx) is not None,
        )
    except BaseException:
        for group in STOP_ORDER:
            stop_pids([children[n].pid for n in group if n in children])
        raise
    log(f"cluster ready in {time.monotonic() - t0:.1f}s: Kubernetes {KUBE_VERSION}, {NODE_COUNT} kwok {KWOK_VERSION} nodes")
    log(f"KUBECONFIG={KUBECONFIG}")
    return 0


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def run_helper(argv: list[str]) -> str:
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise HarnessError(f"{' '.join(argv[:2])} failed: {res.stderr.strip()}")
    return res.stdout


# Clients first, etcd last: an API server whose etcd is gone hangs in its
# shutdown instead of exiting within a second.
STOP_ORDER = (
    ("kwok", "provisioner", "kube-scheduler", "kube-controller-manager"),
    ("kube-apiserver",),
    ("etcd",),
)


def down() -> None:
    procs = read_state().get("processes", {})
    killed = []
    for group in STOP_ORDER:
        pids = [procs[n]["pid"] for n in group if n in procs and alive(procs[n]["pid"], procs[n]["argv0"])]
        killed += stop_pids(pids)
    # Also whatever a lost or stale state file no longer names.
    killed += stop_pids([pid for pid, _ in harness_processes()])
    if killed:
        log(f"killed {len(killed)} process(es) that ignored SIGTERM: {killed}")
    shutil.rmtree(STATE_DIR, ignore_errors=True)


def cmd_down(args: argparse.Namespace) -> int:
    with state_lock():
        was = STATE_DIR.exists() or harness_processes()
        down()
    log("cluster stopped and state removed" if was else "no cluster to stop")
    if getattr(args, "all", False):
        # The clusters of the pytest-xdist workers of this checkout, each stopped by the harness as that worker.
        for worker in sorted(REPO_ROOT.glob(".cluster-gw*")):
            env = dict(os.environ, PYTEST_XDIST_WORKER=worker.name.removeprefix(".cluster-"))
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "down"], env=env, check=False)
    return 0


def cmd_status(_args: argparse.Namespace) -> int:
    state = read_state()
    procs = state.get("processes", {})
    strays = [pid for pid, _ in harness_processes() if pid not in {p["pid"] for p in procs.values()}]
    if not procs:
        log(f"no cluster in {STATE_DIR}" + (f"; stray processes: {strays}" if strays else ""))
        return 3
    try:
        ctx, etcd_ctx = tls_context("admin"), tls_context("apiserver-etcd-client")
    except (OSError, ssl.SSLError) as err:
        log(f"cannot read the cluster's certificates: {err}")
        return 1
    all_ok = True
    for comp in components(Path(state["bin_dir"])):
        proc = procs.get(comp.name)
        running = proc is not None and alive(proc["pid"], proc["argv0"])
        ok = running and health_ok(comp, ctx, etcd_ctx)
        all_ok &= ok
        where = f"127.0.0.1:{PORTS[comp.name]}" if comp.name in PORTS else "-"
        pid = proc["pid"] if proc else "-"
        status = "healthy" if ok else ("unhealthy" if running else "not running")
        print(f"{comp.name:<24} pid {pid!s:<8} {where:<16} {status}")
    nodes = ready_nodes(ctx) if all_ok else []
    print(f"{'nodes Ready':<24} {len(nodes)}/{state.get('nodes', NODE_COUNT)} {' '.join(nodes)}")
    if strays:
        print(f"stray processes: {strays}")
    print(f"KUBECONFIG={KUBECONFIG}")
    return 0 if all_ok and len(nodes) >= state.get("nodes", NODE_COUNT) else 1


def cmd_build(args: argparse.Namespace) -> int:
    print(build(force=args.force))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build the binaries unless cached")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    b.set_defaults(func=cmd_build)
    sub.add_parser("up", help="start the cluster, or reuse a healthy one").set_defaults(func=cmd_up)
    d = sub.add_parser("down", help="stop every process and remove .cluster/")
    d.add_argument("--all", action="store_true", help="also the test clusters of pytest-xdist workers (.cluster-gw*/)")
    d.set_defaults(func=cmd_down)
    sub.add_parser("status", help="say what runs").set_defaults(func=cmd_status)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except HarnessError as err:
        print(f"[cluster] error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
