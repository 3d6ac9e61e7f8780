//! `validate`: the policy (and revocation list) checked with the service's own loader, the
//! route table printed as the service will match it, and with `--online` every pool's key
//! set fetched as `serve` would.

use std::process::ExitCode;

pub(crate) fn validate(path: &std::path::Path, revocations: Option<&std::path::Path>) -> ExitCode {
    let policy_ok = validate_policy(path);
    let revocations_ok = revocations.is_none_or(validate_revocations);
    if policy_ok && revocations_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `validate --online`: fetches every pool's key set with the service's own fetcher and
/// limits (timeout `AUTHZ_JWKS_TIMEOUT_SECONDS`, 5 s by default; the service's trust
/// store), one line per pool; fails naming each pool whose keys cannot be had.
pub(crate) fn validate_online(path: &std::path::Path) -> ExitCode {
    use cognito_ext_authz::keys::KeyFetcher;
    use cognito_ext_authz::token::keys::KeyError;
    let Ok(policy) = cognito_ext_authz::files::load_policy(path) else {
        return ExitCode::FAILURE;
    };
    let timeout = match std::env::var("AUTHZ_JWKS_TIMEOUT_SECONDS") {
        Ok(v) => match v.parse::<u64>() {
            Ok(n @ 1..=60) => std::time::Duration::from_secs(n),
            _ => {
                eprintln!("error: AUTHZ_JWKS_TIMEOUT_SECONDS={v:?}: seconds from 1 to 60");
                return ExitCode::from(2);
            }
        },
        Err(_) => std::time::Duration::from_secs(5),
    };
    let fetcher = match KeyFetcher::new(timeout) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot build the key fetcher: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match super::one_shot_runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut failed = 0;
    for pool in policy.pools.iter() {
        match runtime.block_on(fetcher.fetch(&pool.jwks_uri)) {
            Ok(keys) => println!(
                "  pool {}: {} key(s) from {}",
                pool.id,
                keys.len(),
                pool.jwks_uri
            ),
            Err(e) => {
                failed += 1;
                let hint = match e {
                    KeyError::Status(400..=499) if e.is_definitive() => {
                        "does this pool exist in this region and account?"
                    }
                    _ if e.is_definitive() => "the URL does not serve a usable key set",
                    _ => "is the key set URL reachable from here?",
                };
                eprintln!(
                    "error: pool {}: {} from {}: {hint}",
                    pool.id, e, pool.jwks_uri
                );
            }
        }
    }
    // A key set URL whose name never resolves leaves a lookup running on a blocking
    // thread: the command ends at once, not when the system resolver gives up.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    if failed == 0 {
        println!("{}: every user pool's keys fetched", path.display());
        ExitCode::SUCCESS
    } else {
        eprintln!("{}: {failed} pool(s) without keys", path.display());
        ExitCode::FAILURE
    }
}

/// `validate --revocations`: a summary line, or every error with its place.
fn validate_revocations(path: &std::path::Path) -> bool {
    match cognito_ext_authz::files::load_revocations(path) {
        Ok(list) => {
            println!(
                "{}: valid revocation list: {}",
                path.display(),
                list.summary()
            );
            true
        }
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{}: {} error(s)", path.display(), errors.errors.len());
            false
        }
    }
}

fn validate_policy(path: &std::path::Path) -> bool {
    match cognito_ext_authz::files::load_policy(path) {
        Ok(policy) => {
            println!("{}: valid", path.display());
            println!("{}", policy.summary());
            for route in policy.routes.routes() {
                let needs = if route.is_public() {
                    "public (no token)".to_owned()
                } else if route.is_deny() {
                    "denied (auth: deny)".to_owned()
                } else {
                    use cognito_ext_authz::policy::model::TokenUse;
                    let mut needs = match route.token_use {
                        TokenUse::Access => "valid access token",
                        TokenUse::Id => "valid ID token",
                    }
                    .to_owned();
                    if !route.scopes.is_empty() {
                        needs
                            .push_str(&format!(" with any scope of [{}]", route.scopes.join(", ")));
                    }
                    if !route.groups.is_empty() {
                        needs.push_str(&format!(" and any group of [{}]", route.groups.join(", ")));
                    }
                    needs
                };
                let dry_run = if route.dry_run { " [dry run]" } else { "" };
                let from = match &route.file {
                    Some(file) => format!(" ({file})"),
                    None => String::new(),
                };
                println!(
                    "  {:<30} {:<28} {needs}{dry_run}{from}",
                    route.name,
                    route.template.to_string()
                );
            }
            true
        }
        Err(errors) => {
            print_errors(&errors);
            eprintln!("{}: {} error(s)", path.display(), errors.errors.len());
            false
        }
    }
}

/// Every error, one `error: ` line each (a policy or revocation list gives one per place).
pub(crate) fn print_errors(errors: &impl std::fmt::Display) {
    for line in errors.to_string().lines() {
        eprintln!("error: {line}");
    }
}
