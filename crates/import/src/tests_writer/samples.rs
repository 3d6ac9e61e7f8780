//! Sample values for the cases: a request path and host a route takes (checked with the
//! service's route table), and an `aud` an identity validation expression takes.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::{Plan, Target};
use cognito_ext_authz_core::policy::model::AuthorizerConfig;
use cognito_ext_authz_core::policy::template::Segment;
use cognito_ext_authz_core::policy_tests::DEFAULT_CLIENT;

/// Characters escaped in a sample path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'?')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'\\');

/// An `aud` the authorizer's identity validation expression takes: one of its first pool's
/// app clients, the test tokens' default, or one built from the expression itself; and the
/// pool's `appClients` must take it too.
pub(super) fn matching_aud(
    authorizer: &AuthorizerConfig,
    expression: &regex::Regex,
) -> Option<String> {
    let clients: Option<Vec<String>> = authorizer
        .user_pools
        .first()
        .and_then(|p| p.app_clients.as_ref())
        .map(|c| {
            let mut c = c.clone();
            c.sort();
            c.dedup();
            c
        });
    let candidates = match clients {
        Some(clients) => clients,
        None => [Some(DEFAULT_CLIENT.to_owned()), sample_of(expression)]
            .into_iter()
            .flatten()
            .collect(),
    };
    candidates
        .into_iter()
        .find(|c| !c.is_empty() && expression.is_match(c))
}

/// A string the expression matches, built from its syntax tree: the first branch of each
/// alternation, the first character of each class, each repetition its least count (at
/// least once). `None` when the result does not match after all.
fn sample_of(expression: &regex::Regex) -> Option<String> {
    use regex_syntax::hir::{Class, Hir, HirKind};

    fn build(hir: &Hir, out: &mut String, depth: usize) -> Option<()> {
        if depth > 64 || out.len() > 512 {
            return None;
        }
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => out.push_str(std::str::from_utf8(&lit.0).ok()?),
            HirKind::Class(Class::Unicode(class)) => {
                let ranges = class.ranges();
                let pick = ranges
                    .iter()
                    .flat_map(|r| (r.start()..=r.end()).take(128))
                    .find(char::is_ascii_alphanumeric)
                    .or_else(|| ranges.first().map(|r| r.start()))?;
                out.push(pick);
            }
            HirKind::Class(Class::Bytes(class)) => {
                let pick = class
                    .ranges()
                    .iter()
                    .flat_map(|r| r.start()..=r.end())
                    .find(|b| b.is_ascii_alphanumeric())?;
                out.push(char::from(pick));
            }
            HirKind::Repetition(rep) => {
                let count = match rep.max {
                    Some(0) => 0,
                    _ => rep.min.max(1),
                };
                for _ in 0..count.min(256) {
                    build(&rep.sub, out, depth + 1)?;
                }
            }
            HirKind::Capture(capture) => build(&capture.sub, out, depth + 1)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    build(part, out, depth + 1)?;
                }
            }
            HirKind::Alternation(branches) => build(branches.first()?, out, depth + 1)?,
        }
        Some(())
    }

    let hir = regex_syntax::parse(expression.as_str()).ok()?;
    let mut out = String::new();
    build(&hir, &mut out, 0)?;
    expression.is_match(&out).then_some(out)
}

/// A host a route's host pattern takes.
pub(super) fn sample_host(pattern: &str) -> String {
    match pattern.strip_prefix("*.") {
        Some(rest) => format!("test.{rest}"),
        None => pattern.to_owned(),
    }
}

/// A path the route takes for `method` and `host` (checked with the route table), with
/// sample values in its parameters; `None` when a more specific route takes every sample.
pub(super) fn sample_path(
    plan: &Plan,
    target: &Target,
    method: &str,
    host: &str,
) -> Option<String> {
    for value in ["example", "example-2", "cognito-ext-authz-test"] {
        let mut path = String::new();
        for segment in target.template.segments() {
            path.push('/');
            match segment {
                Segment::Literal(l) => path.extend(utf8_percent_encode(l, SEGMENT)),
                Segment::Param(_) => path.push_str(value),
                Segment::Greedy(_) => {
                    path.push_str(value);
                    path.push_str("/more");
                }
            }
        }
        if path.is_empty() {
            path.push('/');
        }
        if plan.lands_on(&path, method, host) == Some(target.index) {
            return Some(path);
        }
    }
    None
}
