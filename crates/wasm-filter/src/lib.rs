//! cognito-ext-authz's decision core as an in-process proxy-wasm HTTP filter: the same
//! policy file, the same decisions and API Gateway answers, the same identity headers,
//! without a network hop. Envoy (`envoy.filters.http.wasm`), Istio (`WasmPlugin`) and
//! Envoy Gateway (`EnvoyExtensionPolicy`) load it; docs/wasm.md says when to choose it
//! over the service.
//!
//! - `config`: the plugin configuration (the policy, the clusters key sets come through,
//!   the key-set timings, the revocation list), refused at load when it cannot be honoured;
//! - `keys`: key sets through the host's HTTP calls, behind the core's `KeySource`;
//! - `filter`: the root context (configuration, key sets) and the HTTP context (one
//!   decision per request);
//! - `host`: the host calls, none of which can panic.

#![deny(missing_docs, unreachable_pub)]

mod config;
mod filter;
mod host;
mod keys;
#[cfg(feature = "stage-costs")]
pub mod stages;

/// The module's entry point (`_initialize`), which the host calls once per VM. Compiled
/// natively too, so that the native build (clippy, unit tests) sees what the module uses.
mod entry {
    // The SDK's macro writes an undocumented `pub` export the host calls by name.
    #![allow(missing_docs, unreachable_pub)]
    proxy_wasm::main! {{
        proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
        proxy_wasm::set_root_context(|id| -> Box<dyn proxy_wasm::traits::RootContext> {
            Box::new(super::filter::Root::new(id))
        });
    }}
}
