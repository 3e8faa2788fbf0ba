"""Shared helpers of the site tests: helm/kubectl on the test cluster, realm naming, snapshots, playbook runs.

Nothing here is a test. The site tests (test_site*.py, test_check_mode.py, test_upgrade.py,
test_adoption.py) deploy the real magasin charts (../shared/charts/magasin) with real helm
onto the kwok test cluster: objects are real API objects, but no container ever runs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = REPO_ROOT / ".venv" / "bin"


def cluster_harness():
    """tests/cluster/harness.py under a name of its own (tests/hosts has a harness.py too)."""
    spec = importlib.util.spec_from_file_location("magasin_cluster_harness", REPO_ROOT / "tests" / "cluster" / "harness.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


# The admin kubeconfig of this process's test cluster: the checkout's .cluster, or under pytest-xdist the
# worker's own (tests/cluster/harness.py worker_index).
KUBECONFIG = cluster_harness().KUBECONFIG
RECAP_RE = re.compile(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
HOST_RECAP_RE = re.compile(r"^(?P<host>[\w.-]+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE)
COMPONENTS = ["minio", "drill", "dagster", "daskhub", "superset"]
# The installer's charts, in its order (install-magasin.sh: install_chart drill ... tenant).
INSTALLER_CHARTS = ["drill", "daskhub", "dagster", "superset", "operator", "tenant"]
NAMESPACE_KEYS = ["operator", "tenant", "drill", "dagster", "daskhub", "superset"]
PINS = {"operator": "5.0.11", "tenant": "5.0.11", "drill": "0.9.0", "dagster": "1.9.3", "daskhub": "2024.1.0",
        "superset": "0.13.4"}
PREVIOUS = {"drill": "0.7.2", "dagster": "1.7.16", "superset": "0.12.6", "daskhub": "2023.1.0"}
# Namespaced kinds whose objects a realm's charts create; every one is read in full for the leak checks.
NAMESPACED_KINDS = ["secrets", "configmaps", "deployments", "statefulsets", "daemonsets", "jobs", "cronjobs", "pods",
                    "services", "serviceaccounts", "ingresses", "networkpolicies", "persistentvolumeclaims",
                    "roles", "rolebindings", "poddisruptionbudgets", "tenants.minio.min.io"]


def helm4_unless_asked(helm_bin: Path, why: str) -> None:
    """Skip a Helm 3 case of a test whose subject does not depend on the Helm major, unless MAGASIN_HELM=3
    asks for it: the long tests that do (site, check mode, upgrade, adoption, modules) run on both."""
    if helm_bin.name.endswith("3") and os.environ.get("MAGASIN_HELM", "").strip() != "3":
        pytest.skip(f"Helm 4 only unless MAGASIN_HELM=3: {why}")


def namespaces(realm: str) -> dict[str, str]:
    """The installer's naming: realm 'magasin' -> magasin-drill; 'ab-cd' -> ab-drill-cd (split at the last dash)."""
    prefix, dash, suffix = realm.rpartition("-")
    if not dash:
        return {key: f"{realm}-{key}" for key in NAMESPACE_KEYS}
    return {key: f"{prefix}-{key}-{suffix}" for key in NAMESPACE_KEYS}


def digest(data: dict | None) -> str:
    return hashlib.sha256(json.dumps(data or {}, sort_keys=True).encode()).hexdigest()


class Cluster:
    """helm and kubectl against the test cluster, JSON in, JSON out."""

    def __init__(self, kubeconfig: Path, helm: Path):
        self.kubeconfig = kubeconfig
        self.helm_bin = helm
        self.kubectl_bin = VENV_BIN / "kubectl"

    def run(self, argv: list[str], check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
        env = dict(os.environ, KUBECONFIG=str(self.kubeconfig))
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([str(self.helm_bin), *args], check=check)

    def kubectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return self.run([str(self.kubectl_bin), *args], check=check)

    def kubectl_json(self, *args: str) -> dict:
        return json.loads(self.kubectl(*args, "-o", "json").stdout or "{}")

    def items(self, kind: str, namespace: str | None = None, *args: str) -> list[dict]:
        where = ["--namespace", namespace] if namespace else []
        return self.kubectl_json("get", kind, *where, "--ignore-not-found", *args).get("items", [])

    def releases(self) -> list[dict]:
        """Every release in any status (Helm 4 lists all by default and has no --all)."""
        every = ["--all"] if self.helm_bin.name.endswith("3") else []
        return json.loads(self.helm("list", "--all-namespaces", *every, "--output", "json").stdout or "[]")

    def release(self, name: str, namespace: str) -> dict | None:
        return next((r for r in self.releases() if r["name"] == name and r["namespace"] == namespace), None)

    def values(self, name: str, namespace: str) -> dict:
        return json.loads(self.helm("get", "values", name, "--namespace", namespace, "--output", "json").stdout)

    def secret(self, namespace: str, name: str) -> dict[str, str]:
        data = self.kubectl_json("get", "secret", name, "--namespace", namespace).get("data") or {}
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}

    def exists(self, *args: str) -> bool:
        return self.kubectl("get", *args, "--ignore-not-found", "-o", "name").stdout.strip() != ""

    def existing_namespaces(self) -> list[str]:
        return sorted(i["metadata"]["name"] for i in self.items("namespaces"))

    def realm_namespaces(self, realm: str) -> list[str]:
        """The realm's namespaces that exist (its components' and its marker namespace)."""
        wanted = set(namespaces(realm).values()) | {realm}
        return [ns for ns in self.existing_namespaces() if ns in wanted]

    def operator_release(self) -> dict | None:
        return next((r for r in self.releases() if r["chart"].startswith("operator-")), None)

    def snapshot(self, realm: str) -> dict:
        """What a run must not change: the realm's namespaces (existing or not), every release in them and the
        cluster's MinIO operator (revision, status, chart), and every Secret and ConfigMap in them (resourceVersion
        and a digest of the data), and the ClusterRoles/Bindings released into them or labelled with the realm.
        Scoped to the realm because others share the test cluster."""
        mine = set(namespaces(realm).values()) | {realm}
        releases = self.releases()
        operator = next((r for r in releases if r["chart"].startswith("operator-")), None)
        snap: dict = {
            "namespaces": [ns for ns in self.existing_namespaces() if ns in mine],
            "releases": sorted((r["namespace"], r["name"], str(r["revision"]), r["status"], r["chart"])
                               for r in releases if r["namespace"] in mine or r is operator),
            "objects": [],
            "cluster": sorted((i["kind"], i["metadata"]["name"], i["metadata"]["resourceVersion"])
                              for i in self.items("clusterroles,clusterrolebindings") if _of_realm(i, mine, realm)),
        }
        # One read per namespace for both kinds (the snapshot is taken before and after many runs).
        plural = {"Secret": "secrets", "ConfigMap": "configmaps"}
        for ns in snap["namespaces"]:
            for item in self.items("secrets,configmaps", ns):
                meta = item["metadata"]
                snap["objects"].append((plural[item["kind"]], ns, meta["name"], meta["resourceVersion"],
                                        digest({**(item.get("data") or {}), **(item.get("binaryData") or {})})))
        snap["objects"].sort()
        return snap

    def secret_values(self, realm: str) -> dict[str, str]:
        """Every value of every Secret in the realm's namespaces, decoded, keyed by namespace/name/key."""
        out = {}
        for ns in self.realm_namespaces(realm):
            for item in self.items("secrets", ns):
                for key, value in (item.get("data") or {}).items():
                    out[f"{ns}/{item['metadata']['name']}/{key}"] = base64.b64decode(value).decode(errors="replace")
        return out

    def rendered_objects(self, realm: str) -> list[dict]:
        """Every object of NAMESPACED_KINDS in the realm's namespaces, Secrets decoded into stringData; helm's
        own release Secrets (type helm.sh/release.v1) are left out: they hold the values, not rendered objects."""
        out = []
        for ns in self.realm_namespaces(realm):
            for kind in NAMESPACED_KINDS:
                for item in self.items(kind, ns):
                    if item.get("type") == "helm.sh/release.v1":
                        continue
                    if kind == "secrets":
                        item = {**item, "data": {k: base64.b64decode(v).decode(errors="replace")
                                                 for k, v in (item.get("data") or {}).items()}}
                    out.append(item)
        return out

    def claims(self, realm: str) -> dict[str, dict]:
        return {f"{ns}/{c['metadata']['name']}": {"uid": c["metadata"]["uid"], "phase": c.get("status", {}).get("phase")}
                for ns in self.realm_namespaces(realm) for c in self.items("persistentvolumeclaims", ns)}

    def teardown(self, realm: str) -> None:
        """Remove a realm left by an earlier run: its releases (the cluster's MinIO operator stays), then its
        namespaces (with PVCs and the Secrets the roles created), then what helm left cluster-wide."""
        mine = set(namespaces(realm).values()) | {realm}
        keep = set()
        for rel in self.releases():
            if rel["namespace"] not in mine:
                continue
            if rel["chart"].startswith("operator-"):
                keep.add(rel["namespace"])
                continue
            self.helm("uninstall", rel["name"], "--namespace", rel["namespace"], "--wait", check=False)
        doomed = [ns for ns in self.realm_namespaces(realm) if ns not in keep]
        if doomed:
            self.kubectl("delete", "namespace", *doomed, "--wait=true", "--timeout=300s")
        # The realm's NetworkPolicies in the shared operator's namespace, which stays.
        self.kubectl("delete", "networkpolicies", "--all-namespaces", "--ignore-not-found",
                     "-l", f"magasin.unicef.org/network-policy=true,magasin.unicef.org/realm={realm}", check=False)


def _of_realm(obj: dict, mine: set[str], realm: str) -> bool:
    """A cluster-scoped object released into one of the realm's namespaces, or labelled with the realm."""
    meta = obj["metadata"]
    return (meta.get("annotations") or {}).get("meta.helm.sh/release-namespace") in mine \
        or (meta.get("labels") or {}).get("magasin.unicef.org/realm") == realm


@dataclass
class Run:
    rc: int
    output: str
    argv: list[str]
    seconds: float = 0.0

    @property
    def recaps(self) -> dict[str, dict[str, int]]:
        """Per host of the PLAY RECAP (a run over several realms has one line each)."""
        return {m.group("host"): {"ok": int(m.group(2)), "changed": int(m.group(3)), "failed": int(m.group(5))}
                for m in HOST_RECAP_RE.finditer(self.output)}

    @property
    def recap(self) -> dict[str, int]:
        match = RECAP_RE.search(self.output)
        assert match, f"no PLAY RECAP:\n{self.output[-4000:]}"
        return {"ok": int(match.group(1)), "changed": int(match.group(2)), "failed": int(match.group(4))}

    @property
    def changed(self) -> int:
        return self.recap["changed"]

    def ok(self) -> Run:
        assert self.rc == 0, f"{' '.join(self.argv[-4:])}: ansible-playbook failed (rc {self.rc}):\n{self.output[-8000:]}"
        return self


class Playbook:
    """ansible-playbook -i inventories/local, as a user runs it, pointed at the test cluster and one chart source."""

    def __init__(self, kubeconfig: Path, helm: Path, charts: dict, inventory: str = "inventories/local"):
        self.kubeconfig = kubeconfig
        self.helm = helm
        self.charts = charts  # {"magasin_charts_dir": dir} or {"magasin_chart_repo": url, "magasin_charts_dir": ""}
        self.inventory = inventory

    def with_inventory(self, inventory: Path | str) -> Playbook:
        """The same, with another inventory (several realms as hosts, for one)."""
        return Playbook(self.kubeconfig, self.helm, self.charts, str(inventory))

    def __call__(self, path: str = "site.yml", extra: dict | None = None, *args: str, timeout: int = 1800) -> Run:
        extra_vars = {"magasin_kubeconfig": str(self.kubeconfig), "magasin_helm_binary": str(self.helm),
                      **self.charts, **(extra or {})}
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
                   ANSIBLE_FORCE_COLOR="0", PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
        cmd = [str(VENV_BIN / "ansible-playbook"), "-i", self.inventory, path,
               "--extra-vars", json.dumps(extra_vars), *args]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        run = Run(proc.returncode, proc.stdout + proc.stderr, cmd, time.monotonic() - started)
        # One line per run in pytest's captured output (-rA, or a failure, shows it): what took the time.
        print(f"[site] {run.seconds:6.0f}s rc={run.rc} {path} {' '.join(args)} {json.dumps(extra or {})[:120]}")
        return run


def leaks(text: str, values: list[str]) -> list[str]:
    """The values (or their base64) found in text."""
    found = []
    for value in values:
        if value and (value in text or base64.b64encode(value.encode()).decode() in text):
            found.append(value)
    return found


SECRET_KEY_RE = re.compile(r"(?i)pass|secret|token|cookie|crypt|auth|key")
# Words (letters, then perhaps digits) joined by - _ . / are names, keys and placeholders
# (set-in-magasin-superset-env, AWS_ENDPOINT_URL_S3, get_secret_value, hub.jupyter.org/dedicated), not credentials.
NAME_RE = re.compile(r"^[A-Za-z]+[0-9]*(?:[_./-](?:[A-Za-z]+[0-9]*)?)+$")
ASSIGNMENT_RE = re.compile(r"""(?im)\b[\w.-]*(?:pass|secret|token|key)[\w.-]*["']?[ \t]*[=:][ \t]*["']?([^"'\s,}]{8,})""")


def secret_strings(secret_values: dict[str, str]) -> set[str]:
    """The strings of Secret data that must never be printed: single-line values under secret-looking keys,
    and the values of secret-looking assignments inside multi-line ones (config.env, HOCON, values.yaml)."""
    out = set()
    for where, value in secret_values.items():
        key = where.rsplit("/", 1)[-1]
        if "\n" not in value.strip():
            if SECRET_KEY_RE.search(key) and len(value) >= 8 and not NAME_RE.match(value.strip()):
                out.add(value.strip())
        else:
            out.update(m.group(1) for m in ASSIGNMENT_RE.finditer(value)
                       if not m.group(1).startswith(("$", "os.")) and not m.group(1).endswith(":")
                       and not NAME_RE.match(m.group(1)))
    return out


# Public defaults that must never reach a rendered object: the tenant chart's root password, the superset
# chart's SECRET_KEY defaults (0.13.4's configOverrides and 0.12.6's extraSecretEnv, from their values.yaml).
PUBLIC_DEFAULTS = ["minio123", "ON_MAGASIN_PROD_CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET",
                   "LNS78tGfwCYyiIggQxLBviTT83itPTgbho822Wr9IWjo/cNcojL/CZK5", "CHANGE_ME_TO_A_COMPLEX_RANDOM_SECRET"]
# The charts' default database passwords, which install-magasin.sh (no values) leaves in place:
# superset 0.13.4 postgresql.auth.password, dagster 1.9.3 postgresql.postgresqlPassword; and the
# superset admin's password (init.adminUser.password).
INSTALLER_DB_PASSWORDS = {"superset": "superset", "dagster": "test"}
ADMIN_DEFAULT = "admin"


def pod_specs(obj: dict) -> list[dict]:
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        return [spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})]
    template = spec.get("template", {}).get("spec")
    return [template] if template else []


def containers(obj: dict) -> list[dict]:
    return [c for spec in pod_specs(obj) for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]


def env_of(cluster: Cluster, namespace: str, container: dict) -> dict[str, str]:
    """A container's environment resolved as the kubelet would: envFrom Secrets/ConfigMaps, then env
    (literal values, secretKeyRef, configMapKeyRef)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        kind, ref = ("secret", source["secretRef"]) if "secretRef" in source else ("configmap", source["configMapRef"])
        if not cluster.exists(kind, ref["name"], "-n", namespace):
            continue  # optional, or a pod that would not start; either way it gives no variable
        if kind == "secret":
            data = cluster.secret(namespace, ref["name"])
        else:
            data = cluster.kubectl_json("get", "configmap", ref["name"], "-n", namespace).get("data") or {}
        env.update({prefix + k: v for k, v in data.items()})
    for item in container.get("env") or []:
        if "value" in item:
            env[item["name"]] = item["value"]
        ref = (item.get("valueFrom") or {})
        if "secretKeyRef" in ref:
            env[item["name"]] = cluster.secret(namespace, ref["secretKeyRef"]["name"]).get(ref["secretKeyRef"]["key"], "")
        elif "configMapKeyRef" in ref:
            data = cluster.kubectl_json("get", "configmap", ref["configMapKeyRef"]["name"], "-n", namespace).get("data") or {}
            env[item["name"]] = data.get(ref["configMapKeyRef"]["key"], "")
    return env


def env_sources(container: dict) -> set[str]:
    """The Secrets a container's environment is read from."""
    names = {s["secretRef"]["name"] for s in container.get("envFrom") or [] if "secretRef" in s}
    names |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env") or []
              if "secretKeyRef" in (e.get("valueFrom") or {})}
    return names


def minio_user(cluster: Cluster, realm: str, consumer: str) -> dict[str, str]:
    """The MinIO user the realm made for one consumer (drill, dagster, notebooks): its Secret in the tenant
    namespace, keys CONSOLE_ACCESS_KEY / CONSOLE_SECRET_KEY (the tenant chart's users[] shape)."""
    ns = namespaces(realm)["tenant"]
    found = [s for s in cluster.items("secrets", ns)
             if consumer in s["metadata"]["name"] and "CONSOLE_ACCESS_KEY" in (s.get("data") or {})]
    assert len(found) == 1, f"one MinIO user Secret for {consumer} in {ns}, found {[s['metadata']['name'] for s in found]}"
    return cluster.secret(ns, found[0]["metadata"]["name"])


def public_defaults_found(objects: list[dict], adopted: dict[str, str] | None = None) -> list[str]:
    """Every place a public default sits in the rendered objects: a PUBLIC_DEFAULTS string anywhere, the superset
    admin's default password in an init command or a Secret, a chart's default database password as a Secret value
    or literal env value (unless listed in `adopted`, component -> password, carried over from the installer)."""
    adopted = adopted or {}
    bad = []
    for obj in objects:
        where = f"{obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        text = json.dumps(obj)
        bad += [f"{where}: {d}" for d in PUBLIC_DEFAULTS if d in text]
        if re.search(r"--password\s+admin\b", text):
            bad.append(f"{where}: --password admin (superset's admin/admin)")
        values = []
        if obj["kind"] == "Secret":
            values = list((obj.get("data") or {}).items())
        for container in containers(obj):
            values += [(e["name"], e["value"]) for e in container.get("env") or [] if "value" in e]
        for key, value in values:
            if not re.search(r"(?i)pass", key):
                continue
            if value == ADMIN_DEFAULT:
                bad.append(f"{where}: {key}=admin")
            for component, password in INSTALLER_DB_PASSWORDS.items():
                if value == password and adopted.get(component) != password:
                    bad.append(f"{where}: {key}={password} ({component} chart's default database password)")
    return bad


def wiring_problems(cluster: Cluster, realm: str) -> list[str]:
    """The realm's wiring, read from the rendered objects (not from helm values); [] when all is wired.

    Drill: the drillbit StatefulSet mounts a storage-plugin override from a Secret whose s3 plugin points at the
    realm's MinIO Service with the drill user's keys. Superset: its datasource import (ConfigMap) names Drill's
    Service. Dagster (user code Deployments and run launcher) and the notebooks (JupyterHub singleuser env, which
    the hub reads from its Secret `hub`) take their S3 environment from the realm's S3 Secret. kwok runs no
    container: Drill never loads the plugin, Superset never imports, no notebook starts; these are the objects
    they would read."""
    ns = namespaces(realm)
    endpoint = f"http://minio.{ns['tenant']}.svc.cluster.local"
    users = {c: minio_user(cluster, realm, c) for c in ("drill", "dagster", "notebooks")}
    problems = []

    # Drill
    sts = [s for s in cluster.items("statefulsets", ns["drill"])
           if any(m["mountPath"].endswith("storage-plugins-override.conf")
                  for c in containers(s) for m in c.get("volumeMounts") or [])]
    if len(sts) != 1:
        problems.append(f"drill: no single StatefulSet mounting storage-plugins-override.conf in {ns['drill']}: {len(sts)}")
    else:
        spec = pod_specs(sts[0])[0]
        mount = next(m for c in containers(sts[0]) for m in c.get("volumeMounts") or []
                     if m["mountPath"].endswith("storage-plugins-override.conf"))
        volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
        if "secret" not in volume:
            problems.append(f"drill: the storage plugin is mounted from {volume}, not from a Secret")
        else:
            conf = cluster.secret(ns["drill"], volume["secret"]["secretName"]).get(mount.get("subPath", ""), "")
            try:
                plugins = json.loads(conf)["storage"]
            except (ValueError, KeyError):
                plugins = {}
                problems.append(f"drill: the storage plugin Secret holds no JSON/HOCON storage map: {conf[:200]!r}")
            s3 = [p for p in plugins.values() if str(p.get("connection", "")).startswith("s3a://")]
            if len(s3) != 1:
                problems.append(f"drill: {len(s3)} s3a plugins in the mounted override")
            else:
                config = s3[0].get("config", {})
                if config.get("fs.s3a.endpoint") != endpoint:
                    problems.append(f"drill: fs.s3a.endpoint {config.get('fs.s3a.endpoint')!r}, not {endpoint}")
                if (config.get("fs.s3a.access.key"), config.get("fs.s3a.secret.key")) != (
                        users["drill"]["CONSOLE_ACCESS_KEY"], users["drill"]["CONSOLE_SECRET_KEY"]):
                    problems.append("drill: the s3a keys are not the drill user's")

    # Superset
    drill_service = f"drill-service.{ns['drill']}.svc.cluster.local:8047"
    imports = [cm for cm in cluster.items("configmaps", ns["superset"])
               if "import_datasources.yaml" in (cm.get("data") or {})]
    if not imports or drill_service not in imports[0]["data"]["import_datasources.yaml"]:
        problems.append(f"superset: no datasource import ConfigMap naming {drill_service}")
    elif not cluster.exists("service", "drill-service", "-n", ns["drill"]):
        problems.append(f"superset: names drill-service, which {ns['drill']} does not have")

    # Dagster: user code and the run launcher.
    user_code = [d for d in cluster.items("deployments", ns["dagster"])
                 if "user-deployments" in json.dumps(d["metadata"].get("labels", {}))]
    if not user_code:
        problems.append("dagster: no user code Deployment")
    for deployment in user_code:
        for container in containers(deployment):
            env = env_of(cluster, ns["dagster"], container)
            if env.get("AWS_ENDPOINT_URL") != endpoint or env.get("AWS_ACCESS_KEY_ID") != users["dagster"]["CONSOLE_ACCESS_KEY"] \
                    or env.get("AWS_SECRET_ACCESS_KEY") != users["dagster"]["CONSOLE_SECRET_KEY"]:
                problems.append(f"dagster: {deployment['metadata']['name']} env is not the realm's S3 Secret "
                                f"(sources {sorted(env_sources(container))})")
    s3_secrets = {name for d in user_code for c in containers(d) for name in env_sources(c)}
    instance = next((cm for cm in cluster.items("configmaps", ns["dagster"]) if cm["metadata"]["name"].endswith("-instance")), None)
    if not instance or not any(name in json.dumps(instance.get("data")) for name in s3_secrets):
        problems.append(f"dagster: the run launcher (ConfigMap *-instance) does not pass {sorted(s3_secrets)}")

    # Notebooks: the hub spawns them with singleuser.extraEnv from the values it reads from its Secret `hub`.
    hub = cluster.secret(ns["daskhub"], "hub") if cluster.exists("secret", "hub", "-n", ns["daskhub"]) else {}
    single = (yaml_load(hub.get("values.yaml", "")) or {}).get("singleuser", {})
    extra = single.get("extraEnv") or {}
    container = {"env": [{"name": k, **(v if isinstance(v, dict) else {"value": v})} for k, v in extra.items()]} \
        if isinstance(extra, dict) else {"env": extra}
    env = env_of(cluster, ns["daskhub"], container)
    if env.get("AWS_ENDPOINT_URL") != endpoint or env.get("AWS_ACCESS_KEY_ID") != users["notebooks"]["CONSOLE_ACCESS_KEY"] \
            or env.get("AWS_SECRET_ACCESS_KEY") != users["notebooks"]["CONSOLE_SECRET_KEY"]:
        problems.append(f"notebooks: singleuser env is not the realm's S3 Secret for the notebooks user (sources "
                        f"{sorted(env_sources(container))})")
    if any("value" in e and e["name"].startswith("AWS_SECRET") for e in container["env"]):
        problems.append("notebooks: the S3 secret key is inline in the hub's values, not a secretKeyRef")
    return problems


def yaml_load(text: str):
    return yaml.safe_load(text) if text else None


def operator_made(ns: str) -> list[dict]:
    """What the MinIO operator would create for the realm's Tenant (it does not run on kwok): a pool pod and the
    `minio` (S3) and `<tenant>-console` Services. The pod carries the security context the collection's tenant
    values give the pool, since the tenant namespace enforces Pod Security `restricted`."""
    labels = {"v1.min.io/tenant": "myminio"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "myminio-pool-0-0", "namespace": ns, "labels": labels},
           "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 1000,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{"name": "minio", "image": "quay.io/minio/minio",
                                    "securityContext": {"allowPrivilegeEscalation": False,
                                                        "capabilities": {"drop": ["ALL"]}},
                                    "ports": [{"containerPort": 9000}, {"containerPort": 9090}]}]}}
    services = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
                 "spec": {"selector": labels, "ports": [{"port": port, "targetPort": target}]}}
                for name, port, target in (("minio", 80, 9000), ("myminio-console", 9090, 9090))]
    return [pod, *services]
