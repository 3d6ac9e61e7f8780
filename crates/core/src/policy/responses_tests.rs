use super::*;

fn config(yaml: &str) -> BTreeMap<String, GatewayResponseConfig> {
    serde_saphyr::from_str(yaml).unwrap()
}

fn compile(yaml: &str) -> (GatewayResponses, Vec<String>) {
    let mut errors = Vec::new();
    let r = GatewayResponses::compile(&config(yaml), &["x-tenant".to_owned()], &mut errors);
    (r, errors.iter().map(ToString::to_string).collect())
}

#[test]
fn without_configuration_the_answers_are_api_gateways() {
    let r = GatewayResponses::default();
    let a = r.answer(
        Some(ResponseType::MissingAuthenticationToken),
        403,
        "Missing Authentication Token",
        None,
    );
    assert_eq!(a.status, 403);
    assert_eq!(&*a.body, r#"{"message":"Missing Authentication Token"}"#);
    assert!(a.headers.is_empty());
}

#[test]
fn a_type_not_configured_falls_back_to_default_4xx() {
    let (r, errors) = compile(
        r#"
DEFAULT_4XX:
  headers: {Access-Control-Allow-Origin: "https://app.example.com"}
ACCESS_DENIED:
  statusCode: 404
  body: '{"error":$context.error.messageString,"code":"denied"}'
"#,
    );
    assert!(errors.is_empty(), "{errors:?}");
    // UNAUTHORIZED is not configured: DEFAULT_4XX's headers, the default body.
    let a = r.answer(
        Some(ResponseType::Unauthorized),
        401,
        "Unauthorized",
        Some("Bearer"),
    );
    assert_eq!(a.status, 401);
    assert_eq!(a.www_authenticate, Some("Bearer"));
    assert_eq!(
        &*a.headers,
        [(
            "access-control-allow-origin".to_owned(),
            "https://app.example.com".to_owned()
        )]
    );
    assert_eq!(&*a.body, r#"{"message":"Unauthorized"}"#);
    // ACCESS_DENIED is: its own status and body, and not DEFAULT_4XX's headers.
    let a = r.answer(Some(ResponseType::AccessDenied), 403, "Forbidden", None);
    assert_eq!(a.status, 404);
    assert!(a.headers.is_empty());
    assert_eq!(&*a.body, r#"{"error":"Forbidden","code":"denied"}"#);
    // No type: nothing applies.
    let a = r.answer(None, 403, "Forbidden", None);
    assert!(a.headers.is_empty());
}

#[test]
fn default_4xx_status_changes_every_other_4xx_without_its_own() {
    let (r, errors) = compile(
        "DEFAULT_4XX: {statusCode: 404}\nUNAUTHORIZED: {headers: {X-Reason: auth}}\nMISSING_AUTHENTICATION_TOKEN: {statusCode: 410}\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    let status = |k| r.answer(Some(k), 403, "Forbidden", None).status;
    assert_eq!(status(ResponseType::Unauthorized), 404);
    assert_eq!(status(ResponseType::AccessDenied), 404);
    assert_eq!(status(ResponseType::MissingAuthenticationToken), 410);
    // A 401 made another status keeps its challenge; a status made 401 gets one.
    let (r, _) = compile("MISSING_AUTHENTICATION_TOKEN: {statusCode: 401}\n");
    let a = r.answer(
        Some(ResponseType::MissingAuthenticationToken),
        403,
        "Missing Authentication Token",
        None,
    );
    assert_eq!((a.status, a.www_authenticate), (401, Some("Bearer")));
}

#[test]
fn only_the_message_variable_is_substituted() {
    assert_eq!(
        render_body(
            r#"{"message":$context.error.messageString,"price":"$5 #1"}"#,
            "Unauthorized"
        )
        .unwrap(),
        r#"{"message":"Unauthorized","price":"$5 #1"}"#
    );
    for bad in [
        r#"{"id":"$context.requestId"}"#,
        r#"{"m":$context.error.messageStringX}"#,
        r#"{"m":"${context.error.message}"}"#,
        r#"{"m":"$stageVariables.x"}"#,
        r#"{"m":"$input.body"}"#,
        r#"{"m":"$util.escapeJavaScript('x')"}"#,
        r#"#set($x = 1){"m":1}"#,
        r#"{"m":"$!context.x"}"#,
        "not json $context.error.messageString",
        "",
    ] {
        assert!(render_body(bad, "Unauthorized").is_err(), "{bad}");
    }
    let big = format!(r#"{{"m":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    assert!(render_body(&big, "x").unwrap_err().contains("longer"));
}

#[test]
fn unsafe_or_unknown_settings_are_refused_with_their_place() {
    let (_, errors) = compile(
        r#"
THROTTLED: {statusCode: 429}
NOT_A_TYPE: {}
UNAUTHORIZED:
  statusCode: 200
  headers:
    WWW-Authenticate: Basic
    X-Cognito-Sub: admin
    x_cognito_groups: admins
    Content-Type: text/html
    Transfer-Encoding: chunked
    X-Envoy-Upstream-Service-Time: "1"
    X-Tenant: t1
    X-Ok: "a\r\nx-admin: 1"
    Set-Cookie: a=b
ACCESS_DENIED:
  statusCode: 500
  body: '{"id":"$context.requestId"}'
"#,
    );
    let all = errors.join("\n");
    for want in [
        "gatewayResponses.THROTTLED: \"THROTTLED\" is an API Gateway response type this service never answers with",
        "gatewayResponses.NOT_A_TYPE: \"NOT_A_TYPE\" is not an API Gateway response type",
        "gatewayResponses.UNAUTHORIZED.statusCode: 200",
        "UNAUTHORIZED.headers.WWW-Authenticate",
        "UNAUTHORIZED.headers.X-Cognito-Sub",
        "UNAUTHORIZED.headers.x_cognito_groups",
        "UNAUTHORIZED.headers.Content-Type",
        "UNAUTHORIZED.headers.Transfer-Encoding",
        "UNAUTHORIZED.headers.X-Envoy-Upstream-Service-Time",
        "UNAUTHORIZED.headers.X-Tenant: \"X-Tenant\" is a claim or token header",
        "UNAUTHORIZED.headers.X-Ok: the value",
        "UNAUTHORIZED.headers.Set-Cookie",
        "gatewayResponses.ACCESS_DENIED.statusCode: 500",
        "gatewayResponses.ACCESS_DENIED.body: $context.requestId is a mapping-template variable",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}

#[test]
fn cors_headers_are_allowed() {
    let (r, errors) = compile(
        "UNAUTHORIZED:\n  headers:\n    Access-Control-Allow-Origin: '*'\n    Access-Control-Expose-Headers: WWW-Authenticate\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(r.configured(), ["UNAUTHORIZED"]);
}
