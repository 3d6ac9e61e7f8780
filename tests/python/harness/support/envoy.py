"""A real Envoy running the shipped configuration, and the one way to derive variants of it.

`deploy/envoy/envoy.yaml` runs as shipped. Everything that runs Envoy here (the tests,
scripts/demo.py, the benchmarks) starts from that file and changes only what it must with
`derive()`: a structured edit of the parsed YAML (addresses and ports, plus named
transforms such as `upstream_tls`, `cors` or `answer_directly`), never text templating.
The commented optional blocks of the file (`# BEGIN name` ... `# END name`) are read
with `commented_block()`, so switching one on uses exactly the shipped lines.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.request
from pathlib import Path
from typing import Callable, Iterable

import yaml

from .procs import DEADLINE_SECONDS, ManagedProcess, free_port, http_status, port_is_open, wait_until
from .tools import REPO

REFERENCE = REPO / "deploy" / "envoy" / "envoy.yaml"
# The same front proxy asking the service's HTTP authorization port (ext_authz
# `http_service`) instead of its gRPC port.
HTTP_REFERENCE = REPO / "deploy" / "envoy" / "envoy-http.yaml"
AUTHZ_CLUSTER = "cognito_ext_authz"
APP_CLUSTER = "app"
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"

Transform = Callable[[dict], None]
Address = tuple[str, int]


def reference(path: Path = REFERENCE) -> dict:
    """The shipped file (envoy.yaml, or `path`), parsed (a fresh copy each time)."""
    return yaml.safe_load(path.read_text())


def commented_block(name: str) -> object:
    """A commented `# BEGIN name` ... `# END name` block of the shipped file, uncommented
    and parsed."""
    text = REFERENCE.read_text()
    block = re.search(rf"# BEGIN {re.escape(name)}\n(.*?)\n\s*# END {re.escape(name)}", text, re.S)
    if not block:
        raise KeyError(f"no BEGIN/END {name} block in {REFERENCE}")
    lines = [re.sub(r"^(\s*)# ?", r"\1", line, count=1) for line in block.group(1).splitlines()]
    return yaml.safe_load("\n".join(lines))


# --- where things are in the tree ------------------------------------------------------


def hcm(cfg: dict) -> dict:
    """The (only) listener's HTTP connection manager."""
    (listener,) = cfg["static_resources"]["listeners"]
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def cluster(cfg: dict, name: str) -> dict:
    (found,) = [c for c in cfg["static_resources"]["clusters"] if c["name"] == name]
    return found


def ext_authz(cfg: dict) -> dict:
    """The ext_authz filter's typed_config."""
    (found,) = [f for f in hcm(cfg)["http_filters"] if f["name"] == EXT_AUTHZ_FILTER]
    return found["typed_config"]


def _socket(node: dict, address: Address) -> None:
    host, port = address
    node["socket_address"] = {"address": host, "port_value": int(port)}


def _endpoint(c: dict, address: Address) -> None:
    (lb,) = c["load_assignment"]["endpoints"]
    (ep,) = lb["lb_endpoints"]
    _socket(ep["endpoint"]["address"], address)


# --- the one derivation -----------------------------------------------------------------


def derive(
    *,
    listen: Address | None = None,
    admin: Address | None = None,
    authz: Address | None = None,
    upstream: Address | None = None,
    transforms: Iterable[Transform | None] = (),
    base: dict | None = None,
) -> dict:
    """The shipped configuration (or `base`) with the given addresses, then `transforms`
    applied in order. Nothing else changes."""
    cfg = copy.deepcopy(base) if base is not None else reference()
    if listen:
        (listener,) = cfg["static_resources"]["listeners"]
        _socket(listener["address"], listen)
    if admin:
        _socket(cfg["admin"]["address"], admin)
    if authz and authz[1]:
        _endpoint(cluster(cfg, AUTHZ_CLUSTER), authz)
    if upstream:
        _endpoint(cluster(cfg, APP_CLUSTER), upstream)
    for t in transforms:
        if t is not None:
            t(cfg)
    return cfg


def dump(cfg: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


# --- named variants ---------------------------------------------------------------------


def upstream_tls(
    ca: Path, *, cert: Path | None = None, key: Path | None = None, name: str = "localhost"
) -> Transform:
    """The shipped `upstream TLS` block switched on: TLS to the service checked against
    `ca` for `name`, presenting `cert`/`key` (mTLS) when given."""

    def transform(cfg: dict) -> None:
        block = commented_block("upstream TLS")["transport_socket"]
        tls = block["typed_config"]
        tls["sni"] = name
        ctx = tls["common_tls_context"]
        assert ctx["alpn_protocols"] == ["h2"]
        if cert and key:
            ctx["tls_certificates"][0]["certificate_chain"]["filename"] = str(cert)
            ctx["tls_certificates"][0]["private_key"]["filename"] = str(key)
        else:
            del ctx["tls_certificates"]
        ctx["validation_context"]["trusted_ca"]["filename"] = str(ca)
        ctx["validation_context"]["match_typed_subject_alt_names"][0]["matcher"]["exact"] = name
        cluster(cfg, AUTHZ_CLUSTER)["transport_socket"] = block

    return transform


def cors(*, extra_allow_headers: Iterable[str] = ()) -> Transform:
    """The shipped `CORS policy` and `CORS filter` blocks switched on (the filter before
    ext_authz, where the file puts it), allowing `extra_allow_headers` too."""

    def transform(cfg: dict) -> None:
        h = hcm(cfg)
        (vhost,) = h["route_config"]["virtual_hosts"]
        vhost.update(commented_block("CORS policy"))
        policy = vhost["typed_per_filter_config"]["envoy.filters.http.cors"]
        for name in extra_allow_headers:
            policy["allow_headers"] += f", {name}"
        names = [f["name"] for f in h["http_filters"]]
        h["http_filters"][names.index(EXT_AUTHZ_FILTER):0] = commented_block("CORS filter")

    return transform


def answer_directly(cfg: dict) -> None:
    """For benchmarks: allowed requests are answered by Envoy's router (200 "ok") instead
    of an application, the `app` cluster is gone, and no access log line competes for the
    cores. Every filter before the router still runs."""
    h = hcm(cfg)
    h.pop("access_log", None)
    for vh in h["route_config"]["virtual_hosts"]:
        for route in vh["routes"]:
            route.pop("route", None)
            route["direct_response"] = {"status": 200, "body": {"inline_string": "ok\n"}}
    cfg["static_resources"]["clusters"] = [
        c for c in cfg["static_resources"]["clusters"] if c["name"] != APP_CLUSTER
    ]


def raw_headers(cfg: dict) -> None:
    """Headers sent to the service as bytes in `header_map` (`encode_raw_headers`)."""
    ext_authz(cfg)["encode_raw_headers"] = True


# --- a running Envoy ----------------------------------------------------------------------


class EnvoyProxy:
    """Envoy on loopback in front of `authz_port` (gRPC) and `upstream_port` (HTTP),
    running the shipped configuration with only those addresses changed."""

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
        ready_timeout: float = DEADLINE_SECONDS,
        transform: Transform | None = None,
        base: dict | None = None,
        log_levels: str | None = None,
        concurrency: int = 1,
    ) -> None:
        """`transform` edits the derived configuration (parsed YAML) in place, for a test
        of a deliberate variant; by default the reference file runs unchanged. `base` is
        another shipped file to start from (`reference(HTTP_REFERENCE)`; deploy/wasm/envoy.yaml,
        which has no ext_authz cluster: `authz_port` 0). `concurrency`: Envoy's workers.
        `log_levels`: Envoy's `--component-log-level` (e.g. `wasm:debug`); warn otherwise."""
        self.listen_port = listen_port or free_port()
        self.admin_port = admin_port or free_port()
        self.config = derive(
            listen=("127.0.0.1", self.listen_port),
            admin=("127.0.0.1", self.admin_port),
            authz=("127.0.0.1", authz_port),
            upstream=("127.0.0.1", upstream_port),
            transforms=[transform],
            base=base,
        )
        self.config_path = dump(self.config, workdir / f"{name}.yaml")
        self.process = ManagedProcess(
            name,
            [
                envoy_bin,
                "-c", self.config_path,
                "--disable-hot-restart",  # several Envoys side by side, no shared memory
                "--concurrency", str(concurrency),
                "--log-level", "warn",
                *(["--component-log-level", log_levels] if log_levels else []),
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
            wait_until(lambda: port_is_open(self.listen_port), DEADLINE_SECONDS, "Envoy listener",
                       on_timeout=self.process.log_tail)
        except BaseException:
            self.process.stop()
            raise

    def admin_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def admin_get(self, path: str, timeout: float = DEADLINE_SECONDS) -> str:
        with urllib.request.urlopen(self.admin_url(path), timeout=timeout) as r:
            return r.read().decode()

    def access_log_entry(self, path: str, timeout: float = DEADLINE_SECONDS) -> dict:
        """The JSON access log line of the request to `path`, once Envoy has flushed it
        (within ~1 s)."""

        def logged() -> dict | None:
            for line in self.process.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{") and f'"{path}"' in line:
                    return json.loads(line)
            return None

        wait_until(lambda: logged() is not None, timeout, "the access log line (Envoy flushes it within ~1 s)")
        return logged()

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
