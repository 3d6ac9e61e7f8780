//! A policy folder: several policy files (one per team or API) in force as one policy.
//!
//! Each file is a whole policy as a single file would be (its own pools, authorizers and
//! routes), checked on its own first. Then the files are merged:
//!
//! - **Authorizers** keep their files: `default` in `team-a.yaml` becomes the authorizer
//!   `team-a.yaml/default`, and each route takes its own file's authorizer. Two files
//!   may trust the same pool (one key set); they may not describe it differently.
//! - **Routes never overlap across files**: a route that could match a request another
//!   file's route could match (same or overlapping hosts, methods and path) is refused
//!   with both places named, so each request belongs to one file's routes and no file's
//!   route can take precedence over another file's. Explicit route names are unique too.
//! - **Settings that apply to every request** (`defaultAction`, `dryRunUnsafeRequests`,
//!   `insufficientScopeStatus`, `leewaySeconds`, `gatewayResponses`, `claimHeaders`) must
//!   be the same in every file; a file that does not state one says its default.
//! - **`mode: dryRun`** applies to its own file's routes; requests no route matches are
//!   let through as `would_deny` only when every file is in dry run and in force.
//!
//! Which version of each file is in force when one is broken is [`FolderState`]'s: each
//! file's newest version when it is valid and conflicts with nothing, else its last good
//! one, else none. [`Policy::compile_folder`] is told whether every file's newest version
//! is among the parts; when not, a request no route matches is denied whatever
//! `defaultAction` says: it may be one of the routes that are not in force.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::model::{AuthMode, AuthorizerConfig, DefaultAction, Mode, PolicyFile};
use super::table::{HostPattern, RoutePlace};
use super::template::{PathTemplate, Segment};
use super::{Policy, Pool};
use crate::errors::{FileErrors, Located};

/// One file of a policy folder: its name in the folder and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyPart {
    /// The file's name in the folder (`team-a.yaml`).
    pub name: Arc<str>,
    /// The file, parsed.
    pub file: PolicyFile,
    /// What its routes match and its pools are, to find conflicts with other files
    /// without compiling them together.
    claims: Arc<[Claim]>,
    pools: Arc<[Pool]>,
}

/// What one route matches, as another file's route must not.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    /// Its index in the file's `routes` and its name.
    index: usize,
    name: Arc<str>,
    /// Whether the name was written (not made from the method and path).
    named: bool,
    hosts: Vec<HostPattern>,
    /// Empty: any method.
    methods: Vec<String>,
    template: PathTemplate,
}

impl Claim {
    /// The path's first segment when it is a literal (`None`: a parameter, or `/`).
    fn first_literal(&self) -> Option<&str> {
        match self.template.segments().first() {
            Some(Segment::Literal(first)) => Some(first),
            _ => None,
        }
    }

    fn place(&self, file: &str) -> String {
        format!("{file}: routes[{}] ({})", self.index, self.name)
    }

    /// Whether some request could match both routes.
    fn overlaps(&self, other: &Claim) -> bool {
        let methods = self.methods.is_empty()
            || other.methods.is_empty()
            || self.methods.iter().any(|m| other.methods.contains(m));
        methods
            && self
                .hosts
                .iter()
                .any(|h| other.hosts.iter().any(|o| hosts_overlap(h, o)))
            && paths_overlap(self.template.segments(), other.template.segments())
    }
}

/// Whether some host matches both patterns.
fn hosts_overlap(a: &HostPattern, b: &HostPattern) -> bool {
    use HostPattern::{Any, Exact, Suffix};
    match (a, b) {
        (Any, _) | (_, Any) => true,
        (Exact(x), Exact(y)) => x == y,
        (Exact(h), Suffix(s)) | (Suffix(s), Exact(h)) => {
            h.len() > s.len() && h.ends_with(s.as_str())
        }
        (Suffix(x), Suffix(y)) => x.ends_with(y.as_str()) || y.ends_with(x.as_str()),
    }
}

/// Whether some path matches both templates.
fn paths_overlap(a: &[Segment], b: &[Segment]) -> bool {
    match (a.split_first(), b.split_first()) {
        (None, None) => true,
        // `{proxy+}` takes one or more segments: whatever the other still needs.
        (Some((Segment::Greedy(_), _)), Some(_)) | (Some(_), Some((Segment::Greedy(_), _))) => true,
        (None, Some(_)) | (Some(_), None) => false,
        (Some((Segment::Literal(x), a)), Some((Segment::Literal(y), b))) => {
            x == y && paths_overlap(a, b)
        }
        (Some((_, a)), Some((_, b))) => paths_overlap(a, b),
    }
}

impl PolicyPart {
    /// Parses one file of a folder; errors carry no file (the caller names it).
    pub fn parse(name: &str, text: &str) -> Result<PolicyPart, FileErrors> {
        let file = super::parse_yaml(text)?;
        // Checked on its own first, so its errors are its own, placed in its own lines.
        let policy = Policy::compile(&file)?;
        let claims = policy
            .routes
            .routes()
            .iter()
            .map(|route| Claim {
                index: route.index,
                name: route.name.clone(),
                named: file.routes[route.index].name.is_some(),
                hosts: if route.hosts.is_empty() {
                    vec![HostPattern::Any]
                } else {
                    route
                        .hosts
                        .iter()
                        .map(|h| HostPattern::parse(h).unwrap_or(HostPattern::Any))
                        .collect()
                },
                methods: route.methods.clone(),
                template: route.template.clone(),
            })
            .collect();
        Ok(PolicyPart {
            name: Arc::from(name),
            claims,
            pools: policy.pools.iter().cloned().collect(),
            file,
        })
    }

    /// How many routes it has.
    pub fn routes(&self) -> usize {
        self.claims.len()
    }

    /// Why this file and `other` cannot be in force together, each problem placed in this
    /// file and naming the other's place: settings that differ, routes that overlap, a
    /// route name both use, a pool they describe differently.
    pub fn conflicts(&self, other: &PolicyPart) -> Vec<Located> {
        let mut out = Vec::new();
        for (key, differs) in Settings::of(&self.file).differences(&Settings::of(&other.file)) {
            if differs {
                out.push(Located::new(
                    self.name.to_string(),
                    format!(
                        "{key} differs from {}'s; it applies to every request, so every file of a folder must say the same (a file that does not state it says the default)",
                        other.name
                    ),
                ));
            }
        }
        // Routes whose paths start with different literals never overlap: only those
        // that start with the same literal, or with a parameter, are compared.
        let mut by_first: HashMap<Option<&str>, Vec<&Claim>> = HashMap::new();
        let mut named: HashMap<&str, &Claim> = HashMap::new();
        for theirs in other.claims.iter() {
            by_first
                .entry(theirs.first_literal())
                .or_default()
                .push(theirs);
            if theirs.named {
                named.insert(&theirs.name, theirs);
            }
        }
        let all: Vec<&Claim> = other.claims.iter().collect();
        let wild = by_first.get(&None).map_or(&[][..], Vec::as_slice);
        for mine in self.claims.iter() {
            let (same, wild) = match mine.first_literal() {
                Some(first) => (
                    by_first.get(&Some(first)).map_or(&[][..], Vec::as_slice),
                    wild,
                ),
                None => (all.as_slice(), &[][..]),
            };
            for theirs in same.iter().chain(wild) {
                if mine.overlaps(theirs) {
                    out.push(Located::new(
                        mine.place(&self.name),
                        format!(
                            "overlaps {} (a request could match both; in a folder each request belongs to one file's routes)",
                            theirs.place(&other.name)
                        ),
                    ));
                }
            }
            if let Some(theirs) = named.get(&*mine.name).filter(|_| mine.named) {
                out.push(Located::new(
                    format!("{}.name", mine.place(&self.name)),
                    format!(
                        "{:?} is already the name of {}",
                        &*mine.name,
                        theirs.place(&other.name)
                    ),
                ));
            }
        }
        for mine in self.pools.iter() {
            if let Some(theirs) = other
                .pools
                .iter()
                .find(|p| p.issuer == mine.issuer && **p != *mine)
            {
                out.push(Located::new(
                    self.name.to_string(),
                    format!(
                        "user pool {} (issuer {:?}) is described differently in {} (id {}, jwksUri {})",
                        mine.id, mine.issuer, other.name, theirs.id, theirs.jwks_uri
                    ),
                ));
            }
        }
        out
    }
}

/// The settings that apply to every request, each with its default where not stated.
#[derive(Debug, PartialEq)]
struct Settings<'f> {
    default_action: DefaultAction,
    dry_run_unsafe_requests: bool,
    insufficient_scope_status: u16,
    leeway_seconds: u64,
    gateway_responses: &'f BTreeMap<String, super::responses::GatewayResponseConfig>,
    claim_headers: &'f BTreeMap<String, String>,
}

impl<'f> Settings<'f> {
    fn of(file: &'f PolicyFile) -> Self {
        Settings {
            default_action: file.default_action,
            dry_run_unsafe_requests: file.dry_run_unsafe_requests,
            insufficient_scope_status: file
                .insufficient_scope_status
                .unwrap_or(super::model::DEFAULT_INSUFFICIENT_SCOPE_STATUS),
            leeway_seconds: file.leeway_seconds.unwrap_or(0),
            gateway_responses: &file.gateway_responses,
            claim_headers: &file.claim_headers,
        }
    }

    /// Each setting's key, and whether `other` gives it another value.
    fn differences(&self, other: &Settings<'_>) -> [(&'static str, bool); 6] {
        [
            ("defaultAction", self.default_action != other.default_action),
            (
                "dryRunUnsafeRequests",
                self.dry_run_unsafe_requests != other.dry_run_unsafe_requests,
            ),
            (
                "insufficientScopeStatus",
                self.insufficient_scope_status != other.insufficient_scope_status,
            ),
            ("leewaySeconds", self.leeway_seconds != other.leeway_seconds),
            (
                "gatewayResponses",
                self.gateway_responses != other.gateway_responses,
            ),
            ("claimHeaders", self.claim_headers != other.claim_headers),
        ]
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
        for (i, later) in parts.iter().enumerate() {
            for earlier in &parts[..i] {
                errors.extend(later.conflicts(earlier));
            }
        }
        if !errors.is_empty() {
            return Err(FileErrors { file: None, errors });
        }
        // Every file says the same of these (checked above): the first one's hold.
        let first = &parts[0].file;
        // Dry run of requests no route matches only when every file's newest version is in
        // force and in dry run: such a request may be one of a missing version's routes.
        let all_dry_run = parts.iter().all(|p| p.file.mode == Mode::DryRun);
        let merged_dry_run = all_dry_run && complete;
        let mut merged = PolicyFile {
            user_pools: Vec::new(),
            token_source: Default::default(),
            authorizers: BTreeMap::new(),
            default_authorizer: None,
            claim_headers: first.claim_headers.clone(),
            default_action: if complete {
                first.default_action
            } else {
                DefaultAction::Deny
            },
            mode: if merged_dry_run {
                Mode::DryRun
            } else {
                Mode::Enforce
            },
            dry_run_unsafe_requests: merged_dry_run && first.dry_run_unsafe_requests,
            insufficient_scope_status: first.insufficient_scope_status,
            gateway_responses: first.gateway_responses.clone(),
            leeway_seconds: first.leeway_seconds,
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
                    if file.mode == Mode::DryRun && !merged_dry_run && route.dry_run.is_none() {
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

/// The most routes the files of a policy folder may hold together (a file past it, in name
/// order, is refused on its own): finding overlaps between files compares routes.
pub const MAX_FOLDER_ROUTES: usize = 20_000;

/// One file of the folder as it reads now: its name, and what parsing it gave.
#[derive(Debug)]
pub struct FileVersion {
    /// The file's name in the folder.
    pub name: Arc<str>,
    /// The file, or why it cannot be taken (unreadable, invalid YAML, an invalid policy).
    pub parsed: Result<PolicyPart, FileErrors>,
}

/// The versions of a folder's files in force: each file's newest version that is valid
/// and conflicts with no other, or its last good one, or none (a file never good).
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
    /// The files whose newest version was refused, with why (each error naming its
    /// file); each keeps its last good version, or has none in force.
    pub refused: Vec<(Arc<str>, FileErrors)>,
    /// The files with no version in force (never good since the state began): their
    /// routes are absent and requests no route matches are denied.
    pub missing: Vec<Arc<str>>,
}

impl FolderState {
    /// The names of the files in force.
    pub fn in_force(&self) -> impl Iterator<Item = &str> {
        self.in_force.keys().map(|k| &**k)
    }

    /// Takes a new reading of the folder (`files`: every policy file it holds now, each
    /// once). A file that was removed leaves; a file that does not parse, or conflicts
    /// with the files in force, is refused and keeps its last good version. New versions
    /// are taken together when they all fit; otherwise a new version that conflicts with a
    /// file in force is refused, and two new versions that conflict with each other are
    /// both refused (neither is preferred, so the outcome never depends on which file was
    /// read first). Errs when no file at all could be taken.
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
        let mut refused: BTreeMap<Arc<str>, Vec<Located>> = BTreeMap::new();
        let mut changed = Vec::new();
        let mut routes = 0;
        for mut file in files {
            if let Ok(part) = &file.parsed {
                if routes + part.routes() <= MAX_FOLDER_ROUTES {
                    routes += part.routes();
                } else {
                    file.parsed = Err(FileErrors::one(format!(
                        "the files before it and this one hold more than the {MAX_FOLDER_ROUTES} routes a policy folder may hold together"
                    )));
                }
            }
            match file.parsed {
                Err(errors) => {
                    let errors = errors.errors.into_iter().map(|e| e.within(&file.name));
                    refused.insert(file.name.clone(), errors.collect());
                }
                Ok(part) if accepted.get(&file.name) != Some(&part) => changed.push(part),
                Ok(_) => {}
            }
        }
        let compiles = |set: &BTreeMap<Arc<str>, PolicyPart>| {
            let parts: Vec<PolicyPart> = set.values().cloned().collect();
            parts.is_empty() || Policy::compile_folder(&parts, true).is_ok()
        };
        let with = |set: &BTreeMap<Arc<str>, PolicyPart>, parts: &[PolicyPart]| {
            let mut set = set.clone();
            for part in parts {
                set.insert(part.name.clone(), part.clone());
            }
            set
        };
        let mut taken = Vec::new();
        let together = with(&accepted, &changed);
        if changed.is_empty() || compiles(&together) {
            taken = changed.iter().map(|p| p.name.clone()).collect();
            accepted = together;
        } else {
            // A new version that conflicts with a file staying in force is refused.
            let staying: Vec<&PolicyPart> = accepted
                .values()
                .filter(|p| !changed.iter().any(|c| c.name == p.name))
                .collect();
            let mut fitting = Vec::new();
            for part in changed {
                let errors: Vec<Located> = staying.iter().flat_map(|s| part.conflicts(s)).collect();
                if errors.is_empty() {
                    fitting.push(part);
                } else {
                    refused.insert(part.name.clone(), errors);
                }
            }
            // Two new versions that conflict with each other are both refused.
            let mut clash = vec![Vec::new(); fitting.len()];
            for i in 0..fitting.len() {
                for j in 0..i {
                    clash[i].extend(fitting[i].conflicts(&fitting[j]));
                    clash[j].extend(fitting[j].conflicts(&fitting[i]));
                }
            }
            let mut fit = Vec::new();
            for (part, errors) in fitting.into_iter().zip(clash) {
                if errors.is_empty() {
                    fit.push(part);
                } else {
                    refused.insert(part.name.clone(), errors);
                }
            }
            // What the checks above do not see (a file's old version that stays beside a
            // new one) is left to compiling: one at a time, in name order.
            let trial = with(&accepted, &fit);
            if compiles(&trial) {
                taken = fit.iter().map(|p| p.name.clone()).collect();
                accepted = trial;
            } else {
                for part in fit {
                    let trial = with(&accepted, std::slice::from_ref(&part));
                    match Policy::compile_folder(&trial.values().cloned().collect::<Vec<_>>(), true)
                    {
                        Ok(_) => {
                            taken.push(part.name.clone());
                            accepted = trial;
                        }
                        Err(errors) => {
                            refused.insert(part.name.clone(), errors.errors);
                        }
                    }
                }
            }
        }
        if accepted.is_empty() {
            // Every error names its file already.
            return Err(FileErrors::of(refused.into_values().flatten().collect()));
        }
        let missing: Vec<Arc<str>> = present
            .iter()
            .filter(|name| !accepted.contains_key(*name))
            .cloned()
            .collect();
        // Whole: every file's newest version is in force. A refused newest version may
        // protect routes its last good version lacks, so until then requests no route
        // matches are denied, as for a file with no version in force.
        let complete = refused.is_empty();
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
        Ok(FolderUpdate {
            policy,
            taken,
            refused: refused
                .into_iter()
                .map(|(name, errors)| (name, FileErrors::of(errors)))
                .collect(),
            missing,
        })
    }
}

#[cfg(test)]
#[path = "folder_tests.rs"]
mod tests;
