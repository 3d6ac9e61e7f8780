use super::*;

const POLICY: &str = r#"
userPools:
  - id: ap-south-1_abcdefghi
    appClients: [client1]
routes:
  - name: create-user
    methods: [POST]
    path: /users/{id}
    scopes: [users/write]
  - path: /health
    auth: none
"#;

fn case(yaml: &str) -> TestCase {
    serde_saphyr::from_str(yaml).unwrap()
}

async fn run_one(yaml: &str) -> Outcome {
    let tests = TestFile {
        tests: vec![case(yaml)],
    };
    let report = run(Policy::parse(POLICY).unwrap(), &tests, &[])
        .await
        .unwrap();
    report.results[0].outcome.clone()
}

#[tokio::test]
async fn every_kind_gets_the_answer_api_gateway_gives() {
    let ok = |t: &str, status: u16, extra: &str| {
        format!(
            "request: {{method: POST, path: /users/1}}\ntoken: {t}\nexpect: {{status: {status}{extra}}}\n"
        )
    };
    let cases = [
        ok(
            "{claims: {scope: users/write}}",
            200,
            ", route: create-user, reason: authorized, headers: {x-cognito-scope: users/write, x-cognito-client-id: client1, x-cognito-groups: null}",
        ),
        ok("{}", 401, ", reason: insufficient_scope"),
        ok("{kind: none}", 401, ", reason: no_token"),
        ok(
            "{kind: expired, claims: {scope: users/write}}",
            401,
            r#", body: '{"message":"The incoming token has expired"}'"#,
        ),
        ok("{kind: idToken}", 401, ", reason: invalid_token"),
        ok(
            "{kind: wrongIssuer, claims: {scope: users/write}}",
            401,
            ", reason: invalid_token",
        ),
        ok(
            "{kind: wrongClient, claims: {scope: users/write}}",
            401,
            ", reason: invalid_token",
        ),
        ok(
            "{kind: badSignature, claims: {scope: users/write}}",
            401,
            ", reason: invalid_token",
        ),
    ];
    for c in &cases {
        assert_eq!(run_one(c).await, Outcome::Pass, "{c}");
    }
}

#[tokio::test]
async fn tokens_are_of_the_kind_and_from_the_authorizer_the_route_takes() {
    const AUTHORIZERS: &str = r#"
authorizers:
  staff:
    userPools: [{id: eu-west-1_StaffPool1}]
  customers:
    userPools: [{id: eu-west-1_CustPool01, appClients: [cust1]}]
    tokenSource: {header: x-customer-token}
routes:
  - {name: profile, path: /profile, authorizer: customers, tokenUse: id}
  - {name: reports, path: /reports, authorizer: staff, scopes: [reports/read]}
"#;
    let case = |path: &str, token: &str, expect: &str| {
        format!("request: {{path: {path}}}\ntoken: {token}\nexpect: {expect}\n")
    };
    let cases = [
        // On an ID-token route, the default token is an ID token (aud: the app client).
        case(
            "/profile",
            "{}",
            "{status: 200, headers: {x-cognito-client-id: cust1, x-cognito-scope: null}}",
        ),
        case("/profile", "{kind: idToken}", "{status: 200}"),
        case(
            "/profile",
            "{kind: accessToken}",
            "{status: 401, reason: invalid_token}",
        ),
        case(
            "/profile",
            "{kind: expired}",
            r#"{status: 401, body: '{"message":"The incoming token has expired"}'}"#,
        ),
        case(
            "/profile",
            "{kind: wrongClient}",
            "{status: 401, reason: invalid_token}",
        ),
        // A pool only the other authorizer trusts.
        case(
            "/profile",
            "{pool: eu-west-1_StaffPool1}",
            "{status: 401, reason: invalid_token}",
        ),
        case(
            "/reports",
            "{claims: {scope: reports/read}}",
            "{status: 200, headers: {x-cognito-scope: reports/read}}",
        ),
        case(
            "/reports",
            "{pool: eu-west-1_CustPool01, claims: {scope: reports/read}}",
            "{status: 401, reason: invalid_token}",
        ),
        case(
            "/reports",
            "{kind: idToken}",
            "{status: 401, reason: invalid_token}",
        ),
    ];
    let tests = TestFile {
        tests: cases.iter().map(|c| self::case(c)).collect(),
    };
    let report = run(Policy::parse(AUTHORIZERS).unwrap(), &tests, &[])
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{}", report.render());
    let unknown = TestFile {
        tests: vec![self::case(
            "request: {path: /reports}\ntoken: {pool: eu-west-1_NotOurs01}\nexpect: {status: 401}\n",
        )],
    };
    let report = run(Policy::parse(AUTHORIZERS).unwrap(), &unknown, &[])
        .await
        .unwrap();
    assert!(
        matches!(&report.results[0].outcome, Outcome::Error(e) if e.contains("not one of the policy's user pools")),
        "{:?}",
        report.results[0]
    );
}

#[tokio::test]
async fn a_wrong_expectation_fails_with_the_explanation() {
    let outcome =
        run_one("request: {method: POST, path: /users/1}\ntoken: {}\nexpect: {status: 200}\n")
            .await;
    let Outcome::Fail {
        mismatches,
        explanation,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        mismatches,
        ["status: expected 200, got 401 (insufficient_scope)"]
    );
    assert!(explanation.contains("users/write"), "{explanation}");
}

#[tokio::test]
async fn a_revoked_token_is_refused_as_an_invalid_one() {
    let case = "request: {method: POST, path: /users/1}\ntoken: {kind: revoked, claims: {scope: users/write}}\nexpect: {status: 401, reason: revoked, body: '{\"message\":\"Unauthorized\"}', headers: {www-authenticate: 'Bearer error=\"invalid_token\"'}}\n";
    assert_eq!(run_one(case).await, Outcome::Pass);
    // Expecting it to pass fails, with the entry in the explanation.
    let outcome = run_one(
            "request: {method: POST, path: /users/1}\ntoken: {kind: revoked, claims: {scope: users/write}}\nexpect: {status: 200}\n",
        )
        .await;
    let Outcome::Fail { explanation, .. } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        explanation.contains("made for this test run"),
        "{explanation}"
    );
    let outcome = run_one(
            "request: {method: POST, path: /users/1}\ntoken: {kind: revoked, claims: {jti: x}}\nexpect: {status: 401}\n",
        )
        .await;
    assert!(
        matches!(&outcome, Outcome::Error(e) if e.contains("sets `jti` itself")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_operators_list_applies_to_tokens_described_by_claims() {
    let signed_out = crate::token::access::now_unix() - 10;
    let revocations = crate::revocation::parse_file(&format!(
        "revocations:\n  - sub: {DEFAULT_SUB}\n    issuedBefore: {signed_out}\n"
    ))
    .unwrap()
    .revocations;
    let before = signed_out - 1;
    let tests: TestFile = serde_saphyr::from_str(&format!(
            "tests:\n  - request: {{method: POST, path: /users/1}}\n    token: {{claims: {{scope: users/write, iat: {before}}}}}\n    expect: {{status: 401, reason: revoked}}\n  - request: {{method: POST, path: /users/1}}\n    token: {{claims: {{scope: users/write, iat: {signed_out}}}}}\n    expect: {{status: 200}}\n",
        ))
        .unwrap();
    let report = run(Policy::parse(POLICY).unwrap(), &tests, &revocations)
        .await
        .unwrap();
    assert_eq!(report.failed(), 0, "{}", report.render());
}

#[test]
fn unknown_keys_are_refused() {
    assert!(
        serde_saphyr::from_str::<TestFile>(
            "tests:\n  - request: {path: /}\n    expect: {status: 200, stauts: 1}\n"
        )
        .is_err()
    );
}
