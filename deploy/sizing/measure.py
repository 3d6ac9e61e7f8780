#!/usr/bin/env python3
"""Measures what the chart's sizing defaults are made of, on loopback, with the release binary.

    .venv/bin/python deploy/sizing/measure.py            # prints a Markdown table
    AUTHZ_BIN=... SIZING_CONNECTIONS=4000 SIZING_SECONDS=10 deploy/sizing/measure.py

1. Memory per idle HTTP/2 connection: the service's VmRSS (/proc/PID/status) before and
   after opening SIZING_CONNECTIONS client connections, each handshaken and having made
   one gRPC call (as an Envoy worker's connection has), then left idle: the slope.
2. Checks per second on one core: the service pinned to CPU 0 (taskset) with one worker
   thread, h2load pinned to CPU 1 sending Check requests with a cached, valid token over
   4 connections x 32 streams (an Envoy-like multiplexed load) for SIZING_SECONDS. On a
   shared machine the wall-clock rate depends on what else runs on CPU 0, so the
   figure used for sizing is checks per CPU-second the service consumed (utime + stime
   from /proc/PID/stat), which does not.
3. Decision log volume: the mean size of one JSON decision line in the service's log.

Everything is bounded in count and time and talks to 127.0.0.1 only. Needs h2load
(`apt-get install nghttp2-client`) for step 2 and two CPUs for the pinning.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from support import tokens, tools
from support.h2raw import H2Connection, check_request, grpc_frame
from support.keyserver import KeyServer
from support.procs import ManagedProcess, free_port, http_status, wait_until

POOL = "us-east-1_Sizing123"
CONNECTIONS = int(os.environ.get("SIZING_CONNECTIONS", "2000"))
SECONDS = int(os.environ.get("SIZING_SECONDS", "10"))


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_service(binary: Path, workdir: Path, keys: KeyServer, env: dict[str, str],
                  taskset: str | None = None) -> tuple[ManagedProcess, int, int]:
    grpc, admin = free_port(), free_port()
    policy = workdir / "policy.yaml"
    policy.write_text(f"""\
userPools:
  - id: {POOL}
    jwksUri: {keys.jwks_uri(POOL)}
defaultAction: deny
routes:
  - name: read-user
    methods: [GET]
    path: /users/{{id}}
    scopes: [users/read]
""")
    argv = [str(binary), "serve"]
    if taskset:
        argv = ["taskset", "-c", taskset, *argv]
    full_env = {
        "AUTHZ_LISTEN_ADDR": f"127.0.0.1:{grpc}", "AUTHZ_ADMIN_ADDR": f"127.0.0.1:{admin}",
        "AUTHZ_POLICY_PATH": str(policy), "AUTHZ_LOG_FORMAT": "json", "RUST_LOG": "info",
        "AUTHZ_DRAIN_SECONDS": "0", **env,
    }
    proc = ManagedProcess("sizing-authz", argv, workdir / f"authz-{grpc}.log", env=full_env)
    wait_until(lambda: http_status(f"http://127.0.0.1:{admin}/readyz") == 200, 30,
               "service ready", on_timeout=proc.log_tail)
    return proc, grpc, admin


def connection_cost(binary: Path, workdir: Path, keys: KeyServer, request: bytes) -> dict:
    proc, grpc, _ = start_service(binary, workdir, keys, {})
    try:
        time.sleep(0.5)
        base = rss_kib(proc.pid)
        conns = []
        for _ in range(CONNECTIONS):
            c = H2Connection(grpc)
            c.call("/envoy.service.auth.v3.Authorization/Check", request)
            conns.append(c)
        time.sleep(1.0)
        loaded = rss_kib(proc.pid)
        for c in conns:
            c.close()
        return {"connections": CONNECTIONS, "base_kib": base, "loaded_kib": loaded,
                "per_connection_kib": (loaded - base) / CONNECTIONS}
    finally:
        proc.stop()


def checks_per_core(binary: Path, workdir: Path, keys: KeyServer, request: bytes) -> dict:
    h2load = tools.find("h2load")
    if not h2load:
        return {"error": tools.missing_message("h2load", "no checks-per-core figure")}
    proc, grpc, admin = start_service(binary, workdir, keys, {"AUTHZ_WORKER_THREADS": "1"},
                                      taskset="0")
    try:
        body = workdir / "check.bin"
        body.write_bytes(grpc_frame(request))
        result = subprocess.run(
            ["taskset", "-c", "1", str(h2load), "-c", "4", "-m", "32", "-D", str(SECONDS),
             "-H", "content-type: application/grpc", "-H", "te: trailers",
             "-d", str(body), f"http://127.0.0.1:{grpc}/envoy.service.auth.v3.Authorization/Check"],
            capture_output=True, text=True, timeout=SECONDS + 60)
        out = result.stdout
        rate = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
        ok = re.search(r"status codes: (\d+) 2xx", out)
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        allowed = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                      if line.startswith("cognito_ext_authz_decisions_total{")
                      and 'result="allow"' in line)
        return {"checks_per_second": float(rate.group(1)) if rate else None,
                "responses_2xx": int(ok.group(1)) if ok else None, "allowed": allowed,
                "service_cpu_seconds": cpu_s, "h2load_tail": out.strip().splitlines()[-6:]}
    finally:
        proc.stop()
        log_lines = [line for line in Path(proc.log_path).read_text(errors="replace").splitlines()
                     if '"decision"' in line]
        checks_per_core.log_line_bytes = (
            sum(len(line) + 1 for line in log_lines) / len(log_lines) if log_lines else None)


def main() -> None:
    binary = tools.service_binary()
    if binary is None:
        raise SystemExit(tools.missing_message("cognito-ext-authz", "nothing was measured"))
    with tempfile.TemporaryDirectory() as tmp, KeyServer() as keys:
        workdir = Path(tmp)
        keys.add_pool(POOL)
        token = tokens.access_token(keys.keys(POOL)[0], keys.issuer(POOL), scope="users/read")
        request = check_request("GET", "/users/42", "api.example.com", {
            "authorization": f"Bearer {token}", "x-request-id": "0f1e2d3c-sizing",
            "user-agent": "curl/8.5.0", "accept": "*/*",
        })
        conn = connection_cost(binary, workdir, keys, request)
        cpu = checks_per_core(binary, workdir, keys, request)
        line = getattr(checks_per_core, "log_line_bytes", None)
        report = {"idle_connections": conn, "one_core": cpu, "decision_log_line_bytes": line}
        print(json.dumps(report, indent=2))
        print()
        print("| measure | value |")
        print("|---|---:|")
        print(f"| RSS at start (ready, keys fetched) | {conn['base_kib'] / 1024:.1f} MiB |")
        print(f"| RSS with {conn['connections']} idle HTTP/2 connections | {conn['loaded_kib'] / 1024:.1f} MiB |")
        print(f"| per idle connection | {conn['per_connection_kib']:.1f} KiB |")
        if cpu.get("checks_per_second"):
            print(f"| checks/s, pinned to one core, one worker, cached token | {cpu['checks_per_second']:,.0f} |")
            per_cpu = cpu["allowed"] / cpu["service_cpu_seconds"]
            print(f"| checks per CPU-second of the service (decision log on) | {per_cpu:,.0f} |")
        if line:
            print(f"| one JSON decision log line | {line:.0f} bytes |")


if __name__ == "__main__":
    main()
