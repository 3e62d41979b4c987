//! Evaluating a bound filter on one row image, with SQL's three-valued logic.
//!
//! Invariants: evaluation never panics and never fails: arithmetic overflow falls back to
//! doubles, division by zero is NULL (as in MySQL), and a value of an unexpected shape is NULL.
//! A row passes only when the condition is TRUE (FALSE and NULL both reject it, as in `WHERE`).

use std::cmp::Ordering;

use obsync_sdk::Value;
use obsync_sdk::render::civil_from_days;

use super::arith::arith;
use super::func::call;
use super::parse::{BinOp, ColumnRef, Expr, IsTest, Lit, TypedKind};
use super::value::{Kind, V, compare, datetime_key, parse_datetime, parse_duration};

/// What an evaluation needs besides the expression.
pub struct Ctx<'a> {
    /// The row image, in source column order.
    pub row: &'a [Value],
    /// Offset of the project's time zone, for TIMESTAMP values (seconds east of UTC).
    pub utc_offset: i64,
}

/// Evaluates an expression.
pub fn eval(e: &Expr, cx: &Ctx<'_>) -> V {
    match e {
        Expr::Column(c) => column(c, cx),
        Expr::Lit(l) => literal(l),
        Expr::Not(x) => match eval(x, cx).truth() {
            None => V::Null,
            Some(t) => V::Int(i128::from(!t)),
        },
        Expr::Neg(x) => match eval(x, cx) {
            V::Null => V::Null,
            V::Int(i) if i != i128::MIN => V::Int(-i),
            V::Dec(m, s) if m != i128::MIN => V::Dec(-m, s),
            other => other.to_f64().map_or(V::Null, |d| V::Dbl(-d)),
        },
        Expr::Binary(op, l, r) => binary(*op, l, r, cx),
        Expr::Is(x, test, negated) => {
            let t = eval(x, cx).truth();
            let yes = match test {
                IsTest::Null | IsTest::Unknown => t.is_none(),
                IsTest::True => t == Some(true),
                IsTest::False => t == Some(false),
            };
            V::Int(i128::from(yes != *negated))
        }
        Expr::In(x, list, negated) => {
            let v = eval(x, cx);
            let mut saw_null = v == V::Null;
            let mut found = false;
            if !saw_null {
                for item in list {
                    match compare(&v, &eval(item, cx)) {
                        Some(Ordering::Equal) => {
                            found = true;
                            break;
                        }
                        Some(_) => {}
                        None => saw_null = true,
                    }
                }
            }
            if found {
                V::Int(i128::from(!*negated))
            } else if saw_null {
                V::Null
            } else {
                V::Int(i128::from(*negated))
            }
        }
        Expr::Between(x, lo, hi, negated) => {
            let v = eval(x, cx);
            let ge = compare(&v, &eval(lo, cx)).map(|o| o != Ordering::Less);
            let le = compare(&v, &eval(hi, cx)).map(|o| o != Ordering::Greater);
            let both = and3(ge, le);
            match both {
                None => V::Null,
                Some(b) => V::Int(i128::from(b != *negated)),
            }
        }
        Expr::Like(x, pattern, escape, negated) => {
            let v = eval(x, cx);
            let p = eval(pattern, cx);
            let esc = match escape {
                None => Some('\\'),
                Some(e) => eval(e, cx).to_text().and_then(|t| t.chars().next()),
            };
            let ci = v.case_insensitive() && p.case_insensitive();
            match (v.to_text(), p.to_text()) {
                (Some(s), Some(p)) => V::Int(i128::from(like(&s, &p, esc, ci) != *negated)),
                _ => V::Null,
            }
        }
        Expr::Call(name, args, _) => {
            let values: Vec<V> = args.iter().map(|a| eval(a, cx)).collect();
            call(name, values)
        }
    }
}

fn and3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

fn or3(a: Option<bool>, b: Option<bool>) -> Option<bool> {
    match (a, b) {
        (Some(true), _) | (_, Some(true)) => Some(true),
        (Some(false), Some(false)) => Some(false),
        _ => None,
    }
}

fn bool_v(b: Option<bool>) -> V {
    b.map_or(V::Null, |b| V::Int(i128::from(b)))
}

fn binary(op: BinOp, l: &Expr, r: &Expr, cx: &Ctx<'_>) -> V {
    match op {
        BinOp::And => {
            let a = eval(l, cx).truth();
            if a == Some(false) {
                return V::Int(0);
            }
            bool_v(and3(a, eval(r, cx).truth()))
        }
        BinOp::Or => {
            let a = eval(l, cx).truth();
            if a == Some(true) {
                return V::Int(1);
            }
            bool_v(or3(a, eval(r, cx).truth()))
        }
        BinOp::Xor => match (eval(l, cx).truth(), eval(r, cx).truth()) {
            (Some(a), Some(b)) => V::Int(i128::from(a != b)),
            _ => V::Null,
        },
        BinOp::NullSafeEq => {
            let (a, b) = (eval(l, cx), eval(r, cx));
            V::Int(i128::from(match (&a, &b) {
                (V::Null, V::Null) => true,
                (V::Null, _) | (_, V::Null) => false,
                _ => compare(&a, &b) == Some(Ordering::Equal),
            }))
        }
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let o = compare(&eval(l, cx), &eval(r, cx));
            bool_v(o.map(|o| match op {
                BinOp::Eq => o == Ordering::Equal,
                BinOp::Ne => o != Ordering::Equal,
                BinOp::Lt => o == Ordering::Less,
                BinOp::Le => o != Ordering::Greater,
                BinOp::Gt => o == Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::IntDiv | BinOp::Mod => {
            arith(op, eval(l, cx), eval(r, cx))
        }
    }
}

/// MySQL LIKE: `%` any run, `_` one character, `esc` quotes the next pattern character.
/// Iterative with one backtrack point, so it runs in O(len(s) × len(p)) at worst.
pub fn like(s: &str, p: &str, esc: Option<char>, ci: bool) -> bool {
    let fold = |c: char| -> char {
        if ci {
            c.to_lowercase().next().unwrap_or(c)
        } else {
            c
        }
    };
    let s: Vec<char> = s.chars().map(fold).collect();
    // Pattern items: Some(c) a literal char, None for `_`; `%` marked separately.
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Lit(char),
        One,
        Any,
    }
    let mut items = Vec::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if Some(c) == esc {
            items.push(P::Lit(fold(chars.next().unwrap_or(c))));
        } else if c == '%' {
            items.push(P::Any);
        } else if c == '_' {
            items.push(P::One);
        } else {
            items.push(P::Lit(fold(c)));
        }
    }
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match items.get(pi) {
            Some(P::Any) => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(P::One) => {
                si += 1;
                pi += 1;
            }
            Some(P::Lit(c)) if *c == s[si] => {
                si += 1;
                pi += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    items[pi.min(items.len())..].iter().all(|i| *i == P::Any)
}

fn literal(l: &Lit) -> V {
    match l {
        Lit::Null => V::Null,
        Lit::Int(i) => V::Int(*i),
        Lit::Decimal(m, s) => V::Dec(*m, *s),
        Lit::Double(d) => V::Dbl(*d),
        Lit::Str(s) => V::Str(s.clone(), true),
        Lit::Typed(TypedKind::Time, s) => parse_duration(s).map_or(V::Null, V::Dur),
        Lit::Typed(_, s) => parse_datetime(s).map_or(V::Null, V::When),
    }
}

/// Converts a decoded column value into an evaluation value.
pub fn column(c: &ColumnRef, cx: &Ctx<'_>) -> V {
    let Some(v) = cx.row.get(c.slot) else {
        return V::Null;
    };
    from_value(v, c.kind, c.case_insensitive, cx.utc_offset)
}

/// Converts one decoded value; `kind` and `ci` come from the column.
pub fn from_value(v: &Value, kind: Kind, ci: bool, utc_offset: i64) -> V {
    match v {
        Value::Null => V::Null,
        Value::Int(i) => V::Int(i128::from(*i)),
        Value::UInt(u) => V::Int(i128::from(*u)),
        Value::Float(f) => V::Dbl(f64::from(*f)),
        Value::Double(d) => V::Dbl(*d),
        Value::Decimal(t) => decimal(t),
        Value::Text(t) | Value::Json(t) => V::Str(t.clone(), ci && kind != Kind::Binary),
        Value::Bytes(b) => V::Bin(b.clone()),
        Value::Date { year, month, day } => V::When(datetime_key(
            i64::from(*year),
            i64::from(*month),
            i64::from(*day),
            0,
            0,
            0,
            0,
        )),
        Value::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => V::When(datetime_key(
            i64::from(*year),
            i64::from(*month),
            i64::from(*day),
            i64::from(*hour),
            i64::from(*minute),
            i64::from(*second),
            i64::from(*micros),
        )),
        Value::Timestamp { seconds, micros } => {
            if *seconds == 0 && *micros == 0 {
                return V::When(0);
            }
            // TIMESTAMP's range is 1970–2038; anything outside years 0–9999 is clamped.
            let local = seconds
                .saturating_add(utc_offset)
                .clamp(-62_167_219_200, 253_402_300_799);
            let days = local.div_euclid(86_400);
            let secs = local.rem_euclid(86_400);
            let (y, m, d) = civil_from_days(days);
            V::When(datetime_key(
                y,
                m,
                d,
                secs / 3600,
                secs / 60 % 60,
                secs % 60,
                i64::from(*micros),
            ))
        }
        Value::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => {
            let us = ((i128::from(*hours) * 60 + i128::from(*minutes)) * 60 + i128::from(*seconds))
                * 1_000_000
                + i128::from(*micros);
            V::Dur(if *negative { -us } else { us })
        }
        Value::Year(y) => V::Int(i128::from(*y)),
    }
}

/// Reads DECIMAL text exactly, or as a double beyond 38 digits.
pub fn decimal(t: &str) -> V {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = format!("{int}{frac}");
    if digits.len() <= 38
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(m) = digits.parse::<i128>()
    {
        return V::Dec(if neg { -m } else { m }, frac.len() as u32);
    }
    t.parse::<f64>().map_or(V::Null, V::Dbl)
}
