//! SAM sources whose authorization cannot be read with certainty.

use super::*;

#[test]
fn sam_auth_of_the_wrong_shape_is_denied() {
    for (api_auth, event, says) in [
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: Cog}",
            "Auth",
        ),
        (
            "Cog",
            "{RestApiId: !Ref Api, Path: /orders, Method: get}",
            "Auth",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {AuthorizationScopes: null}}",
            "null",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {AuthorizationScopes: orders/read}}",
            "a string",
        ),
        (
            SAM_AUTH,
            "{RestApiId: !Ref Api, Path: /orders, Method: get, Auth: {Authorizer: NONE, ApiKeyRequired: maybe}}",
            "ApiKeyRequired",
        ),
    ] {
        let t = import(&sam(api_auth, event));
        assert_orders_denied(
            &t,
            NoteKind::Unreadable,
            "Resources.F.Properties.Events.E",
            says,
        );
    }
}

#[test]
fn sam_event_on_an_api_defined_elsewhere_is_not_public() {
    let t = import(&sam(
        SAM_AUTH,
        "{RestApiId: !ImportValue shared-api, Path: /orders, Method: get}",
    ));
    assert_orders_denied(
        &t,
        NoteKind::Unresolved,
        "Resources.F.Properties.Events.E",
        "DefaultAuthorizer",
    );
    // Unless the event itself plainly says NONE.
    let t = import(&sam(
        SAM_AUTH,
        "{RestApiId: !ImportValue shared-api, Path: /orders, Method: get, Auth: {Authorizer: NONE}}",
    ));
    assert_eq!(route(&t, "/orders", Some("GET")).auth, Some(AuthMode::None));
}

// ---- Authorizers and CORS ----------------------------------------------------
