"""Key rotation and key-server trouble, seen through Envoy.

Each test runs its own stack on its own pool so that fetch counts and cooldowns are its
own. The refetch cooldown is 600 s here: the first unknown `kid` triggers the one refetch
the cooldown allows, and every later one must not, however slow the machine is.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support import tokens
from support.keyserver import KeyServer
from support.stack import Stack
from support.upstream import EchoServer

from .conftest import metric
from .test_e2e_decisions import assert_invalid_token, upstream_saw

FETCHES = "cognito_ext_authz_key_fetches_total"


def _one_pool_policy(keys: KeyServer, pool: str) -> str:
    return f"""\
userPools:
  - id: {pool}
    jwksUri: {keys.jwks_uri(pool)}
defaultAction: deny
routes:
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read]
"""


@pytest.fixture
def rotating(authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer):
    pool = f"eu-central-1_Rot{int(time.time() * 1000) % 1000000:06d}"
    keys.add_pool(pool)
    with Stack(
        authz_bin=authz_bin, envoy_bin=envoy_bin, workdir=tmp_path, policy=_one_pool_policy(keys, pool),
        upstream=upstream, name="keys", service_env={"AUTHZ_JWKS_COOLDOWN_SECONDS": "600"},
    ) as s:
        yield s, pool


def test_startup_fetches_each_pool_once(rotating, keys: KeyServer) -> None:
    """Readiness needs one successful fetch; start-up makes no more than that one."""
    stack, pool = rotating
    assert keys.fetches[pool] == 1
    m = stack.service.metrics()
    assert metric(m, FETCHES, pool=pool, result="success") == 1, m
    assert metric(m, FETCHES, pool=pool, result="failure") == 0, m


def test_new_key_is_picked_up_on_unknown_kid(rotating, keys: KeyServer) -> None:
    """Cognito rotates by publishing a new key: the first token signed with it makes the
    service refetch (the kid is unknown) and pass at once, without a restart."""
    stack, pool = rotating
    new_key = keys.add_key(pool)
    token = tokens.access_token(new_key, keys.issuer(pool), scope="files/read")
    upstream_saw(stack.request("/files/x", token=token))
    upstream_saw(stack.request("/files/x", token=token))
    assert keys.fetches[pool] == 2, "one start-up fetch, one refetch for the new kid"


def test_unknown_kid_refetches_are_rate_limited(rotating, keys: KeyServer) -> None:
    """A burst of tokens with unknown kids must not turn into a burst of JWKS fetches: one
    refetch per cooldown (600 s here), whatever the kids and however long the burst takes."""
    stack, pool = rotating
    attacker = tokens.SigningKey.generate()
    before = keys.fetches[pool]
    for i in range(20):
        t = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"), attacker, kid=f"bogus-{i}")
        assert_invalid_token(stack.request("/files/x", token=t))
    assert keys.fetches[pool] - before == 1


def test_failed_refetch_keeps_last_good_keys(rotating, keys: KeyServer) -> None:
    stack, pool = rotating
    good = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
    upstream_saw(stack.request("/files/x", token=good))
    keys.set_failing(pool, 500)
    try:
        # An unknown kid forces a refetch, which fails...
        stranger = tokens.SigningKey.generate()
        t = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"), stranger)
        assert_invalid_token(stack.request("/files/x", token=t))
        m = stack.service.metrics()
        assert metric(m, FETCHES, pool=pool, result="failure") == 1, m
        # ...and the keys fetched earlier still verify, cached or not.
        upstream_saw(stack.request("/files/x", token=good))
        fresh = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read", sub="fresh")
        upstream_saw(stack.request("/files/x", token=fresh))
    finally:
        keys.set_failing(pool, None)


def test_a_pool_that_does_not_exist_changes_nothing_for_another_teams_requests(
        authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer) -> None:
    """One team's typo (a well-formed pool id whose key set URL answers 404) must not keep
    the service unready for every team: the service becomes ready, Envoy's gRPC health
    check marks it healthy, the other team's tokens pass as ever, and only the missing
    pool's routes refuse (401)."""
    stamp = int(time.time() * 1000) % 1000000
    pool, missing = f"eu-central-1_Own{stamp:06d}", f"eu-central-1_Typ{stamp:06d}"
    keys.add_pool(pool)  # `missing` is never added: its key set URL answers 404
    policy = f"""\
authorizers:
  team-a:
    userPools: [{{id: {pool}, jwksUri: "{keys.jwks_uri(pool)}"}}]
  team-b:
    userPools: [{{id: {missing}, jwksUri: "{keys.jwks_uri(missing)}"}}]
routes:
  - name: team-a-files
    path: /files/{{proxy+}}
    authorizer: team-a
    scopes: [files/read]
  - name: team-b-orders
    path: /orders/{{proxy+}}
    authorizer: team-b
    scopes: [orders/read]
"""
    # Stack waits for /readyz 200: with the old rule (every pool's keys) it never came.
    with Stack(authz_bin=authz_bin, envoy_bin=envoy_bin, workdir=tmp_path, policy=policy,
               upstream=upstream, name="typo", service_env={"AUTHZ_JWKS_TIMEOUT_SECONDS": "60"}) as s:
        deadline = time.monotonic() + 30
        while s.envoy.authz_health_flags() != "healthy" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert s.envoy.authz_health_flags() == "healthy", s.logs()
        token = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
        upstream_saw(s.request("/files/report.pdf", token=token))
        stranger = tokens.SigningKey.generate()
        other = tokens.sign(tokens.access_claims(keys.issuer(missing), scope="orders/read"), stranger)
        assert_invalid_token(s.request("/orders/42", token=other))
        m = s.service.metrics()
        assert metric(m, FETCHES, pool=missing, result="failure") >= 1, m
        assert "serving without the keys of these user pools" in s.service.log_tail(), s.logs()
