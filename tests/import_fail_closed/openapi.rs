//! OpenAPI 3 and Swagger 2 sources whose authorization cannot be read with certainty.

use super::*;

#[test]
fn openapi_security_as_a_list_of_scheme_names_is_denied() {
    // A defect once found here: this was `auth: none`.
    let t = import(&openapi(r#"{"security": ["CognitoAuth"]}"#, ""));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"CognitoAuth\"",
    );
    // The well-formed operation next to it is untouched.
    assert_eq!(
        route(&t, "/ok", Some("GET")).scopes.as_deref(),
        Some(&["orders/read".to_owned()][..])
    );
}

#[test]
fn openapi_scopes_that_are_not_a_list_of_strings_are_denied() {
    // Another defect once found here: a string of scopes was a route any token passes.
    for (scopes, says) in [
        (r#""orders/read""#, "a string"),
        ("null", "null"),
        (r#"{"orders/read": true}"#, "a map"),
        (r#"["orders/read", 5]"#, "a number"),
        (r#"["orders/read", null]"#, "null"),
        (r#"[["orders/read"]]"#, "a list"),
    ] {
        let t = import(&openapi(
            &format!(r#"{{"security": [{{"CognitoAuth": {scopes}}}]}}"#),
            "",
        ));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", says);
    }
}

#[test]
fn openapi_security_of_the_wrong_shape_is_denied() {
    for op in [
        r#"{"security": null}"#,
        r#"{"security": "CognitoAuth"}"#,
        r#"{"security": {"CognitoAuth": []}}"#,
        r#"{"security": [{"CognitoAuth": ["orders/read"]}, "CognitoAuth"]}"#,
        r#"{"security": [null]}"#,
    ] {
        let t = import(&openapi(op, ""));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "security");
    }
}

#[test]
fn openapi_top_level_security_of_the_wrong_shape_is_denied() {
    for root in [
        r#""security": ["CognitoAuth"],"#,
        r#""security": {"CognitoAuth": ["orders/read"]},"#,
        r#""security": null,"#,
        r#""security": [{"CognitoAuth": "orders/read"}],"#,
    ] {
        let t = import(&openapi(r#"{"operationId": "listOrders"}"#, root));
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "security");
    }
}

#[test]
fn openapi_operation_that_is_not_a_map_is_denied() {
    for op in ["null", r#""CognitoAuth""#, "[]", "5"] {
        let t = import(&openapi(op, ""));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "paths./orders.get",
            "not an operation",
        );
    }
}

#[test]
fn openapi_misspelt_security_does_not_make_a_method_public() {
    // `Security` is not an OpenAPI field: without the rule, no `security` anywhere reads
    // as public.
    let t = import(&openapi(
        r#"{"Security": [{"CognitoAuth": ["orders/read"]}]}"#,
        "",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "\"Security\"",
    );
    let t = import(&openapi(
        "{}",
        r#""securty": [{"CognitoAuth": ["orders/read"]}],"#,
    ));
    assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", "\"securty\"");
}

#[test]
fn openapi_plainly_public_and_plainly_scope_less_methods_still_translate() {
    let t = import(&openapi(r#"{"security": []}"#, ""));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
    // No security anywhere, and nothing misspelt: public, as API Gateway reads it.
    let t = import(&openapi(
        r#"{"operationId": "x", "responses": {}, "x-amazon-apigateway-integration": {}}"#,
        "",
    ));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
    let t = import(&openapi(r#"{"security": [{"CognitoAuth": []}]}"#, ""));
    let r = route(&t, "/orders", Some("GET"));
    assert_eq!((r.auth, r.scopes.as_ref()), (None, None));
}

#[test]
fn openapi_optional_security_is_denied() {
    // `{}` next to a requirement makes authorization optional, which API Gateway does not
    // apply to a method.
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}, {}]}"#,
        "",
    ));
    assert_orders_denied(&t, NoteKind::NotEnforced, "paths./orders.get", "optional");
}

#[test]
fn openapi_legacy_auth_extension_of_the_wrong_shape_is_denied() {
    for ext in [
        r#""AWS_IAM""#,
        r#"{"type": 5}"#,
        r#"{"type": "cognito"}"#,
        "null",
    ] {
        let t = import(&openapi(
            &format!(r#"{{"security": [], "x-amazon-apigateway-auth": {ext}}}"#),
            "",
        ));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "paths./orders.get",
            "x-amazon-apigateway-auth",
        );
    }
}

#[test]
fn openapi_path_item_that_is_not_a_map_denies_the_path() {
    let src = openapi("{}", "").replace(
        r#""/ok": {"get""#,
        r#""/admin/keys": "oops", "/admin/{proxy+}": {"get": {"security": []}}, "/ok": {"get""#,
    );
    let t = import(&src);
    assert_denied(
        &t,
        "/admin/keys",
        None,
        NoteKind::Unreadable,
        "paths./admin/keys",
        "not a path item",
    );
}

#[test]
fn swagger_2_security_as_a_list_of_scheme_names_is_denied() {
    let src = format!(
        r#"
swagger: "2.0"
info: {{title: t, version: "1"}}
securityDefinitions:
  pool:
    type: apiKey
    name: Authorization
    in: header
    x-amazon-apigateway-authtype: cognito_user_pools
    x-amazon-apigateway-authorizer: {{type: cognito_user_pools, providerARNs: ["{POOL}"]}}
paths:
  /a:
    get: {{security: [pool]}}
  /b:
    get: {{security: [{{pool: a/b}}]}}
"#
    );
    let t = import(&src);
    for path in ["/a", "/b"] {
        assert_denied(
            &t,
            path,
            Some("GET"),
            NoteKind::Unreadable,
            &format!("paths.{path}.get"),
            "security",
        );
    }
}

// ---- Serverless -----------------------------------------------------------------------

#[test]
fn openapi_identity_source_that_is_not_one_header_denies() {
    for (scheme, says) in [
        (
            r#""type": "apiKey", "name": "token", "in": "query""#,
            "the scheme's `in` is a string \"query\", not header",
        ),
        (
            r#""type": "apiKey", "name": "Authorization", "in": "header", "x-identity": 1"#,
            "",
        ),
    ] {
        let src = openapi(r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#, "").replace(
            r#""type": "apiKey", "name": "Authorization", "in": "header""#,
            scheme,
        );
        let t = import(&src);
        if says.is_empty() {
            // The control: the same document with a header scheme is translated.
            assert_eq!(route(&t, "/orders", Some("GET")).auth, None);
            continue;
        }
        assert_orders_denied(&t, NoteKind::Unreadable, "paths./orders.get", says);
    }
    // identitySource and the scheme's name naming different headers.
    let src = openapi(r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#, "").replace(
        r#""type": "cognito_user_pools", "providerARNs""#,
        r#""type": "cognito_user_pools", "identitySource": "method.request.header.X-Token", "providerARNs""#,
    );
    let t = import(&src);
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "paths./orders.get",
        "names another header than the scheme's name",
    );
}

#[test]
fn openapi_cors_extension_opens_preflights_only() {
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#,
        r#""x-amazon-apigateway-cors": {"allowOrigins": ["https://shop.example.com"]},"#,
    ));
    for path in ["/orders", "/ok"] {
        assert_eq!(
            route(&t, path, Some("OPTIONS")).auth,
            Some(AuthMode::None),
            "{path}"
        );
        let get = route(&t, path, Some("GET"));
        assert_eq!(
            (get.auth, get.authorizer.as_deref()),
            (None, Some("CognitoAuth"))
        );
    }
    assert_eq!(t.policy.routes.len(), 4, "{:#?}", t.policy.routes);
    // Anything but a map of settings: the preflights are denied, the methods untouched.
    let t = import(&openapi(
        r#"{"security": [{"CognitoAuth": ["orders/read"]}]}"#,
        r#""x-amazon-apigateway-cors": true,"#,
    ));
    assert_denied(
        &t,
        "/orders",
        Some("OPTIONS"),
        NoteKind::Unreadable,
        "x-amazon-apigateway-cors",
        "not a map of CORS settings",
    );
    assert_eq!(route(&t, "/orders", Some("GET")).auth, None);
}
