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
    token = mint.access("files/read")
    upstream_saw(wasm_stack.request("/files/never-logged", token=token))
    wasm_stack.request("/files/never-logged", token=token + "x")
    wasm_stack.envoy.access_log_entry("/files/never-logged")  # the access log line is there...
    log = wasm_stack.envoy.process.log_path.read_text(errors="replace")
    assert token.split(".")[2] not in log and token.split(".")[1] not in log  # ...the token is not
