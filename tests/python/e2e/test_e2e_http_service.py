"""The decision suite and the path suite again, through Envoy's ext_authz `http_service`.

The same tests as test_e2e_decisions.py and test_e2e_paths.py, with the same expected
answers, but the `stack` they run against is deploy/envoy/envoy-http.yaml in front of the
service's HTTP authorization port (AUTHZ_HTTP_AUTH_ADDR, endpoint `/envoy<path>`) instead
of deploy/envoy/envoy.yaml in front of its gRPC port: every status, body, challenge and
identity header the client and the application see must be the same. Among them, a
client's forged x-cognito-* headers never reach the application, on allowed and public
routes alike (the shipped config drops them before ext_authz; allowed_upstream_headers
copies the service's own).

Left out: the two tests of CheckResponse.dynamic_metadata in Envoy's access log, which
has no HTTP form.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from support import envoy as envoy_cfg
from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import main_policy
from .test_e2e_decisions import *  # noqa: F401,F403  (the suite, collected here again)
from .conftest import M2M_CLIENT
from .test_e2e_decisions import FORGED, identity, upstream_saw
from .test_e2e_paths import *  # noqa: F401,F403

# gRPC only: dynamic_metadata.
del test_identity_reaches_envoy_access_log_without_the_token  # noqa: F821
del test_dynamic_metadata_is_off_by_default  # noqa: F821


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer) -> Stack:
    with new_stack(workdir=workdir, policy=main_policy(keys), name="http-service", mode="http") as s:
        yield s


def test_without_the_header_removal_the_services_answer_still_drops_forged_identity(
    new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer, mint
) -> None:
    """Istio's envoyExtAuthzHttp has no filter before ext_authz to drop the client's
    x-cognito-* headers: the service's x-envoy-auth-headers-to-remove (every identity
    header the token does not supply) and allowed_upstream_headers (the others,
    overwritten) must be enough on their own."""

    def without_header_removal(cfg: dict) -> None:
        h = envoy_cfg.hcm(cfg)
        h["http_filters"] = [f for f in h["http_filters"] if f["name"] != "envoy.filters.http.header_mutation"]

    with new_stack(workdir=workdir, policy=main_policy(keys), name="http-no-removal", mode="http",
                   envoy_transform=without_header_removal) as bare:
        assert "header_mutation" not in json.dumps(bare.envoy.config)
        seen = upstream_saw(bare.request("/files/x", token=mint.m2m("files/read"), headers=FORGED))
        assert identity(seen) == {
            "x-cognito-sub": [M2M_CLIENT],
            "x-cognito-client-id": [M2M_CLIENT],
            "x-cognito-scope": ["files/read"],
            "x-cognito-route": ["files"],
        }
        seen = upstream_saw(bare.request("/health", headers=FORGED))
        assert identity(seen) == {"x-cognito-route": ["health"]}


def test_the_stack_is_the_http_service_one(stack: Stack) -> None:
    """The checks really go over HTTP: Envoy runs http_service, and each answer (allow,
    401, 400) is one the service gave Envoy's authorization cluster."""
    assert stack.mode == "http"
    filters = stack.envoy.config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]
    ext_authz = [f for f in filters[0]["typed_config"]["http_filters"] if f["name"] == "envoy.filters.http.ext_authz"]
    assert "http_service" in ext_authz[0]["typed_config"]
    counts = ("upstream_rq_200", "upstream_rq_401", "upstream_rq_400")
    before = [stack.envoy.stat(f"cluster.cognito_ext_authz.{c}") or 0 for c in counts]
    upstream_saw(stack.request("/health"))
    assert stack.request("/files/x").status == 401
    assert stack.request("/files/x;a=b").status == 400
    after = [stack.envoy.stat(f"cluster.cognito_ext_authz.{c}") or 0 for c in counts]
    assert [a - b for a, b in zip(after, before)] == [1, 1, 1]


def test_istio_like_envoy_drops_underscore_spellings_and_carries_non_ascii_identity(
    new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer, mint
) -> None:
    """As Istio's envoyExtAuthzHttp runs: no filter before ext_authz, and header names
    with `_` accepted (Envoy's default), while the service is sent only the token header.
    A client's `x_cognito_sub` (read as `x-cognito-sub` by WSGI, CGI and Rack) never
    reaches the application, and a username that is not ASCII is set, not left for the
    client's forged `x-cognito-username` to stand in for."""

    def istio_like(cfg: dict) -> None:
        h = envoy_cfg.hcm(cfg)
        h["http_filters"] = [f for f in h["http_filters"] if f["name"] != "envoy.filters.http.header_mutation"]
        h["common_http_protocol_options"]["headers_with_underscores_action"] = "ALLOW"

    forged = {
        "x_cognito_sub": "forged",
        "x-cognito_groups": "admins",
        "X_Cognito_Client_Id": "forged",
        "x-cognito-username": "admin",
        "x_unrelated": "kept",  # shows names with `_` do pass this Envoy
    }
    with new_stack(workdir=workdir, policy=main_policy(keys), name="http-istio-like", mode="http",
                   envoy_transform=istio_like) as bare:
        seen = upstream_saw(bare.request("/me", token=mint.access(username="josé"), headers=forged))
        # Python's server reads header bytes as Latin-1.
        assert seen["headers"]["x-cognito-username"] == ["josé".encode().decode("latin-1")], seen
        leaked = {k: v for k, v in seen["headers"].items() if "_" in k}
        assert leaked == {"x_unrelated": ["kept"]}, seen
        seen = upstream_saw(bare.request("/health", headers=forged))
        assert identity(seen) == {"x-cognito-route": ["health"]}, seen
        assert {k: v for k, v in seen["headers"].items() if "_" in k} == {"x_unrelated": ["kept"]}, seen
