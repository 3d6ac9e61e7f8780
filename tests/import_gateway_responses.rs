//! `import` of gateway responses, with the real binary on the `gateway-responses-*`
//! fixtures in tests/fixtures/import/: what each format states becomes `gatewayResponses`
//! one to one where the policy can state it, a note names everything else, and the tests
//! `import --tests` writes pin the answers (headers and bodies included) with `test`.

use std::collections::BTreeMap;

use cognito_ext_authz::policy::model::PolicyFile;
use testkit::run;

/// The service binary, started by the test kit's `Service` (see its crate doc).
const BIN: &str = env!("CARGO_BIN_EXE_cognito-ext-authz");

struct Imported {
    code: i32,
    policy: PolicyFile,
    report: String,
}

fn import(name: &str) -> Imported {
    let r = run(
        BIN,
        &[
            "import",
            testkit::fixtures("import").join(name).to_str().unwrap(),
        ],
    );
    assert!(r.code == 0 || r.code == 3, "{name}: {}", r.stderr);
    Imported {
        code: r.code,
        policy: serde_saphyr::from_str(&r.stdout).unwrap(),
        report: r.stderr,
    }
}

/// `type -> (status, headers, body)` of the imported policy.
type Response = (Option<u16>, Vec<(String, String)>, Option<String>);
type Responses = BTreeMap<String, Response>;

fn responses(p: &PolicyFile) -> Responses {
    p.gateway_responses
        .iter()
        .map(|(k, r)| {
            (
                k.clone(),
                (
                    r.status_code,
                    r.headers
                        .iter()
                        .map(|(h, v)| (h.clone(), v.clone()))
                        .collect(),
                    r.body.clone(),
                ),
            )
        })
        .collect()
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(h, v)| (h.to_string(), v.to_string()))
        .collect()
}

/// Asserts the gateway responses imported are `want` exactly, and the report has each note.
fn assert_imported(
    i: &Imported,
    want: impl IntoIterator<Item = (String, Response)>,
    notes: &[&str],
) {
    assert_eq!(
        responses(&i.policy),
        want.into_iter().collect::<Responses>()
    );
    assert_notes(&i.report, notes);
}

fn assert_notes(report: &str, wanted: &[&str]) {
    for want in wanted {
        assert!(report.contains(want), "missing {want:?} in:\n{report}");
    }
}

#[test]
fn cloudformation_gateway_response_resources() {
    let i = import("gateway-responses-cloudformation.yaml");
    assert_eq!(i.code, 0, "{}", i.report);
    let origin = ("Access-Control-Allow-Origin", "https://orders.example.com");
    assert_imported(
        &i,
        [
            (
                "DEFAULT_4XX".to_owned(),
                (
                    None,
                    headers(&[
                        ("Access-Control-Allow-Headers", "Authorization,Content-Type"),
                        origin,
                    ]),
                    None,
                ),
            ),
            // The body's template had another variable: the status alone is translated.
            (
                "MISSING_AUTHENTICATION_TOKEN".to_owned(),
                (Some(404), vec![], None),
            ),
            (
                "UNAUTHORIZED".to_owned(),
                (
                    Some(401),
                    headers(&[
                        origin,
                        ("Access-Control-Expose-Headers", "WWW-Authenticate"),
                    ]),
                    Some(
                        r#"{"error": "unauthorized", "message": $context.error.messageString}"#
                            .to_owned(),
                    ),
                ),
            ),
        ],
        &[
            "[changed] Resources.Unauthorized.responseParameters.gatewayresponse.header.Vary: header Vary is \"method.request.header.Origin\", which API Gateway fills from each request",
            "[not-translated] Resources.Unauthorized.responseTemplates.text/html",
            "[changed] Resources.MissingToken.responseTemplates.application/json: $context.requestId is a mapping-template variable",
            "[not-translated] Resources.Throttled: \"THROTTLED\" is an API Gateway response type this service never answers with",
            "[not-translated] Resources.ExpiredToken: EXPIRED_TOKEN: API Gateway gives it for expired AWS credentials",
        ],
    );
}

#[test]
fn sam_gateway_responses_with_globals() {
    let i = import("gateway-responses-sam.yaml");
    // The API's UNAUTHORIZED origin is a parameter: unresolved until written by hand.
    assert_eq!(i.code, 3, "{}", i.report);
    let star = ("Access-Control-Allow-Origin", "*");
    assert_imported(
        &i,
        [
            (
                "ACCESS_DENIED".to_owned(),
                (Some(403), headers(&[star]), None),
            ),
            ("DEFAULT_4XX".to_owned(), (None, headers(&[star]), None)),
            (
                "UNAUTHORIZED".to_owned(),
                (
                    Some(401),
                    headers(&[("Access-Control-Expose-Headers", "WWW-Authenticate")]),
                    Some(r#"{"message": $context.error.messageString}"#.to_owned()),
                ),
            ),
        ],
        &[
            "[unresolved] Resources.NotesApi.Properties.GatewayResponses.UNAUTHORIZED.responseParameters.gatewayresponse.header.Access-Control-Allow-Origin: header Access-Control-Allow-Origin depends on parameter AppOrigin",
            "[not-translated] Resources.NotesApi.Properties.GatewayResponses.UNAUTHORIZED.responseParameters.gatewayresponse.querystring.reason",
        ],
    );
}

#[test]
fn openapi_extension() {
    let i = import("gateway-responses-openapi.json");
    assert_eq!(i.code, 0, "{}", i.report);
    let origin = ("Access-Control-Allow-Origin", "https://reports.example.com");
    assert_imported(
        &i,
        [
            (
                "ACCESS_DENIED".to_owned(),
                (
                    Some(403),
                    vec![],
                    Some(
                        r#"{"message":$context.error.messageString,"hint":"ask for access"}"#
                            .to_owned(),
                    ),
                ),
            ),
            ("DEFAULT_4XX".to_owned(), (None, headers(&[origin]), None)),
            // Its own www-authenticate is refused: the challenge stays the service's.
            (
                "UNAUTHORIZED".to_owned(),
                (Some(401), headers(&[origin]), None),
            ),
        ],
        &[
            "[not-translated] x-amazon-apigateway-gateway-responses.INVALID_API_KEY",
            "[changed] x-amazon-apigateway-gateway-responses.UNAUTHORIZED.responseParameters.gatewayresponse.header.WWW-Authenticate",
        ],
    );
}

#[test]
fn serverless_resources_with_variables() {
    let i = import("gateway-responses-serverless.yml");
    assert_eq!(i.code, 3, "{}", i.report);
    assert_imported(
        &i,
        [(
            "DEFAULT_4XX".to_owned(),
            (
                None,
                headers(&[
                    ("Access-Control-Allow-Headers", "*"),
                    (
                        "Access-Control-Allow-Origin",
                        "https://invoices.example.com",
                    ),
                ]),
                None,
            ),
        )],
        &[
            "[unresolved] resources.Resources.GatewayResponseExpired: the response type depends on the Serverless variable ${opt:expiredType, 'UNAUTHORIZED'}",
        ],
    );
}

/// `import --tests` expects the gateway responses' answers, and `test` holds the imported
/// policy to them; a policy that loses them fails.
#[test]
fn generated_tests_pin_the_gateway_responses() {
    for source in [
        "gateway-responses-cloudformation.yaml",
        "gateway-responses-sam.yaml",
        "gateway-responses-openapi.json",
        "gateway-responses-serverless.yml",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tests = dir.path().join("tests.yaml");
        let r = run(
            BIN,
            &[
                "import",
                testkit::fixtures("import").join(source).to_str().unwrap(),
                "--tests",
                tests.to_str().unwrap(),
            ],
        );
        assert!(r.code == 0 || r.code == 3, "{source}: {}", r.stderr);
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, &r.stdout).unwrap();
        let t = run(
            BIN,
            &["test", policy.to_str().unwrap(), tests.to_str().unwrap()],
        );
        assert_eq!(t.code, 0, "{source}: {}{}", t.stdout, t.stderr);

        // Without its gateway responses, the policy answers API Gateway's defaults, and
        // the generated tests notice.
        let stripped: String = {
            let mut p: PolicyFile = serde_saphyr::from_str(&r.stdout).unwrap();
            p.gateway_responses.clear();
            serde_saphyr::to_string(&p).unwrap()
        };
        std::fs::write(&policy, stripped).unwrap();
        let t = run(
            BIN,
            &["test", policy.to_str().unwrap(), tests.to_str().unwrap()],
        );
        assert_eq!(t.code, 1, "{source}: {}", t.stdout);
        assert!(
            t.stdout
                .contains("header access-control-allow-origin: expected"),
            "{source}: {}",
            t.stdout
        );
    }
}
