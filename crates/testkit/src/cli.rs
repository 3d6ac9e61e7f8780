//! The binary's one-shot commands (`validate`, `check`, `test`, `import`, `revocations`)
//! run the way a user runs them: arguments in, exit code and output back.

use std::io::Write;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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

/// The arguments of `check` deciding `method path` offline, under the policy file `policy`
/// with the key set file `jwks`; the caller adds the rest (`--token`, `--host`, ...).
pub fn check_args<'a>(
    policy: &'a str,
    jwks: &'a str,
    method: &'a str,
    path: &'a str,
) -> Vec<&'a str> {
    vec![
        "check", "--policy", policy, "--jwks", jwks, "--method", method, "--path", path,
    ]
}

/// Waits for `child` to exit, looking every 20 ms. Past `limit` it is killed and reaped and
/// the answer is `None`: the caller fails the test, saying what kept running.
pub fn wait_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
