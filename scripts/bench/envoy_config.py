#!/usr/bin/env python3
"""Prints the Envoy configuration for one benchmark mode, derived from the shipped one.

    envoy_config.py MODE LISTEN_PORT ADMIN_PORT [AUTHZ_PORT | JWKS_FILE ISSUER | MODULE POLICY JWKS_PORT]

Every mode is deploy/envoy/envoy.yaml (its listener, HTTP connection manager hardening,
overload manager) on 127.0.0.1, with allowed requests answered by the router's
direct_response (200 "ok") instead of an application, so nothing but the authentication
differs between modes and no upstream server competes for the two cores
(support.envoy.answer_directly). Then:

  none       the ext_authz filter and its cluster removed: no authentication at all
  jwt        ext_authz replaced by Envoy's own jwt_authn (local JWKS, issuer set, no
             audiences, JWT cache on)
  ext_authz_http  deploy/envoy/envoy-http.yaml's ext_authz http_service and cluster,
             pointed at the service's HTTP authorization port 127.0.0.1:AUTHZ_PORT, without
             the active health check
  wasm       deploy/wasm/envoy.yaml instead: the in-process filter (MODULE) with the policy
             file POLICY as its configuration, its key sets fetched through the
             cognito_jwks cluster pointed at 127.0.0.1:JWKS_PORT (plain HTTP)
  ext_authz  the shipped ext_authz filter and cognito_ext_authz cluster (HTTP/2, 0.5 s
             timeout, fail closed, retries, circuit breakers) pointed at
             127.0.0.1:AUTHZ_PORT, without the active health check, so that the
             do-nothing server (examples/noop_authz, no health service) is measured the
             same way as the service

Structured edits of the parsed YAML through support.envoy.derive, the same function the
tests and the demo use.
"""

from __future__ import annotations

import sys

import yaml

from pathlib import Path

from support import envoy, wasm


def without_ext_authz(cfg: dict) -> None:
    h = envoy.hcm(cfg)
    h["http_filters"] = [f for f in h["http_filters"] if f["name"] != envoy.EXT_AUTHZ_FILTER]
    cfg["static_resources"]["clusters"] = [
        c for c in cfg["static_resources"]["clusters"] if c["name"] != envoy.AUTHZ_CLUSTER
    ]


def jwt_authn(jwks: str, issuer: str):
    def transform(cfg: dict) -> None:
        without_ext_authz(cfg)
        envoy.hcm(cfg)["http_filters"].insert(0, {
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"cognito": {
                    "issuer": issuer,
                    "local_jwks": {"filename": jwks},
                    "forward": True,
                    "jwt_cache_config": {"jwt_cache_size": 10000},
                }},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "cognito"}}],
            },
        })

    return transform


def no_active_health_check(cfg: dict) -> None:
    envoy.cluster(cfg, envoy.AUTHZ_CLUSTER).pop("health_checks", None)


def config(mode: str, listen: int, admin: int, args: list[str]) -> dict:
    where = {"listen": ("127.0.0.1", listen), "admin": ("127.0.0.1", admin)}
    if mode == "none" and not args:
        return envoy.derive(**where, transforms=[envoy.answer_directly, without_ext_authz])
    if mode == "jwt" and len(args) == 2:
        return envoy.derive(**where, transforms=[envoy.answer_directly, jwt_authn(*args)])
    if mode == "ext_authz_http" and len(args) == 1:
        return envoy.derive(**where, authz=("127.0.0.1", int(args[0])),
                            base=envoy.reference(envoy.HTTP_REFERENCE),
                            transforms=[envoy.answer_directly, no_active_health_check])
    if mode == "wasm" and len(args) == 3:
        module, policy, jwks_port = args
        configuration = wasm.plugin_configuration(Path(policy).read_text())
        return envoy.derive(**where, base=wasm.reference(),
                            transforms=[envoy.answer_directly,
                                        wasm.configured(Path(module), configuration, int(jwks_port))])
    if mode == "ext_authz" and len(args) == 1:
        return envoy.derive(**where, authz=("127.0.0.1", int(args[0])),
                            transforms=[envoy.answer_directly, no_active_health_check])
    raise SystemExit(__doc__)


def main() -> None:
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    mode, listen, admin, *rest = sys.argv[1:]
    sys.stdout.write(yaml.safe_dump(config(mode, int(listen), int(admin), rest), sort_keys=False))


if __name__ == "__main__":
    main()
