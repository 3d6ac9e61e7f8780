"""Policy reload while Envoy keeps sending traffic (docs/policy.md): the policy is a mounted
ConfigMap, updated by the kubelet's atomic `..data` symlink swap. A good update takes
effect without a restart; a broken one is refused and the last good policy stays.

The polling fallback is off here (AUTHZ_POLICY_POLL_SECONDS=3600): every change must be
seen through the folder watch. tests/lifecycle.rs covers the polling fallback alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.configmap import ConfigMapDir
from support.keyserver import KeyServer
from support.procs import wait_until

from .conftest import Minter, metric, reports_policy
from .test_e2e_decisions import assert_insufficient_scope, assert_unauthorized_no_token, identity, upstream_saw


@pytest.fixture
def reloadable(new_stack, tmp_path: Path, keys: KeyServer):
    cm = ConfigMapDir(tmp_path / "config", {"policy.yaml": reports_policy(keys, "reports/v1")})
    with new_stack(
        workdir=tmp_path, policy="", policy_path=cm.path("policy.yaml"),
        name="reload", service_env={"AUTHZ_POLICY_POLL_SECONDS": "3600"},
    ) as s:
        yield s, cm


def test_configmap_update_takes_effect_without_restart(reloadable, keys: KeyServer, mint: Minter) -> None:
    stack, cm = reloadable
    pid = stack.service.process.pid
    v1, v2 = mint.access("reports/v1"), mint.access("reports/v2")
    upstream_saw(stack.request("/reports/1", token=v1))
    assert_insufficient_scope(stack.request("/reports/1", token=v2))

    cm.update({"policy.yaml": reports_policy(keys, "reports/v2")})
    wait_until(
        lambda: stack.request("/reports/1", token=v2).status == 200,
        30,
        "the updated policy to take effect",
        interval=0.2,
        on_timeout=stack.logs,
    )
    assert_insufficient_scope(stack.request("/reports/1", token=v1))
    assert stack.service.process.pid == pid and stack.service.process.alive()


def test_broken_update_is_refused_and_last_good_policy_stays(reloadable, keys: KeyServer, mint: Minter) -> None:
    stack, cm = reloadable
    v1 = mint.access("reports/v1")
    upstream_saw(stack.request("/reports/1", token=v1))

    def refusals() -> float:
        return metric(stack.service.metrics(), "cognito_ext_authz_policy_reloads_total", result="failure")

    assert refusals() == 0
    # A typo'd key (unknown keys are rejected) and a YAML syntax error, one after the other.
    # Each refusal is observed (counted and logged) before the old policy is checked.
    typo = reports_policy(keys, "reports/v1").replace("scopes:", "scope:")
    for n, broken in enumerate((typo, "routes: [unclosed\n"), start=1):
        cm.update({"policy.yaml": broken})
        wait_until(lambda: refusals() == n, 30, f"refusal #{n} to be counted", interval=0.2, on_timeout=stack.logs)
        r = stack.request("/reports/1", token=v1)
        assert identity(upstream_saw(r))["x-cognito-route"] == ["reports"], "policy lost on a bad update"
        assert_unauthorized_no_token(stack.request("/reports/1"))
    log = stack.service.process.log_path.read_text(errors="replace")
    refused = [line for line in log.splitlines() if "policy refused" in line]
    assert len(refused) == 2, log
    assert "scope" in refused[0], refused[0]  # the unknown key is named
    assert stack.service.readyz() == 200
    assert metric(stack.service.metrics(), "cognito_ext_authz_policy_reloads_total", result="success") == 1

    # A good update after bad ones still applies.
    cm.update({"policy.yaml": reports_policy(keys, "reports/v3")})
    v3 = mint.access("reports/v3")
    wait_until(lambda: stack.request("/reports/1", token=v3).status == 200, 30, "recovery after bad updates",
               interval=0.2, on_timeout=stack.logs)
