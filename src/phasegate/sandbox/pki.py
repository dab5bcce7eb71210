"""The sandbox's certificates and keys, generated fresh for every start.

One throw-away CA signs the serving certificates (API server, registry) and a client
certificate per identity. The API server maps a client certificate's CN to the user name and its
O fields to groups, which is all RBAC needs. ECDSA P-256 keys are used because they are
generated in microseconds (RSA would cost ~100 ms each), and every component accepts
them, the service-account token signer included (ES256).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Names under which the API server's serving certificate must be valid: loopback for
# us, the in-cluster service names and the first service IP for workloads.
SERVING_DNS = (
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
)
SERVING_IPS = ("127.0.0.1", "10.96.0.1")
VALIDITY = dt.timedelta(days=7)


def client_pair(directory: Path, label: str) -> CertPair:
    """Where ``generate`` put the client pair for identity ``label``."""
    return CertPair(cert=directory / f"client-{label}.crt", key=directory / f"client-{label}.key")


def ca_cert(directory: Path) -> Path:
    return directory / "ca.crt"


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: CertPair
    serving: CertPair
    sa_key: Path
    sa_pub: Path
    clients: dict[str, CertPair]


@dataclass(frozen=True)
class Identity:
    """A client identity: the user (certificate CN) and its groups (O)."""

    user: str
    groups: tuple[str, ...] = ()


def generate(directory: Path, identities: dict[str, Identity]) -> Pki:
    """Write CA, serving pair, service-account key pair and one client pair per identity."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phasegate-sandbox-ca")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca = _write(directory, "ca", ca_cert, ca_key)

    serving = _serving(
        directory, "apiserver", "kube-apiserver", SERVING_DNS, SERVING_IPS, ca_cert, ca_key
    )

    clients = {}
    for label, ident in identities.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            _builder(_name(ident.user, ident.groups), ca_cert.subject, key.public_key())
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        clients[label] = _write(directory, client_pair(directory, label).cert.stem, cert, key)

    sa_key = ec.generate_private_key(ec.SECP256R1())
    sa_key_path = directory / "sa.key"
    _write_private(sa_key_path, sa_key)
    sa_pub_path = directory / "sa.pub"
    sa_pub_path.write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return Pki(ca=ca, serving=serving, sa_key=sa_key_path, sa_pub=sa_pub_path, clients=clients)


def issue_serving(
    directory: Path, stem: str, dns: tuple[str, ...], ips: tuple[str, ...]
) -> CertPair:
    """Another serving pair from the CA ``generate`` wrote into ``directory``."""
    issuer = x509.load_pem_x509_certificate(ca_cert(directory).read_bytes())
    issuer_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{directory / 'ca.key'} is not the sandbox's EC CA key")
    return _serving(directory, stem, stem, dns, ips, issuer, issuer_key)


def issue_client(
    directory: Path, ident: Identity, valid_for: dt.timedelta = VALIDITY
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a new client identity signed by the CA ``generate`` wrote
    into ``directory``, valid from now for ``valid_for`` (certificate rotation in tests)."""
    issuer = x509.load_pem_x509_certificate(ca_cert(directory).read_bytes())
    issuer_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    if not isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        raise TypeError(f"{directory / 'ca.key'} is not the sandbox's EC CA key")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(ident.user, ident.groups), issuer.subject, key.public_key(), valid_for)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), pem


def _serving(
    directory: Path,
    stem: str,
    common_name: str,
    dns: tuple[str, ...],
    ips: tuple[str, ...],
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> CertPair:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (
        _builder(_name(common_name), ca_cert.subject, key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return _write(directory, stem, cert, key)


def _name(common_name: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
    valid_for: dt.timedelta = VALIDITY,
) -> x509.CertificateBuilder:
    # Back-date a little: the components compare against their own clocks.
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(minutes=5) + valid_for)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> CertPair:
    cert_path = directory / f"{stem}.crt"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path = directory / f"{stem}.key"
    _write_private(key_path, key)
    return CertPair(cert=cert_path, key=key_path)


def _write_private(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    # Created 0600 from the start: a private key is never readable by others.
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.touch(mode=0o600)
    path.write_bytes(data)
