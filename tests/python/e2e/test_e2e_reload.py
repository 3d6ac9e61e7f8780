"""Policy reload while Envoy keeps sending traffic (SPEC 3): the policy is a mounted
ConfigMap, updated by the kubelet's atomic `..data` symlink swap. A good update takes
effect without a restart; a broken one is refused and the last good policy stays."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from support.configmap import ConfigMapDir
from support.keyserver import KeyServer
from support.procs import wait_until
from support.stack import Stack
from support.upstream import EchoServer

from .conftest import POOL, Minter
from .test_e2e_decisions import assert_denied, identity, upstream_saw


def _policy(keys: KeyServer, reports_scope: str) -> str:
    return f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
defaultAction: deny
routes:
  - name: reports
    path: /reports/{{id}}
    scopes: [{reports_scope}]
"""


@pytest.fixture
def reloadable(authz_bin: Path, envoy_bin: Path, tmp_path: Path, keys: KeyServer, upstream: EchoServer):
    cm = ConfigMapDir(tmp_path / "config", {"policy.yaml": _policy(keys, "reports/v1")})
    with Stack(
        authz_bin=authz_bin, envoy_bin=envoy_bin, workdir=tmp_path, policy="", policy_path=cm.path("policy.yaml"),
        upstream=upstream, name="reload",
    ) as s:
        yield s, cm


def test_configmap_update_takes_effect_without_restart(reloadable, keys: KeyServer, mint: Minter) -> None:
    stack, cm = reloadable
    pid = stack.service.process.pid
    v1, v2 = mint.access("reports/v1"), mint.access("reports/v2")
    upstream_saw(stack.request("/reports/1", token=v1))
    assert_denied(stack.request("/reports/1", token=v2), 401, "Unauthorized")

    cm.update({"policy.yaml": _policy(keys, "reports/v2")})
    wait_until(
        lambda: stack.request("/reports/1", token=v2).status == 200,
        15,
        "the updated policy to take effect",
        interval=0.2,
        on_timeout=stack.logs,
    )
    assert_denied(stack.request("/reports/1", token=v1), 401, "Unauthorized")
    assert stack.service.process.pid == pid and stack.service.process.alive()


def test_broken_update_is_refused_and_last_good_policy_stays(reloadable, keys: KeyServer, mint: Minter) -> None:
    stack, cm = reloadable
    v1 = mint.access("reports/v1")
    upstream_saw(stack.request("/reports/1", token=v1))

    # A typo'd key (unknown keys are rejected) and a YAML syntax error, one after the other.
    typo = _policy(keys, "reports/v1").replace("scopes:", "scope:")
    for broken in (typo, "routes: [unclosed\n"):
        cm.update({"policy.yaml": broken})
        deadline = time.monotonic() + 3  # longer than a reload takes (see the test above)
        while time.monotonic() < deadline:
            r = stack.request("/reports/1", token=v1)
            assert identity(upstream_saw(r))["x-cognito-route"] == ["reports"], "policy lost on a bad update"
            assert stack.request("/reports/1").status == 401, "route lost its protection on a bad update"
            time.sleep(0.2)
    assert stack.service.readyz() == 200

    # A good update after bad ones still applies.
    cm.update({"policy.yaml": _policy(keys, "reports/v3")})
    v3 = mint.access("reports/v3")
    wait_until(lambda: stack.request("/reports/1", token=v3).status == 200, 15, "recovery after bad updates",
               interval=0.2, on_timeout=stack.logs)
