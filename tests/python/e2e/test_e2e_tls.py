"""TLS and mTLS from a real Envoy to the service (docs/running.md).

The service runs with `AUTHZ_TLS_CERT_FILE`, `AUTHZ_TLS_KEY_FILE` and
`AUTHZ_TLS_CLIENT_CA_FILE` from a Secret-style folder (the kubelet's `..data` swap); Envoy
runs the shipped `deploy/envoy/envoy.yaml` with its commented `UpstreamTlsContext` block
(between the BEGIN/END markers) switched on, pointed at certificates made here. What a
user sees: checks through Envoy work over mTLS, the service's certificate rotates under
live traffic, and an Envoy that cannot present a client certificate fails closed (503).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from support import envoy as envoy_cfg
from support.envoy import EnvoyProxy
from support.pki import Pki, make_pki
from support.keyserver import KeyServer
from support.procs import wait_until
from support.service import AuthzService
from support.upstream import EchoServer
from support import http

from .conftest import DEADLINE_SECONDS, Minter, reports_policy
from .test_e2e_decisions import assert_insufficient_scope, assert_unauthorized_no_token, upstream_saw


def with_upstream_tls(envoy_dir: Path, *, client_cert: bool = True):
    """The shipped upstream TLS block switched on, with this test's files and names."""
    return envoy_cfg.upstream_tls(
        envoy_dir / "ca.crt",
        cert=envoy_dir / "tls.crt" if client_cert else None,
        key=envoy_dir / "tls.key" if client_cert else None,
    )


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return make_pki(tmp_path)


@pytest.fixture
def mtls_service(authz_bin: Path, tmp_path: Path, keys: KeyServer, pki: Pki):
    with AuthzService(
        authz_bin,
        tmp_path,
        reports_policy(keys),
        name="tls-authz",
        env={
            "AUTHZ_TLS_CERT_FILE": str(pki.secret.path("tls.crt")),
            "AUTHZ_TLS_KEY_FILE": str(pki.secret.path("tls.key")),
            "AUTHZ_TLS_CLIENT_CA_FILE": str(pki.secret.path("ca.crt")),
        },
    ) as service:
        yield service


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

# pytest-timeout for the rotation test: the service and Envoy start, then three waits, each
# up to its own deadline, so a slow step fails with its own message, not a pytest timeout.
ROTATION_TIMEOUT_SECONDS = 300


@pytest.mark.timeout(ROTATION_TIMEOUT_SECONDS)
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
            DEADLINE_SECONDS, "a check over mTLS", interval=0.1, on_timeout=logs,
        )
        upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert_unauthorized_no_token(http.request(envoy.listen_port, "/reports/1"))
        assert_insufficient_scope(http.request(envoy.listen_port, "/reports/1", token=mint.access("other")))
        # Envoy's gRPC health check goes over the same mTLS and sees SERVING.
        wait_until(lambda: envoy.authz_health_flags() == "healthy", DEADLINE_SECONDS, "healthy over mTLS",
                   on_timeout=logs)
        assert served_certificate(service.grpc_port, pki) == pki.server.der
        # Envoy holds one HTTP/2 connection: one handshake serves many checks.
        handshakes = service.metric('cognito_ext_authz_tls_handshakes_total{result="ok"}')
        for _ in range(20):
            upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert service.metric('cognito_ext_authz_tls_handshakes_total{result="ok"}') <= handshakes + 1

        # cert-manager renews the service's certificate: the kubelet swaps the Secret.
        renewed = pki.server_ca.issue("cognito-ext-authz", server=True, days=60)
        pki.secret.update({"tls.crt": renewed.cert, "tls.key": renewed.key, "ca.crt": pki.client_ca.pem})
        wait_until(
            lambda: served_certificate(service.grpc_port, pki) == renewed.der,
            DEADLINE_SECONDS, "new connections shown the renewed certificate", interval=0.2, on_timeout=logs,
        )
        # Envoy's established connection was not cut: checks keep passing.
        for _ in range(20):
            upstream_saw(http.request(envoy.listen_port, "/reports/1", token=good))
        assert envoy.stat("cluster.cognito_ext_authz.upstream_cx_destroy_remote") in (None, 0), logs()
        assert service.metric('cognito_ext_authz_tls_reloads_total{result="success"}') == 2
        assert service.metric('cognito_ext_authz_tls_reloads_total{result="failure"}') == 0
        not_after = x509.load_der_x509_certificate(renewed.der).not_valid_after_utc.timestamp()
        assert service.metric("cognito_ext_authz_tls_certificate_not_after_timestamp_seconds") == not_after


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
    assert service.metric('cognito_ext_authz_tls_handshakes_total{result="no_client_certificate"}') >= 1
    assert service.metric('cognito_ext_authz_tls_handshakes_total{result="not_tls"}') >= 1
