"""A real Envoy running the shipped configuration.

`render()` fills the `${NAME}` placeholders of `deploy/envoy/envoy.yaml` the same way
`deploy/envoy/render.sh` does (defaults from `deploy/envoy/defaults.env`), so the tests
exercise the reference configuration itself, not a copy of it.
"""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path
from typing import Callable

from .procs import ManagedProcess, free_port, http_status, wait_until
from .tools import REPO

ENVOY_DIR = REPO / "deploy" / "envoy"
TEMPLATE = ENVOY_DIR / "envoy.yaml"
DEFAULTS = ENVOY_DIR / "defaults.env"

_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def defaults() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in DEFAULTS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        values[name.strip()] = value.strip()
    return values


def render(overrides: dict[str, object] | None = None, template: Path = TEMPLATE) -> str:
    """The template with every known placeholder filled; unknown ones are an error."""
    values = defaults()
    for k, v in (overrides or {}).items():
        if k not in values:
            raise KeyError(f"{k} is not a placeholder of {template} (known: {sorted(values)})")
        values[k] = str(v)
    out = []
    for line in template.read_text().splitlines(keepends=True):
        if line.lstrip().startswith("#"):
            out.append(line)  # comments may mention ${NAME} literally, as render.sh leaves them
            continue
        missing = [m for m in _PLACEHOLDER.findall(line) if m not in values]
        if missing:
            raise KeyError(f"placeholder(s) {missing} in {template} have no default in {DEFAULTS}")
        out.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)], line))
    return "".join(out)


class EnvoyProxy:
    """Envoy on loopback in front of `authz_port` (gRPC) and `upstream_port` (HTTP)."""

    def __init__(
        self,
        envoy_bin: Path,
        workdir: Path,
        *,
        authz_port: int,
        upstream_port: int,
        listen_port: int | None = None,
        admin_port: int | None = None,
        name: str = "envoy",
        ready_timeout: float = 30.0,
        transform: Callable[[dict], None] | None = None,
    ) -> None:
        """`transform` may edit the rendered configuration (parsed YAML) in place, for a
        test of a deliberate variant; by default the reference file runs unchanged."""
        self.listen_port = listen_port or free_port()
        self.admin_port = admin_port or free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.yaml"
        rendered = render(
            {
                "ENVOY_LISTEN_ADDRESS": "127.0.0.1",
                "ENVOY_LISTEN_PORT": self.listen_port,
                "ENVOY_ADMIN_ADDRESS": "127.0.0.1",
                "ENVOY_ADMIN_PORT": self.admin_port,
                "AUTHZ_HOST": "127.0.0.1",
                "AUTHZ_PORT": authz_port,
                "UPSTREAM_HOST": "127.0.0.1",
                "UPSTREAM_PORT": upstream_port,
            }
        )
        if transform is not None:
            import yaml

            cfg = yaml.safe_load(rendered)
            transform(cfg)
            rendered = yaml.safe_dump(cfg, sort_keys=False)
        self.config_path.write_text(rendered)
        self.process = ManagedProcess(
            name,
            [
                envoy_bin,
                "-c", self.config_path,
                "--disable-hot-restart",  # several Envoys side by side, no shared memory
                "--concurrency", "1",
                "--log-level", "warn",
                "--file-flush-interval-msec", "200",  # access log lines show up quickly
            ],
            workdir / f"{name}.log",
        )
        try:
            wait_until(
                lambda: self.process.alive() and http_status(self.admin_url("/ready")) == 200,
                ready_timeout,
                f"Envoy admin /ready on port {self.admin_port}",
                interval=0.1,
                on_timeout=self.process.log_tail,
            )
            wait_until(lambda: _listening(self.listen_port), 10, "Envoy listener", on_timeout=self.process.log_tail)
        except BaseException:
            self.process.stop()
            raise

    def admin_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def admin_get(self, path: str, timeout: float = 2.0) -> str:
        with urllib.request.urlopen(self.admin_url(path), timeout=timeout) as r:
            return r.read().decode()

    def stat(self, name: str) -> int | None:
        """One counter or gauge from /stats (None when Envoy has not created it yet)."""
        for line in self.admin_get(f"/stats?filter=^{re.escape(name)}$").splitlines():
            k, _, v = line.partition(": ")
            if k == name:
                return int(v)
        return None

    def authz_health_flags(self) -> str:
        """The ext_authz cluster host's health flags from /clusters ("healthy", "/failed_active_hc", ...)."""
        for line in self.admin_get("/clusters").splitlines():
            if line.startswith("cognito_ext_authz::") and "::health_flags::" in line:
                return line.rsplit("::", 1)[1]
        return ""

    def stop(self) -> None:
        self.process.stop()

    def __enter__(self) -> "EnvoyProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _listening(port: int) -> bool:
    from .procs import port_is_open

    return port_is_open(port)
