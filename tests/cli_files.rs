//! Every file a command reads (`import`, `check --jwks`, `check --token-file`, `test`, and
//! the policy) is read as the service reads its policy (docs/security.md): a regular file
//! (or `-`, standard input, for the token), never more than the command's bound, and YAML
//! nested no deeper than the limit before a parser sees it. Each case runs the real binary
//! with a deadline, so a command that blocks on a FIFO or reads `/dev/zero` for ever fails
//! the test instead of hanging it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::write;

/// The service binary (see the test kit's crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

/// Far longer than any refusal takes; a command still running then is stuck.
const DEADLINE: Duration = Duration::from_secs(20);

/// What one run gave.
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// Runs the binary with `args` and `stdin`, killing it (and failing) past [`DEADLINE`].
/// Output goes to files, so a chatty command never blocks on a full pipe.
fn run_within(args: &[&str], stdin: Stdio) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let err = dir.path().join("stderr");
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let status = testkit::wait_within(&mut child, DEADLINE)
        .unwrap_or_else(|| panic!("{args:?} did not return within {DEADLINE:?}"));
    Run {
        code: status.code(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_within(args, Stdio::null())
}

/// A folder with a valid policy and tests file, and a FIFO nothing ever writes to.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "policy.yaml",
            "userPools:\n  - id: eu-west-1_abcdefghi\n    jwksUri: https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abcdefghi/.well-known/jwks.json\nroutes:\n  - name: users\n    path: /users\n    scopes: [users/read]\n",
        );
        write(
            dir.path(),
            "tests.yaml",
            "tests:\n  - name: no token\n    request: { method: GET, path: /users }\n    expect: { status: 401 }\n",
        );
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        Files { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A sparse regular file one byte over `bytes` (nothing is written: a command that
    /// reads it before checking its size would read zeros).
    fn oversized(&self, name: &str, bytes: usize) -> String {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(bytes as u64 + 1)
            .unwrap();
        path.display().to_string()
    }
}

/// Every command that reads `source`, with the rest of its arguments valid.
fn every_reader(files: &Files, source: &str) -> Vec<Vec<String>> {
    let (policy, tests) = (files.path("policy.yaml"), files.path("tests.yaml"));
    let check = |flag: &str| {
        vec![
            "check", "--policy", &policy, "--method", "GET", "--path", "/users", flag, source,
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>()
    };
    vec![
        vec!["import".to_owned(), source.to_owned()],
        check("--jwks"),
        check("--token-file"),
        vec!["test".to_owned(), policy.clone(), source.to_owned()],
        vec!["test".to_owned(), source.to_owned(), tests],
        vec!["validate".to_owned(), source.to_owned()],
    ]
}

fn assert_refused(args: &[String], r: &Run, file: &str, why: &str) {
    assert!(
        matches!(r.code, Some(1 | 2)),
        "{args:?}: exit {:?}: {}",
        r.code,
        r.stderr
    );
    assert!(
        r.stderr.contains(file) && r.stderr.contains(why),
        "{args:?}: wanted {file} and {why:?} in: {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
}

#[test]
fn a_fifo_is_refused_at_once_by_every_command() {
    let files = Files::new();
    let fifo = files.path("fifo");
    for args in every_reader(&files, &fifo) {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&args, &run(&argv), &fifo, "not a regular file");
    }
}

#[test]
fn dev_zero_is_refused_by_every_command_as_a_file_and_bounded_on_standard_input() {
    let files = Files::new();
    for args in every_reader(&files, "/dev/zero") {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&args, &run(&argv), "/dev/zero", "not a regular file");
    }
    // `--token-file -` reads standard input: /dev/zero there stops at the bound.
    let policy = files.path("policy.yaml");
    let args = [
        "check",
        "--policy",
        &policy,
        "--method",
        "GET",
        "--path",
        "/users",
        "--token-file",
        "-",
    ];
    let r = run_within(
        &args,
        Stdio::from(std::fs::File::open("/dev/zero").unwrap()),
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("standard input") && r.stderr.contains("bytes allowed"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_file_over_the_bound_is_refused_unread() {
    let files = Files::new();
    let policy = files.path("policy.yaml");
    let tests = files.path("tests.yaml");
    let check = |flag: &'static str, file: String| {
        vec![
            "check".to_owned(),
            "--policy".to_owned(),
            policy.clone(),
            "--method".to_owned(),
            "GET".to_owned(),
            "--path".to_owned(),
            "/users".to_owned(),
            flag.to_owned(),
            file,
        ]
    };
    let source = files.oversized("big.yaml", cognito_ext_authz::import::MAX_SOURCE_BYTES);
    let jwks = files.oversized("big.json", cognito_ext_authz::token::keys::MAX_JWKS_BYTES);
    let token = files.oversized(
        "big.jwt",
        cognito_ext_authz::token::verify::MAX_TOKEN_BYTES + 1024,
    );
    let tests_file = files.oversized(
        "big-tests.yaml",
        cognito_ext_authz::policytest::MAX_TESTS_BYTES,
    );
    let policy_file = files.oversized(
        "big-policy.yaml",
        cognito_ext_authz::policy::MAX_POLICY_BYTES,
    );
    for (args, file) in [
        (vec!["import".to_owned(), source.clone()], &source),
        (check("--jwks", jwks.clone()), &jwks),
        (check("--token-file", token.clone()), &token),
        (
            vec!["test".to_owned(), policy.clone(), tests_file.clone()],
            &tests_file,
        ),
        (
            vec!["test".to_owned(), policy_file.clone(), tests.clone()],
            &policy_file,
        ),
    ] {
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_refused(&args, &run(&argv), file, "allowed");
    }
}

/// `a:` followed by `depth` nested flow sequences: 80,000 levels took libyaml minutes.
fn deep_yaml(depth: usize) -> String {
    format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn deep_nesting_is_refused_before_a_parser_builds_it() {
    let files = Files::new();
    let dir: &Path = files.dir.path();
    let policy = files.path("policy.yaml");
    let source = write(dir, "deep.yaml", &deep_yaml(80_000))
        .display()
        .to_string();
    let r = run(&["import", &source]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains(&source)
            && r.stderr
                .contains("nested deeper than the 128 levels allowed"),
        "{}",
        r.stderr
    );
    // The same in block style (`- - - ...`), and just past the limit.
    let compact = write(dir, "compact.yaml", &format!("{}x\n", "- ".repeat(129)))
        .display()
        .to_string();
    let r = run(&["import", &compact]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("nested deeper than the 128"),
        "{}",
        r.stderr
    );
    // At the limit, the nesting is no reason to refuse (the source is then not an API).
    let at_limit = write(dir, "ok.yaml", &format!("{}x\n", "- ".repeat(128)))
        .display()
        .to_string();
    let r = run(&["import", &at_limit]);
    assert!(!r.stderr.contains("nested deeper"), "{}", r.stderr);

    // A tests file (its token claims are free-form) and a key set, as deep.
    let tests = write(
        dir,
        "deep-tests.yaml",
        &format!(
            "tests:\n  - name: deep\n    request: {{ method: GET, path: /users }}\n    token: {{ claims: {{ a: {}{} }} }}\n    expect: {{ status: 401 }}\n",
            "[".repeat(200),
            "]".repeat(200)
        ),
    )
    .display()
    .to_string();
    let r = run(&["test", &policy, &tests]);
    assert_refused(&["test".to_owned()], &r, &tests, "Depth { depth: 129 }");
    let jwks = write(
        dir,
        "deep.json",
        &format!("{{\"keys\": {}{}}}", "[".repeat(80_000), "]".repeat(80_000)),
    )
    .display()
    .to_string();
    let args = [
        "check", "--policy", &policy, "--method", "GET", "--path", "/users", "--jwks", &jwks,
    ];
    let r = run(&args);
    assert_refused(&["check".to_owned()], &r, &jwks, "recursion limit exceeded");
}
