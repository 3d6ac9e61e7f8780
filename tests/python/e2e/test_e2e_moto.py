"""Tokens issued by moto's Cognito emulator, through Envoy.

moto creates a pool, an app client and a user; `AdminInitiateAuth` returns real RS256
tokens signed with moto's key. The policy overrides only `jwksUri` (moto serves the
keys at http://127.0.0.1:PORT/{poolId}/.well-known/jwks.json) and keeps the default
issuer, because moto's tokens carry the real AWS issuer (asserted below).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import tokens
from support.keyserver import cognito_issuer
from support.moto import MotoCognito, MotoUser
from support.stack import Stack
from support.upstream import EchoServer

from .test_e2e_decisions import assert_insufficient_scope, assert_invalid_token, identity, upstream_saw

ADMIN_SCOPE = "aws.cognito.signin.user.admin"


@pytest.fixture(scope="module")
def moto(moto_bin: Path, tmp_path_factory: pytest.TempPathFactory):
    with MotoCognito(moto_bin, tmp_path_factory.mktemp("moto")) as m:
        yield m


@pytest.fixture(scope="module")
def user(moto: MotoCognito) -> MotoUser:
    return moto.create_user("alice")


@pytest.fixture(scope="module")
def moto_stack(
    authz_bin: Path, envoy_bin: Path, tmp_path_factory: pytest.TempPathFactory, moto: MotoCognito, user: MotoUser,
    upstream: EchoServer,
):
    policy = f"""\
userPools:
  - id: {user.pool_id}
    appClients: [{user.client_id}]
    jwksUri: {moto.jwks_uri(user.pool_id)}
defaultAction: deny
routes:
  - name: account
    path: /account
    scopes: [{ADMIN_SCOPE}]
  - name: orders
    path: /orders/{{id}}
    scopes: [orders/read]
  - name: profile
    path: /profile
    tokenUse: id
"""
    with Stack(
        authz_bin=authz_bin, envoy_bin=envoy_bin, workdir=tmp_path_factory.mktemp("moto-stack"), policy=policy,
        upstream=upstream, name="moto",
    ) as s:
        yield s


def test_moto_tokens_have_cognito_shape(user: MotoUser) -> None:
    """What the policy relies on: moto's `iss` is the real AWS issuer, and its
    AdminInitiateAuth access token has exactly the admin scope and no `aud`."""
    claims = tokens.claims_of(user.access_token)
    assert claims["iss"] == cognito_issuer(user.pool_id)
    assert claims["iss"].startswith("https://cognito-idp.us-east-1.amazonaws.com/")
    assert claims["token_use"] == "access"
    assert claims["scope"] == ADMIN_SCOPE
    assert claims["client_id"] == user.client_id
    assert "aud" not in claims
    assert tokens.claims_of(user.id_token)["token_use"] == "id"


def test_moto_access_token_admitted_on_admin_scope_route(moto_stack: Stack, user: MotoUser) -> None:
    claims = tokens.claims_of(user.access_token)
    seen = upstream_saw(moto_stack.request("/account", token=user.access_token))
    assert identity(seen) == {
        "x-cognito-sub": [claims["sub"]],
        "x-cognito-client-id": [user.client_id],
        "x-cognito-username": ["alice"],
        "x-cognito-scope": [ADMIN_SCOPE],
        "x-cognito-route": ["account"],
    }


def test_moto_access_token_refused_on_custom_scope_route(moto_stack: Stack, user: MotoUser) -> None:
    # A valid token without the route's scope: 401 (the default insufficientScopeStatus)
    # with `Bearer error="insufficient_scope"`.
    assert_insufficient_scope(moto_stack.request("/orders/1", token=user.access_token))


def test_moto_id_token_refused(moto_stack: Stack, user: MotoUser) -> None:
    assert_invalid_token(moto_stack.request("/account", token=user.id_token))


def test_moto_pool_id_shape_is_accepted(moto_stack: Stack, user: MotoUser) -> None:
    # moto ids are region + "_" + 32 hex characters, unlike real 9-character ids; the
    # stack above started with it, so the policy loader accepted it.
    region, _, rest = user.pool_id.partition("_")
    assert region == "us-east-1" and len(rest) == 32


def test_an_id_token_route_takes_motos_id_token_and_refuses_its_access_token(
    moto_stack: Stack, user: MotoUser
) -> None:
    # API Gateway's rule for a Cognito method without scopes: an ID token (aud = the client).
    claims = tokens.claims_of(user.id_token)
    assert claims["aud"] == user.client_id
    seen = upstream_saw(moto_stack.request("/profile", token=user.id_token))
    assert identity(seen)["x-cognito-client-id"] == [user.client_id]
    assert identity(seen)["x-cognito-sub"] == [claims["sub"]]
    assert "x-cognito-scope" not in identity(seen)
    assert_invalid_token(moto_stack.request("/profile", token=user.access_token))
