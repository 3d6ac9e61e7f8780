"""scripts/demo.py (what scripts/demo.sh runs after set-up and build) passes its own tour
and leaves nothing running."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from support.procs import port_is_open
from support.tools import REPO


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (the demo's state folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
        if text in argv:
            found.append(argv)
    return found


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
    # Every process and server the demo started is gone: nothing runs from its state
    # folder, and none of the loopback ports it printed still accepts connections.
    assert _processes_mentioning(str(state)) == []
    ports = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", r.stdout)}
    assert len(ports) >= 5, r.stdout  # key server, upstream, gRPC, admin, Envoy (+ its admin)
    assert [p for p in ports if port_is_open(p)] == []
    for log in ("authz.log", "envoy.log"):
        assert (state / log).exists()
