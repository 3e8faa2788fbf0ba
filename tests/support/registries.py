"""Real OCI registries on 127.0.0.1 for the offline-site tests: the CNCF distribution registry and crane,
built by tests/support/registry_build.py.

Each registry serves TLS with a certificate of a throwaway CA made here (a site registry has one of its
own); helm and crane, Go programs both, trust it through SSL_CERT_FILE. `Registry.push_image` makes a
tiny single-layer image (one file naming the image) with `crane append` on an empty base.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import os
import socket
import ssl
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path

import registry_build
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, cert.pem, key.pem): a CA and a certificate for 127.0.0.1 and localhost signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "magasin test site CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    paths[2].chmod(0o600)
    return paths


class Registry:
    """One `registry serve` on 127.0.0.1:<free port>, its storage under ``directory``; stop() ends it."""

    def __init__(self, name: str, directory: Path, tls: tuple[Path, Path, Path]):
        self.name = name
        self.directory = directory
        self.ca, cert, key = tls
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        config = directory / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {directory / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n  tls:\n    certificate: {cert}\n    key: {key}\n")
        self.log = open(directory / "registry.log", "w")  # noqa: SIM115 - open while the server runs
        self.proc = subprocess.Popen([str(registry_build.build("registry")), "serve", str(config)], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        context = ssl.create_default_context(cafile=str(self.ca))
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"https://{self.host}/v2/", context=context, timeout=2) as res:
                    if res.status == 200:
                        break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"registry {name} did not start: {(directory / 'registry.log').read_text()}") from None
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Crane:
    """crane with the test CA trusted."""

    def __init__(self, ca: Path):
        self.binary = str(registry_build.build("crane"))
        self.env = dict(os.environ, SSL_CERT_FILE=str(ca))

    def __call__(self, *args: str, check: bool = True, data: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([self.binary, *args], env=self.env, input=data, capture_output=True, check=check)

    def digest(self, ref: str) -> str | None:
        res = self(("digest"), ref, check=False)
        return res.stdout.decode().strip() if res.returncode == 0 else None

    def push_image(self, ref: str, workdir: Path) -> str:
        """A single-layer image at ``ref`` (one file that names it); returns its digest."""
        layer = workdir / "layer.tar"
        content = f"magasin test image {ref}\n".encode()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("magasin-test-image")
            info.size, info.mtime = len(content), 0
            tar.addfile(info, io.BytesIO(content))
        layer.write_bytes(buf.getvalue())
        self("append", "-f", str(layer), "-t", ref)
        return self.digest(ref) or ""
