//! The import report: everything not translated one to one, each with its place.
//!
//! Nothing is ever dropped silently. Every note names where in the source it comes from and
//! what the operator has to know or do; [`NoteKind::Unresolved`] and
//! [`NoteKind::Unreadable`] ones must be fixed before the policy can be used.

use std::fmt;

/// What kind of attention a note needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoteKind {
    /// A value only deployment knows (a parameter, a pool the template creates, a stage
    /// variable): a placeholder stands in the policy, the method is an `auth: deny` route
    /// (unknown authorization or scopes), or it was left out (unknown path or HTTP method).
    /// Must be fixed by hand.
    Unresolved,
    /// The source states something in a type or shape import cannot read with certainty (a
    /// string where a list of scopes belongs, `null`, a misspelt key, a reference to
    /// nothing): the method is an `auth: deny` route, never a public or scope-less one.
    /// Must be fixed by hand, in the source.
    Unreadable,
    /// API Gateway enforces something this service cannot (IAM, a Lambda authorizer, an API
    /// key alone): the route is `auth: deny` (403), or the part that cannot be enforced (an
    /// API key next to a Cognito authorizer) is named.
    NotEnforced,
    /// API Gateway does not authorize the method: the route is `auth: none`.
    Public,
    /// Translated, but the behaviour differs from API Gateway's (stricter or wider).
    Changed,
    /// Ignored: no authorization meaning here, or not a REST API Cognito authorizer.
    NotTranslated,
}

impl NoteKind {
    /// Stable label for the report.
    pub fn label(self) -> &'static str {
        match self {
            NoteKind::Unresolved => "unresolved",
            NoteKind::Unreadable => "unreadable",
            NoteKind::NotEnforced => "not-enforced",
            NoteKind::Public => "public",
            NoteKind::Changed => "changed",
            NoteKind::NotTranslated => "not-translated",
        }
    }
}

/// One entry of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub kind: NoteKind,
    /// Where in the source: `functions.my_func.events[0].http`, `Resources.GetUser`, ...
    pub at: String,
    pub message: String,
}

impl Note {
    pub(crate) fn new(kind: NoteKind, at: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind,
            at: at.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.kind.label(), self.at, self.message)
    }
}
