//! Unit tests of the `serverless.yml` reader.

use super::*;
use crate::document;

#[test]
fn resolves_self_variables_and_names_the_rest() {
    let doc = document::parse(
            "custom:\n  pool: eu-west-1_AbC\n  scopes: [a/b, c/d]\n  alias: ${self:custom.pool}\nprovider:\n  stage: ${opt:stage, 'dev'}\n",
        )
        .unwrap();
    let sls = Serverless {
        doc: &doc,
        resources: Template::new(&Value::Null),
        pseudo: None,
    };
    assert_eq!(
        sls.interpolate("userpool/${self:custom.alias}", 0)
            .as_known()
            .as_deref(),
        Some("userpool/eu-west-1_AbC")
    );
    assert_eq!(
        sls.interpolate("${self:custom.missing, 'fallback'}", 0)
            .as_known()
            .as_deref(),
        Some("fallback")
    );
    let stage = sls.interpolate("x-${self:provider.stage}", 0);
    assert_eq!(
        stage.unknowns(),
        ["the Serverless variable ${opt:stage, 'dev'}"]
    );
    let scopes = sls.list(&Value::String("${self:custom.scopes}".into()));
    assert_eq!(scopes, [Text::known("a/b"), Text::known("c/d")]);
    assert!(
        sls.interpolate("${self:custom.nope}", 0)
            .as_known()
            .is_none()
    );
}

#[test]
fn what_is_kept_in_other_files_is_reported() {
    let doc = document::parse(
            r#"
service: s
functions:
  a:
    events: ${file(events.yml)}
  b:
    events:
      - http: {path: x, method: get, authorizer: {type: COGNITO_USER_POOLS, authorizerId: {Ref: Auth}, scopes: [a/b]}}
resources:
  - ${file(resources.yml)}
  - Resources:
      Auth:
        Type: AWS::ApiGateway::Authorizer
        Properties: {Type: COGNITO_USER_POOLS, ProviderARNs: ["arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"]}
"#,
        )
        .unwrap();
    let api = read(&doc);
    let kinds: Vec<(NoteKind, &str)> = api.notes.iter().map(|n| (n.kind, n.at.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (NoteKind::NotTranslated, "resources[0]"),
            (NoteKind::Unresolved, "functions.a.events"),
        ]
    );
    // The second fragment of `resources` is read.
    assert_eq!(api.authorizers[0].name, "Auth");
    assert_eq!(
        api.authorizers[0].provider_arns,
        [Text::known(
            "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC"
        )]
    );
}

#[test]
fn reads_short_and_long_http_events() {
    let doc = document::parse(
            r#"
service: s
functions:
  a:
    events:
      - http: 'post my_path'
      - http: {path: "/users/{id}", method: any, authorizer: aws_iam}
      - http: {path: x, method: get, authorizer: {arn: "arn:aws:cognito-idp:eu-west-1:1:userpool/eu-west-1_AbC", scopes: [s/x]}, private: true}
      - http: {path: y, method: get, authorizer: {name: fn, type: token}}
      - httpApi: 'GET /z'
"#,
        )
        .unwrap();
    let api = read(&doc);
    let got: Vec<(String, String)> = api
        .methods
        .iter()
        .map(|m| (m.method.to_string(), m.path.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("post".to_owned(), "/my_path".to_owned()),
            ("any".to_owned(), "/users/{id}".to_owned()),
            ("get".to_owned(), "/x".to_owned()),
            ("get".to_owned(), "/y".to_owned()),
        ]
    );
    assert!(matches!(api.methods[0].access, Access::Public));
    assert!(matches!(api.methods[1].access, Access::NotEnforceable(_)));
    assert!(matches!(&api.methods[2].access, Access::Cognito { scopes, .. } if scopes.len() == 1));
    assert_eq!(api.methods[2].unenforced_extras.len(), 1);
    assert!(matches!(api.methods[3].access, Access::NotEnforceable(_)));
    assert_eq!(api.notes.len(), 1);
}

#[test]
fn trailing_slashes_and_pseudo_parameters_read_as_serverless_deploys_them() {
    let source = |plugins: &str| {
        format!(
            r#"
service: s
{plugins}
functions:
  list:
    events:
      - http:
          path: /restaurants/
          method: get
          authorizer:
            arn: arn:aws:cognito-idp:#{{AWS::Region}}:#{{AWS::AccountId}}:userpool/us-east-1_X
      - http: GET restaurants/{{id}}/
      - http: GET /
"#
        )
    };
    let api = read(&document::parse(&source("plugins: [serverless-pseudo-parameters]")).unwrap());
    let paths: Vec<String> = api.methods.iter().map(|m| m.path.to_string()).collect();
    assert_eq!(paths, ["/restaurants", "/restaurants/{id}", "/"]);
    assert_eq!(api.authorizers[0].name, "us-east-1_X");
    assert_eq!(
        crate::api::pool_arn(&api.authorizers[0].provider_arns[0]),
        crate::api::PoolArn::Pool("us-east-1_X".into())
    );
    // Without the plugin, `#{...}` is what CloudFormation receives: no pool ARN.
    let api = read(&document::parse(&source("")).unwrap());
    assert!(matches!(
        crate::api::pool_arn(&api.authorizers[0].provider_arns[0]),
        crate::api::PoolArn::Invalid(_)
    ));
}

#[test]
fn only_what_serverless_reads_as_a_pool_arn_is_a_cognito_authorizer() {
    let api = read(
            &document::parse(
                r#"
service: s
functions:
  f:
    events:
      - http: {path: a, method: get, authorizer: {arn: "${ssm:/auth/arn}"}}
      - http: {path: b, method: get, authorizer: {arn: {"Fn::GetAtt": [Pool, Arn]}}}
      - http: {path: c, method: get, authorizer: "arn:aws:lambda:eu-west-1:1:function:auth"}
      - http: {path: d, method: get, authorizer: "arn:${ssm:/p}:cognito-idp:eu-west-1:1:userpool/eu-west-1_X"}
"#,
            )
            .unwrap(),
        );
    let access: Vec<&Access> = api.methods.iter().map(|m| &m.access).collect();
    assert!(
        matches!(access[0], Access::Unknown(w) if w.contains("${ssm:/auth/arn}")),
        "{access:?}"
    );
    // An intrinsic `arn` without `type`: Serverless writes a Lambda (CUSTOM) authorizer.
    assert!(matches!(access[1], Access::NotEnforceable(_)), "{access:?}");
    assert!(matches!(access[2], Access::NotEnforceable(_)), "{access:?}");
    assert!(matches!(access[3], Access::Unknown(_)), "{access:?}");
}

#[test]
fn short_form_events_split_on_single_spaces_as_serverless_does() {
    let api = read(
            &document::parse(
                "service: s\nfunctions:\n  v:\n    events:\n      - http: 'GET  /two-spaces'\n      - http: 'POST /x extra'\n      - http: 'GET\t/tab'\n",
            )
            .unwrap(),
        );
    let got: Vec<(String, String)> = api
        .methods
        .iter()
        .map(|m| (m.method.to_string(), m.path.to_string()))
        .collect();
    assert_eq!(got[0], ("GET".to_owned(), "/".to_owned()));
    assert_eq!(got[1], ("POST".to_owned(), "/x".to_owned()));
    // No space at all: not `METHOD PATH`, no route.
    assert!(api.methods[2].path.as_known().is_none());
}

#[test]
fn a_short_form_event_with_a_deployment_variable_keeps_its_method() {
    let api = read(
        &document::parse(
            "service: s\nfunctions:\n  v:\n    events:\n      - http: GET ${sls:stage}/version\n",
        )
        .unwrap(),
    );
    assert_eq!(api.methods[0].method, Text::known("GET"));
    assert_eq!(
        api.methods[0].path.to_string(),
        "/<the Serverless variable ${sls:stage}>/version"
    );
}
