#!/usr/bin/env python3
"""What TLS (mTLS) between Envoy and the service costs per check, through a real Envoy.

Runs the shipped deploy/envoy/envoy.yaml twice against the release binary: as shipped
(plaintext gRPC) and with its `UpstreamTlsContext` block switched on against the service
with AUTHZ_TLS_CERT_FILE / AUTHZ_TLS_KEY_FILE / AUTHZ_TLS_CLIENT_CA_FILE (the same
transform as tests/python/e2e/test_e2e_tls.py: support.envoy.upstream_tls). The application
upstream is replaced by a direct_response (support.envoy.answer_directly), so only the hop
to the service differs and no upstream server competes for the cores. Envoy runs with one worker; wrk -t1 -cC -dD with one cached token, rounds
alternating plain/mTLS, medians reported. Envoy keeps one long HTTP/2 connection to the
service, so the TLS cost is record encryption, not handshakes (the handshake count is
printed too).

    .venv/bin/python scripts/bench/tls.py            # BENCH_DURATION=10 BENCH_REPEAT=3 BENCH_CONCURRENCY=32
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from support import http, tokens, tools
from support import envoy as envoy_cfg
from support.envoy import EnvoyProxy
from support.keyserver import KeyServer
from support.pki import make_pki
from support.procs import free_port, wait_until
from support.service import AuthzService

POOL = "us-east-1_BenchTls1"
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CONC = int(os.environ.get("BENCH_CONCURRENCY", "32"))


def wrk(port: int, token: str, seconds: int) -> tuple[float, str, str, int]:
    out = subprocess.run(
        [str(tools.find("wrk")), "-t1", f"-c{CONC}", f"-d{seconds}s", "--latency",
         "-H", "Host: api.example.com", "-H", f"Authorization: Bearer {token}",
         f"http://127.0.0.1:{port}/reports/1"],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)
    # Not 200: Envoy's 0.5 s ext_authz timeout (503) when the machine is starved.
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(bad.group(1)) if bad else 0


def main() -> None:
    authz_bin = tools.service_binary()
    envoy_bin = tools.envoy_binary()
    if not authz_bin or not envoy_bin or not tools.find("wrk"):
        raise SystemExit("\n".join(tools.missing_message(name, "the benchmark cannot run")
                                  for name, path in (("cognito-ext-authz", authz_bin), ("envoy", envoy_bin),
                                                     ("wrk", tools.find("wrk")))
                                  if path is None))
    work = Path(tempfile.mkdtemp(prefix="bench-tls-"))
    pki = make_pki(work, "bench")
    secret, envoy_dir = pki.secret, pki.envoy_dir
    mtls_to_the_service = envoy_cfg.upstream_tls(
        envoy_dir / "ca.crt", cert=envoy_dir / "tls.crt", key=envoy_dir / "tls.key"
    )

    def mtls_answered_directly(cfg: dict) -> None:
        envoy_cfg.answer_directly(cfg)
        mtls_to_the_service(cfg)

    with KeyServer() as keys:
        keys.add_pool(POOL)
        policy = (f"userPools:\n  - id: {POOL}\n    jwksUri: {keys.jwks_uri(POOL)}\n"
                  "routes:\n  - path: /reports/{id}\n    scopes: [reports/read]\n")
        token = tokens.access_token(keys.keys(POOL)[0], keys.issuer(POOL), scope="reports/read")
        quiet = {"RUST_LOG": "warn"}  # as bench.sh's second instance: no decision line
        plain = AuthzService(authz_bin, work, policy, name="plain", env=quiet)
        mtls = AuthzService(authz_bin, work, policy, name="mtls", env={
            **quiet,
            "AUTHZ_TLS_CERT_FILE": str(secret.path("tls.crt")),
            "AUTHZ_TLS_KEY_FILE": str(secret.path("tls.key")),
            "AUTHZ_TLS_CLIENT_CA_FILE": str(secret.path("ca.crt")),
        })
        variants = {
            "plaintext": (plain, envoy_cfg.answer_directly),
            "mTLS": (mtls, mtls_answered_directly),
        }
        runs: dict[str, list[tuple[float, str, str, int]]] = {k: [] for k in variants}
        try:
            for round_ in range(1, REPEAT + 1):
                for name, (service, transform) in variants.items():
                    with EnvoyProxy(envoy_bin, work, authz_port=service.grpc_port, upstream_port=free_port(),
                                    name=f"envoy-{name}-{round_}", transform=transform) as envoy:
                        wait_until(lambda: http.request(envoy.listen_port, "/reports/1", token=token).status == 200,
                                   20, f"{name}: a check through Envoy", interval=0.1)
                        assert http.request(envoy.listen_port, "/reports/1").status == 401
                        wrk(envoy.listen_port, token, 2)  # warm-up
                        r = wrk(envoy.listen_port, token, DURATION)
                        runs[name].append(r)
                        print(f"round {round_} {name}: {r[0]:.0f} req/s, p50 {r[1]}, p99 {r[2]}, non-2xx {r[3]}",
                              file=sys.stderr)
            handshakes = mtls.metric('cognito_ext_authz_tls_handshakes_total{result="ok"}')
        finally:
            plain.stop()
            mtls.stop()

    med = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
    print(f"\nThrough Envoy 1 worker, wrk -t1 -c{CONC} -d{DURATION}s, one cached token, {os.cpu_count()} cores, "
          f"median of {REPEAT}:")
    for name, v in runs.items():
        last = v[-1]
        print(f"  {name:10s} {med[name]:8.0f} req/s   (runs: {', '.join(f'{r[0]:.0f}' for r in v)}; "
              f"last p50 {last[1]}, p99 {last[2]}; non-2xx {sum(r[3] for r in v)})")
    print(f"  mTLS/plaintext = {med['mTLS'] / med['plaintext']:.3f}; "
          f"TLS handshakes the service completed over {REPEAT} Envoy runs: {handshakes:.0f}")
    per_req_us = (1 / med["mTLS"] - 1 / med["plaintext"]) * 1e6
    print(f"  cost per check (1/rps difference, both cores busy): {per_req_us:.1f} us")


if __name__ == "__main__":
    main()
