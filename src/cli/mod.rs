//! The parts of the command line that are more than dispatch: `validate`, and the logging
//! and tracing set-up of `serve`. Private to the binary (`src/main.rs`).

pub(crate) mod observability;
pub(crate) mod validate;
