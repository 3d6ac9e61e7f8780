"""TLS and mTLS from a real Envoy to the service (SPEC 2, issue 14).

The service runs with `AUTHZ_TLS_CERT_FILE`, `AUTHZ_TLS_KEY_FILE` and
`AUTHZ_TLS_CLIENT_CA_FILE` from a Secret-style folder (the kubelet's `..data` swap); Envoy
runs the shipped `deploy/envoy/envoy.yaml` with its commented `UpstreamTlsContext` block
(between the BEGIN/END markers) switched on, pointed at certificates made here. What a
user sees: checks through Envoy work over mTLS, the service's certificate rotates under
live traffic, and an Envoy that cannot present a client certificate fails closed (503).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from support.configmap import ConfigMapDir
from support.envoy import TEMPLATE, EnvoyProxy
from support.keyserver import KeyServer
from support.procs import wait_until
from support.service import AuthzService
from support.upstream import EchoServer
from support import http

from .conftest import POOL, Minter
from .test_e2e_decisions import assert_denied, upstream_saw


def _policy(keys: KeyServer) -> str:
    return f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
defaultAction: deny
routes:
  - name: reports
    path: /reports/{{id}}
    scopes: [reports/read]
"""


# --- certificates -------------------------------------------------------------------


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


# --- the shipped UpstreamTlsContext -------------------------------------------------


def shipped_upstream_tls() -> dict:
    """The commented block of deploy/envoy/envoy.yaml, uncommented and parsed."""
    text = TEMPLATE.read_text()
    block = re.search(r"# BEGIN upstream TLS\n(.*?)\n\s*# END upstream TLS", text, re.S)
    assert block, f"no BEGIN/END upstream TLS block in {TEMPLATE}"
    lines = [re.sub(r"^(\s*)# ?", r"\1", line, count=1) for line in block.group(1).splitlines()]
    return yaml.safe_load("\n".join(lines))


def with_upstream_tls(envoy_dir: Path, *, client_cert: bool = True):
    """A transform turning the shipped block on, with this test's files and names."""

    def transform(cfg: dict) -> None:
        block = shipped_upstream_tls()["transport_socket"]
        tls = block["typed_config"]
        tls["sni"] = "localhost"
        ctx = tls["common_tls_context"]
        assert ctx["alpn_protocols"] == ["h2"]
        if client_cert:
            ctx["tls_certificates"][0]["certificate_chain"]["filename"] = str(envoy_dir / "tls.crt")
            ctx["tls_certificates"][0]["private_key"]["filename"] = str(envoy_dir / "tls.key")
        else:
            del ctx["tls_certificates"]
        ctx["validation_context"]["trusted_ca"]["filename"] = str(envoy_dir / "ca.crt")
        ctx["validation_context"]["match_typed_subject_alt_names"][0]["matcher"]["exact"] = "localhost"
        (cluster,) = [c for c in cfg["static_resources"]["clusters"] if c["name"] == "cognito_ext_authz"]
        cluster["transport_socket"] = block

    return transform


# --- fixtures -----------------------------------------------------------------------


@dataclass
class Pki:
    server_ca: Ca
    client_ca: Ca
    server: Issued
    envoy: Issued
    secret: ConfigMapDir  # the service's Secret mount
    envoy_dir: Path  # Envoy's files


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    server_ca, client_ca = Ca("e2e server CA"), Ca("e2e client CA")
    server = server_ca.issue("cognito-ext-authz", server=True)
    envoy = client_ca.issue("envoy", server=False)
    secret = ConfigMapDir(
        tmp_path / "secret", {"tls.crt": server.cert, "tls.key": server.key, "ca.crt": client_ca.pem}
    )
    envoy_dir = tmp_path / "envoy-tls"
    envoy_dir.mkdir()
    (envoy_dir / "tls.crt").write_text(envoy.cert)
    (envoy_dir / "tls.key").write_text(envoy.key)
    (envoy_dir / "ca.crt").write_text(server_ca.pem)
    return Pki(server_ca, client_ca, server, envoy, secret, envoy_dir)


@pytest.fixture
def mtls_service(authz_bin: Path, tmp_path: Path, keys: KeyServer, pki: Pki):
    with AuthzService(
        authz_bin,
        tmp_path,
        _policy(keys),
        name="tls-authz",
        env={
            "AUTHZ_TLS_CERT_FILE": str(pki.secret.path("tls.crt")),
            "AUTHZ_TLS_KEY_FILE": str(pki.secret.path("tls.key")),
            "AUTHZ_TLS_CLIENT_CA_FILE": str(pki.secret.path("ca.crt")),
        },
    ) as service:
        yield service


def metric(service: AuthzService, series: str) -> float:
    for line in service.metrics().splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def served_certificate(port: int, pki: Pki) -> bytes:
    """The certificate a new mTLS connection to the service is shown (DER)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=pki.server_ca.pem)
    ctx.set_alpn_protocols(["h2"])
    ctx.load_cert_chain(pki.envoy_dir / "tls.crt", pki.envoy_dir / "tls.key")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2"
            return tls.getpeercert(binary_form=True)


# --- tests --------------------------------------------------------------------------


def test_envoy_checks_over_mtls_and_the_service_certificate_rotates_under_traffic(
    mtls_service: AuthzService, envoy_bin: Path, tmp_path: Path, upstream: EchoServer, pki: Pki, mint: Minter
) -> None:
    service = mtls_service
    with EnvoyProxy(
        envoy_bin, tmp_path, authz_port=service.grpc_port, upstream_port=upstream.port,
        name="tls-envoy", transform=with_upstream_tls(pki.envoy_dir),
    ) as envoy:
        def logs() -> str:
            return f"{service.log_tail()}\n{envoy.process.log_tail(15)}"

        good = mint.access("reports/read")
        wait_until(
            lambda: http.request(envoy.listen_port, "/reports/1", token=good).status == 200,
            20, "a check over mTLS", interval=0.1, on_timeout=logs,
        )
        upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert_denied(http.request(envoy.listen_port, "/reports/1"), 401, "Unauthorized", "Bearer")
        assert_denied(http.request(envoy.listen_port, "/reports/1", token=mint.access("other")), 401, "Unauthorized")
        # Envoy's gRPC health check goes over the same mTLS and sees SERVING.
        wait_until(lambda: envoy.authz_health_flags() == "healthy", 20, "healthy over mTLS", on_timeout=logs)
        assert served_certificate(service.grpc_port, pki) == pki.server.der
        # Envoy holds one HTTP/2 connection: one handshake serves many checks.
        handshakes = metric(service, 'cognito_ext_authz_tls_handshakes_total{result="ok"}')
        for _ in range(20):
            upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert metric(service, 'cognito_ext_authz_tls_handshakes_total{result="ok"}') <= handshakes + 1

        # cert-manager renews the service's certificate: the kubelet swaps the Secret.
        renewed = pki.server_ca.issue("cognito-ext-authz", server=True, days=60)
        pki.secret.update({"tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": pki.client_ca.pem})
        wait_until(
            lambda: served_certificate(service.grpc_port, pki) == renewed.der,
            20, "new connections shown the renewed certificate", interval=0.2, on_timeout=logs,
        )
        # Envoy's established connection was not cut: checks keep passing.
        for _ in range(20):
            upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert envoy.stat("cluster.cognito_ext_authz.upstream_cx_destroy_remote") in (None, 0), logs()
        assert metric(service, 'cognito_ext_authz_tls_reloads_total{result="success"}') == 2
        assert metric(service, 'cognito_ext_authz_tls_reloads_total{result="failure"}') == 0
        not_after = x509.load_der_x509_certificate(renewed.der).not_valid_after_utc.timestamp()
        assert metric(service, "cognito_ext_authz_tls_certificate_not_after_timestamp_seconds") == not_after


def test_an_envoy_without_a_client_certificate_or_without_tls_fails_closed(
    mtls_service: AuthzService, envoy_bin: Path, tmp_path: Path, upstream: EchoServer, pki: Pki, mint: Minter
) -> None:
    service = mtls_service
    good = mint.access("reports/read")
    for name, transform in [
        ("no-client-cert", with_upstream_tls(pki.envoy_dir, client_cert=False)),
        ("plaintext", None),  # the shipped file as it is: the block left commented
    ]:
        with EnvoyProxy(
            envoy_bin, tmp_path, authz_port=service.grpc_port, upstream_port=upstream.port,
            name=f"tls-envoy-{name}", transform=transform,
        ) as envoy:
            r = http.request(envoy.listen_port, "/reports/1", token=good)
            assert r.status == 503, f"{name}: {r.describe()}"
            assert r.header("x-upstream") is None, f"{name}: the upstream was reached"
    assert metric(service, 'cognito_ext_authz_tls_handshakes_total{result="no_client_certificate"}') >= 1
    assert metric(service, 'cognito_ext_authz_tls_handshakes_total{result="not_tls"}') >= 1
