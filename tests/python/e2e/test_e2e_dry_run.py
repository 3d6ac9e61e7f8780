"""Dry run through the real Envoy with the shipped config: a policy in `mode: dryRun` lets
through what it would refuse, the upstream sees the identity of a valid token that fell
short, Envoy's access log carries the would-be decision, and `auth: deny` routes and
unsafe paths stay refused. With `dryRunUnsafeRequests: true`, an unsafe host or path is let
through only when every route it could be read as is itself dry run: an HTTP client cannot
reach a deny route or a `dryRun: false` route through a host Envoy routes anywhere
(`api.example.com.`, `api.example.com:abc`) or a `;x` path parameter an upstream strips."""

from __future__ import annotations

import json

import pytest

from support.keyserver import KeyServer
from support.procs import wait_until
from support.stack import Stack

from .conftest import DEADLINE_SECONDS, POOL, Minter
from .test_e2e_decisions import FORGED, assert_denied, assert_insufficient_scope, identity, upstream_saw


@pytest.fixture(scope="module")
def trial(new_stack, tmp_path_factory: pytest.TempPathFactory, keys: KeyServer):
    policy = f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
mode: dryRun
routes:
  - name: orders
    path: /orders/{{id}}
    scopes: [orders/read]
  - name: billing
    path: /billing
    scopes: [billing/read]
    dryRun: false
  - name: closed
    path: /closed
    auth: deny
"""
    with new_stack(workdir=tmp_path_factory.mktemp("dry-run"), policy=policy, name="dry-run") as s:
        yield s


@pytest.fixture(scope="module")
def unsafe_trial(new_stack, tmp_path_factory: pytest.TempPathFactory, keys: KeyServer):
    policy = f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
mode: dryRun
dryRunUnsafeRequests: true
routes:
  - name: orders
    path: /orders/{{id}}
    scopes: [orders/read]
  - name: billing
    path: /billing
    scopes: [billing/read]
    dryRun: false
  - name: admin
    path: /admin/{{proxy+}}
    auth: deny
"""
    workdir = tmp_path_factory.mktemp("dry-run-unsafe")
    with new_stack(workdir=workdir, policy=policy, name="dry-run-unsafe") as s:
        yield s


def would_deny(service, reason: str) -> float:
    for line in service.metrics().splitlines():
        if (line.startswith("cognito_ext_authz_decisions_total{") and 'result="would_deny"' in line
                and f'reason="{reason}"' in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_token_without_the_scope_goes_upstream_with_its_identity(trial: Stack, mint: Minter) -> None:
    before = would_deny(trial.service, "insufficient_scope")
    seen = upstream_saw(trial.request("/orders/1", token=mint.access("other/scope", sub="dry-run-sub")))
    assert identity(seen)["x-cognito-sub"] == ["dry-run-sub"], seen
    assert identity(seen)["x-cognito-scope"] == ["other/scope"], seen
    wait_until(lambda: would_deny(trial.service, "insufficient_scope") == before + 1, DEADLINE_SECONDS,
               "would_deny counted", on_timeout=trial.logs)


def test_no_token_goes_upstream_without_identity_and_forgeries_removed(trial: Stack) -> None:
    seen = upstream_saw(trial.request("/orders/1", headers=FORGED))
    forged_left = {k: v for k, v in identity(seen).items() if v == ["forged-by-client"]}
    assert forged_left == {}, f"client-forged identity headers reached the upstream: {forged_left}"
    # No identity header at all, `x-cognito-route` included (README: dry run).
    assert identity(seen) == {}, seen


def test_the_would_be_decision_is_in_envoys_access_log(trial: Stack, mint: Minter) -> None:
    path = "/orders/access-log-dry-run"
    upstream_saw(trial.request(path, token=mint.access("other/scope")))
    authz = json.dumps(trial.envoy.access_log_entry(path)["authz"])
    assert "would_deny" in authz and "insufficient_scope" in authz and "401" in authz, authz


def test_opted_out_routes_deny_routes_and_unsafe_paths_stay_refused(trial: Stack, mint: Minter) -> None:
    # /billing opted out (dryRun: false): a real insufficient-scope denial, challenge and all.
    assert_insufficient_scope(trial.request("/billing", token=mint.access("other/scope")))
    # An `auth: deny` route's 403 and an unsafe path's 400 carry no challenge (README table).
    assert_denied(trial.request("/closed"), 403, "Forbidden", None)
    r = trial.request("/orders/a;b")
    assert r.status == 400 and r.header("x-upstream") is None, r.describe()
    assert r.header("www-authenticate") is None, r.describe()


@pytest.mark.parametrize(
    "host,path",
    [
        ("api.example.com.", "/admin/secret"),
        ("api.example.com:abc", "/admin/secret"),
        ("api.example.com", "/admin;x/secret"),
        ("api.example.com.", "/billing"),
        ("api.example.com:abc", "/billing"),
        ("api.example.com", "/billing;x"),
    ],
)
def test_unsafe_requests_never_reach_a_deny_or_enforcing_route(unsafe_trial: Stack, host: str, path: str) -> None:
    # Without a token: an upstream that ignores the host or strips `;x` (Tomcat, Spring)
    # would serve the deny route's or the enforcing route's path.
    r = unsafe_trial.request(path, host=host)
    assert_denied(r, 400, "Bad Request", None)


def test_unsafe_requests_reaching_only_dry_run_routes_go_upstream_without_identity(unsafe_trial: Stack) -> None:
    before = would_deny(unsafe_trial.service, "unsafe_path")
    seen = upstream_saw(unsafe_trial.request("/orders/1;jsessionid=x", headers=FORGED))
    assert identity(seen) == {}, seen
    seen = upstream_saw(unsafe_trial.request("/orders/1", host="api.example.com:abc"))
    assert identity(seen) == {}, seen
    wait_until(lambda: would_deny(unsafe_trial.service, "unsafe_path") == before + 1, DEADLINE_SECONDS,
               "would_deny counted", on_timeout=unsafe_trial.logs)
