"""The differential: one set of requests through Envoy + ext_authz + the service, and
through Envoy + the in-process filter, under the same policy and keys. Any difference in
what the client gets (status, JSON body, `www-authenticate`, `content-type`, whether the
upstream answered) or in what the upstream sees (every identity header, forged spellings
included) is a bug in one of them.
"""

from __future__ import annotations

import time

import pytest

from support import tokens
from support.http import Response
from support.stack import Stack
from support.wasm import WasmStack

from .conftest import M2M_CLIENT, POOL2, Minter
from .test_e2e_decisions import INVALID_CASES, _invalid_tokens

FORGED = [
    ("x-cognito-sub", "forged"),
    ("x-cognito-groups", "admins"),
    ("x-cognito-route", "forged"),
    ("x-cognito-username", "forged"),
    ("x-cognito-scope", "admin/all"),
    ("x-cognito-client-id", "forged"),
]

REQUESTS = [
    ("POST", "/users/42", None),
    ("GET", "/users/7", None),
    ("DELETE", "/users/1", None),
    ("GET", "/files/report.csv", None),
    ("GET", "/files/a/b/c.txt?x=..%2F&y=1", None),
    ("GET", "/files", None),
    ("GET", "/admin/reports", None),
    ("GET", "/me", None),
    ("GET", "/tenant/x/y", "tenant.example.com"),
    ("GET", "/tenant/x/y", "api.example.com"),
    ("GET", "/TENANT/x/y", "Tenant.Example.COM:443"),
    ("GET", "/health", None),
    ("HEAD", "/health", None),
    ("GET", "/nope", None),
    # Paths Envoy normalizes, or refuses itself, before either sees them; and paths the
    # decision core refuses (400) on both.
    ("GET", "/files/../admin/reports", None),
    ("GET", "/files/%2e%2e/admin/reports", None),
    ("GET", "/files/a%2Fb", None),
    ("GET", "/files/%zz", None),
    ("GET", "/files/%252e%252e/admin/reports", None),
    ("GET", "/files/a;b", None),
    ("GET", "//files//x", None),
]


def _tokens(mint: Minter) -> dict[str, str | None]:
    now = int(time.time())
    return {
        "none": None,
        "all-scopes": mint.access(
            "user_management_lambdas/api users/read files/read reports/read tenant/api",
            groups=["admins", "staff"], username="alice",
        ),
        "files-only": mint.access("files/read"),
        "no-scope": mint.access(""),
        "m2m": mint.m2m("files/write"),
        "other-pool": mint.access("files/read", pool=POOL2, client_id="anyclientofpooltwo0000000"),
        "expired": tokens.expired_access_token(mint.key(), mint.issuer(), scope="files/read"),
        "iat-2s-ahead": mint.access("files/read", now=now + 2),
        "garbage": "not-a-jwt",
    }


def _seen(r: Response) -> dict:
    """What the client got, and what the upstream saw, minus what varies by request."""
    volatile = {"date", "content-length", "x-envoy-upstream-service-time", "server"}
    out: dict = {
        "status": r.status,
        "headers": {k: v for k, v in r.headers.items() if k not in volatile},
    }
    if r.header("x-upstream") == "echo" and r.body:
        seen = r.json()
        out["upstream"] = {
            "method": seen["method"],
            "path": seen["path"],
            "identity": {k: v for k, v in seen["headers"].items() if "cognito" in k},
            "authorization": seen["headers"].get("authorization"),
        }
    else:
        out["body"] = r.body
    return out


def _both(stack: Stack, wasm_stack: WasmStack, path: str, **kw) -> tuple[dict, dict]:
    return _seen(stack.request(path, **kw)), _seen(wasm_stack.request(path, **kw))


@pytest.mark.timeout(300)
def test_filter_answers_every_request_as_the_service(stack: Stack, wasm_stack: WasmStack, mint: Minter) -> None:
    differences = []
    cases = 0
    for name, token in _tokens(mint).items():
        for method, path, host in REQUESTS:
            for forged in ([], FORGED):
                kw = {"method": method, "token": token, "headers": forged}
                if host:
                    kw["host"] = host
                via_service, via_filter = _both(stack, wasm_stack, path, **kw)
                cases += 1
                if via_service != via_filter:
                    differences.append(
                        f"{method} {path} host={host} token={name} forged={bool(forged)}:\n"
                        f"  service: {via_service}\n  filter:  {via_filter}"
                    )
    assert not differences, f"{len(differences)} of {cases} differ:\n" + "\n".join(differences[:20])


@pytest.mark.timeout(120)
def test_filter_refuses_every_invalid_token_as_the_service(stack: Stack, wasm_stack: WasmStack, mint: Minter) -> None:
    invalid = _invalid_tokens(mint)
    differences = []
    for case in INVALID_CASES:
        for form in ("Bearer {t}", "{t}", "bearer  {t}", "Basic {t}"):
            headers = [("authorization", form.format(t=invalid[case]))]
            via_service, via_filter = _both(stack, wasm_stack, "/files/x", headers=headers)
            assert via_service["status"] in (401, 403), via_service
            if via_service != via_filter:
                differences.append(f"{case} as {form!r}:\n  service: {via_service}\n  filter:  {via_filter}")
    assert not differences, "\n".join(differences)


def test_repeated_and_odd_token_headers_alike(stack: Stack, wasm_stack: WasmStack, mint: Minter) -> None:
    good = f"Bearer {mint.access('files/read')}"
    for headers in (
        [("authorization", good), ("authorization", good)],
        [("authorization", good), ("Authorization", "Bearer x")],
        [("authorization", "Bearer")],
        [("authorization", "")],
        [("authorization", good + " extra")],
        [("x-authorization", good)],
        [("authorization", good), ("x_cognito_sub", "forged")],
    ):
        via_service, via_filter = _both(stack, wasm_stack, "/files/x", headers=headers)
        assert via_service == via_filter, f"{headers}:\n  service: {via_service}\n  filter:  {via_filter}"
