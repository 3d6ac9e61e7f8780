//! The parts of the command line that are more than dispatch: `validate` and `revocations
//! prune`. Private to the binary (`src/main.rs`).

pub(crate) mod prune;
pub(crate) mod validate;

use std::process::ExitCode;

/// The single-threaded runtime a one-shot command (`check`, `test`, `validate --online`)
/// runs on; when it cannot start, the error is printed and the command exits 2.
pub(crate) fn one_shot_runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the runtime: {e}");
            ExitCode::from(2)
        })
}
