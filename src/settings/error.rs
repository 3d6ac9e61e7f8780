//! What is wrong with a setting: the variable and a specific problem, said as the fix.

/// A setting that cannot be used: which variable, and what is wrong with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// The variable (`AUTHZ_MAX_CONNECTIONS`), or `AUTHZ_*` when the environment as a
    /// whole could not be read.
    pub setting: &'static str,
    pub problem: Problem,
}

/// What is wrong with a setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The environment could not be read at all.
    Unreadable(String),
    /// Set, but empty.
    Empty {
        hint: &'static str,
    },
    NotOneOf {
        value: String,
        allowed: &'static [&'static str],
    },
    NotAnAddress {
        value: String,
        example: &'static str,
    },
    OutOfRange {
        value: String,
        min: u64,
        max: u64,
    },
    /// Not set, but `because` is, which needs it.
    Missing {
        because: &'static str,
        why: &'static str,
    },
    /// Only usable together with `with`, which is not set.
    Needs {
        with: &'static str,
        why: &'static str,
    },
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.setting;
        match &self.problem {
            Problem::Unreadable(e) => write!(f, "cannot read AUTHZ_* settings: {e}"),
            Problem::Empty { hint } => write!(f, "{name}: must not be empty{hint}"),
            Problem::NotOneOf { value, allowed } => {
                let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
                write!(f, "{name}: {value:?} is not one of {}", allowed.join(", "))
            }
            Problem::NotAnAddress { value, example } => write!(
                f,
                "{name}: {value:?} is not an address with a port (like {example} or [::]:9000)"
            ),
            Problem::OutOfRange { value, min, max } => write!(
                f,
                "{name}: {value:?} is not a whole number from {min} to {max}"
            ),
            Problem::Missing { because, why } => {
                write!(f, "{name}: not set, but {because} is ({why})")
            }
            Problem::Needs { with, why } => write!(f, "{name}: needs {with} ({why})"),
        }
    }
}

impl std::error::Error for SettingsError {}

pub(super) fn fail<T>(setting: &'static str, problem: Problem) -> Result<T, SettingsError> {
    Err(SettingsError { setting, problem })
}
