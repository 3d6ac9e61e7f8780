//! The `cognito-ext-authz` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cognito_ext_authz::explain::{CheckOptions, TokenInput};
use cognito_ext_authz::settings::Settings;

mod cli;

use cli::validate::{print_errors, validate, validate_online};
use cognito_ext_authz::observe;

/// mimalloc rather than the libc allocator: fast under concurrent allocation with glibc and
/// with musl alike (the container image is a static musl build, whose own allocator
/// serialises threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

unsafe extern "C" {
    /// mimalloc's own: frees the calling thread's empty pages and gives purged memory back
    /// to the system.
    fn mi_collect(force: bool);
}

/// Run by each worker thread as it goes idle, at most once a second: mimalloc gives a
/// thread's freed pages back only when that thread allocates again, so after a flood of
/// connections an idle worker would keep their memory (measured: 138 MiB kept after a
/// flood that took the service from 24 MiB to 540 MiB).
fn give_back_freed_memory() {
    use std::cell::Cell;
    use std::time::{Duration, Instant};
    thread_local!(static LAST: Cell<Option<Instant>> = const { Cell::new(None) });
    let now = Instant::now();
    if LAST
        .get()
        .is_some_and(|last| now.duration_since(last) < Duration::from_secs(1))
    {
        return;
    }
    LAST.set(Some(now));
    // SAFETY: mi_collect takes no pointer and may be called from any thread at any time.
    unsafe { mi_collect(true) };
}

/// Envoy/Istio external authorization with the policy of an API Gateway Cognito authorizer.
#[derive(Parser)]
#[command(name = "cognito-ext-authz", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve envoy.service.auth.v3.Authorization/Check (settings from AUTHZ_* variables).
    #[command(after_long_help = cognito_ext_authz::settings::spec::help_text())]
    Serve {
        /// gRPC address (overrides AUTHZ_LISTEN_ADDR).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Admin HTTP address for /metrics, /healthz, /readyz (overrides AUTHZ_ADMIN_ADDR).
        #[arg(long, value_name = "ADDR")]
        admin: Option<std::net::SocketAddr>,
        /// Policy file (overrides AUTHZ_POLICY_PATH).
        #[arg(long, value_name = "PATH")]
        policy: Option<PathBuf>,
        /// Revocation list file (overrides AUTHZ_REVOCATIONS_PATH).
        #[arg(long, value_name = "PATH")]
        revocations: Option<PathBuf>,
    },
    /// Parse and compile a policy file (and a revocation list); print a summary, or every
    /// error with its place.
    Validate {
        /// The policy file.
        policy: PathBuf,
        /// Also check this revocation list (the file AUTHZ_REVOCATIONS_PATH names).
        #[arg(long, value_name = "FILE")]
        revocations: Option<PathBuf>,
        /// Also fetch every user pool's key set, as `serve` would, and name each pool whose
        /// keys cannot be had (a pool id that does not exist, no egress): needs network.
        #[arg(long)]
        online: bool,
    },
    /// Decide one request offline with the real pipeline and explain the decision
    /// (exit 0 allow, 1 deny, 2 usage or input error).
    Check {
        /// The policy file.
        #[arg(long, value_name = "FILE")]
        policy: PathBuf,
        /// HTTP method.
        #[arg(long)]
        method: String,
        /// Request path, query string allowed.
        #[arg(long)]
        path: String,
        /// Host (:authority); without it only routes that take any host can match.
        #[arg(long, default_value = "")]
        host: String,
        /// The token header's value: a JWT, or `Bearer <jwt>`. Prefer --token-file: a
        /// command line is visible to other users of the machine.
        #[arg(long, value_name = "T", conflicts_with = "token_file")]
        token: Option<String>,
        /// A file holding the token header's value (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        token_file: Option<PathBuf>,
        /// A JWKS file used as every user pool's key set, instead of fetching them.
        #[arg(long, value_name = "FILE")]
        jwks: Option<PathBuf>,
        /// A revocation list to look the token up in, as `serve` does.
        #[arg(long, value_name = "FILE")]
        revocations: Option<PathBuf>,
    },
    /// Translate an API Gateway definition (Serverless, OpenAPI, CloudFormation/SAM) into a
    /// policy on stdout, with a report of every difference on stderr (exit 0 complete,
    /// 3 written with placeholders, or denied or left-out methods to fix, 2 unreadable source).
    Import {
        /// The serverless.yml, OpenAPI export or CloudFormation/SAM template.
        file: PathBuf,
        /// The source format; detected from the file when omitted.
        #[arg(long, value_enum)]
        format: Option<ImportFormat>,
        /// Also write policy tests pinning each imported method to API Gateway's answers
        /// (run them with `test`).
        #[arg(long, value_name = "FILE")]
        tests: Option<PathBuf>,
    },
    /// Run a policy's test cases offline with the real pipeline, with keys made for the run
    /// standing in for every pool's (exit 0 all passed, 1 a case failed, 2 input error).
    Test {
        /// The policy file.
        policy: PathBuf,
        /// The tests file (`tests:` cases: request, token, expect).
        tests: PathBuf,
        /// Also write the results as JUnit XML to this file.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// A revocation list in force for the run (tokens of kind `revoked` are always
        /// revoked, by an entry made for the run).
        #[arg(long, value_name = "FILE")]
        revocations: Option<PathBuf>,
        /// Also write what the policy answered each case (status, reason, route, body), as
        /// a JSON list in case order, whatever the expectations say.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
    },
    /// Work on a revocation list file.
    Revocations {
        #[command(subcommand)]
        command: RevocationsCommand,
    },
}

#[derive(Subcommand)]
enum RevocationsCommand {
    /// Remove the entries every token of which must have expired, and write the file back
    /// in one step (exit 0 written or nothing to remove, 1 invalid file, 2 other errors).
    Prune {
        /// The revocation list file (a regular file: the source of the ConfigMap, not its
        /// read-only mount).
        file: PathBuf,
        /// The longest lifetime of the tokens the list revokes (access and ID tokens of
        /// every app client): 1d, 24h, 90m, 3600s or seconds. Cognito allows at most 1 day.
        #[arg(long, value_name = "DURATION", default_value = "1d")]
        max_token_lifetime: String,
        /// Print what would be removed without writing the file.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `import --format`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportFormat {
    Serverless,
    Openapi,
    Cloudformation,
}

impl From<ImportFormat> for cognito_ext_authz::import::Format {
    fn from(f: ImportFormat) -> Self {
        use cognito_ext_authz::import::Format;
        match f {
            ImportFormat::Serverless => Format::Serverless,
            ImportFormat::Openapi => Format::OpenApi,
            ImportFormat::Cloudformation => Format::CloudFormation,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            admin,
            policy,
            revocations,
        } => serve(listen, admin, policy, revocations),
        Command::Validate {
            policy,
            revocations,
            online,
        } => {
            let valid = validate(&policy, revocations.as_deref());
            if valid == ExitCode::SUCCESS && online {
                validate_online(&policy)
            } else {
                valid
            }
        }
        Command::Check {
            policy,
            method,
            path,
            host,
            token,
            token_file,
            jwks,
            revocations,
        } => check(CheckOptions {
            policy,
            method,
            path,
            host,
            token: match (token, token_file) {
                (Some(t), _) => TokenInput::Value(t),
                (None, Some(f)) => TokenInput::File(f),
                (None, None) => TokenInput::None,
            },
            jwks,
            revocations,
        }),
        Command::Import {
            file,
            format,
            tests,
        } => import(&file, format.map(Into::into), tests.as_deref()),
        Command::Test {
            policy,
            tests,
            junit,
            revocations,
            answers,
        } => test(
            &policy,
            &tests,
            junit.as_deref(),
            revocations.as_deref(),
            answers.as_deref(),
        ),
        Command::Revocations {
            command:
                RevocationsCommand::Prune {
                    file,
                    max_token_lifetime,
                    dry_run,
                },
        } => prune(&file, &max_token_lifetime, dry_run),
    }
}

fn prune(file: &std::path::Path, max_token_lifetime: &str, dry_run: bool) -> ExitCode {
    use crate::cli::prune;
    use cognito_ext_authz::files::read_revocations_text;
    use cognito_ext_authz::token::access::{now_unix, utc};
    let lifetime = match prune::parse_duration(max_token_lifetime) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: --max-token-lifetime: {e}");
            return ExitCode::from(2);
        }
    };
    let parsed = read_revocations_text(file).and_then(|text| {
        let parsed =
            cognito_ext_authz::revocation::parse_file(&text).map_err(|e| e.in_file(file))?;
        let plan = prune::plan(&parsed, lifetime, now_unix()).map_err(|e| e.in_file(file))?;
        Ok(plan)
    });
    let plan = match parsed {
        Ok(p) => p,
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{}: not pruned", file.display());
            return ExitCode::FAILURE;
        }
    };
    for removed in &plan.removed {
        let e = &removed.entry;
        println!(
            "removed {e}: {} {} (every token it matches expired by {}){}",
            e.kind.name(),
            e.value,
            utc(removed.expired_by),
            e.reason
                .as_deref()
                .map_or(String::new(), |r| format!("; reason: {r}"))
        );
    }
    if plan.undated > 0 {
        println!(
            "kept {} jti/originJti entr{} without addedAt: when their tokens expire is unknown (add addedAt to let prune remove them)",
            plan.undated,
            if plan.undated == 1 { "y" } else { "ies" }
        );
    }
    let summary = format!(
        "{}: {} removed, {} kept (tokens living at most {lifetime} s)",
        file.display(),
        plan.removed.len(),
        plan.kept.len()
    );
    if dry_run || plan.removed.is_empty() {
        println!(
            "{summary}; {}",
            if dry_run {
                "dry run, file not written"
            } else {
                "nothing to remove, file not written"
            }
        );
        return ExitCode::SUCCESS;
    }
    let written = prune::render(&plan.kept).and_then(|text| prune::write_atomically(file, &text));
    match written {
        Ok(()) => {
            println!("{summary}; written");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn test(
    policy: &std::path::Path,
    tests: &std::path::Path,
    junit: Option<&std::path::Path>,
    revocations: Option<&std::path::Path>,
    answers: Option<&std::path::Path>,
) -> ExitCode {
    let runtime = match cli::one_shot_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let report = match runtime.block_on(cognito_ext_authz::policytest::run_files(
        policy,
        tests,
        revocations,
    )) {
        Ok(r) => r,
        Err(e) => {
            print_errors(&e);
            return ExitCode::from(2);
        }
    };
    print!("{}", report.render());
    if let Some(path) = junit {
        let xml =
            cognito_ext_authz::policytest::junit::to_xml(&report, &tests.display().to_string());
        if let Err(e) = std::fs::write(path, xml) {
            eprintln!("error: {}: cannot write: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if let Some(path) = answers {
        let observed: Vec<_> = report.results.iter().map(|r| &r.answer).collect();
        let written = serde_json::to_string_pretty(&observed)
            .map_err(|e| e.to_string())
            .and_then(|json| std::fs::write(path, json).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!("error: {}: cannot write: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if report.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn check(options: CheckOptions) -> ExitCode {
    let runtime = match cli::one_shot_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(cognito_ext_authz::explain::check(&options)) {
        Ok(explanation) => {
            print!("{explanation}");
            if explanation.allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn import(
    file: &std::path::Path,
    format: Option<cognito_ext_authz::import::Format>,
    tests: Option<&std::path::Path>,
) -> ExitCode {
    let text = match cognito_ext_authz::files::read_text(
        file,
        cognito_ext_authz::import::MAX_SOURCE_BYTES,
    ) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: cannot read: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let translation = match cognito_ext_authz::import::translate(&text, format) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return ExitCode::from(2);
        }
    };
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let yaml = match translation.to_yaml(&name) {
        Ok(y) => y,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(path) = tests {
        let written = translation
            .to_tests_yaml(&name)
            .map_err(|e| e.to_string())
            .and_then(|(text, count)| {
                std::fs::write(path, text)
                    .map(|()| count)
                    .map_err(|e| format!("{}: cannot write: {e}", path.display()))
            });
        match written {
            Ok(count) => eprintln!("{}: {count} policy test(s) written", path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    print!("{yaml}");
    for note in &translation.notes {
        eprintln!("{note}");
    }
    eprintln!(
        "{}: imported as {}: {} route(s), {} authorizer(s), {} user pool(s), {} note(s)",
        file.display(),
        translation.format,
        translation.policy.routes.len(),
        translation.policy.authorizers.len(),
        translation.pool_count(),
        translation.notes.len()
    );
    if translation.is_complete() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{}: INCOMPLETE: fix the [unresolved] notes (placeholder pools, denied or left-out methods) before deploying",
            file.display()
        );
        ExitCode::from(3)
    }
}

fn serve(
    listen: Option<std::net::SocketAddr>,
    admin: Option<std::net::SocketAddr>,
    policy: Option<PathBuf>,
    revocations: Option<PathBuf>,
) -> ExitCode {
    // First, before the heap grows: idle connections then cost half the memory.
    cognito_ext_authz::listen::disable_transparent_huge_pages();
    let (mut settings, warnings) = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    settings.listen_addr = listen.unwrap_or(settings.listen_addr);
    settings.admin_addr = admin.unwrap_or(settings.admin_addr);
    settings.policy_path = policy.unwrap_or(settings.policy_path);
    settings.revocations_path = revocations.or(settings.revocations_path);
    // Sends the spans and flushes the log lines still queued when serve returns.
    let _observability = observe::start(settings.log_format, settings.log_queue_lines);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.on_thread_park(give_back_freed_memory);
    if let Some(n) = settings.worker_threads {
        runtime.worker_threads(n);
    }
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cognito_ext_authz::server::serve(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
