//! CloudFormation sources whose authorization cannot be read with certainty.

use super::*;

#[test]
fn cloudformation_scopes_that_are_not_a_list_of_strings_are_denied() {
    for (scopes, says) in [
        ("null", "null"),
        ("orders/read", "a string"),
        ("[orders/read, 5]", "a number"),
        ("[orders/read, true]", "a boolean"),
        ("{a: b}", "a map"),
    ] {
        let t = import(&cloudformation(&format!(
            "AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth, AuthorizationScopes: {scopes}"
        )));
        assert_orders_denied(&t, NoteKind::Unreadable, "Resources.GetOrders", says);
    }
}

#[test]
fn cloudformation_cognito_without_a_usable_authorizer_is_denied() {
    for (props, says) in [
        ("AuthorizationType: COGNITO_USER_POOLS", "no AuthorizerId"),
        (
            "AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Pool",
            "not an AWS::ApiGateway::Authorizer",
        ),
        // No AuthorizationType, but an authorizer: not plainly public.
        ("AuthorizerId: !Ref Auth", "AuthorizerId"),
        ("AuthorizationScopes: [a/b]", "AuthorizationScopes"),
    ] {
        let t = import(&cloudformation(props));
        assert_orders_denied(&t, NoteKind::Unreadable, "Resources.GetOrders", says);
    }
}

#[test]
fn cloudformation_misspelt_property_does_not_make_a_method_public() {
    let t = import(&cloudformation("Authorizationtype: COGNITO_USER_POOLS"));
    assert_orders_denied(
        &t,
        NoteKind::Unreadable,
        "Resources.GetOrders",
        "\"Authorizationtype\"",
    );
    let t = import(&cloudformation("AuthorizationType: NONE"));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
}

#[test]
fn cloudformation_api_key_flag_only_deployment_knows_is_denied() {
    let t = import(&cloudformation(
        "AuthorizationType: NONE, ApiKeyRequired: !Ref Flag",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "ApiKeyRequired",
    );
    // CloudFormation reads booleans case-insensitively: "True" requires a key.
    let t = import(&cloudformation(
        "AuthorizationType: NONE, ApiKeyRequired: 'True'",
    ));
    assert_orders_denied(
        &t,
        NoteKind::NotEnforced,
        "Resources.GetOrders",
        "API key alone",
    );
}

#[test]
fn cloudformation_authorizer_settings_only_deployment_knows() {
    // An expression only deployment knows: the method is denied.
    let t = import(
        &cloudformation("AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth").replace(
            "Properties: {Type: COGNITO_USER_POOLS,",
            "Properties: {IdentityValidationExpression: !Ref Flag, Type: COGNITO_USER_POOLS,",
        ),
    );
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.GetOrders",
        "identity validation expression depends on parameter Flag",
    );
    // A TTL only deployment knows: the route is kept, with nothing reused until it is set.
    let t = import(
        &cloudformation("AuthorizationType: COGNITO_USER_POOLS, AuthorizerId: !Ref Auth").replace(
            "Properties: {Type: COGNITO_USER_POOLS,",
            "Properties: {AuthorizerResultTtlInSeconds: !Ref Flag, Type: COGNITO_USER_POOLS,",
        ),
    );
    let get = route(&t, "/orders", Some("GET"));
    assert_eq!(get.token_use, Some(TokenUse::Id));
    assert_eq!(
        authorizer_of(&t, "/orders", Some("GET")).result_ttl_seconds,
        Some(0)
    );
    assert!(!t.is_complete());
    assert!(t.notes.iter().any(|n| {
        n.kind == NoteKind::Unresolved
            && n.at == "Resources.Auth"
            && n.message
                .contains("the result TTL depends on parameter Flag")
    }));
}
