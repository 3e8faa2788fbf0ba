#!/usr/bin/env python3
"""make bench: the collection's converges measured side by side with kubernetes.core and with plain helm.

A benchmark, not a test: it asserts nothing and is not part of `make test`. On the test cluster
(.cluster/kubeconfig) with the real magasin charts (MAGASIN_CHARTS_DIR, else ../shared/charts/magasin), in one
run, each figure the median of --rounds rounds (3), the rounds interleaved so that a change of load on the machine
touches every figure alike:

  noop          playbooks/magasin.yml -i inventories/local on the full platform (realm bn1), nothing to do
  fresh         the same on a new realm (bn4), removed again after each round
  kcore         the same six releases as bn1 (operator, tenant, drill, dagster, daskhub, superset) by six
                kubernetes.core.helm tasks (ansible 12 from PyPI in a venv of the benchmark's own), with the values
                the collection gave them (helm get values -o json, read once), nothing to do
  status_x6     six concurrent `helm status` of those releases
  install_x5    `helm install --wait` of the five realm charts with the same values, concurrently, into fresh
                namespaces (bn4's), removed again after each round (the operator is cluster-wide: not installed twice)
  noop_realms   the no-op of 1, 2 and 3 realms (bn1..bn3), one run per realm one after the other; and, when
                playbooks/magasin.yml converges a group magasin_realms, all three realms in one run (an inventory
                listing the realms as hosts of that group)

With each of the collection's runs: its task count and changed count (play recap), and its helm and kubectl
processes, counted twice - by counting wrappers the run is given as magasin_helm_binary / magasin_kubectl_binary
(every process) and by the run report (realm_info and the releases). Prints a table and writes JSON
(tests/output/bench/bench.json). Every realm and namespace it makes is removed at the end, also after a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
KUBECONFIG = ROOT / ".cluster" / "kubeconfig"
OUT = ROOT / "tests" / "output" / "bench"
KCORE_VENV = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "magasin.platform" / "bench" / "ansible12"
COMPONENTS = ["minio", "drill", "dagster", "daskhub", "superset"]
PLATFORM, EXTRA, FRESH = "bn1", ["bn2", "bn3"], "bn4"
KEYS = ["operator", "tenant", "drill", "dagster", "daskhub", "superset"]
PINS = {"operator": "5.0.11", "tenant": "5.0.11", "drill": "0.9.0", "dagster": "1.9.3", "daskhub": "2024.1.0",
        "superset": "0.13.4"}
NAMESPACE_KEYS = ["tenant", "drill", "dagster", "daskhub", "superset"]
# dagster's values.schema.json refers to remote definitions: the collection skips its validation offline
# (dagster_skip_schema_validation), and so does every peer measured here.
SKIP_SCHEMA = {"dagster"}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def namespaces(realm: str) -> dict[str, str]:
    return {key: f"{realm}-{key}" for key in NAMESPACE_KEYS}


def releases_of(realm: str) -> list[tuple[str, str, str]]:
    """(key, release name, namespace) of the six releases of a realm, as the collection names them."""
    ns = namespaces(realm)
    return [("operator", "operator", "magasin-operator"), ("tenant", "tenant", ns["tenant"]), ("drill", "drill", ns["drill"]),
            ("dagster", "dagster", ns["dagster"]), ("daskhub", f"daskhub-{realm}", ns["daskhub"]),
            ("superset", "superset", ns["superset"])]


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.charts = Path(args.charts).resolve()
        self.helm = str(Path(args.helm).resolve())
        self.kubectl = str(VENV_BIN / "kubectl")
        self.work = Path(tempfile.mkdtemp(prefix="magasin-bench-"))
        self.shims = self.work / "bin"
        self.samples: dict[str, list[float]] = {}
        self.runs: list[dict] = []
        self.notes: list[str] = []
        self.env = dict(os.environ, KUBECONFIG=str(KUBECONFIG), ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                        ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")

    # -- tools ---------------------------------------------------------------------------------------------------
    def run(self, argv: list[str], check: bool = True, timeout: int = 1800, **kw) -> subprocess.CompletedProcess:
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout, check=False, **kw)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:6])} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def helm_cmd(self, *args: str) -> list[str]:
        return [self.helm, "--kubeconfig", str(KUBECONFIG), *args]

    def kubectl_cmd(self, *args: str) -> list[str]:
        return [self.kubectl, "--kubeconfig", str(KUBECONFIG), *args]

    def make_shims(self) -> None:
        """Wrappers that count every process a run starts, then exec the real binary."""
        self.shims.mkdir(parents=True, exist_ok=True)
        for name, real in (("helm", self.helm), ("kubectl", self.kubectl)):
            shim = self.shims / name
            shim.write_text(f'#!/bin/sh\necho {name} >> "$MAGASIN_BENCH_COUNT"\nexec {real} "$@"\n')
            shim.chmod(0o755)

    # -- the collection's runs -----------------------------------------------------------------------------------
    def wait_for_cluster(self) -> None:
        deadline = time.monotonic() + 600
        while self.run(self.kubectl_cmd("get", "--raw", "/readyz"), check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not come back within 10 minutes")
            time.sleep(5)

    def converge(self, realm: str, what: str, state: str = "present", inventory: str = "inventories/local",
                 hosts: list[str] | None = None) -> dict:
        """One run of playbooks/magasin.yml; run once more when the test cluster went away meanwhile (it is shared,
        and was seen to restart under load): that run's figures are then noted, not silently kept."""
        try:
            return self.converge_once(realm, what, state, inventory, hosts)
        except RuntimeError as exc:
            if "connection to the server" not in str(exc):
                raise
            self.notes.append(f"{what} of {realm}: the test cluster went away during the run; run again")
            log(self.notes[-1])
            self.wait_for_cluster()
            return self.converge_once(realm, what, state, inventory, hosts)

    def converge_once(self, realm: str, what: str, state: str, inventory: str, hosts: list[str] | None) -> dict:
        count = self.work / f"count-{what}-{realm}-{len(self.runs)}"
        count.write_text("")
        report = self.work / f"report-{what}-{realm}-{len(self.runs)}.json"
        extra = {"magasin_kubeconfig": str(KUBECONFIG), "magasin_charts_dir": str(self.charts),
                 "magasin_helm_binary": str(self.shims / "helm"), "magasin_kubectl_binary": str(self.shims / "kubectl"),
                 "magasin_components": COMPONENTS, "magasin_state": state}
        if hosts is None:
            extra.update(magasin_realm=realm, magasin_report_path=str(report))
        env = dict(self.env, MAGASIN_BENCH_COUNT=str(count))
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", inventory, "playbooks/magasin.yml", "--extra-vars", json.dumps(extra)]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600, check=False)
        seconds = time.monotonic() - started
        output = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise RuntimeError(f"{what} of {realm} failed (rc {proc.returncode}):\n{output[-6000:]}")
        counted = count.read_text().split()
        recap = recap_of(output)
        entry = {"what": what, "realm": realm, "state": state, "seconds": round(seconds, 3), "tasks": recap["tasks"],
                 "changed": recap["changed"], "processes": {"helm": counted.count("helm"), "kubectl": counted.count("kubectl")}}
        if report.exists() and hosts is None:
            data = json.loads(report.read_text())
            entry["report"] = {"processes": data["processes"], "actions": data["actions"],
                               "durations": data["durations"], "path": str(report)}
        self.runs.append(entry)
        log(f"{what:12s} {realm}: {seconds:6.1f}s tasks={recap['tasks']} changed={recap['changed']} "
            f"helm={entry['processes']['helm']} kubectl={entry['processes']['kubectl']}")
        return entry

    def remove(self, realm: str) -> None:
        """The realm's releases (not the shared operator) and namespaces, whatever state a run left them in."""
        mine = set(namespaces(realm).values())
        listed = self.run(self.helm_cmd("list", "--all-namespaces", "--all", "--output", "json"), check=False)
        for rel in json.loads(listed.stdout or "[]") if listed.returncode == 0 else []:
            if rel["namespace"] in mine:
                self.run(self.helm_cmd("uninstall", rel["name"], "--namespace", rel["namespace"], "--wait", "--timeout", "5m"),
                         check=False)
        present = self.run(self.kubectl_cmd("get", "namespaces", "-o", "name"), check=False).stdout.split()
        doomed = [ns for ns in sorted(mine) if f"namespace/{ns}" in present]
        if doomed:
            # Polled rather than kubectl's --wait, whose watch was seen to hang on a loaded machine after the
            # namespaces had gone.
            self.run(self.kubectl_cmd("delete", "namespace", *doomed, "--wait=false"), check=False)
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                names = self.run(self.kubectl_cmd("get", "namespaces", "-o", "name"), check=False).stdout.split()
                if not any(f"namespace/{ns}" in names for ns in doomed):
                    break
                time.sleep(2)

    # -- kubernetes.core -----------------------------------------------------------------------------------------
    def kcore_venv(self) -> Path:
        ansible = KCORE_VENV / "bin" / "ansible-playbook"
        if not ansible.exists():
            log(f"creating {KCORE_VENV} with ansible 12 from PyPI (once)")
            KCORE_VENV.parent.mkdir(parents=True, exist_ok=True)
            self.run([sys.executable, "-m", "venv", str(KCORE_VENV)])
            self.run([str(KCORE_VENV / "bin" / "pip"), "install", "--quiet", "ansible>=12,<13"], timeout=3600)
        return ansible

    def kcore_playbook(self, values: dict[str, dict]) -> Path:
        tasks = []
        for key, name, namespace in releases_of(PLATFORM):
            task = {"name": f"{key} ({namespace}/{name})",
                    "kubernetes.core.helm": {"name": name, "release_namespace": namespace,
                                             "chart_ref": str(self.charts / f"{key}-{PINS[key]}.tgz"),
                                             "release_values": values[key], "binary_path": self.helm,
                                             "kubeconfig": str(KUBECONFIG), "wait": True, "timeout": "10m"}}
            if key == "daskhub":
                task["kubernetes.core.helm"]["skip_crds"] = True
            if key in SKIP_SCHEMA:
                task["kubernetes.core.helm"]["skip_schema_validation"] = True
            tasks.append(task)
        play = [{"name": "The six releases by kubernetes.core.helm", "hosts": "localhost", "connection": "local",
                 "gather_facts": False, "tasks": tasks}]
        path = self.work / "kcore.yml"
        path.write_text(json.dumps(play, indent=1))
        return path

    def kcore(self, ansible: Path, playbook: Path) -> None:
        env = dict(self.env, ANSIBLE_CONFIG="", ANSIBLE_PYTHON_INTERPRETER=str(KCORE_VENV / "bin" / "python"),
                   PATH=f"{KCORE_VENV / 'bin'}:{os.environ.get('PATH', '')}")
        started = time.monotonic()
        proc = subprocess.run([str(ansible), "-i", "localhost,", str(playbook)], cwd=self.work, env=env, capture_output=True,
                              text=True, timeout=1800, check=False)
        seconds = time.monotonic() - started
        if proc.returncode != 0:
            raise RuntimeError(f"kubernetes.core run failed:\n{(proc.stdout + proc.stderr)[-6000:]}")
        recap = recap_of(proc.stdout)
        self.sample("kcore", seconds)
        self.runs.append({"what": "kcore", "realm": PLATFORM, "seconds": round(seconds, 3), "tasks": recap["tasks"],
                          "changed": recap["changed"]})
        log(f"kcore        {PLATFORM}: {seconds:6.1f}s tasks={recap['tasks']} changed={recap['changed']}")
        if recap["changed"]:
            self.notes.append(f"kubernetes.core reported changed={recap['changed']} on releases the collection left unchanged")

    # -- plain helm ----------------------------------------------------------------------------------------------
    def concurrently(self, commands: list[list[str]]) -> float:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            results = list(pool.map(lambda argv: self.run(argv, check=False, timeout=1800), commands))
        seconds = time.monotonic() - started
        failed = [r for r in results if r.returncode != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(commands)} helm commands failed: {failed[0].stderr[-2000:]}")
        return seconds

    def status_x6(self) -> None:
        seconds = self.concurrently([self.helm_cmd("status", name, "--namespace", ns, "--output", "json")
                                     for _key, name, ns in releases_of(PLATFORM)])
        self.sample("status_x6", seconds)
        log(f"status_x6    {PLATFORM}: {seconds:6.1f}s")

    def install_x5(self, values: dict[str, dict]) -> None:
        commands = []
        for key, name, namespace in releases_of(FRESH)[1:]:
            path = self.work / f"values-{key}.json"
            path.write_text(json.dumps(values[key]))
            argv = self.helm_cmd("install", name, str(self.charts / f"{key}-{PINS[key]}.tgz"), "--namespace", namespace,
                                 "--create-namespace", "--values", str(path), "--wait", "--timeout", "10m")
            commands.append(argv + (["--skip-crds"] if key == "daskhub" else [])
                            + (["--skip-schema-validation"] if key in SKIP_SCHEMA else []))
        try:
            seconds = self.concurrently(commands)
        finally:
            self.remove(FRESH)
        self.sample("install_x5", seconds)
        log(f"install_x5   {FRESH}: {seconds:6.1f}s")

    # -- the whole ---------------------------------------------------------------------------------------------
    def sample(self, what: str, seconds: float) -> None:
        self.samples.setdefault(what, []).append(round(seconds, 3))

    def values(self) -> dict[str, dict]:
        out = {}
        for key, name, namespace in releases_of(PLATFORM):
            got = self.run(self.helm_cmd("get", "values", name, "--namespace", namespace, "--output", "json"))
            out[key] = json.loads(got.stdout or "{}") or {}
        return out

    def one_run_inventory(self, realms: list[str]) -> Path | None:
        """An inventory listing the three realms as hosts of the group magasin_realms, for one run over all of them,
        when playbooks/magasin.yml converges such a group (else None: the figure is left out)."""
        if "magasin_realms" not in (ROOT / "playbooks" / "magasin.yml").read_text():
            self.notes.append("playbooks/magasin.yml converges no group magasin_realms yet: no figure for all realms in one run")
            return None
        hosts = {realm: {"magasin_realm": realm, "magasin_report_path": str(self.work / f"report-one-run-{realm}.json")}
                 for realm in realms}
        path = self.work / "realms.yml"
        path.write_text(json.dumps({"all": {"children": {"magasin_realms": {"hosts": hosts, "vars": {
            "ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}}}))
        return path

    def main(self) -> int:
        noop_realms = [PLATFORM, *EXTRA][:self.args.realms]
        realms = [PLATFORM, *EXTRA, FRESH]
        self.make_shims()
        self.run(self.kubectl_cmd("version", "--output", "json"))
        ansible12 = self.kcore_venv()
        try:
            for realm in realms:
                self.remove(realm)
            for realm in noop_realms:
                self.converge(realm, "setup")
            values = self.values()
            playbook = self.kcore_playbook(values)
            inventory = self.one_run_inventory(noop_realms) if len(noop_realms) > 1 else None
            for round_ in range(1, self.args.rounds + 1):
                log(f"round {round_} of {self.args.rounds}")
                total = 0.0
                for n, realm in enumerate(noop_realms, start=1):
                    run = self.converge(realm, "noop")
                    if run["changed"]:
                        self.notes.append(f"round {round_}: the no-op of {realm} changed {run['changed']}")
                    total += run["seconds"]
                    self.sample(f"noop_realms_{n}", total)
                    if realm == PLATFORM:
                        self.sample("noop", run["seconds"])
                if inventory:
                    try:
                        run = self.converge("all", "noop_one_run", inventory=str(inventory), hosts=noop_realms)
                        self.sample("noop_realms_one_run", run["seconds"])
                    except RuntimeError as exc:
                        self.notes.append(f"round {round_}: all realms in one run failed: {str(exc)[-400:]}")
                        log(self.notes[-1])
                self.kcore(ansible12, playbook)
                self.status_x6()
                try:
                    self.sample("fresh", self.converge(FRESH, "fresh")["seconds"])
                finally:
                    self.remove(FRESH)
                self.install_x5(values)
                self.report(final=False)
        finally:
            log("removing the benchmark's realms")
            for realm in realms:
                self.remove(realm)
            shutil.rmtree(self.work, ignore_errors=True)
        return self.report()

    def report(self, final: bool = True) -> int:
        medians = {what: round(statistics.median(values), 3) for what, values in self.samples.items()}
        ours = [r for r in self.runs if r["what"] in ("noop", "fresh")]
        def typical(what: str, field: str):
            picked = [r for r in ours if r["what"] == what and r["realm"] in (PLATFORM, FRESH)]
            return picked[-1][field] if picked else None
        result = {"rounds": self.args.rounds, "helm": self.helm, "charts": str(self.charts), "medians": medians,
                  "samples": self.samples, "runs": self.runs, "notes": self.notes,
                  "ratios": ratios(medians),
                  "ours": {what: {"tasks": typical(what, "tasks"), "processes": typical(what, "processes"),
                                  "report_processes": (typical(what, "report") or {}).get("processes")}
                           for what in ("noop", "fresh")}}
        OUT.mkdir(parents=True, exist_ok=True)
        path = Path(self.args.out)
        path.write_text(json.dumps(result, indent=2) + "\n")
        if not final:
            return 0
        print(table(result))
        print(f"JSON: {path}")
        return 0


def recap_of(output: str) -> dict[str, int]:
    """Task and changed counts of a play recap, summed over its hosts (tasks: ok + failed + skipped)."""
    tasks = changed = 0
    found = False
    for line in output.splitlines():
        if ": ok=" in line and "changed=" in line:
            fields = dict(part.split("=") for part in line.split(":", 1)[1].split())
            tasks += int(fields["ok"]) + int(fields["failed"]) + int(fields.get("skipped", 0))
            changed += int(fields["changed"])
            found = True
    if not found:
        raise RuntimeError(f"no PLAY RECAP in:\n{output[-3000:]}")
    return {"tasks": tasks, "changed": changed}


def ratios(medians: dict[str, float]) -> dict[str, float | None]:
    def ratio(a: str, b: str):
        return round(medians[a] / medians[b], 2) if medians.get(a) and medians.get(b) else None
    out = {"noop / kcore": ratio("noop", "kcore"), "noop / status_x6": ratio("noop", "status_x6"),
           "fresh / install_x5": ratio("fresh", "install_x5"), "noop 2 realms / 1": ratio("noop_realms_2", "noop_realms_1"),
           "noop 3 realms / 1": ratio("noop_realms_3", "noop_realms_1")}
    if "noop_realms_one_run" in medians:
        out["all realms in one run / 1"] = ratio("noop_realms_one_run", "noop_realms_1")
    return out


def table(result: dict) -> str:
    m = result["medians"]
    rows = [("no-op converge, full platform (bn1)", "noop"), ("kubernetes.core.helm x6, no-op", "kcore"),
            ("helm status x6, concurrent", "status_x6"), ("fresh converge of a new realm (bn4)", "fresh"),
            ("helm install x5 --wait, concurrent", "install_x5"), ("no-op, 1 realm", "noop_realms_1"),
            ("no-op, 2 realms (2 runs)", "noop_realms_2"), ("no-op, 3 realms (3 runs)", "noop_realms_3"),
            ("no-op, all realms in one run", "noop_realms_one_run")]
    lines = [f"median of {result['rounds']} (seconds)", f"{'':44s} {'median':>8s}  samples"]
    for label, key in rows:
        if key in m:
            lines.append(f"{label:44s} {m[key]:8.2f}  {' '.join(f'{s:.1f}' for s in result['samples'][key])}")
    lines.append("")
    for name, value in result["ratios"].items():
        lines.append(f"{name:44s} {value if value is not None else '-':>8}")
    lines.append("")
    for what, data in result["ours"].items():
        lines.append(f"{what:6s} tasks={data['tasks']} processes (every one)={data['processes']} "
                     f"(run report: every module call after the lock)={data['report_processes']}")
    lines += [f"note: {note}" for note in result["notes"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--charts", default=os.environ.get("MAGASIN_CHARTS_DIR") or str(ROOT.parent / "shared" / "charts" / "magasin"))
    parser.add_argument("--helm", default=str(VENV_BIN / "helm4"))
    parser.add_argument("--realms", type=int, default=3, choices=[1, 2, 3], help="realms of the no-op figures (bn1..bn3)")
    parser.add_argument("--out", default=str(OUT / "bench.json"))
    return Bench(parser.parse_args()).main()


if __name__ == "__main__":
    sys.exit(main())
