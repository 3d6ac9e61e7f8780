//! What is wrong with a file an operator wrote (a policy, a revocation list): every
//! problem, each with its place, and the file when it came from one.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Where: `routes[2] (list-users).path`, `orders.yaml: routes[0]`; empty when the
    /// problem is the whole file's (it cannot be read, it is not YAML).
    pub at: String,
    /// What is wrong there.
    pub message: String,
}

impl Located {
    /// A problem at `at`.
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Located {
            at: at.into(),
            message: message.into(),
        }
    }

    /// A problem of the whole file.
    pub fn whole(message: impl Into<String>) -> Self {
        Located::new("", message)
    }

    /// The same problem, its place prefixed with `outer` (a policy folder's file name).
    pub fn within(self, outer: &str) -> Self {
        let at = if self.at.is_empty() {
            outer.to_owned()
        } else {
            format!("{outer}: {}", self.at)
        };
        Located { at, ..self }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.at, self.message)
        }
    }
}

/// Every problem found in a file, each with its place, and the file when it came from one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileErrors {
    /// The file, shown once before each problem.
    pub file: Option<PathBuf>,
    /// Each problem, with its place.
    pub errors: Vec<Located>,
}

impl FileErrors {
    /// One problem of the whole file.
    pub fn one(message: impl Into<String>) -> Self {
        Self {
            file: None,
            errors: vec![Located::whole(message)],
        }
    }

    /// The problems found, not yet tied to a file.
    pub fn of(errors: Vec<Located>) -> Self {
        Self { file: None, errors }
    }

    /// The same problems, found in `file`.
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            if let Some(file) = &self.file {
                write!(f, "{}: ", file.display())?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}
