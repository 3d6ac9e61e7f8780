//! A small gRPC load generator for `envoy.service.auth.v3.Authorization/Check`, plus the
//! fixtures the benchmark script needs.
//!
//! ```text
//! grpc_load setup DIR --jwks-uri URI [--routes N]   key, JWKS (also as a static web tree), policy
//! grpc_load mint DIR --count N --out FILE           N distinct RS256 tokens, one per line
//! grpc_load load --addr HOST:PORT --tokens FILE ... Check at a fixed concurrency (or rate)
//! ```
//!
//! `load` sends `CheckRequest`s shaped like Envoy's (see `testkit::check_request`), rotating over a
//! few realistic paths. `--mode cached` cycles over the first `--pool` tokens (so after the
//! first pass every check is a cache hit); `--mode distinct` uses every token of the file
//! exactly once (every check is a full RS256 verification) and stops when they run out.
//! `--rate R` switches from closed-loop (fixed concurrency) to open-loop (R requests/s,
//! latency measured from each actual send). It prints a human summary and one
//! `RESULT key=value ...` line for `scripts/bench.sh`.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use cognito_ext_authz::proto::envoy::service::auth::v3::{
    authorization_client::AuthorizationClient, check_response::HttpResponse,
};
use testkit::{SigningKey, check_request, issuer, load};
use tonic::transport::{Channel, Endpoint};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Cached,
    Distinct,
}

#[derive(Subcommand)]
enum Command {
    /// Writes key.der (unless present), jwks.json, www/POOL/.well-known/jwks.json and policy.yaml into DIR.
    Setup {
        dir: PathBuf,
        #[arg(long)]
        jwks_uri: String,
        #[arg(long, default_value_t = 100)]
        routes: usize,
    },
    /// Signs COUNT distinct tokens with DIR/key.der, on every core.
    Mint {
        dir: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long)]
        out: PathBuf,
        /// First token number (to mint sets disjoint from earlier ones).
        #[arg(long, default_value_t = 0)]
        start: u64,
    },
    /// Runs Check load against ADDR.
    Load {
        #[arg(long)]
        addr: String,
        #[arg(long)]
        tokens: PathBuf,
        #[arg(long, value_enum, default_value_t = Mode::Cached)]
        mode: Mode,
        /// Cached mode: how many different tokens to cycle over.
        #[arg(long, default_value_t = 1000)]
        pool: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// HTTP/2 connections (Envoy holds one per worker).
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Seconds of measurement (distinct mode also stops when tokens run out).
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of unmeasured load first (cached mode).
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Open loop: this many requests per second instead of a fixed concurrency.
        #[arg(long)]
        rate: Option<u64>,
        /// Label for the RESULT line.
        #[arg(long, default_value = "load")]
        name: String,
    },
}

fn main() {
    match Cli::parse().command {
        Command::Setup {
            dir,
            jwks_uri,
            routes,
        } => setup(&dir, &jwks_uri, routes),
        Command::Mint {
            dir,
            count,
            out,
            start,
        } => mint(&dir, start, count, &out),
        Command::Load {
            addr,
            tokens,
            mode,
            pool,
            concurrency,
            connections,
            duration,
            warmup,
            rate,
            name,
        } => {
            let tokens = read_tokens(&tokens, mode, pool);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(load(Load {
                addr,
                tokens,
                mode,
                concurrency,
                connections,
                duration: Duration::from_secs_f64(duration),
                warmup: Duration::from_secs_f64(warmup),
                rate,
                name,
            }));
        }
    }
}

fn setup(dir: &std::path::Path, jwks_uri: &str, routes: usize) {
    std::fs::create_dir_all(dir).unwrap();
    // An existing key is kept, so tokens minted earlier stay valid.
    let key = match std::fs::read(dir.join("key.der")) {
        Ok(der) => SigningKey::from_pkcs1_der(load::KID, &der),
        Err(_) => {
            let key = SigningKey::generate(load::KID);
            std::fs::write(dir.join("key.der"), &key.pkcs1_der).unwrap();
            key
        }
    };
    let jwks = key.jwks();
    std::fs::write(dir.join("jwks.json"), &jwks).unwrap();
    let www = dir.join("www").join(load::POOL).join(".well-known");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("jwks.json"), &jwks).unwrap();
    std::fs::write(dir.join("policy.yaml"), load::policy_yaml(routes, jwks_uri)).unwrap();
    std::fs::write(dir.join("issuer"), issuer(load::POOL)).unwrap();
    eprintln!(
        "wrote key, JWKS and a {routes}-route policy to {}",
        dir.display()
    );
}

fn mint(dir: &std::path::Path, start: u64, count: u64, out: &std::path::Path) {
    let key = SigningKey::from_pkcs1_der(load::KID, &std::fs::read(dir.join("key.der")).unwrap());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let started = Instant::now();
    let chunks: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let key = &key;
                s.spawn(move || {
                    let mut text = String::new();
                    let mut n = start + t;
                    while n < start + count {
                        text.push_str(&load::token(key, n));
                        text.push('\n');
                        n += threads;
                    }
                    text
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::fs::write(out, chunks.concat()).unwrap();
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "minted {count} tokens in {secs:.1} s ({:.0}/s on {threads} threads) -> {}",
        count as f64 / secs,
        out.display()
    );
}

fn read_tokens(path: &std::path::Path, mode: Mode, pool: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines = text.lines().filter(|l| !l.is_empty()).map(str::to_owned);
    match mode {
        Mode::Cached => lines.take(pool.max(1)).collect(),
        Mode::Distinct => lines.collect(),
    }
}

struct Load {
    addr: String,
    tokens: Vec<String>,
    mode: Mode,
    concurrency: usize,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<u64>,
    name: String,
}

#[derive(Default)]
struct Counts {
    allowed: AtomicU64,
    denied: AtomicU64,
    errors: AtomicU64,
}

async fn connect(addr: &str) -> AuthorizationClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .tcp_nodelay(true)
        .initial_stream_window_size(1024 * 1024)
        .initial_connection_window_size(8 * 1024 * 1024)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
    AuthorizationClient::new(channel)
}

/// One Check; true if it was answered (allow or deny) rather than failed.
async fn one(
    client: &mut AuthorizationClient<Channel>,
    token: &str,
    n: usize,
    counts: &Counts,
) -> bool {
    let (method, host, path) = load::TARGETS[n % load::TARGETS.len()];
    let request = check_request(method, host, path, Some(token));
    match client.check(request).await {
        Ok(r) => {
            match r.into_inner().http_response {
                Some(HttpResponse::OkResponse(_)) => counts.allowed.fetch_add(1, Ordering::Relaxed),
                _ => counts.denied.fetch_add(1, Ordering::Relaxed),
            };
            true
        }
        Err(_) => {
            counts.errors.fetch_add(1, Ordering::Relaxed);
            false
        }
    }
}

async fn load(cfg: Load) {
    let mut clients = Vec::new();
    for _ in 0..cfg.connections.max(1) {
        clients.push(connect(&cfg.addr).await);
    }
    let tokens = Arc::new(cfg.tokens);
    let next = Arc::new(AtomicUsize::new(0));

    // Warm-up: fill the cache (cached mode) and the connection windows.
    if cfg.mode == Mode::Cached && !cfg.warmup.is_zero() {
        let until = Instant::now() + cfg.warmup;
        let counts = Arc::new(Counts::default());
        let mut tasks = Vec::new();
        for i in 0..cfg.concurrency {
            let mut client = clients[i % clients.len()].clone();
            let (tokens, next, counts) = (tokens.clone(), next.clone(), counts.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    one(&mut client, &tokens[n % tokens.len()], n, &counts).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    let counts = Arc::new(Counts::default());
    let started = Instant::now();
    let until = started + cfg.duration;
    let mut latencies: Vec<u32> = Vec::new();
    if let Some(rate) = cfg.rate {
        // Open loop: one request every 1/rate s, whatever the answers' latency.
        let interval = Duration::from_secs_f64(1.0 / rate as f64);
        let mut tasks = Vec::new();
        let mut i = 0usize;
        loop {
            let at = started + interval * i as u32;
            if at >= until {
                break;
            }
            tokio::time::sleep_until(at.into()).await;
            let mut client = clients[i % clients.len()].clone();
            let (tokens, counts) = (tokens.clone(), counts.clone());
            let n = match cfg.mode {
                Mode::Cached => i % tokens.len(),
                Mode::Distinct if i < tokens.len() => i,
                Mode::Distinct => break,
            };
            tasks.push(tokio::spawn(async move {
                one(&mut client, &tokens[n], n, &counts).await;
                at.elapsed().as_micros() as u32
            }));
            i += 1;
        }
        for t in tasks {
            latencies.push(t.await.unwrap());
        }
    } else {
        let mut tasks = Vec::new();
        for i in 0..cfg.concurrency {
            let mut client = clients[i % clients.len()].clone();
            let (tokens, next, counts) = (tokens.clone(), next.clone(), counts.clone());
            let mode = cfg.mode;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(1 << 16);
                while Instant::now() < until {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let token = match mode {
                        Mode::Cached => &tokens[n % tokens.len()],
                        Mode::Distinct if n < tokens.len() => &tokens[n],
                        Mode::Distinct => break,
                    };
                    let t0 = Instant::now();
                    one(&mut client, token, n, &counts).await;
                    lat.push(t0.elapsed().as_micros() as u32);
                }
                lat
            }));
        }
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| -> u32 {
        if latencies.is_empty() {
            0
        } else {
            latencies[((latencies.len() - 1) as f64 * p).round() as usize]
        }
    };
    let total = latencies.len() as f64;
    let rps = total / elapsed;
    let (allowed, denied, errors) = (
        counts.allowed.load(Ordering::Relaxed),
        counts.denied.load(Ordering::Relaxed),
        counts.errors.load(Ordering::Relaxed),
    );
    let shape = match cfg.rate {
        Some(r) => format!("open loop {r}/s"),
        None => format!(
            "concurrency {} over {} connection(s)",
            cfg.concurrency, cfg.connections
        ),
    };
    eprintln!(
        "{}: {} checks in {elapsed:.2} s, {shape}: {rps:.0} checks/s, p50 {} µs, p99 {} µs, p99.9 {} µs (allowed {allowed}, denied {denied}, errors {errors})",
        cfg.name,
        latencies.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
    );
    println!(
        "RESULT name={} rps={rps:.0} p50_us={} p99_us={} p999_us={} checks={} allowed={allowed} denied={denied} errors={errors}",
        cfg.name,
        pct(0.5),
        pct(0.99),
        pct(0.999),
        latencies.len(),
    );
}
