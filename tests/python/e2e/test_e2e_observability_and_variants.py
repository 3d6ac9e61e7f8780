"""Cross-layer checks: the service counts what Envoy asked, and the service reads headers
in both forms Envoy can send them."""

from __future__ import annotations

import re

import pytest

from support.envoy import EnvoyProxy, raw_headers
from support.stack import Stack

from .conftest import Minter, main_policy
from .test_e2e_decisions import assert_denied, assert_invalid_token, assert_unauthorized_no_token, identity, upstream_saw


def _decisions_total(metrics: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if re.match(r"^cognito_ext_authz_decisions_total[{ ]", line)
    )


def test_every_envoy_check_is_one_counted_decision(stack: Stack, mint: Minter) -> None:
    """Envoy's ext_authz counters (ok + denied) move exactly as the service's
    decisions_total: no check is lost or double-counted between the layers."""

    def envoy_calls() -> int:
        return sum(stack.envoy.stat(f"http.ingress_http.ext_authz.{k}") or 0 for k in ("ok", "denied", "error"))

    before_envoy, before_svc = envoy_calls(), _decisions_total(stack.service.metrics())
    stack.request("/health")
    stack.request("/files/x")
    stack.request("/files/x", token=mint.access("files/read"))
    stack.request("/nope")
    stack.request("/files/%zz", token=mint.access("files/read"))
    assert envoy_calls() - before_envoy == 5
    assert _decisions_total(stack.service.metrics()) - before_svc == 5
    assert (stack.envoy.stat("http.ingress_http.ext_authz.error") or 0) == 0


@pytest.fixture(scope="module")
def raw_headers_stack(new_stack, tmp_path_factory: pytest.TempPathFactory, keys):
    """The reference config with `encode_raw_headers: true`: headers arrive in
    `header_map` as bytes instead of the `headers` string map."""
    workdir = tmp_path_factory.mktemp("raw")
    with new_stack(workdir=workdir, policy=main_policy(keys), name="raw", envoy_transform=raw_headers) as s:
        yield s.envoy


def test_encode_raw_headers_variant_decides_the_same(raw_headers_stack: EnvoyProxy, mint: Minter) -> None:
    from support import http

    port = raw_headers_stack.listen_port
    token = mint.access("tenant/api", groups=["admins"])
    seen = upstream_saw(http.request(port, "/tenant/a", host="tenant.example.com", token=token))
    assert identity(seen)["x-cognito-route"] == ["tenant-api"]  # host read from header_map too
    assert_unauthorized_no_token(http.request(port, "/files/x"))
    assert_invalid_token(http.request(port, "/files/x", token=mint.id_token()))
    assert_denied(
        http.request(port, "/tenant/a", host="api.example.com", token=token), 403, "Missing Authentication Token"
    )
    forged = http.request(port, "/files/x", token=mint.m2m("files/read"), headers={"x-cognito-username": "root"})
    assert "x-cognito-username" not in upstream_saw(forged)["headers"]
