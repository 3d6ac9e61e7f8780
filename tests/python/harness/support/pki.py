"""Certificates for TLS between Envoy and the service: two small CAs (one for the
service's serving certificate, one for Envoy's client certificate), EC P-256, made per run.
Used by the TLS end-to-end test and the TLS benchmark (scripts/bench/tls.py)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .configmap import ConfigMapDir


@dataclass
class Issued:
    cert: str  # PEM
    key: str  # PEM (PKCS#8)
    der: bytes


class Ca:
    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, name: str, *, server: bool, days: int = 30) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans: list[x509.GeneralName] = [x509.DNSName(name)]
        if server:
            sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        return Issued(
            cert=cert.public_bytes(serialization.Encoding.PEM).decode(),
            key=key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
            der=cert.public_bytes(serialization.Encoding.DER),
        )


@dataclass
class Pki:
    server_ca: Ca
    client_ca: Ca
    server: Issued
    envoy: Issued
    secret: ConfigMapDir  # the service's Secret mount
    envoy_dir: Path  # Envoy's files


def make_pki(root: Path, label: str = "e2e") -> Pki:
    """Both CAs, the service's certificate as a mounted Secret (`root/secret`: tls.crt,
    tls.key, and the client CA as ca.crt) and Envoy's files (`root/envoy-tls`)."""
    server_ca, client_ca = Ca(f"{label} server CA"), Ca(f"{label} client CA")
    server = server_ca.issue("cognito-ext-authz", server=True)
    envoy = client_ca.issue("envoy", server=False)
    secret = ConfigMapDir(
        root / "secret", {"tls.crt": server.cert, "tls.key": server.key, "ca.crt": client_ca.pem}
    )
    envoy_dir = root / "envoy-tls"
    envoy_dir.mkdir()
    (envoy_dir / "tls.crt").write_text(envoy.cert)
    (envoy_dir / "tls.key").write_text(envoy.key)
    (envoy_dir / "ca.crt").write_text(server_ca.pem)
    return Pki(server_ca, client_ca, server, envoy, secret, envoy_dir)
