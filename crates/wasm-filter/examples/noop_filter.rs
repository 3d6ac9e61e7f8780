//! The floor of any proxy-wasm HTTP filter in Envoy: a module that lets every request
//! through at once, doing nothing. What it costs is what entering the VM costs (context
//! creation, request and response headers, log, done, delete), the part of the in-process
//! filter's price that no filter code can lower (scripts/bench.sh mode v, docs/wasm.md).
//! The analogue of examples/noop_authz for ext_authz.
//!
//! `cargo build --profile wasm-release -p cognito-ext-authz-wasm --example noop_filter --target wasm32-wasip1`

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;

struct Noop;

impl Context for Noop {}

impl HttpContext for Noop {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        Action::Continue
    }
}

proxy_wasm::main! {{
    proxy_wasm::set_http_context(|_, _| -> Box<dyn HttpContext> { Box::new(Noop) });
}}
