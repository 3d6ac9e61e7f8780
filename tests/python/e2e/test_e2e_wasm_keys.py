"""Key sets in the in-process filter: fetched by Envoy (the host's HTTP calls) through the
cluster the plugin configuration names, under the service's rules: an unknown `kid`
refetches once per cooldown and the request waits for it, a failed fetch keeps the last
good keys, and a pool without keys gets 401 for its tokens, never an allow. Also what
else the configuration carries (revocations, dry run) and what it refuses at load.

Each test runs its own Envoy on its own pool, so fetch counts and cooldowns are its own.
Every Envoy worker (and Envoy's main thread) runs its own copy of the filter, each
fetching its own key sets: fetch counts are compared before and after, not absolutely.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from support import envoy as envoy_config
from support import tokens, wasm
from support.keyserver import KeyServer
from support.procs import free_port, wait_until
from support.upstream import EchoServer
from support.wasm import WasmStack

from .test_e2e_decisions import assert_invalid_token, identity, upstream_saw


def _policy(keys: KeyServer, pool: str, extra: str = "") -> str:
    return f"""\
userPools:
  - id: {pool}
    jwksUri: {keys.jwks_uri(pool)}
defaultAction: deny
{extra}routes:
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read]
  - name: health
    path: /health
    auth: none
"""


# The unknown-kid refetch cooldown of the `rotating` stack: long enough for a burst of
# bogus kids (one refetch), short enough to wait out after the start-up fetches.
COOLDOWN = 3


def _pool(prefix: str) -> str:
    return f"eu-central-1_{prefix}{int(time.time() * 1000) % 1000000:06d}"


@pytest.fixture
def rotating(envoy_bin: Path, wasm_module: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer):
    pool = _pool("Wrt")
    keys.add_pool(pool)
    with WasmStack(envoy_bin=envoy_bin, module=wasm_module, workdir=tmp_path, policy=_policy(keys, pool),
                   upstream=upstream, keys_port=keys.port, name="wasm-keys",
                   keys={"cooldownSeconds": COOLDOWN}) as s:
        token = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
        # The start-up fetch is under way or done: the first request waits for it.
        upstream_saw(s.request("/files/x", token=token))
        # Envoy's main thread has a root context too, which fetches the key set once; a
        # root whose first call was made before the cluster was up tries again a second
        # later, and a fetch of any kind starts the cooldown. Counts of fetches in the
        # tests start once both have the keys and the cooldown of those fetches is over.
        wait_until(lambda: keys.fetches[pool] >= 2, 10, "the main thread's key fetch")
        time.sleep(COOLDOWN + 0.2)
        yield s, pool


def test_new_key_is_picked_up_on_unknown_kid(rotating, keys: KeyServer) -> None:
    """The first token signed with a key published after start waits for the refetch its
    unknown kid starts, and passes."""
    stack, pool = rotating
    before = keys.fetches[pool]
    new_key = keys.add_key(pool)
    token = tokens.access_token(new_key, keys.issuer(pool), scope="files/read")
    upstream_saw(stack.request("/files/x", token=token))
    upstream_saw(stack.request("/files/x", token=token))
    assert keys.fetches[pool] - before == 1, "one refetch for the new kid"


def test_a_refetch_outlives_the_request_that_started_it(rotating, keys: KeyServer) -> None:
    """A client whose unknown kid starts a refetch, and then goes away, does not take the
    refetch's answer with it: the key set arrives for everyone (as in the service, whose
    refetch runs detached from the check that started it)."""
    stack, pool = rotating
    new_key = keys.add_key(pool)
    keys.set_delay(pool, 1.5)
    bogus = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"),
                        tokens.SigningKey.generate(), kid="gone-away")
    before = keys.fetches[pool]
    with socket.create_connection(("127.0.0.1", stack.envoy.listen_port)) as s:
        s.sendall(f"GET /files/x HTTP/1.1\r\nhost: api.example.com\r\n"
                  f"authorization: Bearer {bogus}\r\n\r\n".encode())
        time.sleep(0.3)  # the refetch is under way; the client goes away
    wait_until(lambda: keys.fetches[pool] > before, 10, "the refetch reaching the key server")
    time.sleep(1.6)  # the key server's answer is back
    keys.set_delay(pool, 0)
    token = tokens.access_token(new_key, keys.issuer(pool), scope="files/read")
    upstream_saw(stack.request("/files/x", token=token))
    assert keys.fetches[pool] - before == 1, "the new key came with that one refetch"


def test_unknown_kid_refetches_are_rate_limited(rotating, keys: KeyServer) -> None:
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
    keys.set_failing(pool, 500)
    try:
        before = keys.fetches[pool]
        stranger = tokens.SigningKey.generate()
        t = tokens.sign(tokens.access_claims(keys.issuer(pool), scope="files/read"), stranger)
        assert_invalid_token(stack.request("/files/x", token=t))
        assert keys.fetches[pool] - before == 1, "the refetch was tried (and failed)"
        upstream_saw(stack.request("/files/x", token=good))
        fresh = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read", sub="fresh")
        upstream_saw(stack.request("/files/x", token=fresh))
    finally:
        keys.set_failing(pool, None)


def test_a_pool_without_keys_refuses_its_tokens_and_then_takes_them(
        envoy_bin: Path, wasm_module: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer) -> None:
    """Until a pool's key set has been fetched, its tokens get 401 (never an allow); public
    routes work meanwhile; once the key set can be fetched (retried with backoff) the
    same tokens pass."""
    pool = _pool("Wnk")
    keys.add_pool(pool)
    keys.set_failing(pool, 503)
    try:
        with WasmStack(envoy_bin=envoy_bin, module=wasm_module, workdir=tmp_path, policy=_policy(keys, pool),
                       upstream=upstream, keys_port=keys.port, name="wasm-nokeys") as s:
            token = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
            wait_until(lambda: keys.fetches[pool] >= 1, 30, "the first key fetch")
            for _ in range(3):
                assert_invalid_token(s.request("/files/x", token=token))
            upstream_saw(s.request("/health"))
            keys.set_failing(pool, None)
            # Retried with backoff (1 s, 2 s, ...): the same token passes once a retry lands.
            wait_until(lambda: s.request("/files/x", token=token).status == 200, 30,
                       "the pool's keys after the key server recovered")
    finally:
        keys.set_failing(pool, None)


def test_revocations_and_dry_run_from_the_configuration(
        envoy_bin: Path, wasm_module: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer) -> None:
    pool = _pool("Wrv")
    keys.add_pool(pool)
    revoked = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
    jti = tokens.claims_of(revoked)["jti"]
    revocations = f"revocations:\n  - jti: {jti}\n    reason: leaked in a log\n"
    with WasmStack(envoy_bin=envoy_bin, module=wasm_module, workdir=tmp_path, policy=_policy(keys, pool),
                   upstream=upstream, keys_port=keys.port, name="wasm-revoked", revocations=revocations) as s:
        assert_invalid_token(s.request("/files/x", token=revoked))
        other = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="files/read")
        upstream_saw(s.request("/files/x", token=other))
    dry = _policy(keys, pool, extra="mode: dryRun\n")
    with WasmStack(envoy_bin=envoy_bin, module=wasm_module, workdir=tmp_path, policy=dry,
                   upstream=upstream, keys_port=keys.port, name="wasm-dry") as s:
        # Denied under enforcement, let through under dry run, with the identity of the
        # verified token and without any forged one.
        short = tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope="orders/read", sub="dry-sub")
        seen = upstream_saw(s.request("/files/x", token=short, headers={"x-cognito-route": "forged"}))
        assert identity(seen)["x-cognito-sub"] == ["dry-sub"]
        assert identity(seen).get("x-cognito-route") in (None, ["files"]), identity(seen)
        seen = upstream_saw(s.request("/files/x", headers={"x-cognito-sub": "forged"}))
        assert "x-cognito-sub" not in seen["headers"]


@pytest.mark.parametrize(
    ("keys_config", "said"),
    [
        ({"cluster": ""}, "no Envoy cluster for 127.0.0.1"),
        ({"refreshSeconds": 1}, "keys.refreshSeconds: 1 is outside 10..=86400"),
    ],
    ids=["no-cluster", "refresh-too-often"],
)
def test_a_configuration_it_cannot_honour_is_refused_at_load(
        envoy_bin: Path, wasm_module: Path, tmp_path: Path, keys: KeyServer, keys_config: dict, said: str) -> None:
    """The filter refuses the configuration, saying why; Envoy (failure_policy
    FAIL_CLOSED) then refuses to start rather than serve without it."""
    pool = _pool("Wbd")
    configuration = wasm.plugin_configuration(_policy(keys, pool), **keys_config)
    cfg = envoy_config.derive(
        listen=("127.0.0.1", free_port()), admin=("127.0.0.1", free_port()),
        upstream=("127.0.0.1", free_port()), base=wasm.reference(),
        transforms=[wasm.configured(wasm_module, configuration, keys.port)],
    )
    path = envoy_config.dump(cfg, tmp_path / "refused.yaml")
    run = subprocess.run(
        [envoy_bin, "-c", path, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warn"],
        capture_output=True, text=True, timeout=60,
    )
    assert run.returncode != 0, run.stderr[-2000:]
    assert "the plugin configuration is refused" in run.stderr and said in run.stderr, run.stderr[-2000:]
