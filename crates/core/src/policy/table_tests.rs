use super::*;

fn spec(name: &str, path: &str, methods: &[&str], hosts: &[&str]) -> RouteSpec {
    RouteSpec {
        route: Route {
            name: name.into(),
            file: None,
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
