//! Tokens of a row filter (`WHERE` clause) in MySQL's lexical rules: backquoted identifiers with
//! doubled backquotes, single- or double-quoted strings with backslash escapes and doubled quotes,
//! decimal and exponent numbers, and every identifier character MySQL allows (any non-ASCII
//! letter included, so Chinese column names work unquoted).
//!
//! Invariant: every token carries the character offset where it starts, so errors can point at it.

use super::FilterError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A bare word: keyword, function or column name.
    Word(String),
    /// A backquoted identifier (never a keyword).
    Quoted(String),
    /// A string literal, escapes resolved.
    Str(String),
    /// A number literal as written (digits, `.`, exponent).
    Num(String),
    /// Punctuation or an operator: `( ) , = <=> != <> < <= > >= + - * / % && || !`.
    Op(&'static str),
}

/// A token and the 0-based character offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    /// The token.
    pub tok: Tok,
    /// Character offset in the filter text.
    pub at: usize,
}

const OPS: &[&str] = &[
    "<=>", "!=", "<>", "<=", ">=", "&&", "||", "(", ")", ",", "=", "<", ">", "+", "-", "*", "/",
    "%", "!",
];

/// Splits a filter into tokens.
pub fn tokenize(text: &str) -> Result<Vec<Spanned>, FilterError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let at = i;
        if c == '`' {
            let (s, next) = quoted(&chars, i, '`', false)
                .ok_or_else(|| FilterError::at(at, "unterminated `quoted` identifier"))?;
            if s.is_empty() {
                return Err(FilterError::at(at, "empty `quoted` identifier"));
            }
            out.push(Spanned {
                tok: Tok::Quoted(s),
                at,
            });
            i = next;
        } else if c == '\'' || c == '"' {
            let (s, next) = quoted(&chars, i, c, true)
                .ok_or_else(|| FilterError::at(at, "unterminated string literal"))?;
            out.push(Spanned {
                tok: Tok::Str(s),
                at,
            });
            i = next;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if i < chars.len() && is_word_char(chars[i]) {
                // `1abc` is an identifier in MySQL; we ask for backquotes instead.
                return Err(FilterError::at(
                    start,
                    "a name may not start with a digit unless `backquoted`",
                ));
            }
            let num: String = chars[start..i].iter().collect();
            if num.matches('.').count() > 1 {
                return Err(FilterError::at(start, format!("malformed number {num:?}")));
            }
            out.push(Spanned {
                tok: Tok::Num(num),
                at,
            });
        } else if is_word_char(c) {
            let start = i;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            out.push(Spanned {
                tok: Tok::Word(chars[start..i].iter().collect()),
                at,
            });
        } else if let Some(op) = OPS.iter().find(|op| {
            op.chars()
                .enumerate()
                .all(|(k, oc)| chars.get(i + k) == Some(&oc))
        }) {
            out.push(Spanned {
                tok: Tok::Op(op),
                at,
            });
            i += op.chars().count();
        } else {
            return Err(FilterError::at(at, format!("unexpected character {c:?}")));
        }
    }
    Ok(out)
}

/// Letters (any script), digits, `_` and `$`: the characters of an unquoted MySQL identifier.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$' || (!c.is_ascii() && !c.is_whitespace())
}

/// Reads a quoted run starting at `chars[start]` (the quote); a doubled quote is one quote, and
/// with `escapes` a backslash escapes the next character as MySQL does. Returns the content and
/// the offset after the closing quote.
fn quoted(chars: &[char], start: usize, quote: char, escapes: bool) -> Option<(String, usize)> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        let c = chars[i];
        if escapes && c == '\\' {
            let next = *chars.get(i + 1)?;
            match next {
                'n' => s.push('\n'),
                't' => s.push('\t'),
                'r' => s.push('\r'),
                '0' => s.push('\0'),
                'b' => s.push('\u{8}'),
                'Z' => s.push('\u{1a}'),
                // MySQL keeps the backslash of `\%` and `\_` so LIKE sees an escaped wildcard.
                '%' | '_' => {
                    s.push('\\');
                    s.push(next);
                }
                other => s.push(other),
            }
            i += 2;
        } else if c == quote {
            if chars.get(i + 1) == Some(&quote) {
                s.push(quote);
                i += 2;
            } else {
                return Some((s, i + 1));
            }
        } else {
            s.push(c);
            i += 1;
        }
    }
    None
}
