"""Rollouts and failures of the authorizer, seen from a client of the shipped Envoy.

Two service instances stand behind the `cognito_ext_authz` cluster of
`deploy/envoy/envoy.yaml`, exactly as shipped (HTTP/2, gRPC health checks, retry policy on
the ext_authz grpc_service, outlier detection, circuit breakers); the only change is a
second endpoint in its load assignment, as a headless Service's DNS answer would give.
Clients send a steady, bounded load of authorized requests while one instance:

- is terminated (SIGTERM) and drains: Envoy's health check marks it down while it still
  answers, it exits 0 once the drain ends, and no request fails;
- is killed (SIGKILL, no drain at all): in-flight checks are retried on the other
  instance and new ones never wait on the dead one, and no request fails.

Every wait is on what Envoy, the instances or the load show (health flags, decision
counts, request counts), up to a generous deadline. The drain here is long (600 s) and
ended by a second SIGTERM once Envoy has marked the instance down, so how fast Envoy
notices cannot decide the test. That the chart's default drain outlasts Envoy's detection
time in the shipped file is pinned without a clock, in tests/python/deploy/test_chart_operations.py
(`test_drain_outlasts_envoys_detection_and_the_grace_period_outlasts_the_drain`).

Plus the edge hardening of the shipped listener: a header name with "_" is
refused by Envoy before any filter runs.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from pathlib import Path

import pytest
import yaml

from support import http
from support.envoy import AUTHZ_CLUSTER, EnvoyProxy, cluster
from support.procs import wait_until
from support.service import AuthzService, policy_yaml
from support.stack import Stack
from support.upstream import EchoServer

from .conftest import DEADLINE_SECONDS, Minter, main_policy

CLIENTS = 6
MAX_REQUESTS = 20_000  # a bound on the whole run, far above what the phases need
MIN_REQUESTS = 200  # the load must have run: at least this many requests in each test
# Longer than any test here can run: the instance drains until its second SIGTERM.
DRAIN_SECONDS = 600
# pytest-timeout for each test here: room for the start-up and every wait in a row, each
# up to its own deadline, so a slow step fails with its own message, not a pytest timeout.
TEST_TIMEOUT_SECONDS = 600


class Load:
    """CLIENTS threads sending authorized requests through Envoy until stopped."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures: list[str] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def _run(self) -> None:
        while not self.stop_event.is_set():
            with self.lock:
                if self.ok + len(self.failures) >= MAX_REQUESTS:
                    return
            try:
                # The client waits longer than Envoy's own limits (0.5 s for the check, 15 s
                # for the upstream), so a failure is Envoy's answer, not a client giving up.
                r = http.request(self.port, "/users/42", token=self.token, timeout=DEADLINE_SECONDS)
                outcome = None if r.status == 200 and r.header("x-upstream") else r.describe()
            except OSError as error:
                outcome = f"client error: {error!r}"
            with self.lock:
                if outcome is None:
                    self.ok += 1
                else:
                    self.failures.append(outcome)
            time.sleep(0.002)  # a steady load, not a flood: two cores are shared

    def __enter__(self) -> "Load":
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        for t in self.threads:
            # Longer than one request can take: every outcome is counted before the asserts.
            t.join(timeout=DEADLINE_SECONDS + 10)
        if exc[0] is None:
            assert not any(t.is_alive() for t in self.threads), "a load thread did not stop"

    def total(self) -> int:
        with self.lock:
            return self.ok + len(self.failures)

    def summary(self) -> str:
        with self.lock:
            return f"load so far: {self.ok} ok, {len(self.failures)} failed {self.failures[:5]}"


def decisions(service: AuthzService) -> float:
    text = service.metrics()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("cognito_ext_authz_decisions_total{"))


def host_flags(envoy: EnvoyProxy) -> dict[int, str]:
    """Health flags of each cognito_ext_authz host, by port."""
    flags = {}
    for line in envoy.admin_get("/clusters").splitlines():
        match = re.match(r"cognito_ext_authz::127\.0\.0\.1:(\d+)::health_flags::(.*)$", line)
        if match:
            flags[int(match.group(1))] = match.group(2)
    return flags


def with_second_instance(port: int):
    def transform(config: dict) -> None:
        endpoints = cluster(config, AUTHZ_CLUSTER)["load_assignment"]["endpoints"][0]["lb_endpoints"]
        second = yaml.safe_load(yaml.safe_dump(endpoints[0]))
        second["endpoint"]["address"]["socket_address"]["port_value"] = port
        endpoints.append(second)
    return transform


@pytest.fixture()
def pair(authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys, upstream: EchoServer):
    """Two instances (a 600 s drain) behind one Envoy running the shipped cluster."""
    env = {"AUTHZ_DRAIN_SECONDS": str(DRAIN_SECONDS)}
    policy = policy_yaml(main_policy(keys))
    first = AuthzService(authz_bin, tmp_path, policy, env=env, name="authz-a")
    second = AuthzService(authz_bin, tmp_path, policy, env=env, name="authz-b")
    try:
        envoy = EnvoyProxy(envoy_bin, tmp_path, authz_port=first.grpc_port,
                           upstream_port=upstream.port, name="envoy-pair",
                           transform=with_second_instance(second.grpc_port))
    except BaseException:
        first.stop(timeout=1)
        second.stop(timeout=1)
        raise
    try:
        wait_until(lambda: set(host_flags(envoy).values()) == {"healthy"}
                   and len(host_flags(envoy)) == 2, DEADLINE_SECONDS, "both instances healthy in Envoy",
                   on_timeout=lambda: envoy.admin_get("/clusters"))
        yield first, second, envoy
    finally:
        envoy.stop()
        for s in (first, second):
            if s.process and s.process.alive():
                s.process.kill()
            s.stop(timeout=1)


def run_until_both_serve(load: Load, first: AuthzService, second: AuthzService) -> None:
    wait_until(lambda: decisions(first) >= 20 and decisions(second) >= 20, DEADLINE_SECONDS,
               "checks reaching both instances", on_timeout=lambda: load.summary())


def wait_for_survivor_to_decide(load: Load, second: AuthzService) -> None:
    """The surviving instance decides new checks: its decision count grows past what it
    was now (read when the metrics answer)."""
    baseline: list[float] = []

    def grown() -> bool:
        now = decisions(second)
        if not baseline:
            baseline.append(now)
        return now > baseline[0]

    wait_until(grown, DEADLINE_SECONDS, "the survivor to keep deciding",
               on_timeout=lambda: f"{load.summary()}\n{second.log_tail()}")


def wait_for_enough_load(load: Load) -> None:
    wait_until(lambda: load.total() >= MIN_REQUESTS, DEADLINE_SECONDS,
               f"{MIN_REQUESTS} requests through Envoy", on_timeout=load.summary)


@pytest.mark.timeout(TEST_TIMEOUT_SECONDS)
def test_terminating_one_of_two_under_load_fails_no_request(pair, mint: Minter) -> None:
    first, second, envoy = pair
    token = mint.access(scope="users/read")
    with Load(envoy.listen_port, token) as load:
        run_until_both_serve(load, first, second)
        first.terminate()  # SIGTERM, as the kubelet sends it: the drain starts
        # Envoy notices the drain (health goes NOT_SERVING) while the instance still answers.
        wait_until(lambda: "failed_active_hc" in host_flags(envoy).get(first.grpc_port, ""),
                   DEADLINE_SECONDS, "Envoy marking the draining instance down",
                   on_timeout=lambda: envoy.admin_get("/clusters"))
        assert first.process.alive(), f"exited during a {DRAIN_SECONDS} s drain\n{first.log_tail()}"
        # Checks go on, all to the other instance, while this one still drains.
        wait_for_survivor_to_decide(load, second)
        first.terminate()  # the second signal ends the drain
        code = first.process.wait_exit(DEADLINE_SECONDS)
        assert code == 0, f"exit code {code}\n{first.log_tail()}"
        wait_for_survivor_to_decide(load, second)
        wait_for_enough_load(load)
    assert not load.failures, f"{len(load.failures)} of {load.total()} failed: {load.failures[:5]}"


@pytest.mark.timeout(TEST_TIMEOUT_SECONDS)
def test_killing_one_of_two_under_load_fails_no_request(pair, mint: Minter) -> None:
    """No drain at all (a node lost, an OOM kill): the retry policy on the ext_authz
    grpc_service sends reset and refused checks to the other instance."""
    first, second, envoy = pair
    token = mint.access(scope="users/read")
    with Load(envoy.listen_port, token) as load:
        run_until_both_serve(load, first, second)
        first.process.signal(signal.SIGKILL)
        assert first.process.wait_exit(DEADLINE_SECONDS) is not None
        wait_until(lambda: "failed_active_hc" in host_flags(envoy).get(first.grpc_port, "")
                   or "failed_outlier_check" in host_flags(envoy).get(first.grpc_port, ""),
                   DEADLINE_SECONDS, "Envoy taking the dead instance out",
                   on_timeout=lambda: envoy.admin_get("/clusters"))
        wait_for_survivor_to_decide(load, second)
        wait_for_enough_load(load)
    retried = envoy.stat("cluster.cognito_ext_authz.upstream_rq_retry") or 0
    assert not load.failures, (f"{len(load.failures)} of {load.total()} failed "
                               f"({retried} retries): {load.failures[:5]}")


def test_header_names_with_underscores_are_refused_at_the_edge(stack: Stack, mint: Minter,
                                                               upstream: EchoServer) -> None:
    """WSGI, CGI and Rack fold "_" into "-": x_cognito_sub would reach such an app as the
    identity header the service vouches for. The shipped listener refuses the request."""
    before = upstream.count()
    r = stack.request("/users/42", token=mint.access(scope="users/read"),
                      headers={"x_cognito_sub": "admin"})
    assert r.status == 400, r.describe()
    assert upstream.count() == before, "the request reached the application"
    ok = stack.request("/users/42", token=mint.access(scope="users/read"))
    assert ok.status == 200, ok.describe()
