"""Dry run through the real Envoy with the shipped config: a policy in `mode: dryRun` lets
through what it would refuse, the upstream sees the identity of a valid token that fell
short, Envoy's access log carries the would-be decision, and `auth: deny` routes and
unsafe paths stay refused."""

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
