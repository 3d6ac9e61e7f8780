//! A policy folder: several policy files (one per team or API) in force as one policy.
//!
//! Each file is a whole policy as a single file would be (its own pools, authorizers and
//! routes), checked on its own first. Then the files are merged:
//!
//! - **Authorizers** keep their files: `default` in `team-a.yaml` becomes the authorizer
//!   `team-a.yaml/default`, and each route takes its own file's authorizer. Two files
//!   may trust the same pool (one key set); they may not describe it differently.
//! - **Routes** are pooled; two files that claim the same host, method and path, or give
//!   two routes the same name, are refused with both places named.
//! - **Settings that apply to every request** (`defaultAction`, `dryRunUnsafeRequests`,
//!   `insufficientScopeStatus`, `leewaySeconds`, `gatewayResponses`, `claimHeaders`) must
//!   agree in every file that states them (`defaultAction` in every file: a file that
//!   says nothing says `deny`).
//! - **`mode: dryRun`** applies to its own file's routes; requests no route matches are
//!   let through as `would_deny` only when every file is in dry run.
//!
//! Which version of each file is in force when one is broken is the caller's choice (the
//! service keeps each file's last good version); [`Policy::compile_folder`] is told
//! whether every file of the folder is among the parts. When one is missing, a request no
//! route matches is denied whatever `defaultAction` says: it may be one of the missing
//! file's routes, and a route must never be answered by an `allow` it did not write.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Policy;
use super::model::{AuthMode, AuthorizerConfig, DefaultAction, Mode, PolicyFile};
use super::table::RoutePlace;
use crate::errors::{FileErrors, Located};

/// One file of a policy folder: its name in the folder and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPart {
    /// The file's name in the folder (`team-a.yaml`).
    pub name: Arc<str>,
    /// The file, parsed.
    pub file: PolicyFile,
}

impl PolicyPart {
    /// Parses one file of a folder; errors carry no file (the caller names it).
    pub fn parse(name: &str, text: &str) -> Result<PolicyPart, FileErrors> {
        let file = super::parse_yaml(text)?;
        // Checked on its own first, so its errors are its own, placed in its own lines.
        Policy::compile(&file)?;
        Ok(PolicyPart {
            name: Arc::from(name),
            file,
        })
    }
}

impl Policy {
    /// Compiles the files of a policy folder as one policy (see the module's rules).
    /// `complete`: every file of the folder is among `parts`; when not, requests no
    /// route matches are denied whatever `defaultAction` says. Errors name their files.
    pub fn compile_folder(parts: &[PolicyPart], complete: bool) -> Result<Policy, FileErrors> {
        if parts.is_empty() {
            return Err(FileErrors::one(
                "the policy folder holds no policy file (*.yaml, *.yml)",
            ));
        }
        let mut errors = Vec::new();
        let agreed = agree(parts, &mut errors);
        if !errors.is_empty() {
            return Err(FileErrors { file: None, errors });
        }
        let all_dry_run = parts.iter().all(|p| p.file.mode == Mode::DryRun);
        let mut merged = PolicyFile {
            user_pools: Vec::new(),
            token_source: Default::default(),
            authorizers: BTreeMap::new(),
            default_authorizer: None,
            claim_headers: agreed.claim_headers,
            default_action: if complete {
                agreed.default_action
            } else {
                DefaultAction::Deny
            },
            mode: if all_dry_run {
                Mode::DryRun
            } else {
                Mode::Enforce
            },
            dry_run_unsafe_requests: agreed.dry_run_unsafe_requests,
            insufficient_scope_status: agreed.insufficient_scope_status,
            gateway_responses: agreed.gateway_responses,
            leeway_seconds: agreed.leeway_seconds,
            routes: Vec::new(),
        };
        let mut places = Vec::new();
        for part in parts {
            let file = &part.file;
            let own = authorizers_of(file);
            let default = match &file.default_authorizer {
                Some(name) => Some(name.clone()),
                None if own.len() == 1 => own.keys().next().cloned(),
                None => None,
            };
            let qualified = |name: &str| format!("{}/{name}", part.name);
            for (name, config) in own {
                merged.authorizers.insert(qualified(&name), config);
            }
            for (index, route) in file.routes.iter().enumerate() {
                let mut route = route.clone();
                let reads_token = !matches!(route.auth, Some(AuthMode::None | AuthMode::Deny));
                if reads_token {
                    route.authorizer = route
                        .authorizer
                        .as_deref()
                        .or(default.as_deref())
                        .map(qualified);
                    // The file's own dry run, where the merged policy does not give it.
                    if file.mode == Mode::DryRun && !all_dry_run && route.dry_run.is_none() {
                        route.dry_run = Some(true);
                    }
                }
                merged.routes.push(route);
                places.push(RoutePlace {
                    file: Some(part.name.clone()),
                    index,
                });
            }
        }
        Policy::compile_placed(&merged, &places)
    }
}

/// A file's authorizers by name, in either form (the single-authorizer form is one
/// authorizer named `default`).
fn authorizers_of(file: &PolicyFile) -> BTreeMap<String, AuthorizerConfig> {
    if !file.authorizers.is_empty() {
        return file.authorizers.clone();
    }
    BTreeMap::from([(
        "default".to_owned(),
        AuthorizerConfig {
            user_pools: file.user_pools.clone(),
            token_source: file.token_source.clone(),
            ..AuthorizerConfig::default()
        },
    )])
}

/// The settings that apply to every request, as the files agree on them.
struct Agreed {
    default_action: DefaultAction,
    dry_run_unsafe_requests: bool,
    insufficient_scope_status: Option<u16>,
    leeway_seconds: Option<u64>,
    gateway_responses: BTreeMap<String, super::responses::GatewayResponseConfig>,
    claim_headers: BTreeMap<String, String>,
}

/// The one value the files that state a setting give it; a file that gives another value
/// is an error naming both files. `stated` is `None` for a file that does not state it.
fn one_value<T: PartialEq + Clone + std::fmt::Debug>(
    parts: &[PolicyPart],
    key: &str,
    stated: impl Fn(&PolicyFile) -> Option<T>,
    errors: &mut Vec<Located>,
) -> Option<T> {
    let mut first: Option<(&str, T)> = None;
    for part in parts {
        let Some(value) = stated(&part.file) else {
            continue;
        };
        match &first {
            None => first = Some((&part.name, value)),
            Some((owner, agreed)) if *agreed != value => errors.push(Located::new(part.name.to_string(), format!("{key} differs from {owner}'s; it applies to every request, so the files of a folder that state it must agree"))),
            Some(_) => {}
        }
    }
    first.map(|(_, value)| value)
}

fn agree(parts: &[PolicyPart], errors: &mut Vec<Located>) -> Agreed {
    let nonempty = |map: &BTreeMap<String, String>| (!map.is_empty()).then(|| map.clone());
    Agreed {
        default_action: one_value(parts, "defaultAction", |f| Some(f.default_action), errors)
            .unwrap_or_default(),
        dry_run_unsafe_requests: one_value(
            parts,
            "dryRunUnsafeRequests",
            |f| Some(f.dry_run_unsafe_requests),
            errors,
        )
        .unwrap_or_default(),
        insufficient_scope_status: one_value(
            parts,
            "insufficientScopeStatus",
            |f| f.insufficient_scope_status,
            errors,
        ),
        leeway_seconds: one_value(parts, "leewaySeconds", |f| f.leeway_seconds, errors),
        gateway_responses: one_value(
            parts,
            "gatewayResponses",
            |f| (!f.gateway_responses.is_empty()).then(|| f.gateway_responses.clone()),
            errors,
        )
        .unwrap_or_default(),
        claim_headers: one_value(
            parts,
            "claimHeaders",
            |f| nonempty(&f.claim_headers),
            errors,
        )
        .unwrap_or_default(),
    }
}

/// One file of the folder as it reads now: its name, and what parsing it gave.
#[derive(Debug)]
pub struct FileVersion {
    /// The file's name in the folder.
    pub name: Arc<str>,
    /// The file, or why it cannot be taken (unreadable, invalid YAML, an invalid policy).
    pub parsed: Result<PolicyPart, FileErrors>,
}

/// The versions of a folder's files in force: each file's newest version that parses and
/// agrees with the others, or its last good one, or none (a file that was never good).
#[derive(Debug, Default)]
pub struct FolderState {
    in_force: BTreeMap<Arc<str>, PolicyPart>,
    complete: bool,
}

/// What one reading of the folder changed.
#[derive(Debug)]
pub struct FolderUpdate {
    /// The new policy, when what is in force changed (a file taken, added or removed).
    pub policy: Option<Policy>,
    /// The files whose newest version was taken.
    pub taken: Vec<Arc<str>>,
    /// The files whose newest version was refused, with why; each keeps its last good
    /// version, or has none in force.
    pub refused: Vec<(Arc<str>, FileErrors)>,
    /// The files with no version in force (never good): their routes are absent and
    /// requests no route matches are denied.
    pub missing: Vec<Arc<str>>,
}

impl FolderState {
    /// The names of the files in force.
    pub fn in_force(&self) -> impl Iterator<Item = &str> {
        self.in_force.keys().map(|k| &**k)
    }

    /// Takes a new reading of the folder (`files`: every policy file it holds now, each
    /// once). A file that was removed leaves; a file that does not parse, or conflicts
    /// with the files already in force, is refused and keeps its last good version. New
    /// versions are tried together first, then one at a time in name order, so a refusal
    /// names the file that brought the conflict. Errs when no file at all could be taken.
    pub fn update(&mut self, files: Vec<FileVersion>) -> Result<FolderUpdate, FileErrors> {
        if files.is_empty() {
            return Err(FileErrors::one(
                "the policy folder holds no policy file (*.yaml, *.yml)",
            ));
        }
        let present: Vec<Arc<str>> = files.iter().map(|f| f.name.clone()).collect();
        let mut accepted: BTreeMap<Arc<str>, PolicyPart> = self
            .in_force
            .iter()
            .filter(|(name, _)| present.contains(name))
            .map(|(name, part)| (name.clone(), part.clone()))
            .collect();
        let mut refused = Vec::new();
        let mut changed = Vec::new();
        for file in files {
            match file.parsed {
                Err(errors) => refused.push((file.name, errors)),
                Ok(part) if accepted.get(&file.name) != Some(&part) => changed.push(part),
                Ok(_) => {}
            }
        }
        let compiles = |set: &BTreeMap<Arc<str>, PolicyPart>| {
            let parts: Vec<PolicyPart> = set.values().cloned().collect();
            Policy::compile_folder(&parts, true)
        };
        let mut together = accepted.clone();
        for part in &changed {
            together.insert(part.name.clone(), part.clone());
        }
        let mut taken = Vec::new();
        if changed.is_empty() || compiles(&together).is_ok() {
            taken = changed.iter().map(|p| p.name.clone()).collect();
            accepted = together;
        } else {
            for part in changed {
                let mut trial = accepted.clone();
                trial.insert(part.name.clone(), part.clone());
                match compiles(&trial) {
                    Ok(_) => {
                        taken.push(part.name.clone());
                        accepted = trial;
                    }
                    Err(errors) => refused.push((part.name, errors)),
                }
            }
        }
        if accepted.is_empty() {
            let mut all = FileErrors {
                file: None,
                errors: Vec::new(),
            };
            for (name, errors) in &refused {
                all.errors
                    .extend(errors.errors.iter().map(|e| e.clone().within(name)));
            }
            return Err(all);
        }
        let missing: Vec<Arc<str>> = present
            .iter()
            .filter(|name| !accepted.contains_key(*name))
            .cloned()
            .collect();
        let complete = missing.is_empty();
        let policy = if accepted != self.in_force || complete != self.complete {
            let parts: Vec<PolicyPart> = accepted.values().cloned().collect();
            // Every part compiled with the others above; only the default action differs.
            let policy = Policy::compile_folder(&parts, complete)?;
            self.in_force = accepted;
            self.complete = complete;
            Some(policy)
        } else {
            None
        };
        refused.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(FolderUpdate {
            policy,
            taken,
            refused,
            missing,
        })
    }
}

#[cfg(test)]
#[path = "folder_tests.rs"]
mod tests;
