"""The in-process filter (crates/wasm-filter) in a real Envoy, and the one way to run it.

`deploy/wasm/envoy.yaml` runs as shipped, with only what a test must change: the
addresses, the module's path, the plugin configuration (the policy under test and the
key server's cluster), and the key cluster pointed at the loopback key server without
TLS. `WasmStack` has the same surface as `Stack` (`request`, `upstream`, `envoy`,
`stop`), so a test written for the ext_authz stack runs through the filter unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from . import envoy as envoy_config
from . import http
from .envoy import EnvoyProxy, hcm
from .tools import REPO
from .upstream import EchoServer

REFERENCE = REPO / "deploy" / "wasm" / "envoy.yaml"
WASM_FILTER = "envoy.filters.http.wasm"
KEYS_CLUSTER = "cognito_jwks"


def module_path() -> Path | None:
    """$AUTHZ_WASM, else the release module under $CARGO_TARGET_DIR or target/
    (scripts/build-wasm.sh builds it)."""
    if os.environ.get("AUTHZ_WASM"):
        p = Path(os.environ["AUTHZ_WASM"])
        return p if p.is_file() else None
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    p = target / "wasm32-wasip1" / "wasm-release" / "cognito_ext_authz_wasm.wasm"
    return p if p.is_file() else None


def reference() -> dict:
    return yaml.safe_load(REFERENCE.read_text())


def wasm_config(cfg: dict) -> dict:
    """The wasm filter's `config` (PluginConfig)."""
    (found,) = [f for f in hcm(cfg)["http_filters"] if f["name"] == WASM_FILTER]
    return found["typed_config"]["config"]


def plugin_configuration(policy: str, *, revocations: str | None = None, **keys: Any) -> str:
    """The plugin configuration for `policy` (the policy file's text), fetching every key
    set through the key cluster."""
    doc: dict[str, Any] = {"policy": policy, "keys": {"cluster": KEYS_CLUSTER, **keys}}
    if revocations is not None:
        doc["revocations"] = revocations
    return yaml.safe_dump(doc, sort_keys=False)


def configured(module: Path, configuration: str, keys_port: int) -> envoy_config.Transform:
    """The shipped file with `module`, `configuration` and the key cluster on loopback."""

    def transform(cfg: dict) -> None:
        plugin = wasm_config(cfg)
        plugin["vm_config"]["code"]["local"]["filename"] = str(module)
        plugin["configuration"]["value"] = configuration
        keys = envoy_config.cluster(cfg, KEYS_CLUSTER)
        keys.pop("transport_socket", None)
        keys["type"] = "STATIC"
        keys.pop("dns_lookup_family", None)
        keys["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"] = {
            "socket_address": {"address": "127.0.0.1", "port_value": keys_port}
        }

    return transform


class WasmStack:
    """client -> Envoy with the filter in process -> upstream; keys from the key server."""

    def __init__(
        self,
        *,
        envoy_bin: Path,
        module: Path,
        workdir: Path,
        policy: str,
        upstream: EchoServer,
        keys_port: int,
        name: str = "wasm",
        revocations: str | None = None,
        keys: dict | None = None,
        transform: envoy_config.Transform | None = None,
        concurrency: int = 1,
    ) -> None:
        """The filter writes its decision lines at debug level, and only when Envoy's
        `wasm` logger is at debug: this stack's is, so tests can read them."""
        self.upstream = upstream
        configuration = plugin_configuration(policy, revocations=revocations, **(keys or {}))
        base = reference()

        def both(cfg: dict) -> None:
            configured(module, configuration, keys_port)(cfg)
            if transform is not None:
                transform(cfg)

        self.envoy = EnvoyProxy(
            envoy_bin,
            workdir,
            authz_port=0,
            upstream_port=upstream.port,
            name=f"{name}-envoy",
            transform=both,
            base=base,
            concurrency=concurrency,
            log_levels="wasm:debug",
        )

    def request(self, path: str, **kw: Any) -> http.Response:
        return http.request(self.envoy.listen_port, path, **kw)

    def logs(self) -> str:
        return self.envoy.process.log_tail(30)

    def stop(self) -> None:
        self.envoy.stop()

    def __enter__(self) -> "WasmStack":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
