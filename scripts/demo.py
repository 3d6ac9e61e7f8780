#!/usr/bin/env python3
"""A guided tour of cognito-ext-authz behind a real Envoy, all on loopback.

Started by scripts/demo.sh (which installs the tools and builds the release binary
first). It starts four things:

  key server  a stand-in for Cognito's https://cognito-idp.<region>.amazonaws.com/<pool>
              /.well-known/jwks.json, serving this demo pool's RSA keys
  upstream    the "application": echoes back the headers it received
  service     target/release/cognito-ext-authz serve, with the policy printed below
  Envoy       deploy/envoy/envoy.yaml, asking the service before every request

then sends a handful of requests through Envoy, shows what was sent and what came back,
and stops everything. State (policy, the Envoy config it ran, logs) is kept in .demo/.

  --keep    leave everything running after the tour (Ctrl-C to stop)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

from support import procs, tokens, tools
from support.envoy import EnvoyProxy
from support.http import Response, request
from support.keyserver import KeyServer
from support.service import AuthzService
from support.upstream import EchoServer

REPO = tools.REPO

POOL = "us-east-1_DemoPool1"
CLIENT = "4example23456789abcdefghij"
HOST = "api.example.com"

COLOR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def c(code: str, text: str) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOR else text


def policy_for(keys: KeyServer) -> str:
    return f"""\
# The policy (a Kubernetes ConfigMap in production). Same rules as an API Gateway
# COGNITO_USER_POOLS authorizer: a valid access token holding ANY ONE route scope.
userPools:
  - id: {POOL}
    appClients: [{CLIENT}]
    # Only because this demo has no internet: keys come from the local key server.
    # Without this line they come from Cognito ({keys.issuer(POOL)}/.well-known/jwks.json).
    jwksUri: {keys.jwks_uri(POOL)}
tokenSource:
  header: authorization
defaultAction: deny            # no matching route: 403
routes:
  - name: create-user
    methods: [POST]
    path: /users/{{id}}
    scopes: [user_management_lambdas/api]
  - name: files
    path: /files/{{proxy+}}
    scopes: [files/read, files/write]
  - name: health
    path: /health
    auth: none
"""


def short(token: str) -> str:
    return f"{token[:16]}…{token[-8:]} ({len(token)} chars)"


class Tour:
    def __init__(self, envoy_port: int) -> None:
        self.port = envoy_port
        self.failures: list[str] = []
        self.step = 0

    def send(
        self,
        title: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        token_note: str = "",
        headers: dict[str, str] | None = None,
        expect: int,
        expect_message: str | None = None,
    ) -> Response:
        self.step += 1
        print()
        print(c("1", f"{self.step}. {title}"))
        print(c("36", f"   → {method} http://{HOST}{path}"))
        if token:
            print(c("36", f"     authorization: Bearer {short(token)}") + (f"  {c('2', token_note)}" if token_note else ""))
        for k, v in (headers or {}).items():
            print(c("36", f"     {k}: {v}") + c("2", "   (sent by the client)"))
        r = request(self.port, path, method=method, host=HOST, token=token, headers=headers, body=b"{}" if method == "POST" else None)
        good = r.status == expect
        if expect_message is not None:
            try:
                good = good and r.json() == {"message": expect_message}
            except ValueError:
                good = False
        mark = c("32", "✓") if good else c("31", f"✗ expected {expect}")
        print(f"   ← {c('1', str(r.status))} {mark}")
        if r.status == 200 and r.header("x-upstream") == "echo":
            seen = r.json()
            ident = {k: v for k, v in seen["headers"].items() if k.startswith("x-cognito-")}
            print(c("2", f"     the application received {seen['method']} {seen['path']} with:"))
            if not ident:
                print("       (no x-cognito-* headers)")
            for k, v in sorted(ident.items()):
                print(f"       {k}: {', '.join(v)}")
        else:
            for k in ("www-authenticate", "content-type"):
                if r.header(k):
                    print(f"     {k}: {r.header(k)}")
            if r.body:
                print(f"     {r.text}")
        if not good:
            self.failures.append(f"{self.step}. {title}: got {r.status} {r.text[:100]!r}")
        return r


def run_tour(envoy: EnvoyProxy, keys: KeyServer) -> Tour:
    key, iss = keys.keys(POOL)[0], keys.issuer(POOL)
    tour = Tour(envoy.listen_port)

    tour.send("A public route: no token needed", "GET", "/health", expect=200)

    tour.send(
        "A protected route without a token", "POST", "/users/42", expect=401, expect_message="Unauthorized"
    )

    good = tokens.access_token(
        key, iss, client_id=CLIENT, scope="user_management_lambdas/api openid email", username="alice",
        sub="7d0e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6", groups=["admins"],
    )
    tour.send(
        "A Cognito access token with the route's scope",
        "POST", "/users/42", token=good, token_note="scope: user_management_lambdas/api openid email",
        expect=200,
    )

    m2m = tokens.client_credentials_token(key, iss, client_id=CLIENT, scope="files/read")
    tour.send(
        "Identity headers cannot be forged: the service overwrites or removes them",
        "GET", "/files/q3/report.csv", token=m2m, token_note="machine token: no username, no groups",
        headers={"x-cognito-username": "root", "x-cognito-groups": "admins"},
        expect=200,
    )

    no_scope = tokens.access_token(key, iss, client_id=CLIENT, scope="openid email", username="bob")
    tour.send(
        "A valid token without the scope the route needs (401, as API Gateway answers)",
        "POST", "/users/42", token=no_scope, token_note="scope: openid email", expect=401,
        expect_message="Unauthorized",
    )

    expired = tokens.expired_access_token(key, iss, client_id=CLIENT, scope="user_management_lambdas/api")
    tour.send(
        "An expired token", "POST", "/users/42", token=expired, token_note="exp: 10 minutes ago",
        expect=401, expect_message="The incoming token has expired",
    )

    id_tok = tokens.id_token(keys.keys(POOL)[1], iss, client_id=CLIENT)
    tour.send(
        "An ID token where an access token is required", "GET", "/files/a.txt", token=id_tok,
        token_note="token_use: id", expect=401, expect_message="Unauthorized",
    )

    tour.send(
        "A path no route matches (defaultAction: deny)", "GET", "/admin", token=good, expect=403,
        expect_message="Missing Authentication Token",
    )
    return tour


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--state", type=Path, default=REPO / ".demo", help="folder for configs and logs")
    ap.add_argument("--keep", action="store_true", help="keep running after the tour, until Ctrl-C")
    args = ap.parse_args()

    missing = [
        name
        for name, path in (
            ("envoy", tools.envoy_binary()),
            ("cognito-ext-authz", tools.service_binary()),
        )
        if path is None
    ]
    if missing:
        for name in missing:
            print(tools.missing_message(name, "the demo cannot run"), file=sys.stderr)
        return 2

    state: Path = args.state
    state.mkdir(parents=True, exist_ok=True)
    for old in state.glob("*.log"):
        old.unlink()
    pidfile = state / "pids"

    # Ctrl-C and SIGTERM unwind through the finally block below, which stops everything.
    # (SIGINT explicitly: a shell may start us with it ignored, which Python would keep.)
    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)

    started = time.monotonic()
    print(c("1", "cognito-ext-authz demo: Envoy ext_authz enforcing Cognito scopes per route"))
    keys = KeyServer()
    upstream = EchoServer()
    service = envoy = None
    try:
        keys.add_pool(POOL)
        policy = policy_for(keys)
        print(c("2", f"\nkey server  {keys.base_url}  (pool {POOL})"))
        print(c("2", f"upstream    http://127.0.0.1:{upstream.port}  (echoes request headers)"))
        service = AuthzService(
            tools.service_binary(), state, policy, name="authz",
            env={"AUTHZ_DRAIN_SECONDS": "0", "AUTHZ_LOG_FORMAT": "json"},
        )
        pidfile.write_text(f"{service.process.pid}\n")
        print(c("2", f"service     gRPC 127.0.0.1:{service.grpc_port}, admin http://127.0.0.1:{service.admin_port}/readyz"))
        envoy = EnvoyProxy(
            tools.envoy_binary(), state, authz_port=service.grpc_port, upstream_port=upstream.port, name="envoy"
        )
        pidfile.write_text(f"{service.process.pid}\n{envoy.process.pid}\n")
        print(c("2", f"Envoy       http://127.0.0.1:{envoy.listen_port}  (admin http://127.0.0.1:{envoy.admin_port})"))
        print()
        print(c("1", f"Policy ({service.policy_path.relative_to(REPO) if service.policy_path.is_relative_to(REPO) else service.policy_path}):"))
        for line in policy.splitlines():
            print(c("2", "  | ") + line)

        tour = run_tour(envoy, keys)
        failures = tour.failures

        print()
        print(c("2", f"Logs: {state}/authz.log (one JSON line per decision), {state}/envoy.log"))
        print(c("2", f"Envoy config used: {envoy.config_path} (deploy/envoy/envoy.yaml with loopback addresses)"))
        if failures:
            print(c("31", f"\n{len(failures)} step(s) did not answer as expected:"))
            for f in failures:
                print(c("31", f"  {f}"))
        else:
            print(c("32", f"\nAll {tour.step} steps answered as expected in {time.monotonic() - started:.1f}s."))

        if args.keep:
            t = tokens.access_token(keys.keys(POOL)[0], keys.issuer(POOL), client_id=CLIENT, scope="files/read")
            print(c("1", "\nStill running. Try:"))
            print(f"  curl -i -H 'host: {HOST}' http://127.0.0.1:{envoy.listen_port}/health")
            print(f"  curl -i -H 'authorization: Bearer {t}' http://127.0.0.1:{envoy.listen_port}/files/x")
            print("Ctrl-C to stop.")
            while service.process.alive() and envoy.process.alive():
                time.sleep(0.5)
        return 1 if failures else 0
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    finally:
        print(c("2", "stopping Envoy, service, upstream, key server"))
        if envoy:
            envoy.stop()
        if service:
            service.stop()
        procs.stop_all()
        upstream.stop()
        keys.stop()
        pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
