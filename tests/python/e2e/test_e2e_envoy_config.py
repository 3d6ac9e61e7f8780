"""The shipped Envoy configuration: it renders, Envoy accepts it, and it says what we rely on.

These run without the service binary.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from support import envoy as envoy_cfg


def _validate(envoy_bin: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(envoy_bin), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_reference_config_with_defaults_passes_envoy_validate(envoy_bin: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "envoy.yaml"
    cfg.write_text(envoy_cfg.render())
    r = _validate(envoy_bin, cfg)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout + r.stderr


def test_render_sh_matches_the_test_renderer(envoy_bin: Path, tmp_path: Path) -> None:
    """Operators render with render.sh (envsubst); the tests with support.envoy.render.

    Both must produce the same file, or the tests would not be testing the shipped config.
    """
    env = {k: v for k, v in os.environ.items() if k not in envoy_cfg.defaults()}
    env.update({"AUTHZ_HOST": "10.1.2.3", "UPSTREAM_PORT": "3000"})
    out = subprocess.run(
        ["bash", str(envoy_cfg.ENVOY_DIR / "render.sh")], capture_output=True, text=True, env=env, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == envoy_cfg.render({"AUTHZ_HOST": "10.1.2.3", "UPSTREAM_PORT": 3000})
    cfg = tmp_path / "rendered.yaml"
    cfg.write_text(out.stdout)
    r = _validate(envoy_bin, cfg)
    assert r.returncode == 0, r.stdout + r.stderr


def _find(node: object, key: str) -> list:
    """Every value stored under `key` anywhere in a YAML tree."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                found.append(v)
            found.extend(_find(v, key))
    elif isinstance(node, list):
        for v in node:
            found.extend(_find(v, key))
    return found


def test_reference_config_settings() -> None:
    """The settings the docs and the failure tests depend on are really in the file."""
    cfg = yaml.safe_load(envoy_cfg.render())
    (listener,) = cfg["static_resources"]["listeners"]
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["@type"].endswith("HttpConnectionManager")
    assert hcm["normalize_path"] is True
    assert hcm["merge_slashes"] is True
    assert hcm["path_with_escaped_slashes_action"] == "REJECT_REQUEST"

    filters = hcm["http_filters"]
    assert [f["name"] for f in filters] == ["envoy.filters.http.ext_authz", "envoy.filters.http.router"]
    authz = filters[0]["typed_config"]
    assert authz["transport_api_version"] == "V3"
    assert authz["failure_mode_allow"] is False
    assert authz["status_on_error"] == {"code": "ServiceUnavailable"}
    assert authz["grpc_service"]["envoy_grpc"]["cluster_name"] == "cognito_ext_authz"
    assert authz["grpc_service"]["timeout"] == "0.5s"
    assert authz.get("include_peer_certificate", False) is False
    assert "with_request_body" not in authz

    clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
    ext = clusters["cognito_ext_authz"]
    opts = ext["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "http2_protocol_options" in opts["explicit_http_config"]
    assert ext["connect_timeout"] == "0.25s"
    (hc,) = ext["health_checks"]
    assert hc["grpc_health_check"]["service_name"] == "envoy.service.auth.v3.Authorization"
    # Nothing else in the file may turn failing open back on.
    assert _find(cfg, "failure_mode_allow") == [False]
