"""Hostile input through the real Envoy with the shipped configuration (docs/security.md).

Each case replays a finding of the attack review: a request that Envoy would send to one
application while an older service matched another application's route, or that an
upstream framework would read differently from the service. Through Envoy, each must be
refused (by Envoy or by the service) and must never reach the upstream with a weaker
check than its real meaning needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support import tokens
from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import POOL, Minter
from .test_e2e_decisions import assert_denied, upstream_saw


def hostile_policy(keys: KeyServer) -> str:
    return f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
routes:
  - name: admin-files
    hosts: [admin.example.com]
    path: /files/{{proxy+}}
    scopes: [admin/all]
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read]
  - name: files-admin
    path: /files/admin/{{proxy+}}
    auth: deny
  - name: health
    path: /health
    auth: none
"""


@pytest.fixture(scope="module")
def hostile(new_stack, workdir: Path, keys: KeyServer) -> Stack:
    with new_stack(workdir=workdir, policy=hostile_policy(keys), name="hostile") as s:
        yield s


@pytest.mark.parametrize(
    "host",
    ["admin.example.com:abc", "admin.example.com:443.", "admin.example.com:", "admin.example.com."],
)
def test_host_forms_that_istio_routes_to_the_admin_host_are_refused(hostile: Stack, mint: Minter, host: str) -> None:
    # istiod gives each virtual host the domains ["h", "h:*"]: these reach admin.example.com.
    r = hostile.request("/files/report", host=host, token=mint.access("files/read"))
    assert_denied(r, 400, "Bad Request")


def test_the_admin_host_with_a_port_is_the_admin_host(hostile: Stack, mint: Minter) -> None:
    r = hostile.request("/files/report", host="ADMIN.example.com:443", token=mint.access("files/read"))
    assert_denied(r, 401, "Unauthorized", 'Bearer error="insufficient_scope"')
    seen = upstream_saw(hostile.request("/files/report", host="admin.example.com:443", token=mint.access("admin/all")))
    assert seen["headers"]["x-cognito-route"] == ["admin-files"]


@pytest.mark.parametrize("path", ["/files/admin;x/secret", "/files/admin%3Bx/secret", "/health;x"])
def test_path_parameters_never_reach_the_upstream(hostile: Stack, mint: Minter, path: str) -> None:
    # Tomcat, Jetty and Spring would serve /files/admin/secret, behind `auth: deny`.
    before = hostile.upstream.count()
    r = hostile.request(path, token=mint.access("files/read"))
    assert_denied(r, 400, "Bad Request")
    assert hostile.upstream.count() == before


@pytest.mark.parametrize("claim", ["sub", "client_id"])
def test_an_empty_sub_or_client_id_is_an_invalid_token(hostile: Stack, mint: Minter, claim: str) -> None:
    claims = tokens.access_claims(mint.issuer(), scope="files/read")
    claims[claim] = ""
    r = hostile.request("/files/report", token=tokens.sign(claims, mint.key()))
    assert_denied(r, 401, "Unauthorized", 'Bearer error="invalid_token"')


def test_a_scope_joined_by_a_tab_is_not_that_scope(hostile: Stack, mint: Minter) -> None:
    r = hostile.request("/files/report", token=mint.access("openid\tfiles/read"))
    assert_denied(r, 401, "Unauthorized", 'Bearer error="insufficient_scope"')
