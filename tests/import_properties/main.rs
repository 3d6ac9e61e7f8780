//! Property: no mutated source ever imports to a public or scope-less route that it does
//! not plainly state (docs/import.md).
//!
//! Every fixture in tests/fixtures/import/ is read into its tree and mutated at random the
//! ways real files go wrong: a node replaced by a value of another type (a string, a
//! number, a boolean, null, an empty list or map, a list of strings, a map of strings to
//! strings), a key deleted, renamed (a typo, a case change, or another key of the file),
//! a node duplicated under another key or at the end of its list. The importer runs on the
//! mutated tree and must not panic nor fail as a bug (`ImportError::Internal`); and every
//! route it writes that is `auth: none`, or requires a token but names no scopes, must
//! correspond to a method that the mutated source *plainly* states as such, by the small
//! reference reading below (one function per format, written from docs/import.md's rules, not
//! from the importer):
//!
//! - public: OpenAPI `security` (the operation's, else the document's) a list of empty
//!   requirements (`[]`, `[{}]`), or no `security` at either level and no key that looks
//!   like a misspelt one; OPTIONS on a path without an `options` operation of a document
//!   with an `x-amazon-apigateway-cors` map; a Serverless http event `'METHOD PATH'`, or a
//!   map without `authorizer` (nor anything spelt like it) and without `private: true`;
//!   OPTIONS on the path of an http event with `cors: true` or a map of CORS settings; a
//!   CloudFormation method with `AuthorizationType: NONE`, or none and no authorizer, and
//!   no `ApiKeyRequired` other than false; a SAM event whose authorizer (its own, else its
//!   API's default) is `NONE` or absent on an API of the template whose definition is not
//!   in another file (`DefinitionUri`, an included `DefinitionBody`).
//! - scope-less (an ID-token route, `tokenUse: id`, counts as one): a requirement naming a
//!   Cognito scheme with exactly `[]`; a Serverless
//!   Cognito authorizer (an ARN, or a map of type `COGNITO_USER_POOLS` or with a Cognito
//!   `arn`) naming its `arn` or `authorizerId`, with `scopes` absent or `[]`; a
//!   `COGNITO_USER_POOLS` method with an `AuthorizerId` and `AuthorizationScopes` absent or
//!   `[]`; a SAM event whose authorizer has a `UserPoolArn` and scopes absent or `[]`
//!   (on an API whose definition is not in another file).
//!
//! A route matches a source method by path and HTTP method; CloudFormation methods, whose
//! paths come from the resource tree, match by their logical id (the route's name).
//!
//! `mutate` writes the mutations; `plain` is the reference reading of what a source plainly
//! says, one function per format.

use cognito_ext_authz::import::{Format, ImportError, read_document, translate_document};
use cognito_ext_authz::policy::model::{AuthMode, RouteConfig};
use cognito_ext_authz::policy::template::PathTemplate;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value};

mod mutate;
mod plain;

use mutate::*;
use plain::*;

/// Cases per fixture: enough to reach every field of the small fixtures many times, few
/// enough to run in a few seconds.
const CASES: u32 = 256;

// ---- Mutations --------------------------------------------------------------------------

/// One step into a tree.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

const SPECIAL: [&str; 14] = [
    "",
    " ",
    "NONE",
    "none",
    "AWS_IAM",
    "COGNITO_USER_POOLS",
    "CUSTOM",
    "get",
    "ANY",
    "true",
    "false",
    "orders/read",
    "two words",
    "${opt:stage}",
];

/// What a mutation does; numbers pick among the candidates when it is applied.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the node by a value of kind `kind` built from word `word`.
    Replace {
        node: usize,
        kind: u8,
        word: usize,
    },
    Delete {
        node: usize,
    },
    /// Rename a key: `how` picks a typo, a case change or another word.
    Rename {
        node: usize,
        how: u8,
        word: usize,
    },
    /// Copy the node under another key of its map, or to the end of its list.
    Duplicate {
        node: usize,
        word: usize,
    },
}

/// A source method the reference reading finds plainly public or plainly scope-less.
#[derive(Debug)]
struct Plain {
    /// Upper case, or `ANY`.
    method: String,
    /// The route path, when the reference can tell it (normalised like a policy path).
    path: Option<String>,
    /// Matched against the route name when the path is not known here.
    name: String,
    public: bool,
    scope_less: bool,
}

fn check(doc: &Value, format: Format) -> Result<(), TestCaseError> {
    let t = match translate_document(doc, Some(format)) {
        Ok(t) => t,
        Err(ImportError::Internal(e)) => {
            return Err(TestCaseError::fail(format!("import failed as a bug: {e}")));
        }
        Err(_) => return Ok(()),
    };
    let plain = plain_methods(doc, format);
    for route in &t.policy.routes {
        let public = route.auth == Some(AuthMode::None);
        let scope_less = matches!(route.auth, None | Some(AuthMode::Required))
            && route.scopes.as_ref().is_none_or(Vec::is_empty);
        if public && !plain.iter().any(|p| p.public && matches(route, p)) {
            return Err(TestCaseError::fail(format!(
                "public route the source does not plainly state: {route:?}\nnotes: {:#?}",
                t.notes
            )));
        }
        if scope_less && !plain.iter().any(|p| p.scope_less && matches(route, p)) {
            return Err(TestCaseError::fail(format!(
                "scope-less route the source does not plainly state: {route:?}\nnotes: {:#?}",
                t.notes
            )));
        }
    }
    Ok(())
}

fn fixtures() -> Vec<(String, Value, Format)> {
    let dir = testkit::fixtures("import");
    let mut out = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("the import fixtures")
        .map(|e| e.expect("a fixture").path())
        .collect();
    entries.sort();
    for path in entries {
        let text = std::fs::read_to_string(&path).expect("a readable fixture");
        let doc = read_document(&text).expect("a fixture that parses");
        let format = Format::detect(&doc).expect("a fixture of a known format");
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        out.push((name, doc, format));
    }
    assert!(out.len() >= 9, "fixtures missing: {out:?}");
    out
}

#[test]
fn the_unmutated_fixtures_hold_the_property() {
    // The reference reading agrees with the importer on the well-formed sources, so a
    // failure below is about the mutation, not a disagreement on the rules.
    for (name, doc, format) in fixtures() {
        check(&doc, format).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn mutated_sources_never_import_to_an_unstated_public_or_scope_less_route() {
    // Every fixture is tried, and every failure reported (each shrunk to its smallest).
    let mut failures = Vec::new();
    for (name, doc, format) in fixtures() {
        let mut words = Vec::new();
        vocabulary(&doc, &mut words);
        words.extend(SPECIAL.iter().map(|s| (*s).to_owned()));
        words.sort();
        words.dedup();
        let mut runner = TestRunner::new(Config {
            // `PROPTEST_CASES` runs more (or fewer) cases for a deeper search.
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(CASES),
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&proptest::collection::vec(mutation(), 1..5), |mutations| {
            let mut mutated = doc.clone();
            for m in &mutations {
                apply(&mut mutated, m, &words);
            }
            check(&mutated, format).map_err(|e| {
                TestCaseError::fail(format!(
                    "{e}\nmutated source:\n{}",
                    serde_json::to_string_pretty(&mutated).unwrap_or_default()
                ))
            })
        });
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
