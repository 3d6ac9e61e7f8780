//! What each source authorizer becomes in the policy before its pools: its usable, unique
//! name, and its token header, identity validation expression (anchored as API Gateway
//! matches it) and result TTL, or the reason its methods cannot be translated exactly.

use super::super::api::{GatewayAuthorizer, Setting};
use super::super::report::NoteKind;
use cognito_ext_authz_core::policy::rules::is_header_name;

/// API Gateway's `authorizerResultTtlInSeconds` bounds (and the policy's).
const MAX_RESULT_TTL_SECONDS: u64 = 3600;

/// The source's authorizers, each with its policy name and what its settings translate to.
pub(super) struct Authorizers {
    pub list: Vec<GatewayAuthorizer>,
    /// The policy's name of each, in the same order.
    pub names: Vec<String>,
    pub settings: Vec<Result<Settings, Refusal>>,
}

impl Authorizers {
    pub fn new(list: Vec<GatewayAuthorizer>) -> Self {
        Authorizers {
            names: policy_names(&list),
            settings: list.iter().map(settings).collect(),
            list,
        }
    }
}

/// What an authorizer's settings translate to, before its pools (which are only resolved,
/// and placeholders made, for the authorizers a written route uses).
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub header: String,
    pub expression: Option<String>,
    /// `None`: API Gateway's default, which is the policy's.
    pub ttl: Option<u64>,
    /// The TTL only deployment knows: what it depends on.
    pub ttl_unknown: Option<String>,
}

/// Why the methods of an authorizer cannot be translated exactly.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    pub kind: NoteKind,
    pub why: String,
}

/// The policy's name of each authorizer: the source's own, made usable (no whitespace or
/// control characters, not empty) and unique.
fn policy_names(authorizers: &[GatewayAuthorizer]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(authorizers.len());
    for a in authorizers {
        let cleaned: String = a
            .name
            .trim()
            .chars()
            .map(|c| {
                if c.is_whitespace() || c.is_control() {
                    '-'
                } else {
                    c
                }
            })
            .collect();
        let base = if cleaned.is_empty() {
            "authorizer".to_owned()
        } else {
            cleaned
        };
        let mut name = base.clone();
        let mut n = 1;
        while names.contains(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        names.push(name);
    }
    names
}

/// An authorizer's header, validation expression and TTL, or why its methods cannot be
/// translated exactly.
fn settings(a: &GatewayAuthorizer) -> Result<Settings, Refusal> {
    let refuse = |kind, why: String| Err(Refusal { kind, why });
    if let Some(conflict) = &a.conflict {
        return refuse(
            NoteKind::NotTranslated,
            format!("{conflict}, and which definition is deployed is not certain"),
        );
    }
    let header = match stated(
        a.identity_source.as_ref(),
        "identity source",
        "identity source (the token header)",
        "one request header",
    )? {
        None => "authorization".to_owned(),
        Some(s) => match header_of(&s) {
            Some(h) => h,
            None => {
                return refuse(
                    NoteKind::Unreadable,
                    format!(
                        "its identity source {s:?} is not one request header (a Cognito authorizer reads the token from one header)"
                    ),
                );
            }
        },
    };
    let expression = match stated(
        a.validation_expression.as_ref(),
        "identity validation expression",
        "identity validation expression",
        "a string",
    )? {
        None => None,
        Some(e) => {
            let anchored = whole_match(&e);
            if let Err(err) = regex::RegexBuilder::new(&anchored)
                .size_limit(1 << 20)
                .build()
            {
                return refuse(
                    NoteKind::NotEnforced,
                    format!(
                        "its identity validation expression {e:?} is not a regular expression this service can check the same way ({})",
                        one_line(&err.to_string())
                    ),
                );
            }
            Some(anchored)
        }
    };
    let (ttl, ttl_unknown) = match &a.result_ttl {
        None => (None, None),
        Some(Err(shape)) => {
            return refuse(
                NoteKind::Unreadable,
                format!("its result TTL is {shape}, not a number of seconds"),
            );
        }
        Some(Ok(text)) => match text.as_known() {
            None => (Some(0), Some(text.unknowns().join(", "))),
            Some(s) => match s.trim().parse::<u64>() {
                Ok(n) if n <= MAX_RESULT_TTL_SECONDS => (Some(n), None),
                _ => {
                    return refuse(
                        NoteKind::Unreadable,
                        format!(
                            "its result TTL {s:?} is not a number of seconds from 0 to {MAX_RESULT_TTL_SECONDS} (API Gateway refuses it)"
                        ),
                    );
                }
            },
        },
    };
    Ok(Settings {
        header,
        expression,
        ttl,
        ttl_unknown,
    })
}

/// A setting's text: `None` when the source does not state it; refused when it is not
/// `expected` (unreadable) or depends on what only deployment knows (unresolved). `what`
/// names it in the first refusal, `depends` in the second.
fn stated(
    setting: Option<&Setting>,
    what: &str,
    depends: &str,
    expected: &str,
) -> Result<Option<String>, Refusal> {
    match setting {
        None => Ok(None),
        Some(Err(shape)) => Err(Refusal {
            kind: NoteKind::Unreadable,
            why: format!("its {what} is {shape}, not {expected}"),
        }),
        Some(Ok(text)) => match text.as_known() {
            Some(known) => Ok(Some(known)),
            None => Err(Refusal {
                kind: NoteKind::Unresolved,
                why: format!("its {depends} depends on {}", text.unknowns().join(", ")),
            }),
        },
    }
}

/// API Gateway matches the identity validation expression against the whole `aud` (Java's
/// `matches`); the policy's expression is searched for anywhere in it, like any `regex`.
/// An expression already anchored at both ends is kept as written; any other is anchored,
/// so the policy never accepts an `aud` API Gateway would refuse.
pub(super) fn whole_match(expression: &str) -> String {
    let escaped_end = expression
        .strip_suffix('$')
        .is_some_and(|rest| rest.chars().rev().take_while(|c| *c == '\\').count() % 2 == 1);
    let anchored = expression.len() >= 2
        && expression.starts_with('^')
        && expression.ends_with('$')
        && !escaped_end
        // Alternation or flags (`(?m)`) could make the anchors apply to one part only.
        && !expression.contains('|')
        && !expression.contains("(?");
    if anchored {
        expression.to_owned()
    } else {
        format!("^(?:{expression})$")
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `method.request.header.Authorization` (or a bare header name) → `authorization`.
pub(super) fn header_of(source: &str) -> Option<String> {
    let name = source.trim();
    let name = name.strip_prefix("method.request.header.").unwrap_or(name);
    is_header_name(name).then(|| name.to_ascii_lowercase())
}
