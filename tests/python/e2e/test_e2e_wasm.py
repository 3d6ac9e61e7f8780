"""The end-to-end decision suite through the in-process filter (crates/wasm-filter).

Every test of test_e2e_decisions.py runs here again, unchanged, with `stack` being Envoy
running deploy/wasm/envoy.yaml (the filter in process, keys fetched by Envoy from the
key server) instead of Envoy asking the service over ext_authz: the same requests must
get the same answers and the upstream the same identity headers. test_e2e_wasm_differential.py
sends one larger set of requests both ways and compares the answers field by field.

Left out, each for a reason the filter's documentation (docs/wasm.md) states:
- test_identity_reaches_envoy_access_log_without_the_token and
  test_dynamic_metadata_is_off_by_default: the service's `dynamic_metadata`
  (AUTHZ_DYNAMIC_METADATA) has no counterpart in the filter; the no-token-in-the-log
  half is checked here by test_filter_never_logs_the_token.
"""

from __future__ import annotations

import pytest

from support.procs import wait_until
from support.wasm import WasmStack

from .test_e2e_decisions import *  # noqa: F403 - the same tests, run against the filter
from .test_e2e_decisions import upstream_saw
from . import test_e2e_decisions as _decisions
from .conftest import Minter

del test_identity_reaches_envoy_access_log_without_the_token  # noqa: F405, F821
del test_dynamic_metadata_is_off_by_default  # noqa: F405, F821

assert _decisions  # the module the tests come from


@pytest.fixture
def stack(wasm_stack: WasmStack) -> WasmStack:
    """In this module, the stack under test is the in-process filter."""
    return wasm_stack


def test_filter_never_logs_the_token(wasm_stack: WasmStack, mint: Minter) -> None:
    """With Envoy's `wasm` logger at debug (as in this stack), the filter writes a line per
    decision, the allow and the denial of a forged token alike; neither holds the token."""
    token = mint.access("files/read")
    upstream_saw(wasm_stack.request("/files/never-logged", token=token))
    wasm_stack.request("/files/never-logged", token=token + "x")
    wasm_stack.envoy.access_log_entry("/files/never-logged")  # the access log line is there...

    def log() -> str:
        return wasm_stack.envoy.process.log_path.read_text(errors="replace")

    wait_until(
        lambda: "deny reason=invalid_token" in log() and "path=/files/never-logged" in log(),
        10, "the filter's decision lines in Envoy's log", interval=0.1)
    assert "cognito-ext-authz: allow reason=Authorized" in log()
    assert token.split(".")[2] not in log() and token.split(".")[1] not in log()  # ...the token is not


def test_shipped_wasm_config_passes_envoy_validate(envoy_bin, wasm_module, tmp_path) -> None:
    """deploy/wasm/envoy.yaml as shipped (only the module's path made absolute, since
    Envoy resolves it from its working directory) passes `envoy --mode validate`."""
    import subprocess

    from support import envoy as envoy_config
    from support import wasm

    cfg = wasm.reference()
    wasm.wasm_config(cfg)["vm_config"]["code"]["local"]["filename"] = str(wasm_module)
    path = envoy_config.dump(cfg, tmp_path / "wasm-envoy.yaml")
    run = subprocess.run([envoy_bin, "--mode", "validate", "-c", path], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
