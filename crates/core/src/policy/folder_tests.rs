use super::*;

const POOL_A: &str = "eu-west-1_teamAAAAA";
const POOL_B: &str = "eu-west-1_teamBBBBB";

fn part(name: &str, yaml: &str) -> PolicyPart {
    PolicyPart::parse(name, yaml).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn version(name: &str, yaml: &str) -> FileVersion {
    FileVersion {
        name: Arc::from(name),
        parsed: PolicyPart::parse(name, yaml),
    }
}

/// One reading of the folder, which must take at least one file.
fn take(state: &mut FolderState, files: &[(&str, &str)]) -> FolderUpdate {
    state
        .update(
            files
                .iter()
                .map(|(name, yaml)| version(name, yaml))
                .collect(),
        )
        .unwrap()
}

fn team(pool: &str, host: &str, extra: &str) -> String {
    format!(
        "userPools: [{{id: {pool}}}]\n{extra}routes:\n  - name: {host}-users\n    hosts: [{host}]\n    path: /users\n    scopes: [users/read]\n"
    )
}

/// The route a request would take, with its place and its authorizer's name and pools.
fn route_of<'p>(
    policy: &'p Policy,
    host: &str,
    path: &str,
) -> Option<(String, &'p str, Vec<&'p str>)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let route = policy.routes.find(&segments, "GET", host)?;
    let authorizer = &policy.authorizers[route.authorizer];
    let pools = authorizer
        .pools
        .iter()
        .map(|p| policy.pools[p.pool].id.as_str())
        .collect();
    Some((route.place().to_string(), &*authorizer.name, pools))
}

#[test]
fn each_file_keeps_its_own_authorizer_and_routes() {
    let a = part("a.yaml", &team(POOL_A, "a.example.com", ""));
    let b = part("b.yaml", &team(POOL_B, "b.example.com", ""));
    let policy = Policy::compile_folder(&[a, b], true).unwrap();
    assert_eq!(
        route_of(&policy, "a.example.com", "/users"),
        Some((
            "a.yaml: routes[0]".to_owned(),
            "a.yaml/default",
            vec![POOL_A]
        ))
    );
    // Team B's route trusts team B's pool only: a token of pool A cannot reach it.
    assert_eq!(
        route_of(&policy, "b.example.com", "/users"),
        Some((
            "b.yaml: routes[0]".to_owned(),
            "b.yaml/default",
            vec![POOL_B]
        ))
    );
    assert_eq!(route_of(&policy, "c.example.com", "/users"), None);
    assert_eq!(policy.default_action, DefaultAction::Deny);
}

#[test]
fn two_files_claiming_the_same_route_are_refused_with_both_places() {
    let a = part("a.yaml", &team(POOL_A, "api.example.com", ""));
    let mut b_text = team(POOL_B, "api.example.com", "");
    b_text = b_text.replace("api.example.com-users", "other-name");
    let b = part("b.yaml", &b_text);
    let err = Policy::compile_folder(&[a.clone(), b], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "b.yaml: routes[0] (other-name): overlaps a.yaml: routes[0] (api.example.com-users)"
        ),
        "{err}"
    );
    // The same name in two files is refused too: names are labels in logs and metrics.
    let c = part(
        "c.yaml",
        &team(POOL_B, "api.example.com", "").replace("path: /users", "path: /other"),
    );
    let err = Policy::compile_folder(&[a, c], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c.yaml: routes[0] (api.example.com-users).name: \"api.example.com-users\" is already the name of a.yaml: routes[0] (api.example.com-users)"),
        "{err}"
    );
}

#[test]
fn settings_for_every_request_must_agree() {
    let a = part(
        "a.yaml",
        &team(POOL_A, "a.example.com", "leewaySeconds: 30\n"),
    );
    let b = part(
        "b.yaml",
        &team(POOL_B, "b.example.com", "leewaySeconds: 60\n"),
    );
    let c = part(
        "c.yaml",
        &team(POOL_B, "c.example.com", "defaultAction: allow\n"),
    );
    let err = Policy::compile_folder(&[a.clone(), b], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("b.yaml: leewaySeconds differs from a.yaml's"),
        "{err}"
    );
    // A file silent on defaultAction says deny: one file cannot open every other's gaps.
    let err = Policy::compile_folder(&[a.clone(), c], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c.yaml: defaultAction differs from a.yaml's"),
        "{err}"
    );
    // Silent says the default: one file cannot stretch every other file's tokens' life.
    let d = part("d.yaml", &team(POOL_B, "d.example.com", ""));
    let err = Policy::compile_folder(&[a, d], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("d.yaml: leewaySeconds differs from a.yaml's"),
        "{err}"
    );
}

#[test]
fn a_pool_two_files_describe_differently_is_refused() {
    let a = part("a.yaml", &team(POOL_A, "a.example.com", ""));
    let b = part(
        "b.yaml",
        &format!(
            "userPools: [{{id: {POOL_A}, jwksUri: 'https://keys.example.com/jwks.json'}}]\nroutes:\n  - path: /b\n"
        ),
    );
    let err = Policy::compile_folder(&[a, b], true)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("b.yaml: user pool {POOL_A}"))
            && err.contains("is described differently in a.yaml"),
        "{err}"
    );
}

#[test]
fn a_dry_run_file_dry_runs_its_own_routes_only() {
    let a = part("a.yaml", &team(POOL_A, "a.example.com", "mode: dryRun\n"));
    let b = part("b.yaml", &team(POOL_B, "b.example.com", ""));
    let policy = Policy::compile_folder(&[a, b], true).unwrap();
    let dry: Vec<(&str, bool)> = policy
        .routes
        .routes()
        .iter()
        .map(|r| (&*r.name, r.dry_run))
        .collect();
    assert!(dry.contains(&("a.example.com-users", true)), "{dry:?}");
    assert!(dry.contains(&("b.example.com-users", false)), "{dry:?}");
    // Requests no route matches are still enforced: not every file is in dry run.
    assert!(!policy.dry_run_no_route);
}

#[test]
fn a_broken_file_keeps_its_last_good_version_and_never_blocks_the_others() {
    let mut state = FolderState::default();
    let a1 = team(POOL_A, "a.example.com", "defaultAction: allow\n");
    let b1 = team(POOL_B, "b.example.com", "defaultAction: allow\n");
    let update = take(&mut state, &[("a.yaml", &a1), ("b.yaml", &b1)]);
    let policy = update.policy.unwrap();
    assert_eq!(policy.default_action, DefaultAction::Allow);
    assert!(update.refused.is_empty() && update.missing.is_empty());

    // B breaks, A adds a route in the same reading: A's is taken, B's old routes stay.
    let a2 = a1.replace("path: /users", "path: /users/{id}");
    let update = take(&mut state, &[("a.yaml", &a2), ("b.yaml", "routes: [oops")]);
    assert_eq!(update.taken, vec![Arc::from("a.yaml")]);
    assert_eq!(update.refused.len(), 1);
    assert_eq!(&*update.refused[0].0, "b.yaml");
    let policy = update.policy.unwrap();
    assert!(route_of(&policy, "b.example.com", "/users").is_some());
    assert!(route_of(&policy, "a.example.com", "/users/7").is_some());
    assert!(route_of(&policy, "a.example.com", "/users").is_none());

    // The same broken reading again changes nothing in force.
    let update = take(&mut state, &[("a.yaml", &a2), ("b.yaml", "routes: [oops")]);
    assert!(update.policy.is_none());
    assert_eq!(update.refused.len(), 1);

    // B's new version claims A's route: B is refused (it brought the conflict), A stays.
    let b3 = b1
        .replace("b.example.com]", "a.example.com]")
        .replace("path: /users", "path: /users/{id}");
    let update = take(&mut state, &[("a.yaml", &a2), ("b.yaml", &b3)]);
    assert!(update.policy.is_none());
    let why = update.refused[0].1.to_string();
    assert!(why.contains("overlaps a.yaml: routes[0]"), "{why}");
    assert_eq!(
        route_of(
            state_policy(&mut state).as_ref().unwrap(),
            "b.example.com",
            "/users"
        )
        .map(|r| r.1.to_owned()),
        Some("b.yaml/default".to_owned())
    );

    // B removed from the folder: its routes leave with it.
    let update = take(&mut state, &[("a.yaml", &a2)]);
    let policy = update.policy.unwrap();
    assert!(route_of(&policy, "b.example.com", "/users").is_none());
    assert_eq!(state.in_force().collect::<Vec<_>>(), ["a.yaml"]);
}

/// The policy the state holds now (compiled again from what is in force).
fn state_policy(state: &mut FolderState) -> Option<Policy> {
    let parts: Vec<PolicyPart> = state.in_force.values().cloned().collect();
    Policy::compile_folder(&parts, state.complete).ok()
}

#[test]
fn a_file_never_good_leaves_its_routes_denied_not_allowed_by_default() {
    let mut state = FolderState::default();
    let a = team(POOL_A, "a.example.com", "defaultAction: allow\n");
    // B was meant to protect b.example.com/users, but does not parse at start.
    let update = take(&mut state, &[("a.yaml", &a), ("b.yaml", "userPools: [")]);
    assert_eq!(update.missing, vec![Arc::from("b.yaml")]);
    let policy = update.policy.unwrap();
    assert!(route_of(&policy, "b.example.com", "/users").is_none());
    // A request for B's route matches nothing and is denied, whatever A's defaultAction.
    assert_eq!(policy.default_action, DefaultAction::Deny);

    // Once B is good, the folder is whole and A's defaultAction (which B states too) holds.
    let b = team(POOL_B, "b.example.com", "defaultAction: allow\n");
    let update = take(&mut state, &[("a.yaml", &a), ("b.yaml", &b)]);
    assert!(update.missing.is_empty());
    assert_eq!(update.policy.unwrap().default_action, DefaultAction::Allow);
}

#[test]
fn nothing_to_take_is_an_error_not_an_empty_policy() {
    let mut state = FolderState::default();
    assert!(state.update(Vec::new()).is_err());
    let err = state
        .update(vec![version("a.yaml", "routes: [oops")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.yaml: invalid policy YAML"), "{err}");
}

#[test]
fn a_missing_file_turns_off_the_dry_run_of_requests_no_route_matches() {
    let mut state = FolderState::default();
    let a = team(POOL_A, "a.example.com", "mode: dryRun\n");
    let update = take(&mut state, &[("a.yaml", &a), ("b.yaml", "userPools: [")]);
    let policy = update.policy.unwrap();
    // b.yaml's routes may be what a request no route matches was for: denied, not dry-run.
    assert!(!policy.dry_run_no_route && !policy.dry_run_unsafe);
    assert_eq!(policy.default_action, DefaultAction::Deny);
    // a.yaml's own routes are still in dry run.
    assert!(policy.routes.routes().iter().all(|r| r.dry_run));
}

/// Whether the routes of two files (YAML after `routes:`) are refused as overlapping.
fn overlap(a: &str, b: &str) -> bool {
    let a = part(
        "a.yaml",
        &format!("userPools: [{{id: {POOL_A}}}]\nroutes:\n{a}"),
    );
    let b = part(
        "b.yaml",
        &format!("userPools: [{{id: {POOL_B}}}]\nroutes:\n{b}"),
    );
    let conflicts = b.conflicts(&a);
    assert_eq!(
        conflicts.is_empty(),
        a.conflicts(&b).is_empty(),
        "symmetric"
    );
    let refused = Policy::compile_folder(&[a, b], true).is_err();
    assert_eq!(refused, !conflicts.is_empty());
    refused
}

#[test]
fn no_file_can_take_precedence_over_another_files_route() {
    let orders = "  - path: /orders/{id}\n    hosts: ['*.example.com']\n    scopes: [orders/read]\n  - path: /orders/admin/{proxy+}\n    auth: deny\n";
    // A more specific route of another file would win the match: refused, every kind.
    for thief in [
        "  - path: /orders/{id}\n    methods: [GET]\n    hosts: [api.example.com]\n    auth: none\n",
        "  - path: /orders/admin/export\n    auth: none\n",
        "  - path: /orders/42\n    hosts: [x.y.example.com]\n    auth: none\n",
        "  - path: /{proxy+}\n    auth: none\n",
        "  - path: /orders/{proxy+}\n    methods: [DELETE]\n    auth: none\n",
    ] {
        assert!(overlap(orders, thief), "{thief}");
    }
    // Routes that no request can match together are fine side by side.
    for neighbour in [
        "  - path: /orders/{id}\n    hosts: [api.example.org]\n    auth: none\n",
        "  - path: /orders\n    auth: none\n",
        "  - path: /invoices/{id}\n    hosts: [api.example.com]\n    auth: none\n",
        "  - path: /invoices/{proxy+}\n    auth: none\n",
        "  - path: /orders/{id}\n    hosts: [example.com]\n    auth: none\n",
    ] {
        assert!(!overlap(orders, neighbour), "{neighbour}");
    }
    // Methods: disjoint lists do not overlap, ANY overlaps every method.
    let get = "  - path: /x\n    methods: [GET]\n    auth: none\n";
    assert!(!overlap(
        get,
        "  - path: /x\n    methods: [POST]\n    auth: none\n"
    ));
    assert!(overlap(get, "  - path: /x\n    auth: none\n"));
    // Wildcard hosts overlap when one suffix ends the other.
    let wild = "  - path: /x\n    hosts: ['*.a.example.com']\n    auth: none\n";
    assert!(overlap(
        wild,
        "  - path: /x\n    hosts: ['*.example.com']\n    auth: none\n"
    ));
    assert!(!overlap(
        wild,
        "  - path: /x\n    hosts: ['*.b.example.com']\n    auth: none\n"
    ));
}

#[test]
fn two_new_files_that_conflict_are_both_refused_whatever_their_names() {
    let orders = format!(
        "userPools: [{{id: {POOL_A}}}]\nroutes:\n  - name: get-order\n    path: /orders/{{id}}\n    scopes: [orders/read]\n"
    );
    let aaa = format!(
        "userPools: [{{id: {POOL_B}}}]\nroutes:\n  - name: steal\n    path: /orders/{{id}}\n    auth: none\n"
    );
    // A running service: orders.yaml in force first, then aaa.yaml arrives: refused.
    let mut running = FolderState::default();
    take(&mut running, &[("orders.yaml", &orders)]);
    let update = take(
        &mut running,
        &[("aaa.yaml", &aaa), ("orders.yaml", &orders)],
    );
    let refused: Vec<&str> = update.refused.iter().map(|r| &*r.0).collect();
    assert_eq!(refused, ["aaa.yaml"]);
    // A restart with the same folder: neither is preferred for coming first in name
    // order; both are refused and /orders/1 is no one's (denied by default).
    let billing = team(POOL_B, "billing.example.com", "");
    let mut restarted = FolderState::default();
    let update = take(
        &mut restarted,
        &[
            ("aaa.yaml", &aaa),
            ("billing.yaml", &billing),
            ("orders.yaml", &orders),
        ],
    );
    assert_eq!(update.taken, vec![Arc::from("billing.yaml")]);
    let refused: Vec<&str> = update.refused.iter().map(|r| &*r.0).collect();
    assert_eq!(refused, ["aaa.yaml", "orders.yaml"]);
}

#[test]
fn a_refused_newest_version_leaves_requests_no_route_matches_denied() {
    let mut state = FolderState::default();
    let orders1 = team(POOL_A, "a.example.com", "defaultAction: allow\n");
    let other = team(POOL_B, "b.example.com", "defaultAction: allow\n");
    let update = take(
        &mut state,
        &[("orders.yaml", &orders1), ("other.yaml", &other)],
    );
    assert_eq!(update.policy.unwrap().default_action, DefaultAction::Allow);
    // orders v2 adds an admin route but is refused (a typo): its last good version stays,
    // and the admin paths it meant to protect are not answered by `defaultAction: allow`.
    let orders2 = format!("{orders1}  - path: /admin/{{proxy+}}\n    scopez: [x/y]\n");
    let update = take(
        &mut state,
        &[("orders.yaml", &orders2), ("other.yaml", &other)],
    );
    assert_eq!(update.refused.len(), 1);
    let policy = update.policy.unwrap();
    assert_eq!(policy.default_action, DefaultAction::Deny);
    assert!(route_of(&policy, "a.example.com", "/users").is_some());
    // Fixed: whole again, allow again.
    let orders3 = format!(
        "{orders1}  - path: /admin/{{proxy+}}\n    hosts: [a.example.com]\n    scopes: [x/y]\n"
    );
    let update = take(
        &mut state,
        &[("orders.yaml", &orders3), ("other.yaml", &other)],
    );
    assert_eq!(update.policy.unwrap().default_action, DefaultAction::Allow);
}

#[test]
fn unnamed_routes_on_their_own_hosts_may_share_a_made_up_name() {
    let a = format!(
        "userPools: [{{id: {POOL_A}}}]\nroutes:\n  - path: /health\n    hosts: [a.example.com]\n    auth: none\n"
    );
    let b = format!(
        "userPools: [{{id: {POOL_B}}}]\nroutes:\n  - path: /health\n    hosts: [b.example.com]\n    auth: none\n"
    );
    let update = take(
        &mut FolderState::default(),
        &[("a.yaml", &a), ("b.yaml", &b)],
    );
    assert!(update.refused.is_empty(), "{:?}", update.refused);
}

#[test]
fn a_file_past_the_folder_s_route_bound_is_refused_on_its_own() {
    let many = |prefix: &str, n: usize| {
        let mut text = format!("userPools: [{{id: {POOL_A}}}]\nroutes:\n");
        for i in 0..n {
            text.push_str(&format!("  - path: /{prefix}/r{i}\n    auth: none\n"));
        }
        text
    };
    let a = many("a", MAX_FOLDER_ROUTES - 10);
    let b = many("b", 11);
    let c = many("c", 10);
    let update = take(
        &mut FolderState::default(),
        &[("a.yaml", &a), ("b.yaml", &b), ("c.yaml", &c)],
    );
    let refused: Vec<&str> = update.refused.iter().map(|r| &*r.0).collect();
    assert_eq!(refused, ["b.yaml"]);
    assert!(update.refused[0].1.to_string().contains("20000 routes"));
    // c.yaml still fits beside a.yaml.
    assert_eq!(update.taken, vec![Arc::from("a.yaml"), Arc::from("c.yaml")]);
}
