"""The decision suite and the path suite again, through NGINX `auth_request`.

The same tests as test_e2e_decisions.py and test_e2e_paths.py, with the same expected
answers, against Debian's NGINX running deploy/nginx/nginx.conf in front of the
service's HTTP authorization port (endpoint `/nginx`). Among them, a client's forged
x-cognito-* headers never reach the application, on allowed and public routes alike (the
shipped config sets each from the service's answer, or drops it).

Left out, with the reason: tests of what Envoy itself does before ext_authz (its path
normalisation, its own refusals) or of Envoy-only outputs (dynamic metadata in its
access log). NGINX passes the path to the service as the client sent it, so the service
refuses dot segments with 400 instead of deciding on Envoy's normalised path; the tests
below check that.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import Minter, main_policy
from .test_e2e_decisions import *  # noqa: F401,F403  (the suite, collected here again)
from .test_e2e_decisions import FORGED, assert_denied, identity, upstream_saw
from .test_e2e_paths import *  # noqa: F401,F403

# Envoy only: dynamic_metadata in its access log.
del test_identity_reaches_envoy_access_log_without_the_token  # noqa: F821
del test_dynamic_metadata_is_off_by_default  # noqa: F821
# Envoy only: its own normalisation and refusals before ext_authz.
del test_envoy_itself_rejects_encoded_slash_backslash_nul  # noqa: F821
del test_dot_segments_cannot_escape_a_scoped_route  # noqa: F821
del test_dot_segments_cannot_escape_a_public_route  # noqa: F821
del test_dot_segments_above_root_stay_at_root  # noqa: F821
del test_authorized_path_is_the_path_the_upstream_gets  # noqa: F821
del test_non_origin_form_is_refused_by_envoy  # noqa: F821
# Envoy's counters (replaced below by the same paths, checked at the upstream).
del test_service_rejects_bad_percent_encoding  # noqa: F821
# NGINX refuses a repeated Authorization itself (400), before auth_request (below).
del test_two_authorization_headers_are_refused  # noqa: F821


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer) -> Stack:
    with new_stack(workdir=workdir, policy=main_policy(keys), name="nginx", mode="nginx") as s:
        yield s


@pytest.mark.parametrize(
    "path",
    ["/files/../admin/reports", "/files/./x", "/files/x/..", "/files/..%2Fadmin", "/files/x;a=b", "/files//x",
     "/files/%252e%252e/admin/reports", "/files/a%252fb"],
)
def test_unsafe_paths_reach_the_service_raw_and_are_refused(stack: Stack, mint: Minter, path: str) -> None:
    """NGINX normalises the path it matches locations with, but passes the client's own
    ($request_uri) to the service and the upstream: the service refuses it, and the
    upstream never sees it."""
    before = stack.upstream.count()
    r = stack.request(path, token=mint.access("files/read files/write reports/read", groups=["admins"]))
    assert_denied(r, 400, "Bad Request", None)
    assert stack.upstream.count() == before


@pytest.mark.parametrize("path", ["/files/%zz", "/files/%", "/files/a%G1b", "/files/report%2"])
def test_bad_percent_encoding_is_refused_by_nginx_itself(stack: Stack, mint: Minter, path: str) -> None:
    """Like Envoy with an encoded slash, NGINX answers its own 400 before asking."""
    before = stack.upstream.count()
    r = stack.request(path, token=mint.access("files/read"))
    assert r.status == 400, r.describe()
    assert stack.upstream.count() == before


def test_two_authorization_headers_are_refused_by_nginx(stack: Stack, mint: Minter) -> None:
    good = f"Bearer {mint.access('files/read')}"
    before = stack.upstream.count()
    r = stack.request("/files/x", headers=[("authorization", good), ("authorization", good)])
    assert r.status == 400, r.describe()
    assert stack.upstream.count() == before


def test_forged_identity_never_reaches_the_upstream(stack: Stack, mint: Minter) -> None:
    """Allowed and public routes: every x-cognito-* header the upstream sees is the
    service's (the token's), never the client's."""
    seen = upstream_saw(stack.request("/files/x", token=mint.access("files/read", sub="real"), headers=FORGED))
    assert identity(seen)["x-cognito-sub"] == ["real"]
    assert all(v != ["forged-by-client"] for v in identity(seen).values()), identity(seen)
    seen = upstream_saw(stack.request("/health", headers=FORGED))
    assert identity(seen) == {"x-cognito-route": ["health"]}, identity(seen)


def test_the_stack_is_the_nginx_one(stack: Stack) -> None:
    assert stack.mode == "nginx"
    assert "auth_request" in stack.envoy.config_text
    log = stack.service.log_tail(2000)
    assert "decision" in log


def test_a_non_ascii_username_reaches_the_upstream_and_the_forged_one_does_not(stack: Stack, mint: Minter) -> None:
    """The service sends a UTF-8 identity value as the gRPC port sets it; the gateway
    relays it in place of the client's forged one."""
    seen = upstream_saw(
        stack.request("/me", token=mint.access(username="josé"), headers={"x-cognito-username": "admin"})
    )
    # Python's server reads header bytes as Latin-1.
    assert seen["headers"]["x-cognito-username"] == ["josé".encode().decode("latin-1")], seen
