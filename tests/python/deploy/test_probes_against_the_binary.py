"""The chart's probes, evaluated against the release binary as the kubelet would.

The Deployment is rendered with the chart's defaults; its startup, liveness and readiness
probes and its settings ConfigMap are turned into a running `cognito-ext-authz serve` on
loopback (container ports mapped to free local ports) and probes evaluated the kubelet's
way: httpGet succeeds on 200-399, a native gRPC probe on SERVING from grpc.health.v1.

What a user would notice, each asserted:
- Cognito (the key server) unreachable at start: the pod stays alive (liveness and
  startup pass, so it is never restarted), unready (readiness fails), and becomes ready
  by itself, the same process, when the key server comes back; the key fetch failures
  are counted in the metric the CognitoExtAuthzKeyFetchFailing alert reads.
- A refused policy reload is counted in the metric the CognitoExtAuthzPolicyReloadRefused
  alert reads, and the pod stays ready on its last good policy.
- An invalid policy at start: the process exits 1 at once with every error, the startup
  probe never passes, and the errors fit in what `FallbackToLogsOnError` shows.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from support.keyserver import KeyServer
from support.procs import ManagedProcess, free_port, http_status, wait_until

from support import h2raw
from .common import RELEASE, service_binary

POOL = "eu-west-1_Probes1234"
# Generous deadlines: they bound a broken run, they never pace a good one.
START_DEADLINE = 30
RECOVERY_DEADLINE = 120  # the key fetch back-off is at most 30 s


@pytest.fixture(scope="module")
def chart_pod(render):
    r = render({})
    return r.container, r.one("ConfigMap", f"{RELEASE}-settings")["data"]


class Pod:
    """The binary started from the rendered container, with its probes."""

    def __init__(self, container: dict, settings: dict[str, str], policy: Path, workdir: Path):
        self.ports = {p["name"]: free_port() for p in container["ports"]}
        self.by_number = {p["containerPort"]: self.ports[p["name"]] for p in container["ports"]}
        env = dict(settings)
        env.update({
            "AUTHZ_LISTEN_ADDR": f"127.0.0.1:{self.ports['grpc']}",
            "AUTHZ_ADMIN_ADDR": f"127.0.0.1:{self.ports['http-admin']}",
            "AUTHZ_POLICY_PATH": str(policy),
            "AUTHZ_LOG_FORMAT": "text",
            "AUTHZ_DRAIN_SECONDS": "0",  # the chart's 15 s would only slow the test's stop
        })
        self.container = container
        assert container["args"][0] == "serve"
        self.process = ManagedProcess("probe-pod", [str(service_binary()), *container["args"]],
                                      workdir / "pod.log", env=env)

    def local_port(self, port) -> int:
        return self.ports[port] if isinstance(port, str) else self.by_number[port]

    def probe(self, name: str) -> bool:
        spec = self.container[name]
        if "httpGet" in spec:
            get = spec["httpGet"]
            status = http_status(f"http://127.0.0.1:{self.local_port(get['port'])}{get['path']}",
                                 timeout=spec.get("timeoutSeconds", 1))
            return status is not None and 200 <= status < 400
        if "grpc" in spec:
            return h2raw.grpc_health(self.local_port(spec["grpc"]["port"]),
                                     spec["grpc"].get("service", ""),
                                     timeout=spec.get("timeoutSeconds", 1)) == h2raw.SERVING
        raise AssertionError(f"{name}: unknown probe kind {spec}")

    def metric(self, name: str, **labels: str) -> float:
        url = f"http://127.0.0.1:{self.ports['http-admin']}/metrics"
        import urllib.request

        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                if all(f'{k}="{v}"' in line for k, v in labels.items()):
                    total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> int | None:
        return self.process.stop()


def policy_text(jwks_uri: str, routes: str = "") -> str:
    return f"""\
userPools:
  - id: {POOL}
    jwksUri: {jwks_uri}
defaultAction: deny
routes:
  - name: health
    path: /health
    auth: none
{routes}"""


def replace_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_unreachable_keys_alive_unready_then_ready_without_restart(chart_pod, tmp_path):
    container, settings = chart_pod
    key_port = free_port()  # nothing listens here yet: Cognito is unreachable
    jwks_uri = f"http://127.0.0.1:{key_port}/{POOL}/.well-known/jwks.json"
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text(jwks_uri))
    pod = Pod(container, settings, policy, tmp_path)
    try:
        wait_until(lambda: pod.probe("startupProbe"), START_DEADLINE, "startup probe",
                   on_timeout=pod.process.log_tail)
        wait_until(lambda: pod.metric("cognito_ext_authz_key_fetches_total", pool=POOL,
                                      result="failure") >= 1,
                   START_DEADLINE, "a failed key fetch counted", on_timeout=pod.process.log_tail)
        # Alive and unready, and it stays so: several kubelet periods' worth of probes.
        for _ in range(5):
            assert pod.probe("livenessProbe"), "liveness must not depend on Cognito"
            assert not pod.probe("readinessProbe"), "no keys: the pod cannot decide"
            time.sleep(0.3)
        assert http_status(f"http://127.0.0.1:{pod.ports['http-admin']}/readyz") == 503
        pid = pod.process.pid

        with KeyServer(port=key_port) as keys:  # Cognito is back
            keys.add_pool(POOL)
            wait_until(lambda: pod.probe("readinessProbe"), RECOVERY_DEADLINE,
                       "readiness after the key server came back", interval=0.2,
                       on_timeout=pod.process.log_tail)
            assert pod.process.alive() and pod.process.pid == pid, "became ready without a restart"
            assert pod.probe("livenessProbe")
            assert pod.metric("cognito_ext_authz_key_fetches_total", pool=POOL,
                              result="success") >= 1

            # A refused reload: counted for the alert, the pod stays ready on the old policy.
            before = pod.metric("cognito_ext_authz_policy_reloads_total", result="failure")
            replace_atomically(policy, policy_text(jwks_uri, "  - path: /u/{id\n"))
            wait_until(lambda: pod.metric("cognito_ext_authz_policy_reloads_total",
                                          result="failure") > before,
                       START_DEADLINE, "the refused reload counted", interval=0.2,
                       on_timeout=pod.process.log_tail)
            assert pod.probe("readinessProbe") and pod.probe("livenessProbe")
    finally:
        pod.stop()


def test_invalid_policy_at_start_exits_with_every_error_visible(chart_pod, tmp_path):
    container, settings = chart_pod
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    policy = tmp_path / "policy.yaml"
    # Both pass values.schema.json; the service refuses both, and must name both.
    policy.write_text(policy_text("http://127.0.0.1:9/keys.json", """\
  - path: /u/{id
    scopes: [a/b]
  - path: /orders/{id}
    methods: [GET]
    scopes: [orders/read]
  - path: /orders/{orderId}
    methods: [GET]
    scopes: [orders/write]
"""))
    pod = Pod(container, settings, policy, tmp_path)
    try:
        code = pod.process.wait_exit(START_DEADLINE)
        assert code == 1, f"exit code {code}\n{pod.process.log_tail()}"
        assert not pod.probe("startupProbe"), "nothing may answer for a pod that cannot decide"
        output = pod.process.log_path.read_text(errors="replace")
        # The kubelet keeps the last 2,048 bytes (80 lines) as the termination message.
        message = output[-2048:]
        assert "routes[1]" in message and "{id" in message, output
        assert "routes[3]" in message and "duplicates routes[2]" in message, output
    finally:
        pod.stop()
