"""Key rotation and key-server trouble, seen through Envoy.

Each test runs its own stack on its own pool so that fetch counts and cooldowns are its
own. The service runs with AUTHZ_JWKS_COOLDOWN_SECONDS=1 (see support.service).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support import tokens
from support.keyserver import KeyServer
from support.procs import wait_until
from support.stack import Stack
from support.upstream import EchoServer

from .test_e2e_decisions import assert_invalid_token, upstream_saw


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
        upstream=upstream, name="keys",
    ) as s:
        yield s, pool


def test_startup_fetched_the_pool_keys(rotating, keys: KeyServer) -> None:
    _, pool = rotating
    assert keys.fetches[pool] >= 1


def test_new_key_is_picked_up_on_unknown_kid(rotating, keys: KeyServer) -> None:
    """Cognito rotates by publishing a new key: the first token signed with it makes the
    service refetch (the kid is unknown) and then pass, without a restart."""
    stack, pool = rotating
    new_key = keys.add_key(pool)
    token = tokens.access_token(new_key, keys.issuer(pool), scope="files/read")
    # At most one refetch per cooldown (1 s here): a retry within a few seconds must pass.
    wait_until(
        lambda: stack.request("/files/x", token=token).status == 200,
        10,
        "a token signed with a newly published key to be accepted",
        interval=0.3,
        on_timeout=stack.logs,
    )
    upstream_saw(stack.request("/files/x", token=token))


def test_unknown_kid_refetches_are_rate_limited(rotating, keys: KeyServer) -> None:
    """A burst of tokens with unknown kids must not turn into a burst of JWKS fetches."""
    stack, pool = rotating
    attacker = tokens.SigningKey.generate()
    before = keys.fetches[pool]
    started = time.monotonic()
    for i in range(20):
        t = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"), attacker, kid=f"bogus-{i}")
        assert_invalid_token(stack.request("/files/x", token=t))
    elapsed = time.monotonic() - started
    fetched = keys.fetches[pool] - before
    # One refetch per 1 s cooldown, plus possibly a periodic refresh.
    assert fetched <= int(elapsed) + 2, f"{fetched} JWKS fetches for 20 unknown kids in {elapsed:.1f}s"


def test_failed_refetch_keeps_last_good_keys(rotating, keys: KeyServer) -> None:
    stack, pool = rotating
    good = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
    upstream_saw(stack.request("/files/x", token=good))
    keys.set_failing(pool, 500)
    try:
        # Force refetch attempts (unknown kid) that fail...
        stranger = tokens.SigningKey.generate()
        for _ in range(3):
            t = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"), stranger)
            assert_invalid_token(stack.request("/files/x", token=t))
            time.sleep(0.6)
        # ...the keys fetched earlier still verify.
        upstream_saw(stack.request("/files/x", token=good))
        fresh = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
        upstream_saw(stack.request("/files/x", token=fresh))
    finally:
        keys.set_failing(pool, None)
