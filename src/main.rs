//! The `cognito-ext-authz` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::settings::{LogFormat, Settings};

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
    },
    /// Parse and compile a policy file; print a summary, or every error with its place.
    Validate {
        /// The policy file.
        policy: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            admin,
            policy,
        } => serve(listen, admin, policy),
        Command::Validate { policy } => validate(&policy),
    }
}

fn serve(
    listen: Option<std::net::SocketAddr>,
    admin: Option<std::net::SocketAddr>,
    policy: Option<PathBuf>,
) -> ExitCode {
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
    init_logging(settings.log_format);
    for w in warnings {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
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

fn validate(path: &std::path::Path) -> ExitCode {
    match Policy::load(path) {
        Ok(policy) => {
            println!("{}: valid", path.display());
            println!("{}", policy.summary());
            for route in policy.routes.routes() {
                let needs = if route.public {
                    "public (no token)".to_owned()
                } else {
                    let mut needs = "valid access token".to_owned();
                    if !route.scopes.is_empty() {
                        needs
                            .push_str(&format!(" with any scope of [{}]", route.scopes.join(", ")));
                    }
                    if !route.groups.is_empty() {
                        needs.push_str(&format!(" and any group of [{}]", route.groups.join(", ")));
                    }
                    needs
                };
                println!("  {:<30} {:<28} {needs}", route.name, route.template);
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error: {e}");
            }
            eprintln!("{}: {} error(s)", path.display(), errors.0.len());
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}
