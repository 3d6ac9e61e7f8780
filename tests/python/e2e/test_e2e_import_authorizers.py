"""An imported API with two Cognito authorizers, through the real Envoy.

tests/fixtures/import/serverless-two-authorizers.yml is imported with the release binary;
only each pool's `jwksUri` is pointed at the local key server. Behind the shipped Envoy
configuration, every request is answered as API Gateway answers it: a route takes tokens of
its own authorizer's pools, read from its own header only (staff: `Authorization`,
customers: `X-Customer-Token`); a method without scopes takes ID tokens; the CORS preflight
passes without a token, and nothing else does. The shipped, commented-out CORS filter,
switched on, answers preflights itself before ext_authz.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from support import tokens
from support import envoy as envoy_cfg
from support.envoy import EnvoyProxy
from support.keyserver import KeyServer
from support.service import AuthzService
from support.stack import Stack
from support.tools import REPO
from support.upstream import EchoServer

from .test_e2e_decisions import assert_invalid_token, assert_unauthorized_no_token, upstream_saw

FIXTURE = REPO / "tests" / "fixtures" / "import" / "serverless-two-authorizers.yml"
STAFF_POOL = "eu-west-1_StaffPool1"
CUSTOMER_POOL = "eu-west-1_CustPool01"
# The customers' token validation expression is ^cust[0-9a-z]{22}$ (matched against aud).
CUSTOMER_CLIENT = "custclient0123456789abcdef"
STAFF_CLIENT = "staffclient0123456789abcde"
CUSTOMER_HEADER = "x-customer-token"
ORIGIN = "https://app.example.com"  # the origin the shipped CORS policy allows


def imported_policy(authz_bin: Path, keys: KeyServer) -> dict:
    """The fixture as `import` writes it, each pool's key set served by `keys`."""
    out = subprocess.run(
        [str(authz_bin), "import", str(FIXTURE)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    policy = yaml.safe_load(out.stdout)
    assert sorted(policy["authorizers"]) == ["StaffAuthorizer", "customers"], out.stdout
    for authorizer in policy["authorizers"].values():
        for pool in authorizer["userPools"]:
            pool["jwksUri"] = keys.jwks_uri(pool.get("id") or pool["arn"].rsplit("/", 1)[1])
    return policy


@pytest.fixture(scope="module")
def shop_keys(keys: KeyServer) -> KeyServer:
    for pool in (STAFF_POOL, CUSTOMER_POOL):
        keys.add_pool(pool)
    return keys


@pytest.fixture(scope="module")
def shop(
    authz_bin: Path,
    envoy_bin: Path,
    tmp_path_factory: pytest.TempPathFactory,
    shop_keys: KeyServer,
    upstream: EchoServer,
):
    with Stack(
        authz_bin=authz_bin,
        envoy_bin=envoy_bin,
        workdir=tmp_path_factory.mktemp("shop"),
        policy=imported_policy(authz_bin, shop_keys),
        upstream=upstream,
        name="shop",
    ) as s:
        yield s


def access(keys: KeyServer, pool: str, client: str, scope: str, **extra) -> str:
    return tokens.access_token(keys.keys(pool)[0], keys.issuer(pool), scope=scope, client_id=client, **extra)


def id_token(keys: KeyServer, pool: str, client: str) -> str:
    return tokens.id_token(keys.keys(pool)[1], keys.issuer(pool), client_id=client)


def bearer(token: str) -> str:
    return f"Bearer {token}"


def test_each_authorizers_tokens_pass_only_its_own_routes_from_its_own_header(
    shop: Stack, shop_keys: KeyServer
) -> None:
    staff = access(shop_keys, STAFF_POOL, STAFF_CLIENT, "reports/read")
    # A customer token that even holds the staff scope, and aud as the expression wants.
    customer = access(
        shop_keys, CUSTOMER_POOL, CUSTOMER_CLIENT, "reports/read orders/read", aud=CUSTOMER_CLIENT
    )

    seen = upstream_saw(shop.request("/staff/reports", token=staff))
    assert seen["headers"]["x-cognito-route"] == ["staffReports"]
    seen = upstream_saw(shop.request("/orders", headers={CUSTOMER_HEADER: bearer(customer)}))
    assert seen["headers"]["x-cognito-route"] == ["listOrders"]

    # Authorizer A's token on authorizer B's route, and the other way round.
    assert_invalid_token(shop.request("/staff/reports", token=customer))
    assert_invalid_token(shop.request("/orders", headers={CUSTOMER_HEADER: bearer(staff)}))
    # Each header is read only on its own authorizer's routes.
    assert_unauthorized_no_token(shop.request("/staff/reports", headers={CUSTOMER_HEADER: bearer(staff)}))
    assert_unauthorized_no_token(shop.request("/orders", token=customer))
    # A token in the other header is not even looked at.
    upstream_saw(shop.request("/staff/reports", token=staff, headers={CUSTOMER_HEADER: "Bearer garbage"}))
    upstream_saw(
        shop.request("/orders", headers={CUSTOMER_HEADER: bearer(customer), "authorization": "Bearer garbage"})
    )


def test_methods_without_scopes_take_id_tokens_of_their_authorizer(shop: Stack, shop_keys: KeyServer) -> None:
    customer_id = id_token(shop_keys, CUSTOMER_POOL, CUSTOMER_CLIENT)
    seen = upstream_saw(shop.request("/profile", headers={CUSTOMER_HEADER: bearer(customer_id)}))
    assert seen["headers"]["x-cognito-client-id"] == [CUSTOMER_CLIENT]
    upstream_saw(shop.request("/staff/me", token=id_token(shop_keys, STAFF_POOL, STAFF_CLIENT)))

    # An access token of the right pool: API Gateway refuses it there.
    customer_access = access(shop_keys, CUSTOMER_POOL, CUSTOMER_CLIENT, "orders/read", aud=CUSTOMER_CLIENT)
    assert_invalid_token(shop.request("/profile", headers={CUSTOMER_HEADER: bearer(customer_access)}))
    # The other authorizer's ID token, in either header.
    assert_invalid_token(shop.request("/staff/me", token=customer_id))
    assert_unauthorized_no_token(shop.request("/profile", token=customer_id))
    # The customers' validation expression is matched against aud.
    other_client = id_token(shop_keys, CUSTOMER_POOL, "otherclient0123456789abcd")
    assert_invalid_token(shop.request("/profile", headers={CUSTOMER_HEADER: bearer(other_client)}))


def preflight(path: str, origin: str = ORIGIN) -> dict:
    return {
        "origin": origin,
        "access-control-request-method": "GET",
        "access-control-request-headers": CUSTOMER_HEADER,
    }


def test_the_preflight_needs_no_token_and_opens_nothing_else(shop: Stack, shop_keys: KeyServer) -> None:
    # `cors: true`: API Gateway answers OPTIONS /orders without a token; here the imported
    # `auth: none` route lets it through to the upstream.
    seen = upstream_saw(shop.request("/orders", method="OPTIONS", headers=preflight("/orders")))
    assert seen["method"] == "OPTIONS"
    # Only OPTIONS, only where API Gateway answered it.
    assert_unauthorized_no_token(shop.request("/orders"))
    r = shop.request("/orders", method="DELETE")
    assert (r.status, r.header("x-upstream")) == (403, None), r.describe()
    r = shop.request("/profile", method="OPTIONS", headers=preflight("/profile"))
    assert (r.status, r.header("x-upstream")) == (403, None), r.describe()


# --- the shipped CORS filter, switched on ---------------------------------------------


with_shipped_cors = envoy_cfg.cors(extra_allow_headers=[CUSTOMER_HEADER])


def test_the_shipped_cors_filter_is_placed_before_ext_authz() -> None:
    text = envoy_cfg.REFERENCE.read_text()
    assert text.index("# BEGIN CORS filter") < text.index("- name: envoy.filters.http.ext_authz")
    assert envoy_cfg.commented_block("CORS filter") == [
        {
            "name": "envoy.filters.http.cors",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors"},
        }
    ]


def test_the_shipped_cors_filter_answers_preflights_before_ext_authz(
    authz_bin: Path,
    envoy_bin: Path,
    tmp_path: Path,
    shop_keys: KeyServer,
    upstream: EchoServer,
) -> None:
    service = AuthzService(authz_bin, tmp_path, imported_policy(authz_bin, shop_keys), name="shop-cors-authz")
    try:
        with EnvoyProxy(
            envoy_bin,
            tmp_path,
            authz_port=service.grpc_port,
            upstream_port=upstream.port,
            name="shop-cors-envoy",
            transform=with_shipped_cors,
        ) as envoy:

            def request(path: str, **kw):
                from support import http

                return http.request(envoy.listen_port, path, **kw)

            before = upstream.count()
            # /profile has no OPTIONS route: had the preflight reached ext_authz, it would
            # be 403. Envoy's CORS filter answers it first.
            r = request("/profile", method="OPTIONS", headers=preflight("/profile"))
            assert r.status == 200, r.describe()
            assert r.header("access-control-allow-origin") == ORIGIN, r.headers
            assert CUSTOMER_HEADER in (r.header("access-control-allow-headers") or ""), r.headers
            assert r.header("x-upstream") is None and upstream.count() == before, r.describe()
            # A preflight from another origin goes on to ext_authz, and the routes decide.
            r = request("/profile", method="OPTIONS", headers=preflight("/profile", "https://evil.example"))
            assert (r.status, r.header("x-upstream")) == (403, None), r.describe()
            # Every other request still needs its token, whatever its Origin.
            assert_unauthorized_no_token(request("/profile", headers={"origin": ORIGIN}))
            customer_id = id_token(shop_keys, CUSTOMER_POOL, CUSTOMER_CLIENT)
            r = request("/profile", headers={"origin": ORIGIN, CUSTOMER_HEADER: bearer(customer_id)})
            upstream_saw(r)
            assert r.header("access-control-allow-origin") == ORIGIN, r.headers
    finally:
        service.stop()
