//! The functions a row filter may call: MySQL's common deterministic string, numeric, NULL and
//! date functions. Non-deterministic ones (`NOW()`, `RAND()`, …) are refused when the filter is
//! bound, because replaying the binlog would give a different answer.
//!
//! Invariant: every function returns NULL on a NULL argument unless MySQL says otherwise
//! (`COALESCE`, `IFNULL`, `IF`, `CONCAT_WS`), and never panics on any argument.

use super::arith::{arith, key_days};
use super::parse::BinOp;
use super::value::{V, datetime_key, when_fields};

/// Functions and their argument counts (min, max).
pub const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("LOWER", 1, 1),
    ("LCASE", 1, 1),
    ("UPPER", 1, 1),
    ("UCASE", 1, 1),
    ("LENGTH", 1, 1),
    ("OCTET_LENGTH", 1, 1),
    ("CHAR_LENGTH", 1, 1),
    ("CHARACTER_LENGTH", 1, 1),
    ("CONCAT", 1, 255),
    ("CONCAT_WS", 2, 255),
    ("SUBSTRING", 2, 3),
    ("SUBSTR", 2, 3),
    ("LEFT", 2, 2),
    ("RIGHT", 2, 2),
    ("TRIM", 1, 1),
    ("LTRIM", 1, 1),
    ("RTRIM", 1, 1),
    ("LOCATE", 2, 2),
    ("INSTR", 2, 2),
    ("REPLACE", 3, 3),
    ("COALESCE", 1, 255),
    ("IFNULL", 2, 2),
    ("NULLIF", 2, 2),
    ("IF", 3, 3),
    ("ISNULL", 1, 1),
    ("ABS", 1, 1),
    ("SIGN", 1, 1),
    ("FLOOR", 1, 1),
    ("CEIL", 1, 1),
    ("CEILING", 1, 1),
    ("ROUND", 1, 1),
    ("MOD", 2, 2),
    ("DATE", 1, 1),
    ("YEAR", 1, 1),
    ("MONTH", 1, 1),
    ("DAY", 1, 1),
    ("DAYOFMONTH", 1, 1),
    ("HOUR", 1, 1),
    ("MINUTE", 1, 1),
    ("SECOND", 1, 1),
    ("DAYOFWEEK", 1, 1),
];

/// Functions refused with a reason.
pub const REFUSED: &[&str] = &[
    "NOW",
    "SYSDATE",
    "CURDATE",
    "CURTIME",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "UTC_TIMESTAMP",
    "UNIX_TIMESTAMP",
    "RAND",
    "UUID",
];

/// Calls a function on evaluated arguments (name upper-cased and arity checked at bind time).
pub fn call(name: &str, mut a: Vec<V>) -> V {
    let any_null = a.contains(&V::Null);
    match name {
        "COALESCE" => return a.into_iter().find(|v| *v != V::Null).unwrap_or(V::Null),
        "IFNULL" => {
            let second = a.pop().unwrap_or(V::Null);
            let first = a.pop().unwrap_or(V::Null);
            return if first == V::Null { second } else { first };
        }
        "IF" => {
            let (Some(c), Some(t), Some(f)) = (a.first(), a.get(1), a.get(2)) else {
                return V::Null;
            };
            return if c.truth() == Some(true) {
                t.clone()
            } else {
                f.clone()
            };
        }
        "ISNULL" => return V::Int(i128::from(a.first() == Some(&V::Null))),
        "CONCAT_WS" => {
            let Some(sep) = a.first().and_then(V::to_text) else {
                return V::Null;
            };
            let parts: Vec<String> = a.iter().skip(1).filter_map(V::to_text).collect();
            return V::Str(parts.join(&sep), ci_of(&a));
        }
        "NULLIF" => {
            let (Some(x), Some(y)) = (a.first(), a.get(1)) else {
                return V::Null;
            };
            return if super::value::compare(x, y) == Some(std::cmp::Ordering::Equal) {
                V::Null
            } else {
                x.clone()
            };
        }
        _ => {}
    }
    if any_null {
        return V::Null;
    }
    let Some(first) = a.first().cloned() else {
        return V::Null;
    };
    let ci = ci_of(&a);
    let text = |i: usize| a.get(i).and_then(V::to_text).unwrap_or_default();
    let int = |i: usize| a.get(i).and_then(V::to_f64).unwrap_or(0.0).round() as i64;
    match name {
        "LOWER" | "LCASE" => V::Str(text(0).to_lowercase(), ci),
        "UPPER" | "UCASE" => V::Str(text(0).to_uppercase(), ci),
        "LENGTH" | "OCTET_LENGTH" => V::Int(match a.first() {
            Some(V::Bin(b)) => b.len() as i128,
            _ => text(0).len() as i128,
        }),
        "CHAR_LENGTH" | "CHARACTER_LENGTH" => V::Int(text(0).chars().count() as i128),
        "CONCAT" => V::Str(a.iter().filter_map(V::to_text).collect(), ci),
        "SUBSTRING" | "SUBSTR" => {
            let s: Vec<char> = text(0).chars().collect();
            let n = s.len() as i64;
            let pos = int(1);
            let start = if pos > 0 {
                pos - 1
            } else if pos < 0 {
                n + pos
            } else {
                return V::Str(String::new(), ci);
            };
            if start < 0 || start >= n {
                return V::Str(String::new(), ci);
            }
            let len = if a.len() > 2 { int(2).max(0) } else { n };
            let end = start.saturating_add(len).min(n);
            V::Str(s[start as usize..end as usize].iter().collect(), ci)
        }
        "LEFT" => V::Str(text(0).chars().take(int(1).max(0) as usize).collect(), ci),
        "RIGHT" => {
            let s: Vec<char> = text(0).chars().collect();
            let k = (int(1).max(0) as usize).min(s.len());
            V::Str(s[s.len() - k..].iter().collect(), ci)
        }
        "TRIM" => V::Str(text(0).trim_matches(' ').to_string(), ci),
        "LTRIM" => V::Str(text(0).trim_start_matches(' ').to_string(), ci),
        "RTRIM" => V::Str(text(0).trim_end_matches(' ').to_string(), ci),
        "LOCATE" | "INSTR" => {
            let (needle, hay) = if name == "LOCATE" {
                (text(0), text(1))
            } else {
                (text(1), text(0))
            };
            let (h, n) = if ci {
                (hay.to_lowercase(), needle.to_lowercase())
            } else {
                (hay, needle)
            };
            V::Int(h.find(&n).map_or(0, |b| h[..b].chars().count() as i128 + 1))
        }
        "REPLACE" => {
            let from = text(1);
            if from.is_empty() {
                return V::Str(text(0), ci);
            }
            V::Str(text(0).replace(&from, &text(2)), ci)
        }
        "ABS" => match first.clone() {
            V::Int(i) if i != i128::MIN => V::Int(i.abs()),
            V::Dec(m, s) if m != i128::MIN => V::Dec(m.abs(), s),
            other => other.to_f64().map_or(V::Null, |d| V::Dbl(d.abs())),
        },
        "SIGN" => V::Int(match first.to_f64() {
            Some(d) if d > 0.0 => 1,
            Some(d) if d < 0.0 => -1,
            _ => 0,
        }),
        "FLOOR" | "CEIL" | "CEILING" | "ROUND" => match first.clone() {
            V::Int(i) => V::Int(i),
            other => other.to_f64().map_or(V::Null, |d| {
                V::Int(match name {
                    "FLOOR" => d.floor(),
                    "ROUND" => d.round(),
                    _ => d.ceil(),
                } as i128)
            }),
        },
        "MOD" => {
            let b = a.pop().unwrap_or(V::Null);
            let x = a.pop().unwrap_or(V::Null);
            arith(BinOp::Mod, x, b)
        }
        "DATE" => when(&first).map_or(V::Null, |k| {
            let [y, m, d, ..] = when_fields(k);
            V::When(datetime_key(y, m, d, 0, 0, 0, 0))
        }),
        "YEAR" | "MONTH" | "DAY" | "DAYOFMONTH" | "HOUR" | "MINUTE" | "SECOND" => when(&first)
            .map_or(V::Null, |k| {
                let f = when_fields(k);
                V::Int(i128::from(match name {
                    "YEAR" => f[0],
                    "MONTH" => f[1],
                    "DAY" | "DAYOFMONTH" => f[2],
                    "HOUR" => f[3],
                    "MINUTE" => f[4],
                    _ => f[5],
                }))
            }),
        "DAYOFWEEK" => when(&first).map_or(V::Null, |k| {
            // 1970-01-01 was a Thursday (5 in MySQL's Sunday = 1 numbering).
            V::Int(i128::from((key_days(k) + 4).rem_euclid(7) + 1))
        }),
        _ => V::Null,
    }
}

/// Case-insensitive unless an argument is a case-sensitive string.
fn ci_of(a: &[V]) -> bool {
    a.iter().all(V::case_insensitive)
}

/// A date-time key from a temporal value or a string that reads as one.
fn when(v: &V) -> Option<i128> {
    match v {
        V::When(k) => Some(*k),
        V::Str(s, _) => super::value::parse_datetime(s),
        _ => None,
    }
}
