//! The row-filter grammar: MySQL's `WHERE` expression subset, with MySQL's operator precedence
//! (lowest first): `OR ||`, `XOR`, `AND &&`, `NOT`, comparisons / `IS` / `IN` / `BETWEEN` /
//! `LIKE`, `+ -`, `* / DIV % MOD`, unary `- + !`.
//!
//! Invariants: nesting is limited to [`MAX_DEPTH`] so no input can overflow the stack; keywords
//! are case-insensitive; a backquoted word is always a name, never a keyword.

use super::FilterError;
use super::lex::{Spanned, Tok};

/// The deepest nesting accepted (parentheses, NOT chains, operators).
pub const MAX_DEPTH: usize = 64;

/// A literal as written.
#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    /// NULL.
    Null,
    /// An integer literal (no `.` nor exponent).
    Int(i128),
    /// An exact decimal literal (`12.50`): digits without the point, and the digits after it.
    Decimal(i128, u32),
    /// An approximate literal (`1e3`, or digits beyond the exact range).
    Double(f64),
    /// A string.
    Str(String),
    /// `DATE '…'`, `TIME '…'`, `TIMESTAMP '…'`: the keyword and the text, checked when bound.
    Typed(TypedKind, String),
}

/// The typed-literal keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypedKind {
    /// `DATE '2024-01-31'`.
    Date,
    /// `TIME '12:00:00'`.
    Time,
    /// `TIMESTAMP '2024-01-31 12:00:00'`.
    Timestamp,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `OR`, `||`.
    Or,
    /// `XOR`.
    Xor,
    /// `AND`, `&&`.
    And,
    /// `=`.
    Eq,
    /// `<=>` (NULL-safe equal).
    NullSafeEq,
    /// `!=`, `<>`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
    /// `DIV`.
    IntDiv,
    /// `%`, `MOD`.
    Mod,
}

/// What `IS` tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsTest {
    /// `IS NULL`.
    Null,
    /// `IS TRUE`.
    True,
    /// `IS FALSE`.
    False,
    /// `IS UNKNOWN`.
    Unknown,
}

/// A column reference; `slot` is filled when the filter is bound to a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRef {
    /// The name as written (backquotes removed).
    pub name: String,
    /// Character offset in the filter text.
    pub at: usize,
    /// Index into the row image once bound.
    pub slot: usize,
    /// Compare strings case-insensitively (the column's collation), once bound.
    pub case_insensitive: bool,
    /// The column's type family, once bound.
    pub kind: super::value::Kind,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A column.
    Column(ColumnRef),
    /// A literal.
    Lit(Lit),
    /// `NOT e`, `!e`.
    Not(Box<Expr>),
    /// `-e`.
    Neg(Box<Expr>),
    /// A binary operator.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e IS [NOT] test`.
    Is(Box<Expr>, IsTest, bool),
    /// `e [NOT] IN (list)`.
    In(Box<Expr>, Vec<Expr>, bool),
    /// `e [NOT] BETWEEN low AND high`.
    Between(Box<Expr>, Box<Expr>, Box<Expr>, bool),
    /// `e [NOT] LIKE pattern [ESCAPE c]`.
    Like(Box<Expr>, Box<Expr>, Option<Box<Expr>>, bool),
    /// `NAME(args)`, name upper-cased; `at` is where the name starts.
    Call(String, Vec<Expr>, usize),
}

/// Parses filter tokens into an expression.
pub fn parse(tokens: &[Spanned], len: usize) -> Result<Expr, FilterError> {
    let mut p = Parser {
        tokens,
        pos: 0,
        depth: 0,
        len,
    };
    if tokens.is_empty() {
        return Err(FilterError::at(0, "the filter is empty"));
    }
    let e = p.or()?;
    if let Some(t) = p.peek() {
        return Err(FilterError::at(
            t.at,
            format!("unexpected {} after a complete condition", describe(&t.tok)),
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    tokens: &'a [Spanned],
    pos: usize,
    depth: usize,
    len: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Quoted(w) => format!("`{w}`"),
        Tok::Str(s) => format!("string {s:?}"),
        Tok::Num(n) => format!("number {n}"),
        Tok::Op(o) => format!("`{o}`"),
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Spanned> {
        self.tokens.get(self.pos)
    }

    fn here(&self) -> usize {
        self.peek().map_or(self.len, |t| t.at)
    }

    fn is_word(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Spanned { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn is_word_at(&self, offset: usize, kw: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(Spanned { tok: Tok::Word(w), .. }) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_word(&mut self, kw: &str) -> bool {
        let yes = self.is_word(kw);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let yes = matches!(self.peek(), Some(Spanned { tok: Tok::Op(o), .. }) if *o == op);
        if yes {
            self.pos += 1;
        }
        yes
    }

    fn expect_op(&mut self, op: &str, what: &str) -> Result<(), FilterError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.expected(what))
        }
    }

    fn expected(&self, what: &str) -> FilterError {
        match self.peek() {
            Some(t) => {
                FilterError::at(t.at, format!("expected {what}, found {}", describe(&t.tok)))
            }
            None => FilterError::at(
                self.len,
                format!("expected {what} at the end of the filter"),
            ),
        }
    }

    fn enter(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::at(
                self.here(),
                format!("the filter nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        self.enter()?;
        let mut e = self.xor()?;
        while self.eat_word("OR") || self.eat_op("||") {
            let r = self.xor()?;
            e = Expr::Binary(BinOp::Or, Box::new(e), Box::new(r));
        }
        self.depth -= 1;
        Ok(e)
    }

    fn xor(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.and()?;
        while self.eat_word("XOR") {
            let r = self.and()?;
            e = Expr::Binary(BinOp::Xor, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.not()?;
        while self.eat_word("AND") || self.eat_op("&&") {
            let r = self.not()?;
            e = Expr::Binary(BinOp::And, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.eat_word("NOT") {
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.additive()?;
        loop {
            let op = match self.peek().map(|t| &t.tok) {
                Some(Tok::Op("=")) => Some(BinOp::Eq),
                Some(Tok::Op("<=>")) => Some(BinOp::NullSafeEq),
                Some(Tok::Op("!=")) | Some(Tok::Op("<>")) => Some(BinOp::Ne),
                Some(Tok::Op("<")) => Some(BinOp::Lt),
                Some(Tok::Op("<=")) => Some(BinOp::Le),
                Some(Tok::Op(">")) => Some(BinOp::Gt),
                Some(Tok::Op(">=")) => Some(BinOp::Ge),
                _ => None,
            };
            if let Some(op) = op {
                self.pos += 1;
                let r = self.additive()?;
                e = Expr::Binary(op, Box::new(e), Box::new(r));
                continue;
            }
            if self.eat_word("IS") {
                let negated = self.eat_word("NOT");
                let test = if self.eat_word("NULL") {
                    IsTest::Null
                } else if self.eat_word("TRUE") {
                    IsTest::True
                } else if self.eat_word("FALSE") {
                    IsTest::False
                } else if self.eat_word("UNKNOWN") {
                    IsTest::Unknown
                } else {
                    return Err(self.expected("NULL, TRUE, FALSE or UNKNOWN after IS"));
                };
                e = Expr::Is(Box::new(e), test, negated);
                continue;
            }
            let negated = self.is_word("NOT")
                && (self.is_word_at(1, "IN")
                    || self.is_word_at(1, "BETWEEN")
                    || self.is_word_at(1, "LIKE"));
            if negated {
                self.pos += 1;
            }
            if self.eat_word("IN") {
                self.expect_op("(", "`(` after IN")?;
                let mut list = vec![self.or()?];
                while self.eat_op(",") {
                    list.push(self.or()?);
                }
                self.expect_op(")", "`,` or `)` in the IN list")?;
                e = Expr::In(Box::new(e), list, negated);
            } else if self.eat_word("BETWEEN") {
                let low = self.additive()?;
                if !self.eat_word("AND") {
                    return Err(self.expected("AND in BETWEEN … AND …"));
                }
                let high = self.additive()?;
                e = Expr::Between(Box::new(e), Box::new(low), Box::new(high), negated);
            } else if self.eat_word("LIKE") {
                let pattern = self.additive()?;
                let escape = if self.eat_word("ESCAPE") {
                    Some(Box::new(self.additive()?))
                } else {
                    None
                };
                e = Expr::Like(Box::new(e), Box::new(pattern), escape, negated);
            } else {
                return Ok(e);
            }
        }
    }

    fn additive(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.eat_op("+") {
                BinOp::Add
            } else if self.eat_op("-") {
                BinOp::Sub
            } else {
                return Ok(e);
            };
            let r = self.multiplicative()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, FilterError> {
        let mut e = self.unary()?;
        loop {
            let op = if self.eat_op("*") {
                BinOp::Mul
            } else if self.eat_op("/") {
                BinOp::Div
            } else if self.eat_op("%") || self.eat_word("MOD") {
                BinOp::Mod
            } else if self.eat_word("DIV") {
                BinOp::IntDiv
            } else {
                return Ok(e);
            };
            let r = self.unary()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        if self.eat_op("-") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(match e {
                Expr::Lit(Lit::Int(i)) => Expr::Lit(Lit::Int(-i)),
                Expr::Lit(Lit::Decimal(m, s)) => Expr::Lit(Lit::Decimal(-m, s)),
                Expr::Lit(Lit::Double(d)) => Expr::Lit(Lit::Double(-d)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat_op("+") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(e);
        }
        if self.eat_op("!") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, FilterError> {
        let Some(t) = self.peek().cloned() else {
            return Err(self.expected("a value, a column or `(`"));
        };
        self.pos += 1;
        match t.tok {
            Tok::Op("(") => {
                let e = self.or()?;
                self.expect_op(")", "`)`")?;
                Ok(e)
            }
            Tok::Num(n) => {
                number(&n).ok_or_else(|| FilterError::at(t.at, format!("malformed number {n:?}")))
            }
            Tok::Str(s) => Ok(Expr::Lit(Lit::Str(s))),
            Tok::Quoted(name) => Ok(column(name, t.at)),
            Tok::Word(w) => {
                let upper = w.to_uppercase();
                match upper.as_str() {
                    "NULL" => return Ok(Expr::Lit(Lit::Null)),
                    "TRUE" => return Ok(Expr::Lit(Lit::Int(1))),
                    "FALSE" => return Ok(Expr::Lit(Lit::Int(0))),
                    _ => {}
                }
                if let Some(Tok::Str(s)) = self.peek().map(|t| &t.tok) {
                    let kind = match upper.as_str() {
                        "DATE" => Some(TypedKind::Date),
                        "TIME" => Some(TypedKind::Time),
                        "TIMESTAMP" => Some(TypedKind::Timestamp),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        let s = s.clone();
                        self.pos += 1;
                        return Ok(Expr::Lit(Lit::Typed(kind, s)));
                    }
                }
                if self.eat_op("(") {
                    let mut args = Vec::new();
                    if !self.eat_op(")") {
                        args.push(self.or()?);
                        while self.eat_op(",") {
                            args.push(self.or()?);
                        }
                        self.expect_op(")", "`,` or `)` after a function argument")?;
                    }
                    return Ok(Expr::Call(upper, args, t.at));
                }
                if RESERVED.contains(&upper.as_str()) {
                    return Err(FilterError::at(
                        t.at,
                        format!(
                            "`{w}` is a reserved word: write `{w}` in backquotes to use it as a column name"
                        ),
                    ));
                }
                Ok(column(w, t.at))
            }
            other => Err(FilterError::at(
                t.at,
                format!(
                    "expected a value, a column or `(`, found {}",
                    describe(&other)
                ),
            )),
        }
    }
}

/// Words that cannot be bare column names.
const RESERVED: &[&str] = &[
    "AND", "OR", "XOR", "NOT", "IS", "IN", "BETWEEN", "LIKE", "ESCAPE", "DIV", "MOD", "SELECT",
    "FROM", "WHERE", "CASE", "WHEN", "THEN", "ELSE", "END", "EXISTS", "ORDER", "GROUP", "BY",
    "LIMIT", "HAVING", "UNION",
];

fn column(name: String, at: usize) -> Expr {
    Expr::Column(ColumnRef {
        name,
        at,
        slot: usize::MAX,
        case_insensitive: true,
        kind: super::value::Kind::Other,
    })
}

/// Reads a number literal: exact integer or decimal when it fits 38 digits, else a double.
fn number(text: &str) -> Option<Expr> {
    if text.contains(['e', 'E']) {
        return text.parse::<f64>().ok().map(|d| Expr::Lit(Lit::Double(d)));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{int}{frac}");
    match digits.parse::<i128>() {
        Ok(m) if digits.len() <= 38 => Some(Expr::Lit(if frac.is_empty() {
            Lit::Int(m)
        } else {
            Lit::Decimal(m, frac.len() as u32)
        })),
        _ => text.parse::<f64>().ok().map(|d| Expr::Lit(Lit::Double(d))),
    }
}
