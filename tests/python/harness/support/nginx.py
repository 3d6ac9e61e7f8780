"""A real NGINX running the shipped configuration (deploy/nginx/nginx.conf).

The file runs as shipped; only the lines it marks "yours" change (addresses, and the pid
and temporary paths, moved into the test's folder), by exact replacements that fail when
the line is not there, so the configuration that is tested is the one that is shipped.
"""

from __future__ import annotations

from pathlib import Path

from .procs import DEADLINE_SECONDS, ManagedProcess, free_port, port_is_open, wait_until
from .tools import REPO, find

REFERENCE = REPO / "deploy" / "nginx" / "nginx.conf"


def binary() -> Path | None:
    """Debian's nginx (`apt-get install nginx-light`), if installed."""
    sbin = Path("/usr/sbin/nginx")
    return find("nginx") or (sbin if sbin.exists() else None)


def derive(*, listen: int, authz: int, upstream: int, prefix: Path) -> str:
    """The shipped file with loopback addresses, its pid and temporary files at `prefix`."""
    text = REFERENCE.read_text()
    for old, new in [
        ("server cognito-ext-authz:9001;", f"server 127.0.0.1:{authz};"),
        ("server app:8000;", f"server 127.0.0.1:{upstream};"),
        ("listen 8080;", f"listen 127.0.0.1:{listen};"),
        ("/tmp/cognito-ext-authz-nginx", str(prefix)),
    ]:
        assert old in text, f"{old!r} is no longer in {REFERENCE}"
        text = text.replace(old, new)
    return text


class NginxProxy:
    """NGINX on loopback in front of `authz_port` (the HTTP authorization port) and
    `upstream_port`."""

    def __init__(self, nginx_bin: Path, workdir: Path, *, authz_port: int, upstream_port: int,
                 name: str = "nginx") -> None:
        self.listen_port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"{name}.conf"
        self.config_text = derive(listen=self.listen_port, authz=authz_port, upstream=upstream_port,
                                  prefix=workdir / name)
        self.config_path.write_text(self.config_text)
        self.process = ManagedProcess(
            name,
            [nginx_bin, "-c", self.config_path, "-e", "stderr", "-g", "daemon off;"],
            workdir / f"{name}.log",
        )
        try:
            wait_until(lambda: port_is_open(self.listen_port), DEADLINE_SECONDS, "NGINX listener",
                       on_timeout=self.process.log_tail)
        except BaseException:
            self.process.stop()
            raise

    def stop(self) -> None:
        self.process.stop()
