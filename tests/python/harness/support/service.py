"""The cognito-ext-authz release binary, run as `cognito-ext-authz serve`.

Ports and the policy path are given through the documented environment variables
(`AUTHZ_LISTEN_ADDR`, `AUTHZ_ADMIN_ADDR`, `AUTHZ_POLICY_PATH`); readiness is the admin
`/readyz` answering 200, which the service does only once the policy is loaded and every
pool's keys were fetched. `restart()` starts a new process on the same ports, as a
rolling restart behind a fixed address would.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

import yaml

from .procs import DEADLINE_SECONDS, ManagedProcess, free_port, http_status


def policy_yaml(policy: dict | str) -> str:
    return policy if isinstance(policy, str) else yaml.safe_dump(policy, sort_keys=False)


class AuthzService:
    def __init__(
        self,
        binary: Path,
        workdir: Path,
        policy: dict | str,
        *,
        grpc_port: int | None = None,
        admin_port: int | None = None,
        env: dict[str, str] | None = None,
        name: str = "authz",
        ready_timeout: float = DEADLINE_SECONDS,
        wait_ready: bool = True,
        policy_path: Path | None = None,
    ) -> None:
        """`policy` is written to a file in `workdir`, unless `policy_path` is given: then
        the caller owns that file (e.g. a ConfigMap-style folder) and `policy` is unused."""
        self.binary = binary
        self.workdir = workdir
        self.name = name
        self.grpc_port = grpc_port or free_port()
        self.admin_port = admin_port or free_port()
        self.ready_timeout = ready_timeout
        workdir.mkdir(parents=True, exist_ok=True)
        if policy_path is None:
            policy_path = workdir / f"{name}-policy.yaml"
            policy_path.write_text(policy_yaml(policy))
        self.policy_path = policy_path
        self.env = {
            "AUTHZ_LISTEN_ADDR": f"127.0.0.1:{self.grpc_port}",
            "AUTHZ_ADMIN_ADDR": f"127.0.0.1:{self.admin_port}",
            "AUTHZ_POLICY_PATH": str(self.policy_path),
            "AUTHZ_LOG_FORMAT": "text",
            "AUTHZ_DRAIN_SECONDS": "0",
            "AUTHZ_JWKS_COOLDOWN_SECONDS": "1",
            # Off by default; on here, so tests can read each decision in Envoy's access
            # log (test_e2e_decisions.py checks the default).
            "AUTHZ_DYNAMIC_METADATA": "true",
            "RUST_LOG": "info",
        }
        self.env.update(env or {})
        self.process: ManagedProcess | None = None
        self.start(wait_ready=wait_ready)

    def start(self, wait_ready: bool = True) -> None:
        if self.process and self.process.alive():
            raise RuntimeError(f"{self.name} is already running")
        self.process = ManagedProcess(
            self.name, [self.binary, "serve"], self.workdir / f"{self.name}.log", env=self.env
        )
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Until /readyz says 200; fails at once with the log if the process exits."""
        assert self.process
        proc = self.process
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while True:
            if not proc.alive():
                raise RuntimeError(f"{self.name} exited with code {proc.proc.returncode}\n{proc.log_tail()}")
            if http_status(self.admin_url("/readyz")) == 200:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{self.name}: /readyz on port {self.admin_port} not 200 after "
                    f"{timeout or self.ready_timeout:.0f}s\n{proc.log_tail()}"
                )
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def admin_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def readyz(self) -> int | None:
        return http_status(self.admin_url("/readyz"), timeout=DEADLINE_SECONDS)

    def metrics(self) -> str:
        with urllib.request.urlopen(self.admin_url("/metrics"), timeout=DEADLINE_SECONDS) as r:
            return r.read().decode()

    def metric(self, series: str) -> float:
        """One exposition line's value, by its exact series (`name{label="v"}`); 0 when absent."""
        for line in self.metrics().splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def terminate(self) -> None:
        """SIGTERM without waiting: the service starts draining."""
        assert self.process
        self.process.signal(signal.SIGTERM)

    def stop(self, timeout: float = DEADLINE_SECONDS) -> int | None:
        """SIGTERM and wait (SIGKILL after `timeout`); returns the exit code."""
        if not self.process:
            return None
        return self.process.stop(timeout=timeout)

    def log_tail(self, lines: int = 40) -> str:
        return self.process.log_tail(lines) if self.process else ""

    def __enter__(self) -> "AuthzService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
