"""docs/decisions.md end to end: what a client sees through Envoy, and what the upstream sees.

Every request goes client -> Envoy (deploy/envoy/envoy.yaml) -> ext_authz Check on the
real service -> upstream echo server. Denials are the service's `denied_response`
relayed by Envoy; allowed requests reach the echo server, whose JSON reply shows the
headers it received (so the identity headers are checked where the application reads them).
"""

from __future__ import annotations

import json
import time

import pytest

from support import tokens
from support.http import Response
from support.stack import Stack

from .conftest import APP_CLIENT, M2M_CLIENT, OTHER_CLIENT, POOL, POOL2, UNCONFIGURED_POOL, Minter, main_policy

IDENTITY_HEADERS = (
    "x-cognito-sub",
    "x-cognito-client-id",
    "x-cognito-username",
    "x-cognito-scope",
    "x-cognito-groups",
    "x-cognito-route",
)
FORGED = {h: "forged-by-client" for h in IDENTITY_HEADERS}


# --- helpers ------------------------------------------------------------------------


def upstream_saw(r: Response) -> dict:
    """The echo server's view of an allowed request: {"method", "path", "headers"}."""
    assert r.status == 200, r.describe()
    assert r.header("x-upstream") == "echo", f"not answered by the upstream: {r.describe()}"
    return r.json()


def identity(seen: dict) -> dict[str, list[str]]:
    return {k: v for k, v in seen["headers"].items() if k.startswith("x-cognito-")}


def assert_denied(r: Response, status: int, message: str, www_authenticate: str | None = ...) -> None:
    """A denial from the service: status, JSON body, never the upstream."""
    assert r.status == status, r.describe()
    assert r.header("x-upstream") is None, f"the upstream answered a denied request: {r.describe()}"
    assert (r.header("content-type") or "").startswith("application/json"), r.describe()
    assert r.json() == {"message": message}, r.describe()
    if www_authenticate is not ...:
        assert r.header("www-authenticate") == www_authenticate, r.describe()


def assert_forbidden_no_route(r: Response) -> None:
    """No route matches under `defaultAction: deny`: API Gateway's 403 `Missing
    Authentication Token`, with no `www-authenticate` (README table: only 401s and
    insufficient-scope denials carry a challenge)."""
    assert_denied(r, 403, "Missing Authentication Token", None)


def assert_unauthorized_no_token(r: Response) -> None:
    assert_denied(r, 401, "Unauthorized", "Bearer")


def assert_invalid_token(r: Response, message: str = "Unauthorized") -> None:
    assert_denied(r, 401, message, 'Bearer error="invalid_token"')


def assert_insufficient_scope(r: Response) -> None:
    """A valid token without a required scope or group, under `insufficientScopeStatus:
    401` (the default, and the main policy's; README: the same challenge at 401 or 403)."""
    assert_denied(r, 401, "Unauthorized", 'Bearer error="insufficient_scope"')


# --- allowed ------------------------------------------------------------------------


def test_allowed_with_scope_sets_identity_headers_at_upstream(stack: Stack, mint: Minter) -> None:
    sub = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    token = mint.access(
        "user_management_lambdas/api openid email", sub=sub, username="alice", groups=["admins", "staff"]
    )
    before = stack.upstream.count()
    seen = upstream_saw(stack.request("/users/42", method="POST", token=token, body=b"{}"))
    assert stack.upstream.count() == before + 1
    assert seen["method"] == "POST" and seen["path"] == "/users/42"
    assert identity(seen) == {
        "x-cognito-sub": [sub],
        "x-cognito-client-id": [APP_CLIENT],
        "x-cognito-username": ["alice"],
        "x-cognito-scope": ["user_management_lambdas/api openid email"],
        "x-cognito-groups": ["admins,staff"],
        "x-cognito-route": ["create-user"],
    }


@pytest.mark.parametrize(
    "form",
    ["Bearer {t}", "bearer {t}", "BEARER {t}", "{t}"],
    ids=["Bearer", "lowercase-bearer", "uppercase-bearer", "bare-jwt"],
)
def test_token_forms_accepted(stack: Stack, mint: Minter, form: str) -> None:
    token = mint.access("files/read")
    r = stack.request("/files/report.csv", headers={"authorization": form.format(t=token)})
    assert identity(upstream_saw(r))["x-cognito-route"] == ["files"]


def test_any_one_of_the_route_scopes_suffices(stack: Stack, mint: Minter) -> None:
    # read-user accepts user_management_lambdas/api OR users/read.
    seen = upstream_saw(stack.request("/users/7", token=mint.access("users/read")))
    assert identity(seen)["x-cognito-route"] == ["read-user"]
    seen = upstream_saw(stack.request("/files/a/b/c.txt", token=mint.access("openid files/write")))
    assert seen["path"] == "/files/a/b/c.txt"


def test_query_string_does_not_affect_matching_and_reaches_upstream(stack: Stack, mint: Minter) -> None:
    seen = upstream_saw(stack.request("/users/42?dryRun=true&x=..%2F", method="POST", token=mint.access("user_management_lambdas/api")))
    assert seen["path"] == "/users/42?dryRun=true&x=..%2F"


def test_route_without_scopes_accepts_any_valid_access_token(stack: Stack, mint: Minter) -> None:
    seen = upstream_saw(stack.request("/me", token=mint.access("")))
    assert identity(seen)["x-cognito-route"] == ["me"]


def test_second_pool_without_app_client_restriction(stack: Stack, mint: Minter) -> None:
    seen = upstream_saw(stack.request("/me", token=mint.access("openid", pool=POOL2, client_id="anyclientofpooltwo0000000")))
    assert identity(seen)["x-cognito-client-id"] == ["anyclientofpooltwo0000000"]


def test_group_requirement(stack: Stack, mint: Minter) -> None:
    ok = stack.request("/admin/reports", token=mint.access("reports/read", groups=["staff", "admins"]))
    assert identity(upstream_saw(ok))["x-cognito-groups"] == ["staff,admins"]
    assert_insufficient_scope(stack.request("/admin/reports", token=mint.access("reports/read", groups=["staff"])))
    assert_insufficient_scope(stack.request("/admin/reports", token=mint.access("reports/read")))
    # The group alone is not enough either: the scope is still required.
    assert_insufficient_scope(stack.request("/admin/reports", token=mint.access("openid", groups=["admins"])))


def test_host_restricted_route(stack: Stack, mint: Minter) -> None:
    token = mint.access("tenant/api")
    seen = upstream_saw(stack.request("/tenant/x/y", host="tenant.example.com", token=token))
    assert identity(seen)["x-cognito-route"] == ["tenant-api"]
    # Same path on another host matches no route: default deny.
    assert_forbidden_no_route(stack.request("/tenant/x/y", host="api.example.com", token=token))


def test_forged_identity_headers_are_overwritten(stack: Stack, mint: Minter) -> None:
    token = mint.access("files/read", sub="real-sub", username="alice", groups=["staff"])
    forged = list(FORGED.items()) + [("X-Cognito-Sub", "Mixed-Case-Forgery"), ("x-cognito-groups", "admins")]
    seen = upstream_saw(stack.request("/files/x", token=token, headers=forged))
    assert identity(seen) == {
        "x-cognito-sub": ["real-sub"],
        "x-cognito-client-id": [APP_CLIENT],
        "x-cognito-username": ["alice"],
        "x-cognito-scope": ["files/read"],
        "x-cognito-groups": ["staff"],
        "x-cognito-route": ["files"],
    }


def test_forged_headers_the_token_does_not_supply_are_removed(stack: Stack, mint: Minter) -> None:
    """A client_credentials token has no username and no groups: a client-sent
    x-cognito-username / x-cognito-groups must not survive to the upstream."""
    token = mint.m2m("files/read")
    seen = upstream_saw(stack.request("/files/x", token=token, headers=FORGED))
    assert identity(seen) == {
        "x-cognito-sub": [M2M_CLIENT],
        "x-cognito-client-id": [M2M_CLIENT],
        "x-cognito-scope": ["files/read"],
        "x-cognito-route": ["files"],
    }


def test_public_route_needs_no_token(stack: Stack) -> None:
    seen = upstream_saw(stack.request("/health"))
    assert seen["path"] == "/health"


def test_public_route_ignores_a_bad_token(stack: Stack) -> None:
    # auth: none means no token is inspected, so a broken one does not matter.
    upstream_saw(stack.request("/health", token="not-a-jwt"))


def test_public_route_does_not_pass_forged_identity(stack: Stack) -> None:
    # No token supplies any identity here, so every x-cognito-* header must be removed.
    seen = upstream_saw(stack.request("/health", headers=FORGED))
    assert "x-cognito-sub" not in seen["headers"], json.dumps(identity(seen))
    forged_left = {k: v for k, v in identity(seen).items() if v == ["forged-by-client"]}
    assert forged_left == {}, f"client-forged identity headers reached the upstream: {forged_left}"


# --- no token -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Bearer "},
        {"x-api-key": "something"},  # only the configured header counts
    ],
    ids=["absent", "empty", "scheme-only", "scheme-space", "other-header"],
)
def test_no_token_on_protected_route_is_401_bearer(stack: Stack, headers: dict) -> None:
    # "Bearer" alone (Envoy trims the trailing space of "Bearer ") is no token (README:
    # "`Bearer` alone is no token"), so the challenge is the plain one.
    before = stack.upstream.count()
    assert_unauthorized_no_token(stack.request("/files/x", headers=headers))
    assert stack.upstream.count() == before


def test_token_in_another_header_is_not_used(stack: Stack, mint: Minter) -> None:
    r = stack.request("/files/x", headers={"x-authorization": f"Bearer {mint.access('files/read')}"})
    assert_unauthorized_no_token(r)


def test_two_authorization_headers_are_refused(stack: Stack, mint: Minter) -> None:
    # Envoy joins repeated headers ("a,b") before ext_authz; several values = no usable token.
    good = f"Bearer {mint.access('files/read')}"
    r = stack.request("/files/x", headers=[("authorization", good), ("authorization", good)])
    assert_unauthorized_no_token(r)


# --- invalid tokens -----------------------------------------------------------------


def _invalid_tokens(mint: Minter) -> dict[str, str]:
    key, iss = mint.key(POOL), mint.issuer(POOL)
    good = mint.access("files/read")
    attacker = tokens.SigningKey.generate()
    return {
        "malformed": "not-a-jwt",
        "three-garbage-parts": "aaa.bbb.ccc",
        "tampered-claims": tokens.tampered(good, scope="files/read admin/all"),
        "alg-none": tokens.alg_none(iss, scope="files/read"),
        "hs256-with-public-key": tokens.hs256_with_public_key(key, iss, scope="files/read"),
        "rs512-right-key": tokens.with_alg(key, iss, "RS512", scope="files/read"),
        "ps256-right-key": tokens.with_alg(key, iss, "PS256", scope="files/read"),
        "unknown-kid": tokens.sign(tokens.access_claims(iss, scope="files/read"), attacker),
        "kid-of-configured-key-but-other-signer": tokens.sign(
            tokens.access_claims(iss, scope="files/read"), attacker, kid=key.kid
        ),
        "embedded-jwk-and-jku": tokens.with_embedded_jwk(attacker, iss, scope="files/read"),
        "unconfigured-pool": mint.access("files/read", pool=UNCONFIGURED_POOL),
        "issuer-of-other-pool-signed-by-this-pool": tokens.access_token(key, mint.issuer(POOL2), scope="files/read"),
        "issuer-lookalike": tokens.access_token(key, iss + "/", scope="files/read"),
        "issuer-http": tokens.access_token(key, iss.replace("https://", "http://"), scope="files/read"),
        "id-token": mint.id_token(),
        "id-token-signed-with-access-key": tokens.sign(
            {**tokens.access_claims(iss, scope="files/read"), "token_use": "id", "aud": APP_CLIENT}, key
        ),
        "client-not-in-appClients": mint.access("files/read", client_id=OTHER_CLIENT),
        "missing-exp": tokens.access_token_without_exp(key, iss, scope="files/read"),
        "issued-in-the-future": mint.access("files/read", now=int(time.time()) + 3600),
        "nbf-in-the-future": mint.access("files/read", nbf=int(time.time()) + 3600),
    }


INVALID_CASES = [
    "malformed",
    "three-garbage-parts",
    "tampered-claims",
    "alg-none",
    "hs256-with-public-key",
    "rs512-right-key",
    "ps256-right-key",
    "unknown-kid",
    "kid-of-configured-key-but-other-signer",
    "embedded-jwk-and-jku",
    "unconfigured-pool",
    "issuer-of-other-pool-signed-by-this-pool",
    "issuer-lookalike",
    "issuer-http",
    "id-token",
    "id-token-signed-with-access-key",
    "client-not-in-appClients",
    "missing-exp",
    "issued-in-the-future",
    "nbf-in-the-future",
]


@pytest.fixture(scope="module")
def invalid_tokens(mint: Minter) -> dict[str, str]:
    return _invalid_tokens(mint)


@pytest.mark.parametrize("case", INVALID_CASES)
def test_invalid_token_is_401_invalid_token(stack: Stack, invalid_tokens: dict, case: str) -> None:
    before = stack.upstream.count()
    # Not a JWT at all ("malformed", "three-garbage-parts") is an invalid token too: the
    # README's table lists "malformed" under `Bearer error="invalid_token"`.
    assert_invalid_token(stack.request("/files/x", token=invalid_tokens[case]))
    assert stack.upstream.count() == before


def test_expired_token_is_401_with_api_gateway_message(stack: Stack, mint: Minter) -> None:
    token = tokens.expired_access_token(mint.key(), mint.issuer(), scope="files/read")
    assert_invalid_token(stack.request("/files/x", token=token), "The incoming token has expired")


def test_expired_token_just_past_exp(stack: Stack, mint: Minter) -> None:
    token = tokens.expired_access_token(mint.key(), mint.issuer(), ago=2, scope="files/read")
    assert_invalid_token(stack.request("/files/x", token=token), "The incoming token has expired")


# --- insufficient scope, default deny -----------------------------------------------


def test_valid_token_without_required_scope_is_401(stack: Stack, mint: Minter) -> None:
    # insufficientScopeStatus: 401 (API Gateway's answer) in the main policy.
    before = stack.upstream.count()
    r = stack.request("/users/1", method="POST", token=mint.access("openid email users/read"))
    assert_insufficient_scope(r)
    assert stack.upstream.count() == before


def test_scope_prefix_or_substring_is_not_the_scope(stack: Stack, mint: Minter) -> None:
    for scope in ("files", "files/rea", "files/read-only", "xfiles/read", "FILES/READ"):
        assert_insufficient_scope(stack.request("/files/x", token=mint.access(scope)))


def test_m2m_token_without_scope_is_401(stack: Stack, mint: Minter) -> None:
    assert_insufficient_scope(stack.request("/files/x", token=mint.m2m("orders/read")))


def test_unknown_route_is_403_default_deny(stack: Stack, mint: Minter) -> None:
    before = stack.upstream.count()
    assert_forbidden_no_route(stack.request("/nope"))
    # A perfectly valid token does not open a route the policy does not have.
    assert_forbidden_no_route(stack.request("/nope", token=mint.access("files/read user_management_lambdas/api")))
    assert stack.upstream.count() == before


def test_method_not_in_route_is_default_deny(stack: Stack, mint: Minter) -> None:
    # /users/{id} has routes for POST and GET only.
    r = stack.request("/users/1", method="DELETE", token=mint.access("user_management_lambdas/api"))
    assert_forbidden_no_route(r)


def test_greedy_route_does_not_match_its_bare_prefix(stack: Stack, mint: Minter) -> None:
    # API Gateway's {proxy+} needs at least one segment: /files alone is not under it.
    assert_forbidden_no_route(stack.request("/files", token=mint.access("files/read")))


# --- identity in the logs, cache and odd claims --------------------------------------


def test_cached_token_is_refused_once_expired(stack: Stack, mint: Minter) -> None:
    """Verified tokens may be cached, but never past `exp` (docs/decisions.md).

    The token lives 30 s: ample for two requests on any machine. The test then waits for
    the token's own `exp` to pass (the observable condition), not for a guessed delay."""
    token = mint.access("files/read", lifetime=30)
    exp = tokens.claims_of(token)["exp"]
    upstream_saw(stack.request("/files/x", token=token))
    upstream_saw(stack.request("/files/x", token=token))  # answered from the cache
    while time.time() < exp + 1.1:  # exp is in whole seconds: one more second is surely past it
        time.sleep(0.2)
    assert_invalid_token(stack.request("/files/x", token=token), "The incoming token has expired")


def test_identity_reaches_envoy_access_log_without_the_token(stack: Stack, mint: Minter) -> None:
    """CheckResponse.dynamic_metadata shows up in the reference config's JSON access log
    (%DYNAMIC_METADATA(envoy.filters.http.ext_authz)%); the token itself never does."""
    sub = f"log-check-{time.time_ns()}"
    token = mint.access("files/read", sub=sub)
    path = f"/files/{sub}"
    upstream_saw(stack.request(path, token=token))
    entry = stack.envoy.access_log_entry(path)
    assert str(entry["status"]) == "200", entry
    assert sub in json.dumps(entry["authz"]), entry
    assert token.split(".")[2] not in stack.envoy.process.log_path.read_text(errors="replace")


def test_dynamic_metadata_is_off_by_default(new_stack, workdir, keys, mint: Minter) -> None:
    """Without AUTHZ_DYNAMIC_METADATA the service sends no dynamic_metadata: the access
    log's authz field is empty, while the request is decided and identified the same."""
    with new_stack(workdir=workdir, policy=main_policy(keys), name="no-metadata",
                   service_env={"AUTHZ_DYNAMIC_METADATA": "false"}) as quiet:
        sub = f"quiet-{time.time_ns()}"
        path = f"/files/{sub}"
        seen = upstream_saw(quiet.request(path, token=mint.access("files/read", sub=sub)))
        assert identity(seen)["x-cognito-sub"] == [sub]
        entry = quiet.envoy.access_log_entry(path)
        assert str(entry["status"]) == "200", entry
        assert entry["authz"] in (None, "-", {}), entry


@pytest.mark.parametrize("bad", ["ev\r\nx-injected: 1", "a\nb", "a\x00b"], ids=["crlf", "lf", "nul"])
def test_claim_unfit_for_a_header_does_not_let_a_forged_one_through(stack: Stack, mint: Minter, bad: str) -> None:
    """A username that cannot be an HTTP header value is dropped, and the client's own
    x-cognito-username is still removed: it never reaches the application."""
    token = mint.access("files/read", username=bad)
    r = stack.request("/files/x", token=token, headers={"x-cognito-username": "forged-by-client"})
    # The token is valid: the request is allowed, without the username header (the service
    # never sets a header value with control characters, and removes the client's own).
    seen = upstream_saw(r)
    assert seen["headers"].get("x-cognito-username") in (None, []), identity(seen)
    assert "x-injected" not in seen["headers"]
    assert identity(seen)["x-cognito-sub"] == [tokens.claims_of(token)["sub"]]
