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

/// What a matched route requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Name for logs, metrics and `x-cognito-route`.
    pub name: Arc<str>,
    /// Its position in the policy's `routes` list.
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
mod tests {
    use super::*;

    fn spec(name: &str, path: &str, methods: &[&str], hosts: &[&str]) -> RouteSpec {
        RouteSpec {
            route: Route {
                name: name.into(),
                index: 0,
                authorizer: 0,
                token_use: Default::default(),
                template: PathTemplate::parse(path).unwrap(),
                methods: methods.iter().map(|m| m.to_string()).collect(),
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                access: Access::Protected,
                scopes: vec![],
                groups: vec![],
                dry_run: false,
            },
            template: PathTemplate::parse(path).unwrap(),
            hosts: if hosts.is_empty() {
                vec![HostPattern::Any]
            } else {
                hosts
                    .iter()
                    .map(|h| HostPattern::parse(h).unwrap())
                    .collect()
            },
            methods: methods.iter().map(|m| m.to_string()).collect(),
        }
    }

    fn find<'a>(table: &'a RouteTable, method: &str, host: &str, path: &str) -> Option<&'a str> {
        let segments = crate::path::segments(path).unwrap();
        table.find(&segments, method, host).map(|r| &*r.name)
    }

    #[test]
    fn literal_beats_param_beats_greedy() {
        let table = RouteTable::new(vec![
            spec("greedy", "/users/{proxy+}", &[], &[]),
            spec("param", "/users/{id}", &[], &[]),
            spec("literal", "/users/me", &[], &[]),
            spec("root", "/", &[], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/users/me"), Some("literal"));
        assert_eq!(find(&table, "GET", "h", "/users/42"), Some("param"));
        assert_eq!(find(&table, "GET", "h", "/users/42/x"), Some("greedy"));
        assert_eq!(find(&table, "GET", "h", "/users"), None);
        assert_eq!(find(&table, "GET", "h", "/"), Some("root"));
        assert_eq!(find(&table, "GET", "h", "/other"), None);
    }

    #[test]
    fn specificity_is_decided_segment_by_segment() {
        let table = RouteTable::new(vec![
            spec("a", "/{x}/b", &[], &[]),
            spec("b", "/a/{y}", &[], &[]),
        ]);
        // The first segment decides: literal `a` beats `{x}`.
        assert_eq!(find(&table, "GET", "h", "/a/b"), Some("b"));
        assert_eq!(find(&table, "GET", "h", "/z/b"), Some("a"));
    }

    #[test]
    fn method_specific_beats_any_and_backtracks_to_broader_routes() {
        let table = RouteTable::new(vec![
            spec("any-item", "/items/{id}", &[], &[]),
            spec("get-item", "/items/{id}", &["GET"], &[]),
            spec("public-post", "/admin/public", &["POST"], &[]),
            spec("admin", "/admin/{proxy+}", &[], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/items/1"), Some("get-item"));
        assert_eq!(find(&table, "DELETE", "h", "/items/1"), Some("any-item"));
        assert_eq!(
            find(&table, "POST", "h", "/admin/public"),
            Some("public-post")
        );
        // No GET on the literal route: the request falls back to the greedy one rather
        // than escaping every route.
        assert_eq!(find(&table, "GET", "h", "/admin/public"), Some("admin"));
    }

    #[test]
    fn hosts_narrow_routes() {
        let table = RouteTable::new(vec![
            spec("exact", "/x", &[], &["api.example.com"]),
            spec("wild", "/x", &[], &["*.example.com"]),
            spec("deeper-wild", "/x", &[], &["*.eu.example.com"]),
            spec("any", "/x", &[], &[]),
            spec("only-other", "/y", &[], &["other.com"]),
        ]);
        assert_eq!(find(&table, "GET", "api.example.com", "/x"), Some("exact"));
        assert_eq!(find(&table, "GET", "a.example.com", "/x"), Some("wild"));
        assert_eq!(find(&table, "GET", "a.b.example.com", "/x"), Some("wild"));
        assert_eq!(
            find(&table, "GET", "a.eu.example.com", "/x"),
            Some("deeper-wild")
        );
        assert_eq!(find(&table, "GET", "example.com", "/x"), Some("any"));
        assert_eq!(find(&table, "GET", "evil-example.com", "/x"), Some("any"));
        assert_eq!(find(&table, "GET", "other.com", "/y"), Some("only-other"));
        assert_eq!(find(&table, "GET", "else.com", "/y"), None);
    }

    #[test]
    fn host_patterns_are_validated() {
        assert_eq!(
            HostPattern::parse("API.Example.com"),
            Ok(HostPattern::Exact("api.example.com".into()))
        );
        for bad in [
            "",
            "*",
            "*.",
            "a..b",
            "api.example.com:443",
            "a b",
            "a.*.com",
            "https://x",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }

    // What real API Gateway was measured to do, as published by people who deployed probe
    // APIs to find out (REST APIs, MOCK integrations, no authorizer). A resource without
    // a method for the request's verb is no match: matching is on the resource and the
    // method as a pair, falling back to a less specific resource that has the method
    // (ANY counts), and with none, 403 Missing Authentication Token (no route here).

    /// Measured in eu-central-1 and published with an AWS emulator's change that made it
    /// route on the pair: a tree of `/{proxy+}` ANY, `/jobs` with no method,
    /// `/jobs/{operation_type}` GET and `/cors_only` OPTIONS. The exact resource and verb
    /// won; everything else (the method-less `/jobs`, another verb on a resource with a
    /// GET, a non-OPTIONS verb on an OPTIONS-only resource) was served by the proxy.
    #[test]
    fn measured_a_resource_without_the_verb_falls_back_to_the_greedy_proxy() {
        let table = RouteTable::new(vec![
            spec("proxy", "/{proxy+}", &[], &[]),
            spec("jobs-op", "/jobs/{operation_type}", &["GET"], &[]),
            spec("cors-only", "/cors_only", &["OPTIONS"], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/jobs/reboot"), Some("jobs-op"));
        assert_eq!(find(&table, "GET", "h", "/jobs"), Some("proxy"));
        assert_eq!(find(&table, "POST", "h", "/jobs"), Some("proxy"));
        assert_eq!(find(&table, "POST", "h", "/jobs/reboot"), Some("proxy"));
        assert_eq!(find(&table, "GET", "h", "/cors_only"), Some("proxy"));
        assert_eq!(
            find(&table, "OPTIONS", "h", "/cors_only"),
            Some("cors-only")
        );
    }

    /// Reported against another emulator from real AWS behaviour (SAM's multi-function
    /// layout: one function on `/{proxy+}` ANY, another on `/items/{id}/attachments`
    /// POST, the intermediate resources without methods): GET on the intermediate and on
    /// the attachments resource reached the proxy, POST on attachments its own function.
    #[test]
    fn measured_method_less_intermediate_resources_do_not_shadow_the_proxy() {
        let table = RouteTable::new(vec![
            spec("proxy", "/{proxy+}", &[], &[]),
            spec("attachments", "/items/{id}/attachments", &["POST"], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/items/123"), Some("proxy"));
        assert_eq!(
            find(&table, "GET", "h", "/items/123/attachments"),
            Some("proxy")
        );
        assert_eq!(
            find(&table, "POST", "h", "/items/123/attachments"),
            Some("attachments")
        );
    }

    /// Validated against AWS by an emulator's maintainers (routes `POST /zap` and
    /// `OPTIONS /{proxy+}`): an OPTIONS request to `/zap` is the proxy's, not refused for
    /// want of an OPTIONS method on `/zap`.
    #[test]
    fn measured_a_preflight_reaches_a_greedy_options_method_past_a_specific_resource() {
        let table = RouteTable::new(vec![
            spec("zap", "/zap", &["POST"], &[]),
            spec("preflight", "/{proxy+}", &["OPTIONS"], &[]),
        ]);
        assert_eq!(find(&table, "OPTIONS", "h", "/zap"), Some("preflight"));
        assert_eq!(find(&table, "POST", "h", "/zap"), Some("zap"));
        // Neither resource has GET: no method matches.
        assert_eq!(find(&table, "GET", "h", "/zap"), None);
    }

    /// An emulator's change "fall back to a parameterised sibling on method mismatch",
    /// made after its maintainers deployed a probe API to real API Gateway to settle the
    /// precedence (`/users/{userId}` GET, `/users/me` PATCH): GET `/users/me` is served by
    /// the parameter sibling, since the literal resource has no GET; PATCH stays on
    /// `/users/me`.
    #[test]
    fn measured_a_literal_without_the_verb_falls_back_to_its_parameter_sibling() {
        let table = RouteTable::new(vec![
            spec("user", "/users/{userId}", &["GET"], &[]),
            spec("me", "/users/me", &["PATCH"], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/users/me"), Some("user"));
        assert_eq!(find(&table, "PATCH", "h", "/users/me"), Some("me"));
        assert_eq!(find(&table, "DELETE", "h", "/users/me"), None);
    }

    /// The long-standing report from Serverless users confirmed by the maintainers of a
    /// WSGI adapter: with only `ANY {proxy+}`, a request to the stage root `/` got
    /// 403 Missing Authentication Token (`{proxy+}` needs at least one segment); `ANY /`
    /// has to be declared as well.
    #[test]
    fn measured_the_greedy_proxy_does_not_match_the_root() {
        let table = RouteTable::new(vec![spec("proxy", "/{proxy+}", &[], &[])]);
        assert_eq!(find(&table, "GET", "h", "/"), None);
        assert_eq!(find(&table, "GET", "h", "/cats"), Some("proxy"));
        let table = RouteTable::new(vec![
            spec("proxy", "/{proxy+}", &[], &[]),
            spec("root", "/", &[], &[]),
        ]);
        assert_eq!(find(&table, "GET", "h", "/"), Some("root"));
    }

    #[test]
    fn reachable_routes_cover_every_reading_of_what_is_unknown() {
        let table = RouteTable::new(vec![
            spec("users", "/users/{id}", &["GET"], &[]),
            spec("users-api", "/users/{id}", &["GET"], &["api.example.com"]),
            spec("create-user", "/users", &["POST"], &[]),
            spec("admin", "/admin/{proxy+}", &[], &[]),
            spec("files", "/files/{proxy+}", &[], &["*.example.com"]),
        ]);
        let names = |prefix: &[&str], below: bool, method: Option<&str>, host: Option<&str>| {
            let reach = Reach {
                prefix: prefix
                    .iter()
                    .map(|s| std::borrow::Cow::Borrowed(*s))
                    .collect(),
                below,
            };
            let mut found: Vec<&str> = table
                .reachable(&reach, method, host)
                .iter()
                .map(|r| &*r.name)
                .collect();
            found.sort_unstable();
            found
        };
        let get = Some("GET");
        // Everything known: only the route each node picks.
        assert_eq!(names(&["users", "7"], false, get, Some("h")), ["users"]);
        assert_eq!(
            names(&["users", "7"], false, get, Some("api.example.com")),
            ["users-api"]
        );
        // An unknown host: every host's route, the host-less one's too.
        assert_eq!(
            names(&["users", "7"], false, get, None),
            ["users", "users-api"]
        );
        // An unknown method: every method's.
        assert_eq!(
            names(&["users"], true, None, Some("h")),
            ["create-user", "users"]
        );
        assert_eq!(names(&["users"], true, get, Some("h")), ["users"]);
        // A greedy route needs one segment more than its prefix.
        assert_eq!(names(&["admin"], false, get, Some("h")), Vec::<&str>::new());
        assert_eq!(names(&["admin"], true, get, Some("h")), ["admin"]);
        assert_eq!(
            names(&["admin", "x", "y"], false, get, Some("h")),
            ["admin"]
        );
        assert_eq!(
            names(&["files", "a"], false, get, Some("x.example.com")),
            ["files"]
        );
        assert_eq!(
            names(&["files", "a"], false, get, Some("other.com")),
            Vec::<&str>::new()
        );
        // Anywhere.
        assert_eq!(
            names(&[], true, None, None),
            ["admin", "create-user", "files", "users", "users-api"]
        );
        assert_eq!(names(&["nowhere"], true, None, None), Vec::<&str>::new());
    }
}
