//! SAM templates decide as `aws-sam-translator` deploys them (docs/import.md). Each case replays a layout where the import answered otherwise than API
//! Gateway: the request, the route the imported policy matches, and what that route
//! requires. tests/python/import_oracle holds the whole corpus to the translator's output;
//! these pin the attacks themselves, without it.

use cognito_ext_authz::import::{NoteKind, Translation, translate};
use cognito_ext_authz::policy::Policy;
use cognito_ext_authz::policy::model::TokenUse;

const ARN: &str = "arn:aws:cognito-idp:eu-west-1:210987654321:userpool/eu-west-1_Xpr3ssAp1";

fn import(source: &str) -> (Translation, Policy) {
    let t = translate(source, None).unwrap_or_else(|e| panic!("{e}\n{source}"));
    let policy = Policy::compile(&t.policy).unwrap();
    (t, policy)
}

/// What the policy does with `method path`: `None` no route (default deny), else
/// `public`, `deny`, `id` (an ID token of the authorizer) or the scopes.
fn decides(policy: &Policy, method: &str, path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let r = policy.routes.find(&segments, method, "")?;
    Some(if r.is_public() {
        "public".to_owned()
    } else if r.is_deny() {
        "deny".to_owned()
    } else if r.token_use == TokenUse::Id {
        "id".to_owned()
    } else {
        r.scopes.join(" ")
    })
}

/// Asserts what `policy` decides for each `(method, path)`: the rule [`decides`] names, or
/// `None` for no route.
fn assert_decides(policy: &Policy, cases: &[(&str, &str, Option<&str>)]) {
    for &(method, path, want) in cases {
        assert_eq!(
            decides(policy, method, path).as_deref(),
            want,
            "{method} {path}"
        );
    }
}

fn express(cors_extra: &str) -> String {
    format!(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Cors: "'*'"
      Auth:
        DefaultAuthorizer: Cog{cors_extra}
        Authorizers:
          Cog: {{UserPoolArn: {ARN}}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: lambda.handler
      CodeUri: s3://bucket/code.zip
      Events:
        Proxy:
          Type: Api
          Properties: {{RestApiId: !Ref Api, Path: "/{{proxy+}}", Method: ANY, Auth: {{Authorizer: NONE}}}}
        Me:
          Type: Api
          Properties: {{RestApiId: !Ref Api, Path: /me, Method: GET}}
"#
    )
}

/// Issue 24 item 1: the tokenless preflight fell back to the public proxy route.
#[test]
fn sam_cors_preflights_carry_the_default_authorizer() {
    let (_, policy) = import(&express(""));
    assert_decides(
        &policy,
        &[
            // SAM's preflight on the proxy and on /me: the default Cognito authorizer (401
            // without a token), not the public proxy.
            ("OPTIONS", "/orders/1", Some("id")),
            ("OPTIONS", "/me", Some("id")),
            ("GET", "/orders/1", Some("public")),
            ("GET", "/me", Some("id")),
        ],
    );
}

#[test]
fn sam_cors_preflights_are_public_when_the_flag_is_false() {
    let (t, policy) = import(&express(
        "\n        AddDefaultAuthorizerToCorsPreflight: false",
    ));
    assert_decides(
        &policy,
        &[
            ("OPTIONS", "/me", Some("public")),
            ("OPTIONS", "/a/b", Some("public")),
            ("GET", "/me", Some("id")),
        ],
    );
    assert!(
        t.notes
            .iter()
            .any(|n| n.kind == NoteKind::Public
                && n.message.contains("OPTIONS /me: a CORS preflight")),
        "{:#?}",
        t.notes
    );
}

const INLINE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        DefaultAuthorizer: DEFAULT
        Authorizers:
          Cog: {UserPoolArn: ARN, AuthorizationScopes: [books/read]}
          Lambda: {FunctionArn: arn:aws:lambda:eu-west-1:1:function:auth}
      DefinitionBody:
        swagger: "2.0"
        paths:
          /books:
            get: {x-amazon-apigateway-integration: {type: aws_proxy}}
          /books/{isbn}:
            get: {security: [], x-amazon-apigateway-integration: {type: aws_proxy}}
          /status:
            get: {security: [{NONE: []}], x-amazon-apigateway-integration: {type: mock}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: a.handler
      CodeUri: s3://bucket/code.zip
      Events:
        Report:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /internal/report, Method: get, Auth: {Authorizer: NONE}}
        Other:
          Type: Api
          Properties: {RestApiId: !Ref Api, Path: /other, Method: get, Auth: {Authorizer: Cog}}
"#;

/// Issue 24 item 2: body operations under a Cognito default became public, an event the
/// body lacks a public route, and the import exited 0.
#[test]
fn an_inline_body_gets_the_default_authorizer_and_no_events() {
    let (t, policy) = import(&INLINE.replace("DEFAULT", "Cog").replace("ARN", ARN));
    assert_decides(
        &policy,
        &[
            ("GET", "/books", Some("books/read")),
            // `security: []` does not keep SAM's default out; `{NONE: []}` does.
            ("GET", "/books/1", Some("books/read")),
            ("GET", "/status", Some("public")),
            // SAM adds no event to an inline body without MergeDefinitions: no such method.
            ("GET", "/internal/report", None),
            ("GET", "/other", None),
        ],
    );
    assert!(t.notes.iter().any(|n| n.kind == NoteKind::NotTranslated
        && n.at.ends_with("Events.Report")
        && n.message.contains("MergeDefinitions is not set")));
    assert!(t.is_complete(), "{:#?}", t.notes);
    // With MergeDefinitions the events are the API's methods.
    let merged = INLINE
        .replace("DEFAULT", "Cog")
        .replace("ARN", ARN)
        .replace(
            "      DefinitionBody:",
            "      MergeDefinitions: true\n      DefinitionBody:",
        );
    let (_, policy) = import(&merged);
    assert_decides(
        &policy,
        &[
            ("GET", "/internal/report", Some("public")),
            ("GET", "/other", Some("books/read")),
        ],
    );
}

#[test]
fn a_lambda_default_over_an_inline_body_is_denied_not_public() {
    let (t, policy) = import(&INLINE.replace("DEFAULT", "Lambda").replace("ARN", ARN));
    assert_decides(
        &policy,
        &[
            ("GET", "/books", Some("deny")),
            ("GET", "/books/1", Some("deny")),
            ("GET", "/status", Some("public")),
        ],
    );
    assert!(t.notes.iter().any(|n| {
        n.kind == NoteKind::NotEnforced
            && n.message
                .contains("GET /books: protected by the Lambda authorizer Lambda")
    }));
}

/// Issue 24 item 4: the report said "no method of the source uses a Cognito authorizer"
/// where one exists but every method using it was denied.
#[test]
fn a_denied_cognito_authorizer_is_not_reported_as_absent() {
    let (t, _) = import(
        &INLINE
            .replace("DEFAULT", "Cog")
            .replace("ARN", ARN)
            .replace("[books/read]", "books/read"),
    );
    let placeholder = t
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Unresolved && n.message.contains("placeholder pool"))
        .unwrap_or_else(|| panic!("{:#?}", t.notes));
    assert!(
        !placeholder
            .message
            .contains("no method of the source uses a Cognito authorizer"),
        "{placeholder}"
    );
    assert!(placeholder.message.contains("Api.Cog"), "{placeholder}");
}

/// Issue 24 item 4: "different requirements, which API Gateway would refuse" for one
/// path in two APIs of a template, which deploys fine.
#[test]
fn one_path_in_two_apis_is_not_called_a_refused_definition() {
    let source = format!(
        r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Public:
    Type: AWS::Serverless::Api
    Properties: {{StageName: prod}}
  Admin:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth:
        DefaultAuthorizer: Cog
        Authorizers: {{Cog: {{UserPoolArn: {ARN}}}}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: a.handler
      CodeUri: s3://bucket/code.zip
      Events:
        A: {{Type: Api, Properties: {{RestApiId: !Ref Public, Path: /status, Method: get}}}}
        B: {{Type: Api, Properties: {{RestApiId: !Ref Admin, Path: /status, Method: get}}}}
"#
    );
    let (t, policy) = import(&source);
    assert_eq!(decides(&policy, "GET", "/status").as_deref(), Some("deny"));
    let note = t
        .notes
        .iter()
        .find(|n| n.message.contains("GET /status is also defined"))
        .unwrap();
    assert!(!note.message.contains("API Gateway would refuse"), "{note}");
    assert!(
        note.message
            .contains("in another REST API (Public and Admin)"),
        "{note}"
    );
}

/// A default authorizer SAM cannot name statically never leaves a body operation or a
/// preflight public.
#[test]
fn a_default_authorizer_that_is_not_a_name_denies_the_body_and_the_preflights() {
    let source = INLINE
        .replace("DEFAULT", "!Ref DefaultAuth")
        .replace("ARN", ARN)
        .replace("      Auth:\n", "      Cors: \"'*'\"\n      Auth:\n");
    let (t, policy) = import(&source);
    for (method, path) in [
        ("GET", "/books"),
        ("GET", "/books/1"),
        ("OPTIONS", "/books"),
    ] {
        assert_eq!(
            decides(&policy, method, path).as_deref(),
            Some("deny"),
            "{method} {path}"
        );
    }
    assert!(!t.is_complete());
    assert!(
        t.notes
            .iter()
            .any(|n| n.kind == NoteKind::Unreadable
                && n.message.contains("Auth.DefaultAuthorizer is"))
    );
}
