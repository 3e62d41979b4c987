//! Row filters: a standard SQL `WHERE` clause per object (OMS "row filter"), parsed when the
//! project file is loaded, bound to the table's columns when its schema is known, and evaluated
//! on every row image with MySQL's comparison and NULL semantics.
//!
//! Lifecycle and invariants:
//! - [`RowFilter::parse`] checks the syntax only (no schema needed): config loading rejects a
//!   malformed filter with the character position of the problem.
//! - [`RowFilter::bind`] resolves column names (exact, else the one case-insensitive match, as
//!   MySQL does), checks functions and their arguments, and checks that a string compared with
//!   a temporal column reads as a date-time. It runs at project start against the source's
//!   `information_schema` and again whenever a table's binlog schema changes.
//! - [`BoundFilter::matches`] is total: it never panics and never fails; a row passes only when
//!   the condition is TRUE.

mod arith;
mod bind;
mod eval;
mod func;
mod lex;
mod parse;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;

pub use bind::FilterColumn;
pub use value::{Kind, collation_is_case_insensitive};

use obsync_sdk::Value;

/// A problem in a filter, at a character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 0-based character offset of the problem in the filter text.
    pub at: usize,
    /// What is wrong, lowercase.
    pub message: String,
}

impl FilterError {
    fn at(at: usize, message: impl Into<String>) -> Self {
        FilterError {
            at,
            message: message.into(),
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}: {}", self.at + 1, self.message)
    }
}

impl std::error::Error for FilterError {}

/// A parsed, not yet bound, row filter.
#[derive(Debug, Clone, PartialEq)]
pub struct RowFilter {
    text: String,
    expr: parse::Expr,
}

impl RowFilter {
    /// Parses a `WHERE` condition (without the `WHERE` keyword; a leading `WHERE` is accepted).
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let tokens = lex::tokenize(text)?;
        let tokens = match tokens.first() {
            Some(lex::Spanned {
                tok: lex::Tok::Word(w),
                ..
            }) if w.eq_ignore_ascii_case("WHERE") => &tokens[1..],
            _ => &tokens[..],
        };
        let expr = parse::parse(tokens, text.chars().count())?;
        Ok(RowFilter {
            text: text.to_string(),
            expr,
        })
    }

    /// The filter as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Binds the filter to a table's columns (in row-image order).
    pub fn bind(
        &self,
        columns: &[FilterColumn],
        utc_offset_seconds: i32,
    ) -> Result<BoundFilter, FilterError> {
        let mut expr = self.expr.clone();
        bind::bind(&mut expr, columns)?;
        Ok(BoundFilter {
            expr,
            utc_offset: i64::from(utc_offset_seconds),
        })
    }
}

/// A filter bound to one table's row layout.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundFilter {
    expr: parse::Expr,
    utc_offset: i64,
}

impl BoundFilter {
    /// True when the condition is TRUE for this row image (FALSE and NULL reject it).
    pub fn matches(&self, row: &[Value]) -> bool {
        let cx = eval::Ctx {
            row,
            utc_offset: self.utc_offset,
        };
        eval::eval(&self.expr, &cx).truth() == Some(true)
    }
}
