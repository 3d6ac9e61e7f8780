"""Following one request through the real Envoy: the `x-request-id` a client sends (or
the one Envoy makes up) and the W3C `traceparent` trace id are on the service's decision
line, so an Envoy access log line and the decision are found from each other."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest

from support.envoy import hcm
from support.procs import wait_until
from support.stack import Stack

from .conftest import DEADLINE_SECONDS, Minter, main_policy

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _decision_line(log: Path, request_id: str) -> str:
    """The service's decision line (text format) carrying `request_id`."""
    pattern = re.compile(rf"\brequest_id={re.escape(request_id)}(\s|$)")
    found: list[str] = []

    def seen() -> bool:
        found[:] = [line for line in log.read_text(errors="replace").splitlines() if pattern.search(line)]
        return bool(found)

    wait_until(seen, DEADLINE_SECONDS, f"a decision line with request_id={request_id}", interval=0.05)
    assert len(found) == 1, found
    return found[0]


def test_the_clients_request_id_and_trace_are_on_the_decision_line(stack: Stack, mint: Minter) -> None:
    log = stack.service.process.log_path
    rid = f"e2e-{uuid.uuid4()}"
    r = stack.request(
        "/files/x",
        token=mint.access("files/read"),
        headers={"x-request-id": rid, "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"},
    )
    assert r.status == 200, r.describe()
    line = _decision_line(log, rid)
    assert " INFO decision: decision=allow reason=authorized " in line, line
    assert f"trace_id={TRACE_ID}" in line, line

    # A denial is found the same way; a garbage traceparent is ignored, not an error.
    rid = f"e2e-{uuid.uuid4()}"
    r = stack.request("/files/x", headers={"x-request-id": rid, "traceparent": "not-a-trace"})
    assert r.status == 401, r.describe()
    line = _decision_line(log, rid)
    assert "decision=deny reason=no_token " in line and ' trace_id="" ' in line, line


def _log_request_id(cfg: dict) -> None:
    """The access log format docs/install.md recommends: Envoy's x-request-id next to the
    decision the service put in dynamic_metadata."""
    hcm(cfg)["access_log"][0]["typed_config"]["log_format"]["json_format"]["request_id"] = "%REQ(X-REQUEST-ID)%"


@pytest.fixture(scope="module")
def logged_ids(new_stack, tmp_path_factory: pytest.TempPathFactory, keys):
    workdir = tmp_path_factory.mktemp("ids")
    with new_stack(workdir=workdir, policy=main_policy(keys), name="ids", envoy_transform=_log_request_id) as s:
        yield s.service, s.envoy


def test_envoys_own_request_id_joins_its_access_log_with_the_decision(logged_ids, mint: Minter) -> None:
    from support import http

    svc, envoy = logged_ids
    r = http.request(envoy.listen_port, "/files/x", token=mint.access("other/scope"))
    assert r.status == 401, r.describe()
    entries: list[dict] = []

    def logged() -> bool:
        entries[:] = [
            json.loads(line)
            for line in envoy.process.log_path.read_text(errors="replace").splitlines()
            if line.startswith("{") and '"request_id"' in line
        ]
        return bool(entries)

    wait_until(logged, DEADLINE_SECONDS, "Envoy's access log line", interval=0.05)
    entry = entries[-1]
    rid = entry["request_id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", rid), entry  # made up by Envoy
    line = _decision_line(svc.process.log_path, rid)
    assert " reason=insufficient_scope " in line, line
    # The same decision on both lines: Envoy's from dynamic_metadata, the service's own.
    assert "insufficient_scope" in json.dumps(entry["authz"]), entry
