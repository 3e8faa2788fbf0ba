# -*- coding: utf-8 -*-
# Copyright: magasin.platform contributors
# Apache License 2.0 (see LICENSE)
"""Private to magasin.platform: the realm's TLS, as pure functions over PEM text.

A realm CA (made once, or the site's), one leaf certificate per ingress host signed by it,
and the decisions the tls_certificates module takes: keep what is stored while it still
verifies for its host against the CA and is not near its end, else issue anew. Every
function takes PEM text and returns PEM text or plain data; nothing here reads the cluster.
Private keys are returned only to the caller, which keeps them out of results and logs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509 import verification
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_ERROR = None
except ImportError as exc:  # pragma: no cover - ansible-core's own dependency
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_ERROR = exc

from ._values import TLS_CA_SECRET, TLS_SECRETS

CA_DAYS = 3650
DEFAULT_DAYS = 365
DEFAULT_RENEW_DAYS = 30
ORGANIZATION = "magasin"


def _now(now=None):
    return now or datetime.datetime.now(datetime.timezone.utc)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def _cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def load_certificate(text):
    """The first certificate of a PEM text; ValueError if there is none."""
    if not isinstance(text, str) or "-----BEGIN CERTIFICATE-----" not in text:
        raise ValueError("is not a PEM certificate (-----BEGIN CERTIFICATE-----)")
    try:
        return x509.load_pem_x509_certificate(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("is not a readable PEM certificate (%s)" % exc) from None


def load_key(text):
    if not isinstance(text, str) or "PRIVATE KEY-----" not in text:
        raise ValueError("is not a PEM private key (-----BEGIN PRIVATE KEY-----)")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError):
        # Never the library's message: it may quote the key.
        raise ValueError("is not a readable, unencrypted PEM private key") from None
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError("is neither an EC nor an RSA private key")
    return key


def _matches(cert, key):
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) == \
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _sign_hash(key):
    return hashes.SHA256()


def generate_ca(realm, now=None, days=CA_DAYS):
    """A new realm CA: (certificate PEM, private key PEM)."""
    now = _now(now)
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, "magasin realm %s CA" % realm)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
            .sign(key, _sign_hash(key)))
    return _cert_pem(cert), _key_pem(key)


def issue(ca_cert_pem, ca_key_pem, host, now=None, days=DEFAULT_DAYS):
    """A leaf certificate for ``host`` (its only SAN) signed by the CA: (certificate PEM, private key PEM)."""
    now = _now(now)
    ca_cert, ca_key = load_certificate(ca_cert_pem), load_key(ca_key_pem)
    key = _new_key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                                     x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, _sign_hash(ca_key)))
    return _cert_pem(cert), _key_pem(key)


def verify_problem(cert_pem, ca_cert_pem, host, now=None):
    """Why ``cert_pem`` does not verify as a server certificate for ``host`` against the CA, or None.

    The real path validation of cryptography (RFC 5280 and the web PKI's rules: signature, validity,
    SAN match including wildcards, key usages), with the CA as the only trust anchor.
    """
    try:
        cert = load_certificate(cert_pem)
        ca = load_certificate(ca_cert_pem)
    except ValueError as exc:
        return str(exc)
    verifier = (verification.PolicyBuilder().store(verification.Store([ca])).time(_now(now))
                .build_server_verifier(x509.DNSName(host)))
    try:
        verifier.verify(cert, [])
    except verification.VerificationError as exc:
        return "does not verify for %s against the CA: %s" % (host, exc)
    return None


def _pair(cert_pem, key_pem):
    """(certificate, None) when the PEMs load and the key is the certificate's, else (None, why not)."""
    try:
        cert = load_certificate(cert_pem)
    except ValueError as exc:
        return None, "the certificate %s" % exc
    try:
        key = load_key(key_pem)
    except ValueError as exc:
        return None, "the private key %s" % exc
    if not _matches(cert, key):
        return None, "the private key is not the certificate's"
    return cert, None


def ca_problem(cert_pem, key_pem, now=None):
    """Why a CA (certificate and key PEM) cannot sign the realm's certificates, or None."""
    cert, problem = _pair(cert_pem, key_pem)
    if problem:
        return problem
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        return "the certificate is not a CA (no basicConstraints CA:TRUE)"
    if cert.not_valid_after_utc <= _now(now) + datetime.timedelta(days=1):
        return "the certificate expires on %s" % cert.not_valid_after_utc.date().isoformat()
    return None


def leaf_problem(cert_pem, key_pem, host, ca_cert_pem=None, now=None):
    """Why a site's own certificate and key cannot serve ``host``, or None: the key must be the certificate's,
    and the certificate must verify for the host (against ``ca_cert_pem`` when given, else against itself
    for the SAN and validity checks only: a site's public CA is not known here)."""
    cert, problem = _pair(cert_pem, key_pem)
    if problem:
        return problem
    if ca_cert_pem:
        return verify_problem(cert_pem, ca_cert_pem, host, now)
    if host not in covered_hosts(cert) and not any(_wildcard(name, host) for name in covered_hosts(cert)):
        return "the certificate's names (%s) do not cover %s" % (", ".join(covered_hosts(cert)) or "none", host)
    if cert.not_valid_after_utc <= _now(now):
        return "the certificate expired on %s" % cert.not_valid_after_utc.date().isoformat()
    return None


def _wildcard(pattern, host):
    return pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]


def covered_hosts(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        return []


def not_after(cert_pem):
    return load_certificate(cert_pem).not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def reissue_reason(stored, ca_cert_pem, host, now=None, renew_days=DEFAULT_RENEW_DAYS):
    """Why the stored leaf (``{'tls.crt': ..., 'tls.key': ...}`` decoded, or None) must be issued anew, or None
    to keep it: missing, not for this host, not from this CA, unreadable, near its end (unless it ends with the
    CA), or a key that is not its certificate's."""
    if not stored or not stored.get("tls.crt") or not stored.get("tls.key"):
        return "missing"
    problem = verify_problem(stored["tls.crt"], ca_cert_pem, host, now)
    if problem:
        return problem
    try:
        if not _matches(load_certificate(stored["tls.crt"]), load_key(stored["tls.key"])):
            return "its key is not its certificate's"
    except ValueError as exc:
        return "its key %s" % exc
    end = load_certificate(stored["tls.crt"]).not_valid_after_utc
    # A certificate that ends with its CA is kept: one issued anew could not last longer.
    if end - _now(now) < datetime.timedelta(days=renew_days) and end < load_certificate(ca_cert_pem).not_valid_after_utc:
        return "it expires on %s, within %d days" % (end.date().isoformat(), renew_days)
    return None


def plan_ca(stored, supplied=None, realm="magasin", now=None, generator=generate_ca):
    """The realm CA: (cert PEM, key PEM, action) with action ``kept``, ``generated`` or ``supplied``.

    ``stored`` is the CA Secret's decoded data (or None); ``supplied`` the site's ``{'cert', 'key'}`` (or None),
    which wins. A stored CA that is unreadable raises ValueError: it is never replaced silently, since every
    certificate the consumers trust hangs on it.
    """
    if supplied and supplied.get("cert"):
        action = "kept" if stored and stored.get("tls.crt") == supplied["cert"] and stored.get("tls.key") == supplied["key"] \
            else "supplied"
        return supplied["cert"], supplied["key"], action
    if stored and (stored.get("tls.crt") or stored.get("tls.key")):
        problem = ca_problem(stored.get("tls.crt"), stored.get("tls.key"), now)
        if problem:
            raise ValueError("the stored realm CA cannot be used: %s; delete the Secret to have a new CA made "
                             "(every certificate is then issued anew) or set magasin_tls_ca_cert and "
                             "magasin_tls_ca_key" % problem)
        return stored["tls.crt"], stored["tls.key"], "kept"
    cert, key = generator(realm, now)
    return cert, key, "generated"


def plan_leaf(stored, ca_cert_pem, ca_key_pem, host, supplied=None, now=None, days=DEFAULT_DAYS,
              renew_days=DEFAULT_RENEW_DAYS, issuer=issue):
    """One host's Secret data: (data, action, reason). ``data`` holds tls.crt, tls.key and ca.crt;
    action is ``kept``, ``issued`` (none stored), ``reissued`` or ``supplied`` (the site's own pair)."""
    if supplied and supplied.get("cert"):
        data = {"tls.crt": supplied["cert"], "tls.key": supplied["key"], "ca.crt": supplied.get("ca") or ca_cert_pem}
        same = stored and all(stored.get(k) == v for k, v in data.items())
        return data, "kept" if same else "supplied", None
    reason = reissue_reason(stored, ca_cert_pem, host, now, renew_days)
    if reason is None:
        data = {"tls.crt": stored["tls.crt"], "tls.key": stored["tls.key"], "ca.crt": ca_cert_pem}
        return data, "kept", None
    cert, key = issuer(ca_cert_pem, ca_key_pem, host, now=now, days=days)
    action = "issued" if reason == "missing" else "reissued"
    return {"tls.crt": cert, "tls.key": key, "ca.crt": ca_cert_pem}, action, reason


# --- inventory checks -----------------------------------------------------------------------

def _problem(variable, message, fix):
    return {"variable": variable, "message": message, "fix": fix}


def validate(settings, hosts, now=None):
    """Problems of the TLS inputs (``magasin_tls_*``), each naming the variable and the fix.

    ``hosts``: the ingress hosts set anywhere ({variable: host}).
    """
    problems = []
    cert, key = settings.get("magasin_tls_ca_cert") or "", settings.get("magasin_tls_ca_key") or ""
    if bool(cert) != bool(key):
        missing = "magasin_tls_ca_key" if cert else "magasin_tls_ca_cert"
        problems.append(_problem(missing, "is empty while its pair is set",
                                 "set both magasin_tls_ca_cert and magasin_tls_ca_key (PEM text, e.g. "
                                 "\"{{ lookup('file', 'ca.key') }}\"), or neither to have the realm make its CA"))
    elif cert:
        problem = ca_problem(cert, key, now)
        if problem:
            problems.append(_problem("magasin_tls_ca_cert", problem,
                                     "give the PEM text (not a file name: \"{{ lookup('file', 'ca.crt') }}\") of a CA "
                                     "certificate (basicConstraints CA:TRUE) and of its unencrypted private key"))
    for variable in ("magasin_tls_days", "magasin_tls_renew_days"):
        value = settings.get(variable)
        if value in (None, ""):
            continue
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = None
        if number is None or number < 1 or isinstance(value, bool):
            problems.append(_problem(variable, "is %r, not a number of days" % (value,), "write a whole number, e.g. 365"))
    days, renew = settings.get("magasin_tls_days"), settings.get("magasin_tls_renew_days")
    if not problems and days not in (None, "") and renew not in (None, "") and int(renew) >= int(days):
        problems.append(_problem("magasin_tls_renew_days", "(%s) is not less than magasin_tls_days (%s): every run "
                                 "would issue anew" % (renew, days), "make it smaller, e.g. 30 for 365"))
    certificates = settings.get("magasin_tls_certificates") or {}
    if not isinstance(certificates, dict):
        problems.append(_problem("magasin_tls_certificates", "is not a mapping",
                                 "map each ingress host to {cert: PEM, key: PEM}"))
        return problems
    known = dict((h, v) for v, h in hosts.items() if h)
    for host, pair in sorted(certificates.items()):
        variable = "magasin_tls_certificates[%s]" % host
        if host not in known:
            problems.append(_problem(variable, "names no ingress host of the realm (%s)" % (", ".join(sorted(known)) or "none set"),
                                     "key it by one of the *_host values, or remove it"))
            continue
        if not isinstance(pair, dict) or not pair.get("cert") or not pair.get("key"):
            problems.append(_problem(variable, "needs cert and key", "write {cert: PEM, key: PEM} (ca: PEM optional)"))
            continue
        problem = leaf_problem(pair["cert"], pair["key"], host, pair.get("ca") or None, now)
        if problem:
            problems.append(_problem(variable, problem, "give the certificate of %s (SAN %s) and its unencrypted key"
                                     % (known[host], host)))
    return problems


def format_problems(problems):
    """One line per problem: '<variable>: <message>; <fix>'."""
    return "\n".join("%s: %s; %s" % (p["variable"], p["message"], p["fix"]) for p in problems)


# --- the realm's certificates ---------------------------------------------------------------

# Each UI an ingress serves: (its component, the namespace key of its Secret).
UIS = {"minio_api": ("minio", "tenant"), "minio_console": ("minio", "tenant"), "dagster": ("dagster", "dagster"),
       "daskhub": ("daskhub", "daskhub"), "superset": ("superset", "superset")}
HOST_VARS = {"minio_api": "minio_api_host", "minio_console": "minio_console_host", "dagster": "dagster_webserver_host",
             "daskhub": "daskhub_host", "superset": "superset_host"}


def certificate_plan(model, hosts):
    """What the tls_certificates module keeps for the realm: ``{ca: {name, namespace}, certificates: [{ui, host,
    namespace, secret}], namespace_keys: [...]}``, one certificate per selected component's ingress host
    (``hosts``: {host variable: host}). The CA lives in the tenant namespace (with the MinIO root credentials)."""
    certificates = []
    for ui, (component, key) in UIS.items():
        host = hosts.get(HOST_VARS[ui]) or ""
        if host and component in model["components"]:
            certificates.append({"ui": ui, "host": host, "namespace": model["namespaces"][key],
                                 "secret": TLS_SECRETS[ui]})
    keys = ["tenant"] + [k for ui, (c, k) in UIS.items() if any(x["ui"] == ui for x in certificates) and k != "tenant"]
    return {"ca": {"name": TLS_CA_SECRET, "namespace": model["namespaces"]["tenant"]},
            "certificates": certificates, "namespace_keys": sorted(set(keys), key=keys.index)}
