"""Unsafe and unusual paths: which layer answers, and what the client sees.

Three layers can act on a path before the upstream gets it:

1. Envoy's HTTP connection manager (deploy/envoy/envoy.yaml): `normalize_path` removes
   dot segments (also `%2e%2e`), turns `\\` into `/`, decodes percent-encoded unreserved
   characters (`%66` -> `f`); `merge_slashes` folds `//`; `path_with_escaped_slashes_action:
   REJECT_REQUEST` answers `%2F` / `%5C` itself with an empty-bodied 400, and Envoy's codec
   refuses `%00`. The service is never asked (its ext_authz counters do not move).
2. The service: a path that reaches it and still cannot be matched safely (bad
   percent-encoding) gets its 400 `{"message":"Bad Request"}`.
3. Otherwise the service decides on the *normalized* path, which is exactly the path the
   upstream receives: "/files/../admin/reports" is authorized as "/admin/reports".
"""

from __future__ import annotations

import pytest

from support.stack import Stack

from .conftest import Minter
from .test_e2e_decisions import (
    assert_denied,
    assert_forbidden_no_route,
    assert_insufficient_scope,
    assert_unauthorized_no_token,
    identity,
    upstream_saw,
)


def _authz_calls(stack: Stack) -> int:
    """How many requests Envoy's ext_authz filter sent to the service (any outcome)."""
    total = 0
    for outcome in ("ok", "denied", "error", "failure_mode_allowed"):
        total += stack.envoy.stat(f"http.ingress_http.ext_authz.{outcome}") or 0
    return total


@pytest.mark.parametrize(
    "path",
    ["/files/a%2Fb", "/files/a%2fb", "/files/a%5Cb", "/files/a%5cb", "/files/..%2fadmin/reports", "/files/a%00b"],
)
def test_envoy_itself_rejects_encoded_slash_backslash_nul(stack: Stack, mint: Minter, path: str) -> None:
    before_up, before_authz = stack.upstream.count(), _authz_calls(stack)
    r = stack.request(path, token=mint.access("files/read"))
    # Layer 1 answered: Envoy's own 400, no JSON body, the service was not consulted.
    assert r.status == 400, r.describe()
    assert r.body == b"", r.describe()
    assert stack.upstream.count() == before_up
    assert _authz_calls(stack) == before_authz


@pytest.mark.parametrize("path", ["/files/%zz", "/files/%", "/files/a%G1b", "/files/report%2",
                                  # what a server decoding twice would read as `..` or `/`
                                  "/files/%252e%252e/admin/reports", "/files/a%252fb"])
def test_service_rejects_bad_percent_encoding(stack: Stack, mint: Minter, path: str) -> None:
    before_authz = stack.envoy.stat("http.ingress_http.ext_authz.denied") or 0
    r = stack.request(path, token=mint.access("files/read"))
    # Layer 2 answered: Envoy passed the path on unchanged; the service refused it.
    assert_denied(r, 400, "Bad Request", None)  # no challenge on a 400 (README table)
    assert (stack.envoy.stat("http.ingress_http.ext_authz.denied") or 0) == before_authz + 1


@pytest.mark.parametrize(
    "path",
    ["/files/../admin/reports", "/files/%2e%2e/admin/reports", "/files/%2E%2E/admin/reports", "/files/./../admin/reports"],
)
def test_dot_segments_cannot_escape_a_scoped_route(stack: Stack, mint: Minter, path: str) -> None:
    # Layer 1 normalized the path to /admin/reports (reports/read + group admins), so a
    # files/read token does not get in through the files route: it lacks reports/read.
    r = stack.request(path, token=mint.access("files/read"))
    assert_insufficient_scope(r)


def test_dot_segments_cannot_escape_a_public_route(stack: Stack) -> None:
    before = stack.upstream.count()
    for path in ("/health/../files/secret", "/health/%2e%2e/files/secret", "/health\\..\\files\\secret"):
        r = stack.request(path)
        # Checked as /files/secret: a protected route, so 401 for a request with no token.
        assert_unauthorized_no_token(r)
    assert stack.upstream.count() == before


def test_authorized_path_is_the_path_the_upstream_gets(stack: Stack, mint: Minter) -> None:
    token = mint.access("files/read")
    for sent, normalized in (
        ("/files//a///b", "/files/a/b"),
        ("/files/a/./b", "/files/a/b"),
        ("/files/x/../y", "/files/y"),
        ("/files\\a\\b", "/files/a/b"),
        ("/%66iles/a", "/files/a"),  # %66 is "f": decoded by Envoy before the check
    ):
        seen = upstream_saw(stack.request(sent, token=token))
        assert seen["path"] == normalized, sent
        assert identity(seen)["x-cognito-route"] == ["files"], sent


def test_dot_segments_above_root_stay_at_root(stack: Stack) -> None:
    # "/../health" normalizes to "/health" (public): no escape above the root.
    seen = upstream_saw(stack.request("/../health"))
    assert seen["path"] == "/health"


def test_paths_are_case_sensitive(stack: Stack, mint: Minter) -> None:
    assert_forbidden_no_route(stack.request("/FILES/a", token=mint.access("files/read")))


def test_non_origin_form_is_refused_by_envoy(stack: Stack) -> None:
    # "files/x" (no leading slash) never reaches a filter: Envoy's codec answers 400.
    r = stack.request("files/x")
    assert r.status == 400 and r.header("x-upstream") is None, r.describe()
