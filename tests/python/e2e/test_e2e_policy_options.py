"""Policy options that change the answers: `insufficientScopeStatus: 403` and
`defaultAction: allow`, through their own stack."""

from __future__ import annotations


import pytest

from support import tokens
from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import POOL, Minter
from .test_e2e_decisions import FORGED, assert_denied, assert_invalid_token, assert_unauthorized_no_token, identity, upstream_saw


@pytest.fixture(scope="module")
def lenient(new_stack, tmp_path_factory: pytest.TempPathFactory, keys: KeyServer):
    policy = f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
defaultAction: allow
insufficientScopeStatus: 403
routes:
  - name: orders
    path: /orders/{{id}}
    scopes: [orders/read]
  - name: ops
    path: /ops
    scopes: [ops/admin]
    groups: [operators]
"""
    with new_stack(workdir=tmp_path_factory.mktemp("lenient"), policy=policy, name="lenient") as s:
        yield s


def test_insufficient_scope_is_403_with_challenge(lenient: Stack, mint: Minter) -> None:
    r = lenient.request("/orders/1", token=mint.access("orders/write"))
    assert_denied(r, 403, "Forbidden", 'Bearer error="insufficient_scope"')


def test_missing_group_is_403_too(lenient: Stack, mint: Minter) -> None:
    r = lenient.request("/ops", token=mint.access("ops/admin", groups=["developers"]))
    # README: insufficient scope or group carries the challenge at 403 as at 401.
    assert_denied(r, 403, "Forbidden", 'Bearer error="insufficient_scope"')
    upstream_saw(lenient.request("/ops", token=mint.access("ops/admin", groups=["operators"])))


def test_authentication_failures_stay_401(lenient: Stack, mint: Minter) -> None:
    # Only the scope/group answer changes; no token and bad tokens are still 401.
    assert_unauthorized_no_token(lenient.request("/orders/1"))
    wrong_issuer = tokens.access_token(mint.key(), "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere", scope="orders/read")
    assert_invalid_token(lenient.request("/orders/1", token=wrong_issuer))


def test_default_allow_passes_unmatched_requests_without_identity(lenient: Stack, mint: Minter) -> None:
    seen = upstream_saw(lenient.request("/anything/else", headers=FORGED))
    assert seen["path"] == "/anything/else"
    forged_left = {k: v for k, v in identity(seen).items() if v == ["forged-by-client"]}
    assert forged_left == {}, f"client-forged identity headers reached the upstream: {forged_left}"
