"""Gateway responses through Envoy: a browser application on another origin can read the
401 (the policy's UNAUTHORIZED response sets its CORS headers), and every other 4xx takes
DEFAULT_4XX's, as API Gateway does. Envoy runs the shipped configuration, without its
optional CORS filter: the headers come from the service's `denied_response` alone."""

from __future__ import annotations

import pytest

from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import POOL, Minter
from .test_e2e_decisions import upstream_saw

ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def cors(new_stack, tmp_path_factory: pytest.TempPathFactory, keys: KeyServer):
    policy = f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
gatewayResponses:
  DEFAULT_4XX:
    headers:
      Access-Control-Allow-Origin: {ORIGIN}
  UNAUTHORIZED:
    headers:
      Access-Control-Allow-Origin: {ORIGIN}
      Access-Control-Expose-Headers: WWW-Authenticate
    body: '{{"error":"unauthorized","message":$context.error.messageString}}'
routes:
  - name: orders
    path: /orders/{{id}}
    scopes: [orders/read]
  - name: closed
    path: /closed
    auth: deny
"""
    with new_stack(workdir=tmp_path_factory.mktemp("gateway-responses"), policy=policy, name="gwr") as s:
        yield s


def test_a_browser_can_read_the_401(cors: Stack) -> None:
    r = cors.request("/orders/1", headers={"origin": ORIGIN})
    assert r.status == 401, r.describe()
    assert r.header("x-upstream") is None, r.describe()
    # What a browser checks before letting the application read a cross-origin answer,
    # and the challenge it may then read.
    assert r.header("access-control-allow-origin") == ORIGIN, r.describe()
    assert r.header("access-control-expose-headers") == "WWW-Authenticate", r.describe()
    assert r.header("www-authenticate") == "Bearer", r.describe()
    assert (r.header("content-type") or "").startswith("application/json"), r.describe()
    assert r.json() == {"error": "unauthorized", "message": "Unauthorized"}, r.describe()


def test_other_denials_fall_back_to_default_4xx(cors: Stack, mint: Minter) -> None:
    r = cors.request("/nowhere", headers={"origin": ORIGIN})
    assert r.status == 403, r.describe()
    assert r.json() == {"message": "Missing Authentication Token"}, r.describe()
    assert r.header("access-control-allow-origin") == ORIGIN, r.describe()
    assert r.header("access-control-expose-headers") is None, r.describe()
    r = cors.request("/closed", token=mint.access("orders/read"))
    assert (r.status, r.json()) == (403, {"message": "Forbidden"}), r.describe()
    assert r.header("access-control-allow-origin") == ORIGIN, r.describe()


def test_allowed_requests_are_untouched(cors: Stack, mint: Minter) -> None:
    r = cors.request("/orders/1", token=mint.access("orders/read"), headers={"origin": ORIGIN})
    seen = upstream_saw(r)
    assert seen["path"] == "/orders/1"
    # The gateway response is a denial's: the upstream's own answer gets none of its headers.
    assert r.header("access-control-allow-origin") is None, r.describe()
