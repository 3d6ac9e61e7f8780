"""The decision suite and the path suite again, through Envoy's ext_authz `http_service`.

The same tests as test_e2e_decisions.py and test_e2e_paths.py, with the same expected
answers, but the `stack` they run against is deploy/envoy/envoy-http.yaml in front of the
service's HTTP authorization port (AUTHZ_HTTP_AUTH_ADDR, endpoint `/envoy<path>`) instead
of deploy/envoy/envoy.yaml in front of its gRPC port: every status, body, challenge and
identity header the client and the application see must be the same. Among them, a
client's forged x-cognito-* headers never reach the application, on allowed and public
routes alike (the shipped config drops them before ext_authz; allowed_upstream_headers
copies the service's own).

Left out: the two tests of CheckResponse.dynamic_metadata in Envoy's access log, which
has no HTTP form.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from support.keyserver import KeyServer
from support.stack import Stack

from .conftest import main_policy
from .test_e2e_decisions import *  # noqa: F401,F403  (the suite, collected here again)
from .test_e2e_decisions import upstream_saw
from .test_e2e_paths import *  # noqa: F401,F403

# gRPC only: dynamic_metadata.
del test_identity_reaches_envoy_access_log_without_the_token  # noqa: F821
del test_dynamic_metadata_is_off_by_default  # noqa: F821


@pytest.fixture(scope="module")
def stack(new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer) -> Stack:
    with new_stack(workdir=workdir, policy=main_policy(keys), name="http-service", mode="http") as s:
        yield s


def test_the_stack_is_the_http_service_one(stack: Stack) -> None:
    """The checks above really went over HTTP: Envoy runs http_service, and the service
    logged decisions on its HTTP authorization port."""
    assert stack.mode == "http"
    filters = stack.envoy.config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"]
    ext_authz = [f for f in filters[0]["typed_config"]["http_filters"] if f["name"] == "envoy.filters.http.ext_authz"]
    assert "http_service" in ext_authz[0]["typed_config"]
    upstream_saw(stack.request("/health"))
    # This test runs after the suite (pytest keeps the order of definition): its denials
    # were the service's HTTP answers too.
    assert stack.envoy.stat("cluster.cognito_ext_authz.upstream_rq_200") >= 20
    assert stack.envoy.stat("cluster.cognito_ext_authz.upstream_rq_401") >= 20
    assert stack.envoy.stat("cluster.cognito_ext_authz.upstream_rq_400") >= 1
