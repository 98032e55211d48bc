//! [`ConfigError`]: what went wrong, where, and how to fix it.

use std::fmt;

/// A config file that could not be read, parsed or validated.
///
/// It renders as one message that names the file, the position when known, the field path,
/// what is wrong and how to fix it:
///
/// ```text
/// infermux.yml:12:5: providers[0].baseurl: unknown key "baseurl"; did you mean "base_url"? ...
/// ```
///
/// The message never contains a secret: values expanded from `${VAR}` are shown as the
/// `${VAR}` reference that produced them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<Position>,
    path: String,
    problem: String,
    fix: String,
}

/// A 1-based line and column in the config file as the user wrote it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Position {
    pub(super) line: usize,
    pub(super) column: usize,
}

/// A problem found in a config, before it is tied to a file name.
///
/// Parsing and validation produce these; [`super::parse`] turns one into a [`ConfigError`],
/// looking up the position of `path` in the file when the issue has none of its own.
#[derive(Clone, Debug)]
pub(super) struct Issue {
    pub(super) path: String,
    pub(super) problem: String,
    pub(super) fix: String,
    pub(super) position: Option<Position>,
}

// === impl ConfigError ===

impl ConfigError {
    pub(super) fn new(origin: &str, issue: Issue) -> Self {
        Self {
            origin: origin.to_owned(),
            position: issue.position,
            path: issue.path,
            problem: issue.problem,
            fix: issue.fix,
        }
    }

    /// The 1-based line of the problem in the file, when known.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The 1-based column of the problem in the file, when known.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }

    /// The path of the offending field, such as `providers[2].name`; empty for the whole file.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)?;
        if let Some(Position { line, column }) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        f.write_str(": ")?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.problem)?;
        if !self.fix.is_empty() {
            write!(f, "; {}", self.fix)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// === impl Issue ===

impl Issue {
    /// An issue at `path`, positioned later from the path.
    pub(super) fn new(
        path: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
            fix: fix.into(),
            position: None,
        }
    }

    /// The same issue at a known position.
    pub(super) fn at(mut self, position: Option<Position>) -> Self {
        self.position = position;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::{ConfigError, Issue, Position};

    #[test]
    fn display_has_origin_position_path_problem_and_fix() {
        let issue = Issue::new(
            "providers[2].name",
            "duplicate provider name \"a\"",
            "rename it",
        )
        .at(Some(Position {
            line: 7,
            column: 13,
        }));
        let err = ConfigError::new("infermux.yml", issue);
        assert_eq!(
            err.to_string(),
            "infermux.yml:7:13: providers[2].name: duplicate provider name \"a\"; rename it"
        );
        assert_eq!((err.line(), err.column()), (Some(7), Some(13)));
        assert_eq!(err.path(), "providers[2].name");
    }

    #[test]
    fn display_leaves_out_what_is_unknown() {
        let err = ConfigError::new("x.yml", Issue::new("", "cannot read the file", ""));
        assert_eq!(err.to_string(), "x.yml: cannot read the file");
        assert_eq!(err.line(), None);
    }
}
