//! The compiled route matcher: a segment trie with API Gateway's precedence.
//!
//! Built once per policy and shared read-only by every check. Matching walks the trie
//! preferring, at each segment, a literal child over a `{name}` child over a `{name+}`
//! leaf, and backtracks when a branch has no route for the request's method and host; each
//! trie node is visited at most once, so a match costs at most the size of the trie and
//! nothing like regex backtracking can blow up. At the node a path lands on, routes are
//! ordered by method (a named method before "any") and then host (exact, then the longest
//! `*.suffix`, then any host).

use std::collections::HashMap;
use std::sync::Arc;

use super::template::{PathTemplate, Segment};
use crate::path::Reach;

/// Whether a route looks at tokens at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A token of the route's authorizer, with its scopes and groups.
    Protected,
    /// Public (`auth: none`): no token needed, none inspected.
    Public,
    /// Denied (`auth: deny`): every request it matches is refused (403), no token inspected.
    Deny,
}

/// Where a route was written: its position in its file's `routes`, and the file in a
/// policy folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutePlace {
    /// The file's name in the folder; `None` for a single policy file.
    pub file: Option<Arc<str>>,
    /// Its position in the file's `routes` list.
    pub index: usize,
}

impl std::fmt::Display for RoutePlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "{file}: routes[{}]", self.index),
            None => write!(f, "routes[{}]", self.index),
        }
    }
}

/// What a matched route requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Name for logs, metrics and `x-cognito-route`.
    pub name: Arc<str>,
    /// The file it was written in, in a policy folder; `None` for a single policy file.
    pub file: Option<Arc<str>>,
    /// Its position in its file's `routes` list.
    pub index: usize,
    /// Index of its authorizer in [`Policy::authorizers`](super::Policy::authorizers).
    pub authorizer: usize,
    /// The token it takes.
    pub token_use: super::model::TokenUse,
    /// The path template.
    pub template: PathTemplate,
    /// Methods it takes, upper case; empty: any method.
    pub methods: Vec<String>,
    /// Hosts it takes, as written; empty: any host.
    pub hosts: Vec<String>,
    /// Whether it is protected, public or denied.
    pub access: Access,
    /// Any one of these scopes suffices; empty means no scope is required.
    pub scopes: Vec<String>,
    /// Any one of these groups suffices; empty means no group is required.
    pub groups: Vec<String>,
    /// Denials are logged as `would_deny` and the request let through.
    pub dry_run: bool,
}

impl Route {
    /// Where it was written: `routes[2]`, or `team-a.yaml: routes[2]` in a policy folder.
    pub fn place(&self) -> RoutePlace {
        RoutePlace {
            file: self.file.clone(),
            index: self.index,
        }
    }

    /// Public (`auth: none`).
    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }

    /// Denied (`auth: deny`).
    pub fn is_deny(&self) -> bool {
        self.access == Access::Deny
    }

    /// Protected: the only kind of route where a token is read and verified.
    pub fn is_protected(&self) -> bool {
        self.access == Access::Protected
    }
}

/// Which hosts a route entry applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    /// Any host.
    Any,
    /// Exactly this host (lowercase, no port).
    Exact(String),
    /// `*.example.com`: stored as `.example.com`; matches any host ending with it.
    Suffix(String),
}

impl HostPattern {
    /// Parses `api.example.com` or `*.example.com`.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let host = raw.trim().to_ascii_lowercase();
        let (wild, name) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host.as_str()),
        };
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        };
        if name.is_empty() || !name.split('.').all(valid_label) {
            return Err(format!(
                "host {raw:?} must be a host name (api.example.com) or a suffix wildcard (*.example.com), without port"
            ));
        }
        Ok(if wild {
            HostPattern::Suffix(format!(".{name}"))
        } else {
            HostPattern::Exact(name.to_owned())
        })
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(h) => h == host,
            HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
        }
    }

    /// Lower ranks first: exact, then longer suffixes, then any.
    fn rank(&self) -> (u8, usize) {
        match self {
            HostPattern::Exact(_) => (0, 0),
            HostPattern::Suffix(s) => (1, usize::MAX - s.len()),
            HostPattern::Any => (2, 0),
        }
    }
}

/// One (route, host pattern, method) combination at a trie node.
#[derive(Debug, Clone)]
struct Entry {
    route: usize,
    host: HostPattern,
    /// `None` is any method.
    method: Option<String>,
}

#[derive(Debug, Default)]
struct Node {
    literals: HashMap<String, Node>,
    param: Option<Box<Node>>,
    /// Routes ending here.
    entries: Vec<Entry>,
    /// Routes whose template ends with `{name+}` right below this node.
    greedy: Vec<Entry>,
}

/// A route definition ready to be inserted into a [`RouteTable`].
#[derive(Debug, Clone)]
pub(crate) struct RouteSpec {
    pub(crate) route: Route,
    pub(crate) template: PathTemplate,
    pub(crate) hosts: Vec<HostPattern>,
    /// Upper-case methods; empty is any method.
    pub(crate) methods: Vec<String>,
}

/// The compiled routes of one policy.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
    root: Node,
}

impl RouteTable {
    /// Builds the table. Callers have already refused duplicate (shape, host, method)
    /// combinations, so at most one entry can win at any node.
    pub(crate) fn new(specs: Vec<RouteSpec>) -> Self {
        let mut table = RouteTable::default();
        for spec in specs {
            let index = table.routes.len();
            table.routes.push(spec.route);
            let mut node = &mut table.root;
            let mut greedy = false;
            for segment in spec.template.segments() {
                match segment {
                    Segment::Literal(s) => node = node.literals.entry(s.clone()).or_default(),
                    Segment::Param(_) => node = node.param.get_or_insert_with(Default::default),
                    Segment::Greedy(_) => greedy = true,
                }
            }
            let list = if greedy {
                &mut node.greedy
            } else {
                &mut node.entries
            };
            let methods: Vec<Option<String>> = if spec.methods.is_empty() {
                vec![None]
            } else {
                spec.methods.into_iter().map(Some).collect()
            };
            for host in &spec.hosts {
                for method in &methods {
                    list.push(Entry {
                        route: index,
                        host: host.clone(),
                        method: method.clone(),
                    });
                }
            }
        }
        sort_entries(&mut table.root);
        table
    }

    /// Every route, in policy order.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The most specific route for a request: `segments` are the decoded path segments,
    /// `method` upper case, `host` lower case without port.
    pub fn find(&self, segments: &[impl AsRef<str>], method: &str, host: &str) -> Option<&Route> {
        walk(&self.root, segments, method, host).map(|i| &self.routes[i])
    }

    /// Every route a request could land on when only part of it is known: its path as far
    /// as [`Reach`] says (every reading of an unsafe path), its method and host when they
    /// are safe (`None`: any). With method and host known, only the route each trie node
    /// would pick for them counts; otherwise every route there that could take them.
    pub(crate) fn reachable(
        &self,
        reach: &Reach<'_>,
        method: Option<&str>,
        host: Option<&str>,
    ) -> Vec<&Route> {
        let mut found = Vec::new();
        let wanted = Wanted { method, host };
        reach_from(&self.root, &reach.prefix, reach.below, &wanted, &mut found);
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|i| &self.routes[i]).collect()
    }
}

/// The method and host of a request whose route is looked for, when known.
struct Wanted<'a> {
    method: Option<&'a str>,
    host: Option<&'a str>,
}

impl Wanted<'_> {
    /// The routes of `entries` a request could land on at one node.
    fn routes(&self, entries: &[Entry], out: &mut Vec<usize>) {
        if let (Some(method), Some(host)) = (self.method, self.host) {
            out.extend(pick(entries, method, host));
            return;
        }
        out.extend(
            entries
                .iter()
                .filter(|e| match (self.method, e.method.as_deref()) {
                    (Some(want), Some(m)) => want == m,
                    _ => true,
                })
                .filter(|e| self.host.is_none_or(|h| e.host.matches(h)))
                .map(|e| e.route),
        );
    }
}

/// The routes reachable from `node` by the path `prefix` (then, when `below`, any number
/// of further segments).
fn reach_from(
    node: &Node,
    prefix: &[impl AsRef<str>],
    below: bool,
    wanted: &Wanted<'_>,
    out: &mut Vec<usize>,
) {
    let Some((first, rest)) = prefix.split_first() else {
        wanted.routes(&node.entries, out);
        if below {
            every_route_below(node, wanted, out);
        }
        return;
    };
    if let Some(child) = node.literals.get(first.as_ref()) {
        reach_from(child, rest, below, wanted, out);
    }
    if let Some(child) = node.param.as_deref() {
        reach_from(child, rest, below, wanted, out);
    }
    wanted.routes(&node.greedy, out);
}

/// The routes of paths one segment or more below `node`.
fn every_route_below(node: &Node, wanted: &Wanted<'_>, out: &mut Vec<usize>) {
    wanted.routes(&node.greedy, out);
    for child in node.literals.values().chain(node.param.as_deref()) {
        wanted.routes(&child.entries, out);
        every_route_below(child, wanted, out);
    }
}

fn sort_entries(node: &mut Node) {
    let key = |e: &Entry| (e.method.is_none(), e.host.rank());
    node.entries.sort_by_key(key);
    node.greedy.sort_by_key(key);
    for child in node.literals.values_mut() {
        sort_entries(child);
    }
    if let Some(child) = node.param.as_deref_mut() {
        sort_entries(child);
    }
}

fn walk(node: &Node, segments: &[impl AsRef<str>], method: &str, host: &str) -> Option<usize> {
    let Some((first, rest)) = segments.split_first() else {
        return pick(&node.entries, method, host);
    };
    if let Some(child) = node.literals.get(first.as_ref())
        && let Some(found) = walk(child, rest, method, host)
    {
        return Some(found);
    }
    if let Some(child) = node.param.as_deref()
        && let Some(found) = walk(child, rest, method, host)
    {
        return Some(found);
    }
    pick(&node.greedy, method, host)
}

fn pick(entries: &[Entry], method: &str, host: &str) -> Option<usize> {
    entries
        .iter()
        .find(|e| e.method.as_deref().is_none_or(|m| m == method) && e.host.matches(host))
        .map(|e| e.route)
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
