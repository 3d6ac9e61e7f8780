"""The differential helper itself: two policies that differ in one route are told apart,
in the direction that matters (a fail-open answer is named as one); one policy compared
with itself differs nowhere."""

from __future__ import annotations

from pathlib import Path

from support import differential

REFERENCE = """
userPools: [{id: eu-west-1_AbCdEfGhI}]
routes:
  - {path: /items, methods: [GET], scopes: [items/read]}
  - {path: "/items/{id}", methods: [DELETE], scopes: [items/write]}
  - {path: /health, methods: [GET], auth: none}
"""

# One scope dropped (fail open), one public route denied (fail closed).
CANDIDATE = """
userPools: [{id: eu-west-1_AbCdEfGhI}]
routes:
  - {path: /items, methods: [GET], tokenUse: id}
  - {path: "/items/{id}", methods: [DELETE], scopes: [items/write]}
  - {path: /health, methods: [GET], auth: deny}
"""


def test_a_policy_answers_as_itself(tmp_path: Path) -> None:
    ref = tmp_path / "ref.yaml"
    ref.write_text(REFERENCE)
    assert differential.differences(ref, ref) == []


def test_differences_are_found_and_classified(tmp_path: Path) -> None:
    ref, cand = tmp_path / "ref.yaml", tmp_path / "cand.yaml"
    ref.write_text(REFERENCE)
    cand.write_text(CANDIDATE)
    cases = differential.request_set(differential.load_policy(ref), differential.load_policy(cand))
    # Every method, OPTIONS included, on sample paths; tokens of every pool and another.
    names = {c["name"] for c in cases}
    assert "OPTIONS /items/sample-id (no token)" in names
    assert "GET /items (access token of eu-west-1_AbCdEfGhI with scope items/read)" in names
    assert any(differential.OTHER_POOL in n for n in names)
    diffs = differential.differences(ref, cand, cases)
    open_ = sorted(d.case for d in diffs if d.fail_open)
    closed = sorted(d.case for d in diffs if d.fail_closed)
    assert open_ == ["GET /items (ID token of eu-west-1_AbCdEfGhI)"], diffs
    assert "GET /health (no token)" in closed, diffs
    # Same route, another scope: identical answers, not reported.
    assert not [d for d in diffs if "/items/sample-id" in d.case], diffs
