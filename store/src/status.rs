//! How a node's evaluation ended, and why it is not valid, with the strings the database
//! stores for them.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::{Deserialize, Serialize};

/// How an evaluation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The evaluator accepted the candidate and reported a finite score.
    Valid,
    /// The evaluator ran and rejected the candidate's result.
    Invalid,
    /// No verdict: the candidate or the evaluator failed before producing one.
    Failed,
}

impl Status {
    pub const ALL: [Self; 3] = [Self::Valid, Self::Invalid, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Why a node is not valid; what the analyzer names as the failure class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The researcher could not produce a program (nothing to mutate, a reply without code).
    Proposal,
    SyntaxError,
    Timeout,
    /// The evaluator ran and rejected the result (overlap, wrong shape, ...).
    InvalidResult,
    /// The candidate or evaluator exited abnormally without a result.
    Crash,
    /// The evaluator's results file was missing or malformed.
    BadOutput,
    /// The program was already evaluated (the novelty filter); no evaluation was run.
    Duplicate,
}

impl FailureClass {
    pub const ALL: [Self; 7] = [
        Self::Proposal,
        Self::SyntaxError,
        Self::Timeout,
        Self::InvalidResult,
        Self::Crash,
        Self::BadOutput,
        Self::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposal => "proposal",
            Self::SyntaxError => "syntax_error",
            Self::Timeout => "timeout",
            Self::InvalidResult => "invalid_result",
            Self::Crash => "crash",
            Self::BadOutput => "bad_output",
            Self::Duplicate => "duplicate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Human wording for lessons and tables.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Proposal => "no program proposed",
            Self::SyntaxError => "syntax error",
            Self::Timeout => "timeout",
            Self::InvalidResult => "invalid result",
            Self::Crash => "crash",
            Self::BadOutput => "unreadable evaluator output",
            Self::Duplicate => "duplicate program",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored text that names no variant is an error naming the text, never a default.
fn from_text<T>(value: ValueRef<'_>, what: &str, parse: fn(&str) -> Option<T>) -> FromSqlResult<T> {
    let text = value.as_str()?;
    parse(text).ok_or_else(|| FromSqlError::Other(format!("unknown {what} `{text}`").into()))
}

impl FromSql for Status {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        from_text(value, "status", Self::parse)
    }
}

impl FromSql for FailureClass {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        from_text(value, "failure class", Self::parse)
    }
}

impl ToSql for Status {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl ToSql for FailureClass {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_strings_are_the_serde_names_and_read_back() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for c in FailureClass::ALL {
            assert_eq!(FailureClass::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert_eq!(Status::parse("Valid"), None);
        assert_eq!(FailureClass::parse("unclassified"), None);
    }

    #[test]
    fn an_unknown_stored_status_is_an_error_naming_it() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let read = |text: &str| conn.query_row("SELECT ?1", [text], |r| r.get::<_, Status>(0));
        assert_eq!(read("invalid").unwrap(), Status::Invalid);
        let err = read("vaild").unwrap_err().to_string();
        assert!(err.contains("unknown status `vaild`"), "{err}");
    }
}
