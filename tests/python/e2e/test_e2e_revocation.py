"""Revocation through the real Envoy (docs/policy.md): the revocation list is a second key of the
mounted ConfigMap, updated by the kubelet's `..data` swap. A token that passed (and was
cached) gets 401 `invalid_token` once the swapped list names it, without a restart; a
token the list does not name still passes.

The polling fallback is off (AUTHZ_POLICY_POLL_SECONDS=3600): the change must be seen
through the folder watch."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from support.configmap import ConfigMapDir
from support.keyserver import KeyServer
from support.procs import wait_until

from .conftest import Minter, metric, reports_policy
from .test_e2e_decisions import assert_invalid_token, identity, upstream_saw


@pytest.fixture
def revocable(new_stack, tmp_path: Path, keys: KeyServer):
    files = {"policy.yaml": reports_policy(keys), "revocations.yaml": "revocations: []\n"}
    cm = ConfigMapDir(tmp_path / "config", files)
    with new_stack(
        workdir=tmp_path, policy="", policy_path=cm.path("policy.yaml"),
        name="revoke",
        service_env={"AUTHZ_REVOCATIONS_PATH": str(cm.path("revocations.yaml")), "AUTHZ_POLICY_POLL_SECONDS": "3600"},
    ) as s:
        yield s, cm


def test_a_token_gets_401_once_the_configmap_revokes_it(revocable, keys: KeyServer, mint: Minter) -> None:
    stack, cm = revocable
    pid = stack.service.process.pid
    session = str(uuid.uuid4())
    token = mint.access("reports/read", origin_jti=session)
    other = mint.access("reports/read")
    for _ in range(2):  # the second answer comes from the cache of verified tokens
        assert identity(upstream_saw(stack.request("/reports/1", token=token)))["x-cognito-route"] == ["reports"]
    metrics = stack.service.metrics()
    assert metric(metrics, "cognito_ext_authz_token_cache_hits_total") >= 1

    cm.update({
        "policy.yaml": reports_policy(keys),
        "revocations.yaml": f"revocations:\n  - originJti: {session}\n    reason: RevokeToken\n",
    })
    wait_until(
        lambda: stack.request("/reports/1", token=token).status == 401,
        30,
        "the revocation to take effect",
        interval=0.2,
        on_timeout=stack.logs,
    )
    assert_invalid_token(stack.request("/reports/1", token=token))
    upstream_saw(stack.request("/reports/1", token=other))  # the control: not on the list

    metrics = stack.service.metrics()
    assert metric(metrics, "cognito_ext_authz_revocation_reloads_total", result="success") == 2
    assert metric(metrics, "cognito_ext_authz_revocations", kind="origin_jti") == 1
    assert metric(metrics, "cognito_ext_authz_decisions_total", result="deny", reason="revoked",
                  route="reports", authorizer="default") >= 2
    assert stack.service.process.pid == pid and stack.service.process.alive()
    log = stack.service.process.log_path.read_text(errors="replace")
    assert token.split(".")[2] not in log, "a token in the log"
