"""The shipped Envoy configuration: Envoy accepts it as it is, the variants the tests, the
demo and the benchmarks run differ from it only where they say, and it holds the settings
the docs and the failure tests rely on.

These run without the service binary.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from support import envoy as envoy_cfg
from support.keyserver import SigningKey
from support.tools import REPO


def _validate(envoy_bin: Path, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(envoy_bin), "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("shipped", [envoy_cfg.REFERENCE, envoy_cfg.HTTP_REFERENCE], ids=["grpc", "http"])
def test_the_shipped_file_passes_envoy_validate_as_it_is(envoy_bin: Path, shipped: Path) -> None:
    """`envoy -c deploy/envoy/envoy.yaml` (or envoy-http.yaml) is what a user runs: no
    rendering step."""
    r = _validate(envoy_bin, shipped)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK" in r.stdout + r.stderr
    assert "${" not in shipped.read_text()


def _diff(a: object, b: object, path: str = "") -> list[str]:
    """Paths where two YAML trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in a.keys() | b.keys() for d in _diff(a.get(k), b.get(k), f"{path}/{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _diff(x, y, f"{path}/{i}")]
    return [] if a == b else [path]


def test_the_loopback_variant_changes_only_addresses(envoy_bin: Path, tmp_path: Path) -> None:
    """What EnvoyProxy (every e2e test and the demo) runs: the shipped file with four
    socket addresses changed, nothing else."""
    derived = envoy_cfg.derive(
        listen=("127.0.0.1", 18080), admin=("127.0.0.1", 19901),
        authz=("127.0.0.1", 19000), upstream=("127.0.0.1", 18000),
    )
    changed = _diff(envoy_cfg.reference(), derived)
    assert changed and all("/socket_address/" in p for p in changed), changed
    assert len({p.rsplit("/socket_address/", 1)[0] for p in changed}) == 4, changed
    r = _validate(envoy_bin, envoy_cfg.dump(derived, tmp_path / "loopback.yaml"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("mode", ["none", "jwt", "ext_authz"])
def test_the_benchmark_variants_pass_envoy_validate(envoy_bin: Path, tmp_path: Path, mode: str) -> None:
    """scripts/bench.sh runs what scripts/bench/envoy_config.py derives."""
    extra = {"none": [], "jwt": [str(tmp_path / "jwks.json"), "https://issuer.example"], "ext_authz": ["19000"]}[mode]
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [SigningKey.generate().public_jwk()]}))
    out = tmp_path / f"{mode}.yaml"
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "bench" / "envoy_config.py"), mode, "18080", "19901", *extra],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out.write_text(r.stdout)
    v = _validate(envoy_bin, out)
    assert v.returncode == 0, v.stdout + v.stderr


def test_the_commented_blocks_parse_and_switch_on(envoy_bin: Path, tmp_path: Path) -> None:
    """The optional blocks (upstream TLS, CORS) are valid once uncommented."""
    for name in ("tls.crt", "tls.key", "ca.crt"):
        (tmp_path / name).write_text("")
    cfg = envoy_cfg.derive(transforms=[
        envoy_cfg.upstream_tls(tmp_path / "ca.crt", cert=tmp_path / "tls.crt", key=tmp_path / "tls.key"),
        envoy_cfg.cors(),
    ])
    names = [f["name"] for f in envoy_cfg.hcm(cfg)["http_filters"]]
    assert names == ["envoy.filters.http.cors", "envoy.filters.http.ext_authz", "envoy.filters.http.router"]
    assert "transport_socket" in envoy_cfg.cluster(cfg, envoy_cfg.AUTHZ_CLUSTER)


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
    cfg = envoy_cfg.reference()
    (listener,) = cfg["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 8080}
    assert cfg["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"
    hcm = envoy_cfg.hcm(cfg)
    assert hcm["@type"].endswith("HttpConnectionManager")
    assert hcm["normalize_path"] is True
    assert hcm["merge_slashes"] is True
    assert hcm["path_with_escaped_slashes_action"] == "REJECT_REQUEST"
    assert hcm["common_http_protocol_options"]["headers_with_underscores_action"] == "REJECT_REQUEST"

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

    ext = envoy_cfg.cluster(cfg, envoy_cfg.AUTHZ_CLUSTER)
    assert ext["type"] == "STRICT_DNS"
    (endpoint,) = ext["load_assignment"]["endpoints"][0]["lb_endpoints"]
    # the documented headless Service (tests/python/deploy/test_configs_agree.py holds it to the chart)
    assert endpoint["endpoint"]["address"]["socket_address"] == {
        "address": "cognito-ext-authz-headless.cognito-ext-authz.svc.cluster.local", "port_value": 9000}
    opts = ext["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "http2_protocol_options" in opts["explicit_http_config"]
    assert ext["connect_timeout"] == "0.25s"
    (hc,) = ext["health_checks"]
    assert hc["grpc_health_check"]["service_name"] == "envoy.service.auth.v3.Authorization"
    # Nothing else in the file may turn failing open back on.
    assert _find(cfg, "failure_mode_allow") == [False]
