"""Envoy fails closed when the authorization service is unreachable, hung or gone.

The first two tests need only Envoy (nothing or a black hole stands where the service
should be); the last two stop and restart the real service behind a running Envoy.
Each test has its own Envoy, so nothing here disturbs the shared stack.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from support import http
from support.envoy import AUTHZ_CLUSTER, EnvoyProxy, cluster
from support.procs import free_port, wait_until
from support.service import AuthzService
from support.upstream import EchoServer

from .conftest import DEADLINE_SECONDS, Minter, main_policy

# pytest-timeout for the tests below that start and stop processes and wait several times:
# room for every wait in a row, each up to its own deadline, so a slow step fails with its
# own message rather than a pytest timeout.
MANY_WAITS_TIMEOUT_SECONDS = 300


def _seconds(duration: str) -> float:
    """An Envoy duration as the YAML writes it ("3s", "0.5s")."""
    assert duration.endswith("s") and not duration.endswith("ms"), duration
    return float(duration[:-1])


def health_check_verdict_seconds(envoy: EnvoyProxy) -> float:
    """The longest Envoy's active health check of the authz cluster may take, by its own
    configuration, to change its verdict on a host: the first check after
    `no_traffic_interval`, then one every `interval` until the threshold is met, each up
    to its `timeout`."""
    (hc,) = cluster(envoy.config, AUTHZ_CLUSTER)["health_checks"]
    checks = max(hc["unhealthy_threshold"], hc["healthy_threshold"])
    return (_seconds(hc["no_traffic_interval"]) + (checks - 1) * _seconds(hc["interval"])
            + checks * _seconds(hc["timeout"]))


def recovery_seconds(envoy: EnvoyProxy) -> float:
    """The longest the authz cluster may take, by its own configuration, to send checks
    again to a host that failed and came back: a first outlier ejection ends after
    `base_ejection_time` (seen at the next `interval` sweep), and the active health check
    needs `healthy_threshold` passes, one every `interval`, each up to its `timeout`."""
    c = cluster(envoy.config, AUTHZ_CLUSTER)
    od = c["outlier_detection"]
    (hc,) = c["health_checks"]
    return (_seconds(od["base_ejection_time"]) + _seconds(od["interval"])
            + hc["healthy_threshold"] * (_seconds(hc["interval"]) + _seconds(hc["timeout"])))


def _assert_outage_answer(r: http.Response) -> None:
    # status_on_error in deploy/envoy/envoy.yaml: an outage is 503, never a pass-through.
    assert r.status == 503, r.describe()
    assert r.header("x-upstream") is None, "the upstream answered: Envoy failed open"


def test_nothing_listening_is_503_not_pass_through(envoy_bin: Path, tmp_path: Path, upstream: EchoServer) -> None:
    with EnvoyProxy(envoy_bin, tmp_path, authz_port=free_port(), upstream_port=upstream.port) as envoy:
        before = upstream.count()
        r = http.request(envoy.listen_port, "/health")
        _assert_outage_answer(r)
        assert upstream.count() == before


class BlackHole:
    """Accepts TCP connections and never answers: a hung authorization service."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        for c in self.conns:
            c.close()
        self.sock.close()


def test_hung_service_times_out_into_503(envoy_bin: Path, tmp_path: Path, upstream: EchoServer) -> None:
    hole = BlackHole()
    try:
        with EnvoyProxy(envoy_bin, tmp_path, authz_port=hole.port, upstream_port=upstream.port) as envoy:
            before = upstream.count()
            # Without Envoy's ext_authz timeout the request would wait on the hung service
            # until the client gave up (60 s here): an answer at all shows the timeout in
            # force, whatever the machine's speed.
            r = http.request(envoy.listen_port, "/health", timeout=60)
            _assert_outage_answer(r)
            assert upstream.count() == before
    finally:
        hole.close()


@pytest.mark.timeout(MANY_WAITS_TIMEOUT_SECONDS)
def test_service_stopped_denies_then_recovers_on_restart(
    authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys, upstream: EchoServer, mint: Minter
) -> None:
    """Stop the service: Envoy answers 503. Start it again on the same port: traffic
    recovers through the same Envoy process (its HTTP/2 pool reconnects), no Envoy restart."""
    token = mint.access("files/read")
    svc = AuthzService(authz_bin, tmp_path, main_policy(keys), name="restart-authz")
    try:
        with EnvoyProxy(envoy_bin, tmp_path, authz_port=svc.grpc_port, upstream_port=upstream.port) as envoy:
            envoy_pid = envoy.process.pid
            assert http.request(envoy.listen_port, "/files/a", token=token).status == 200

            assert svc.stop() == 0, svc.log_tail()  # SIGTERM; AUTHZ_DRAIN_SECONDS=0
            before = upstream.count()
            for path, tok in (("/files/a", token), ("/health", None), ("/nope", None)):
                _assert_outage_answer(http.request(envoy.listen_port, path, token=tok))
            assert upstream.count() == before

            svc.start()  # same ports, new process
            wait_until(
                lambda: http.request(envoy.listen_port, "/files/a", token=token).status == 200,
                recovery_seconds(envoy) + DEADLINE_SECONDS,
                "traffic to recover after the service restarted",
                interval=0.2,
                on_timeout=svc.log_tail,
            )
            assert envoy.process.alive() and envoy.process.pid == envoy_pid
            # Denials are the service's again, not outage answers.
            assert http.request(envoy.listen_port, "/files/a").status == 401
    finally:
        svc.stop()


@pytest.mark.timeout(MANY_WAITS_TIMEOUT_SECONDS)
def test_grpc_health_check_sees_the_service(
    authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys, upstream: EchoServer
) -> None:
    """Envoy's grpc_health_check (service "envoy.service.auth.v3.Authorization") passes
    against the service, and fails once it is gone."""
    svc = AuthzService(authz_bin, tmp_path, main_policy(keys), name="hc-authz")
    try:
        with EnvoyProxy(envoy_bin, tmp_path, authz_port=svc.grpc_port, upstream_port=upstream.port) as envoy:
            # The first check runs as Envoy starts; /clusters shows its verdict.
            wait_until(
                lambda: envoy.authz_health_flags() == "healthy",
                health_check_verdict_seconds(envoy) + DEADLINE_SECONDS,
                "Envoy's health check to mark the service healthy",
                on_timeout=lambda: envoy.admin_get("/clusters") + svc.log_tail(),
            )
            assert (envoy.stat("cluster.cognito_ext_authz.health_check.success") or 0) >= 1
            assert http.request(envoy.listen_port, "/health").status == 200  # the cluster has traffic
            svc.stop()

            def marked_down() -> bool:
                # Keep traffic flowing (each request a 503). The check scheduled before
                # the cluster had traffic runs after `no_traffic_interval`, later ones
                # every `interval`: `unhealthy_threshold` failures mark the host down.
                http.request(envoy.listen_port, "/health")
                return "failed_active_hc" in envoy.authz_health_flags()

            # What the configuration allows for that, plus the shared deadline for a busy
            # machine's delays on top.
            wait_until(marked_down, health_check_verdict_seconds(envoy) + DEADLINE_SECONDS,
                       "Envoy's health check to mark the stopped service unhealthy", interval=0.3,
                       on_timeout=lambda: envoy.admin_get("/clusters"))
    finally:
        svc.stop()


@pytest.mark.timeout(MANY_WAITS_TIMEOUT_SECONDS)
def test_drain_on_sigterm_keeps_answering_then_a_second_signal_exits_zero(
    authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys, upstream: EchoServer, mint: Minter
) -> None:
    """SIGTERM: /readyz turns 503 and health NOT_SERVING, yet checks arriving through
    Envoy's open connection are still answered during the drain (600 s here, so no request
    can outlast it); a second SIGTERM ends the drain early and the process exits 0."""
    token = mint.access("files/read")
    svc = AuthzService(
        authz_bin, tmp_path, main_policy(keys), name="drain-authz", env={"AUTHZ_DRAIN_SECONDS": "600"}
    )
    try:
        with EnvoyProxy(envoy_bin, tmp_path, authz_port=svc.grpc_port, upstream_port=upstream.port) as envoy:
            assert http.request(envoy.listen_port, "/files/a", token=token).status == 200
            svc.terminate()
            wait_until(lambda: svc.readyz() == 503, 30, "/readyz to turn 503 after SIGTERM", on_timeout=svc.log_tail)
            statuses = []
            for _ in range(5):
                statuses.append(http.request(envoy.listen_port, "/files/a", token=token).status)
                statuses.append(http.request(envoy.listen_port, "/files/a").status)
            assert statuses == [200, 401] * 5, f"answers while draining: {statuses}\n{svc.log_tail()}"
            assert svc.process.alive(), "exited during the drain period"
            svc.terminate()  # the second signal ends the drain
            code = svc.process.wait_exit(60)
            assert code == 0, f"exit code {code} after drain\n{svc.log_tail()}"
            assert "second signal" in svc.process.log_path.read_text(errors="replace")
    finally:
        svc.stop()
