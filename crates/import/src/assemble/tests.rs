//! Unit tests of the assembler: one per rule of the translation.

use super::assemble;
use super::settings::{header_of, whole_match};
use crate::api::{Access, Api, GatewayAuthorizer, Method};
use crate::report::NoteKind;
use crate::text::Text;
use cognito_ext_authz_core::policy::Policy;
use cognito_ext_authz_core::policy::model::{AuthMode, TokenUse};

fn cognito(name: &str, arns: &[Text]) -> GatewayAuthorizer {
    GatewayAuthorizer {
        name: name.into(),
        at: format!("auth {name}"),
        provider_arns: arns.to_vec(),
        ..GatewayAuthorizer::default()
    }
}

fn method(path: &str, verb: &str, access: Access) -> Method {
    Method {
        at: format!("{verb} {path}"),
        name: format!("{verb}-{path}"),
        path: Text::known(path),
        method: Text::known(verb),
        access,
        unenforced_extras: vec![],
        preflight: false,
        api: String::new(),
    }
}

const ARN: &str = "arn:aws:cognito-idp:ap-south-1:1234567890:userpool/ap-south-1_abcdefghi";

#[test]
fn translates_each_kind_of_method() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
    let scoped = |s: &str| Access::Cognito {
        authorizer: a,
        scopes: vec![Text::known(s)],
    };
    api.methods = vec![
        method("/users/{id}", "get", scoped("users/read")),
        method("/health", "GET", Access::Public),
        method(
            "/me",
            "any",
            Access::Cognito {
                authorizer: a,
                scopes: vec![],
            },
        ),
        method("/iam", "POST", Access::NotEnforceable("AWS_IAM".into())),
        method("/users/{id}", "GET", scoped("users/read")),
        method("/users/{userId}", "GET", scoped("users/write")),
        method("/items", "GET", scoped("items/read")),
    ];
    let out = assemble(api).unwrap();
    assert!(out.policy.user_pools.is_empty());
    assert_eq!(
        out.policy.authorizers["A"].user_pools[0].arn.as_deref(),
        Some(ARN)
    );
    type Summary = (
        String,
        Option<Vec<String>>,
        Option<AuthMode>,
        Option<String>,
    );
    let summary: Vec<Summary> = out
        .policy
        .routes
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.scopes.clone(),
                r.auth,
                r.authorizer.clone(),
            )
        })
        .collect();
    let a = || Some("A".to_owned());
    assert_eq!(
        summary,
        [
            ("/health".into(), None, Some(AuthMode::None), None),
            ("/iam".into(), None, Some(AuthMode::Deny), None),
            ("/items".into(), Some(vec!["items/read".into()]), None, a()),
            ("/me".into(), None, None, a()),
            // Defined twice with different scopes: neither is kept open.
            ("/users/{id}".into(), None, Some(AuthMode::Deny), None),
        ]
    );
    // Without scopes: an ID token, as API Gateway.
    assert_eq!(out.policy.routes[3].token_use, Some(TokenUse::Id));
    assert_eq!(out.policy.routes[2].token_use, None);
    assert_eq!(out.policy.routes[1].name.as_deref(), Some("POST-/iam"));
    assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotEnforced
        && n.message
            == "POST /iam: protected by AWS_IAM, which this service cannot check; emitted as `auth: deny` (every request refused, 403)"));
    let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
    assert!(kinds.contains(&NoteKind::Public));
    // Nothing differs from API Gateway any more: no `changed` note.
    assert!(!kinds.contains(&NoteKind::Changed), "{:#?}", out.notes);
    assert!(kinds.contains(&NoteKind::NotEnforced));
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == NoteKind::NotTranslated)
            .count(),
        2
    );
    assert!(out.placeholders.is_empty());
    // RouteConfig methods are upper case; ANY is written as no methods.
    assert_eq!(out.policy.routes[3].methods, None);
    assert_eq!(out.policy.routes[2].methods, Some(vec!["GET".into()]));
    assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
        && n.message.contains(
            "GET /users/{userId} is also defined at get /users/{id} with different requirements"
        )
        && n.message.contains("emitted as `auth: deny`")));
}

#[test]
fn unknown_pools_become_placeholders() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("A", &[Text::unknown("!GetAtt UserPoolConfig.Arn")]));
    api.methods = vec![method(
        "/x",
        "GET",
        Access::Cognito {
            authorizer: a,
            scopes: vec![Text::known("x/y")],
        },
    )];
    let out = assemble(api).unwrap();
    assert_eq!(
        out.policy.authorizers["A"].user_pools[0].id,
        "zz-replaceme-1_UNRESOLVED"
    );
    assert_eq!(out.placeholders[0].stands_for, "!GetAtt UserPoolConfig.Arn");
    assert_eq!(out.notes[0].kind, NoteKind::Unresolved);
    assert!(cognito_ext_authz_core::policy::Policy::compile(&out.policy).is_ok());
}

#[test]
fn a_method_under_a_broader_route_is_denied_not_caught() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
    api.methods = vec![
        method(
            "/admin/{proxy+}",
            "ANY",
            Access::Cognito {
                authorizer: a,
                scopes: vec![Text::known("admin/all")],
            },
        ),
        method(
            "/admin/keys",
            "POST",
            Access::NotEnforceable("AWS_IAM".into()),
        ),
    ];
    let out = assemble(api).unwrap();
    let policy = Policy::compile(&out.policy).unwrap();
    let found = policy.routes.find(&["admin", "keys"], "POST", "").unwrap();
    assert!(found.is_deny());
    assert_eq!(&*found.name, "POST-/admin/keys");
    // The other methods of that path still fall to the broader route.
    let found = policy.routes.find(&["admin", "keys"], "GET", "").unwrap();
    assert!(!found.is_deny());
    assert!(out.notes.iter().all(|n| !n.message.contains("broader")));
}

#[test]
fn unresolved_or_unusable_authorization_is_denied() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
    api.methods = vec![
        method("/a", "GET", Access::Unknown("parameter Auth".into())),
        method(
            "/b",
            "GET",
            Access::Cognito {
                authorizer: a,
                scopes: vec![Text::unknown("parameter Scope")],
            },
        ),
        method(
            "/c",
            "GET",
            Access::Cognito {
                authorizer: a,
                scopes: vec![Text::known("two words")],
            },
        ),
    ];
    let mut with_key = method(
        "/d",
        "GET",
        Access::NotEnforceable("an API key alone".into()),
    );
    with_key.unenforced_extras = vec!["an API key".into()];
    api.methods.push(with_key);
    let out = assemble(api).unwrap();
    assert!(
        out.policy
            .routes
            .iter()
            .all(|r| r.auth == Some(AuthMode::Deny) && r.scopes.is_none()),
        "{:#?}",
        out.policy.routes
    );
    assert_eq!(out.policy.routes.len(), 4);
    let kinds: Vec<NoteKind> = out.notes.iter().map(|n| n.kind).collect();
    // Two unresolved methods, plus the placeholder pool: no method uses an authorizer.
    assert_eq!(
        kinds.iter().filter(|k| **k == NoteKind::Unresolved).count(),
        3,
        "{:#?}",
        out.notes
    );
    assert!(out.notes.iter().any(|n| n.message
        == "GET /b: authorization scopes depend on parameter Scope, which only deployment knows; emitted as `auth: deny` (every request refused, 403)"));
    assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
        && n.message.starts_with(
            "GET /c: scope \"two words\" is not a scope name; emitted as `auth: deny`"
        )));
    // A deny route checks nothing, so an extra requirement is not reported.
    assert!(
        out.notes
            .iter()
            .all(|n| !n.message.contains("is not checked"))
    );
}

#[test]
fn deny_wins_over_another_definition_of_the_same_method() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("A", &[Text::known(ARN)]));
    let scoped = || Access::Cognito {
        authorizer: a,
        scopes: vec![Text::known("x/y")],
    };
    api.methods = vec![
        method("/x/{id}", "GET", scoped()),
        method("/x/{key}", "GET", Access::NotEnforceable("AWS_IAM".into())),
        method("/y", "GET", Access::NotEnforceable("AWS_IAM".into())),
        method("/y", "GET", Access::Public),
        method("/z", "GET", Access::NotEnforceable("AWS_IAM".into())),
        method(
            "/z",
            "GET",
            Access::NotEnforceable("a Lambda authorizer".into()),
        ),
    ];
    let out = assemble(api).unwrap();
    let summary: Vec<(&str, Option<AuthMode>)> = out
        .policy
        .routes
        .iter()
        .map(|r| (r.path.as_str(), r.auth))
        .collect();
    assert_eq!(
        summary,
        [
            ("/x/{key}", Some(AuthMode::Deny)),
            ("/y", Some(AuthMode::Deny)),
            ("/z", Some(AuthMode::Deny)),
        ]
    );
    let conflicts: Vec<&str> = out
        .notes
        .iter()
        .filter(|n| n.kind == NoteKind::NotTranslated)
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(conflicts.len(), 3, "{conflicts:?}");
    assert!(conflicts[0].contains("GET /x/{key} is also defined at GET /x/{id} with different requirements; this one is `auth: deny`, which wins"));
    assert!(
        conflicts[1].contains("GET /y is already defined at GET /y as `auth: deny`, which wins")
    );
    assert!(conflicts[2].contains("with the same requirements; merged"));
    assert!(Policy::compile(&out.policy).is_ok());
}

fn scoped(authorizer: usize, scope: &str) -> Access {
    Access::Cognito {
        authorizer,
        scopes: vec![Text::known(scope)],
    }
}

#[test]
fn each_authorizer_keeps_its_pools_header_expression_and_ttl() {
    let mut api = Api::default();
    let staff = api.authorizer(GatewayAuthorizer {
        validation_expression: Some(Ok(Text::known("^[a-z0-9]{26}$"))),
        result_ttl: Some(Ok(Text::known("0"))),
        ..cognito("staff pool", &[Text::known(ARN)])
    });
    let customers = api.authorizer(GatewayAuthorizer {
        identity_source: Some(Ok(Text::known("method.request.header.X-Customer-Token"))),
        validation_expression: Some(Ok(Text::known("cust"))),
        result_ttl: Some(Ok(Text::known("3600"))),
        ..cognito(
            "customers",
            &[
                Text::known("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                Text::known("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                // Region unknown: written by id.
                {
                    let mut t = Text::known("arn:aws:cognito-idp:");
                    t.push(Text::unknown("AWS::Region"));
                    t.push(Text::known(":1:userpool/eu-west-1_Second999"));
                    t
                },
            ],
        )
    });
    let unused = api.authorizer(cognito("unused", &[Text::known(ARN)]));
    let _ = unused;
    api.methods = vec![
        method("/staff", "GET", scoped(staff, "staff/read")),
        method(
            "/profile",
            "GET",
            Access::Cognito {
                authorizer: customers,
                scopes: vec![],
            },
        ),
    ];
    let out = assemble(api).unwrap();
    let names: Vec<&str> = out.policy.authorizers.keys().map(String::as_str).collect();
    // Source names, made usable; an authorizer no method uses is not written.
    assert_eq!(names, ["customers", "staff-pool"]);
    let staff = &out.policy.authorizers["staff-pool"];
    assert_eq!(staff.token_source.header, "authorization");
    assert_eq!(
        staff.identity_validation_expression.as_deref(),
        Some("^[a-z0-9]{26}$")
    );
    assert_eq!(staff.result_ttl_seconds, Some(0));
    let customers = &out.policy.authorizers["customers"];
    assert_eq!(customers.token_source.header, "x-customer-token");
    // API Gateway matches the whole aud: an unanchored expression is anchored.
    assert_eq!(
        customers.identity_validation_expression.as_deref(),
        Some("^(?:cust)$")
    );
    assert_eq!(customers.result_ttl_seconds, Some(3600));
    let pools: Vec<(Option<&str>, &str)> = customers
        .user_pools
        .iter()
        .map(|p| (p.arn.as_deref(), p.id.as_str()))
        .collect();
    assert_eq!(
        pools,
        [
            (
                Some("arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI"),
                ""
            ),
            (None, "eu-west-1_Second999"),
        ]
    );
    let routes: Vec<(&str, Option<&str>, Option<TokenUse>)> = out
        .policy
        .routes
        .iter()
        .map(|r| (r.path.as_str(), r.authorizer.as_deref(), r.token_use))
        .collect();
    assert_eq!(
        routes,
        [
            ("/profile", Some("customers"), Some(TokenUse::Id)),
            ("/staff", Some("staff-pool"), None),
        ]
    );
    // No `changed` note: pools, headers and ID tokens are what API Gateway does.
    assert!(
        out.notes.iter().all(|n| n.kind != NoteKind::Changed),
        "{:#?}",
        out.notes
    );
    assert!(out.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
        && n.message.starts_with("authorizer unused is not used")));
    let policy = Policy::compile(&out.policy).unwrap();
    assert_eq!(policy.pools.len(), 3);
}

#[test]
fn authorizers_that_cannot_be_translated_exactly_deny_their_methods() {
    let cases: Vec<(GatewayAuthorizer, NoteKind, &str)> = vec![
        (
            GatewayAuthorizer {
                identity_source: Some(Ok(Text::unknown("parameter TokenHeader"))),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unresolved,
            "identity source (the token header) depends on parameter TokenHeader",
        ),
        (
            GatewayAuthorizer {
                identity_source: Some(Ok(Text::known("method.request.querystring.token"))),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unreadable,
            "is not one request header",
        ),
        (
            GatewayAuthorizer {
                identity_source: Some(Err("a list".into())),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unreadable,
            "identity source is a list",
        ),
        (
            GatewayAuthorizer {
                validation_expression: Some(Ok(Text::unknown("parameter Aud"))),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unresolved,
            "expression depends on parameter Aud",
        ),
        (
            // Java's look-ahead: this service cannot check it the same way.
            GatewayAuthorizer {
                validation_expression: Some(Ok(Text::known("^(?=abc).*$"))),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::NotEnforced,
            "not a regular expression this service can check the same way",
        ),
        (
            GatewayAuthorizer {
                result_ttl: Some(Ok(Text::known("3601"))),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unreadable,
            "result TTL \"3601\" is not a number of seconds from 0 to 3600",
        ),
        (
            GatewayAuthorizer {
                result_ttl: Some(Err("a boolean (true)".into())),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::Unreadable,
            "result TTL is a boolean (true)",
        ),
        (
            GatewayAuthorizer {
                conflict: Some(
                    "the authorizer a is defined at x and again differently at y".into(),
                ),
                ..cognito("a", &[Text::known(ARN)])
            },
            NoteKind::NotTranslated,
            "defined at x and again differently at y",
        ),
    ];
    for (authorizer, kind, says) in cases {
        let mut api = Api::default();
        let a = api.authorizer(authorizer);
        api.methods = vec![
            method("/x", "GET", scoped(a, "x/y")),
            method(
                "/y",
                "GET",
                Access::Cognito {
                    authorizer: a,
                    scopes: vec![],
                },
            ),
        ];
        let out = assemble(api).unwrap();
        assert!(
            out.policy
                .routes
                .iter()
                .all(|r| r.auth == Some(AuthMode::Deny) && r.authorizer.is_none()),
            "{says}: {:#?}",
            out.policy.routes
        );
        assert!(out.policy.authorizers.is_empty(), "{says}");
        let denials = out
            .notes
            .iter()
            .filter(|n| {
                n.kind == kind
                    && n.message.contains(says)
                    && n.message
                        .contains("its Cognito authorizer a cannot be translated exactly")
                    && n.message
                        .ends_with("emitted as `auth: deny` (every request refused, 403)")
            })
            .count();
        assert_eq!(denials, 2, "{says}: {:#?}", out.notes);
    }
}

#[test]
fn a_result_ttl_only_deployment_knows_is_zero_until_set() {
    let mut api = Api::default();
    let a = api.authorizer(GatewayAuthorizer {
        result_ttl: Some(Ok(Text::unknown("parameter Ttl"))),
        ..cognito("a", &[Text::known(ARN)])
    });
    api.methods = vec![method("/x", "GET", scoped(a, "x/y"))];
    let out = assemble(api).unwrap();
    assert_eq!(out.policy.authorizers["a"].result_ttl_seconds, Some(0));
    assert!(out.policy.routes[0].auth.is_none());
    assert!(out.notes.iter().any(|n| {
        n.kind == NoteKind::Unresolved
            && n.message
                .contains("the result TTL depends on parameter Ttl")
    }));
}

#[test]
fn one_method_with_two_authorizers_is_denied_not_merged() {
    let mut api = Api::default();
    let a = api.authorizer(cognito("a", &[Text::known(ARN)]));
    let b = api.authorizer(cognito(
        "b",
        &[Text::known(
            "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI",
        )],
    ));
    api.methods = vec![
        method("/x", "GET", scoped(a, "x/y")),
        method("/x", "GET", scoped(b, "x/y")),
    ];
    let out = assemble(api).unwrap();
    assert_eq!(out.policy.routes.len(), 1);
    assert_eq!(out.policy.routes[0].auth, Some(AuthMode::Deny));
    assert_eq!(out.policy.routes[0].authorizer, None);
}

#[test]
fn a_second_different_definition_under_one_name_is_a_conflict() {
    let mut api = Api::default();
    let first = api.authorizer(cognito("a", &[Text::known(ARN)]));
    let same = api.authorizer(GatewayAuthorizer {
        at: "elsewhere".into(),
        ..cognito("a", &[Text::known(ARN)])
    });
    assert_eq!(first, same);
    assert!(api.authorizers[0].conflict.is_none());
    let other = api.authorizer(cognito(
        "a",
        &[Text::known(
            "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbCdEfGhI",
        )],
    ));
    assert_eq!(first, other);
    assert!(api.authorizers[0].conflict.is_some());
}

#[test]
fn expressions_are_matched_against_the_whole_aud() {
    for (written, policy) in [
        ("^[a-z0-9]{26}$", "^[a-z0-9]{26}$"),
        ("[a-z0-9]{26}", "^(?:[a-z0-9]{26})$"),
        ("^a$|^b", "^(?:^a$|^b)$"),
        ("^(?m)a$", "^(?:^(?m)a$)$"),
        ("^a\\$", "^(?:^a\\$)$"),
        ("^a\\\\$", "^a\\\\$"),
        ("", "^(?:)$"),
    ] {
        assert_eq!(whole_match(written), policy, "{written}");
    }
    let re = regex::Regex::new(&whole_match("abc")).unwrap();
    assert!(re.is_match("abc"));
    assert!(!re.is_match("xabcx"));
}

#[test]
fn identity_sources_name_headers() {
    assert_eq!(
        header_of("method.request.header.Authorization").as_deref(),
        Some("authorization")
    );
    assert_eq!(header_of("X-Token").as_deref(), Some("x-token"));
    assert_eq!(header_of("method.request.querystring.token"), None);
    assert_eq!(
        header_of("method.request.header.A, method.request.header.B"),
        None
    );
}
