"""scripts/demo.py (what scripts/demo.sh runs after set-up and build) passes its own tour
and leaves nothing running."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.tools import REPO


def test_demo_tour_passes_and_cleans_up(authz_bin: Path, envoy_bin: Path, tmp_path: Path) -> None:
    state = tmp_path / "demo"
    r = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=90,
        env={"PATH": "/usr/bin:/bin", "AUTHZ_BIN": str(authz_bin), "ENVOY_BIN": str(envoy_bin), "NO_COLOR": "1"},
    )
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "steps answered as expected" in r.stdout
    for expected in ("← 200 ✓", "← 401 ✓", "← 403 ✓", "x-cognito-username: alice", "The incoming token has expired"):
        assert expected in r.stdout, expected
    assert not (state / "pids").exists()
    # Both children were stopped: their logs end and no process holds them.
    for log in ("authz.log", "envoy.log"):
        assert (state / log).exists()
