//! What each stage of the filter's work on one request costs in WebAssembly, run under
//! Node's V8 by scripts/wasm-stage-costs.sh (docs/performance.md). Arguments: the plugin
//! configuration, the key set and a file of tokens (the first is used), then METHOD HOST
//! PATH and the rounds per stage.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, jwks, tokens, method, host, path, rounds] = args.as_slice() else {
        eprintln!("usage: stage_costs CONFIG JWKS TOKENS METHOD HOST PATH ROUNDS");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let tokens = read(tokens);
    let token = tokens.lines().next().unwrap_or_default();
    let rounds: u32 = rounds.parse().expect("ROUNDS is a number");
    match cognito_ext_authz_wasm::stages::report(
        &read(config),
        read(jwks).as_bytes(),
        token,
        (method, host, path),
        rounds,
    ) {
        Ok(report) => print!("{report}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
