//! The binary's one-shot commands (`validate`, `check`, `test`, `import`, `revocations`)
//! run the way a user runs them: arguments in, exit code and output back.

use std::io::Write;
use std::process::{Command, Stdio};

/// What one run of a command gave.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn of(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// Runs `bin` (the binary under test, see the crate doc) with `args`, nothing on its
/// standard input, and waits for it to exit.
pub fn run(bin: &str, args: &[&str]) -> Run {
    Run::of(Command::new(bin).args(args).output().unwrap())
}

/// Like [`run`], with `input` on the command's standard input.
pub fn run_with_input(bin: &str, args: &[&str], input: &str) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    Run::of(child.wait_with_output().unwrap())
}
