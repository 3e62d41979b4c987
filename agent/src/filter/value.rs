//! Values while a filter is evaluated, and MySQL's comparison rules between them.
//!
//! Rules (MySQL 8 "Type Conversion in Expression Evaluation"): NULL compared with anything is
//! NULL (`<=>` aside); two strings compare as strings under the column's collation; two integers
//! compare as integers (signed and unsigned alike, exactly); a temporal value compared with a
//! string compares as temporal values; exact numbers (integers, DECIMAL) compare exactly;
//! anything else compares as doubles, a string read as its longest numeric prefix (`'12ab'` is 12).
//! Strings under a case-insensitive collation compare with Unicode case folding; PAD SPACE
//! collations ignore trailing spaces.

use std::cmp::Ordering;

/// The type family of a bound column, which decides how literals compared with it are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Integers, YEAR, BIT.
    Integer,
    /// DECIMAL.
    Decimal,
    /// FLOAT, DOUBLE.
    Float,
    /// CHAR, VARCHAR, TEXT, ENUM, SET, JSON.
    Text,
    /// BINARY, VARBINARY, BLOB, GEOMETRY.
    Binary,
    /// DATE.
    Date,
    /// DATETIME.
    DateTime,
    /// TIMESTAMP.
    Timestamp,
    /// TIME.
    Time,
    /// Not bound yet.
    Other,
}

/// A value during evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum V {
    /// NULL.
    Null,
    /// An exact integer (any MySQL integer fits).
    Int(i128),
    /// An exact decimal: mantissa and digits after the point.
    Dec(i128, u32),
    /// A double.
    Dbl(f64),
    /// A string and whether it compares case-insensitively.
    Str(String, bool),
    /// Bytes.
    Bin(Vec<u8>),
    /// A date or date-time as a sortable number (see [`datetime_key`]).
    When(i128),
    /// A TIME as signed microseconds.
    Dur(i128),
}

impl V {
    /// MySQL truthiness: NULL is unknown, numbers are true when non-zero, strings by their
    /// numeric prefix.
    pub fn truth(&self) -> Option<bool> {
        match self {
            V::Null => None,
            V::Int(i) => Some(*i != 0),
            V::Dec(m, _) => Some(*m != 0),
            V::Dbl(d) => Some(*d != 0.0),
            V::Str(s, _) => Some(str_to_f64(s) != 0.0),
            V::Bin(b) => Some(str_to_f64(&String::from_utf8_lossy(b)) != 0.0),
            V::When(k) | V::Dur(k) => Some(*k != 0),
        }
    }

    /// The value as a double (temporal values as MySQL's `YYYYMMDDhhmmss` numbers).
    pub fn to_f64(&self) -> Option<f64> {
        Some(match self {
            V::Null => return None,
            V::Int(i) => *i as f64,
            V::Dec(m, s) => *m as f64 / 10f64.powi(*s as i32),
            V::Dbl(d) => *d,
            V::Str(s, _) => str_to_f64(s),
            V::Bin(b) => str_to_f64(&String::from_utf8_lossy(b)),
            V::When(k) => when_to_number(*k),
            V::Dur(us) => {
                let neg = *us < 0;
                let us = us.unsigned_abs();
                let secs = (us / 1_000_000) as f64;
                let n = (secs / 3600.0).floor() * 10000.0
                    + ((secs % 3600.0) / 60.0).floor() * 100.0
                    + secs % 60.0
                    + (us % 1_000_000) as f64 / 1e6;
                if neg { -n } else { n }
            }
        })
    }

    /// The value as text, as MySQL would print it.
    pub fn to_text(&self) -> Option<String> {
        Some(match self {
            V::Null => return None,
            V::Int(i) => i.to_string(),
            V::Dec(m, s) => dec_text(*m, *s),
            V::Dbl(d) => d.to_string(),
            V::Str(s, _) => s.clone(),
            V::Bin(b) => String::from_utf8_lossy(b).into_owned(),
            V::When(k) => when_text(*k),
            V::Dur(us) => {
                let neg = *us < 0;
                let us = us.unsigned_abs();
                let secs = us / 1_000_000;
                let frac = us % 1_000_000;
                let mut t = format!(
                    "{}{:02}:{:02}:{:02}",
                    if neg { "-" } else { "" },
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60
                );
                if frac > 0 {
                    t.push_str(&format!(".{frac:06}"));
                }
                t
            }
        })
    }

    /// Whether the value is a case-insensitive string (literals and `_ci` columns).
    pub fn case_insensitive(&self) -> bool {
        match self {
            V::Str(_, ci) => *ci,
            _ => true,
        }
    }
}

/// Prints an exact decimal.
pub fn dec_text(m: i128, scale: u32) -> String {
    let digits = m.unsigned_abs().to_string();
    let scale = scale as usize;
    let sign = if m < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{sign}{int}.{frac}")
}

/// Reads MySQL's numeric prefix of a string: leading spaces, sign, digits, point, exponent.
pub fn str_to_f64(s: &str) -> f64 {
    let t = s.trim_start();
    let b = t.as_bytes();
    let mut end = 0;
    if end < b.len() && (b[end] == b'+' || b[end] == b'-') {
        end += 1;
    }
    let digits_start = end;
    while end < b.len() && b[end].is_ascii_digit() {
        end += 1;
    }
    if end < b.len() && b[end] == b'.' {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    if end == digits_start || (end == digits_start + 1 && b[digits_start] == b'.') {
        return 0.0;
    }
    if end < b.len() && (b[end] == b'e' || b[end] == b'E') {
        let mut j = end + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            end = j;
        }
    }
    t[..end].parse().unwrap_or(0.0)
}

/// A sortable key of a date-time, zero parts allowed: fields packed most significant first.
pub fn datetime_key(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, us: i64) -> i128 {
    let k = ((((y * 13 + mo) * 32 + d) * 24 + h) * 60 + mi) * 60 + s;
    k as i128 * 1_000_000 + us as i128
}

/// Unpacks [`datetime_key`].
pub fn when_fields(k: i128) -> [i64; 7] {
    let us = (k % 1_000_000) as i64;
    let mut r = (k / 1_000_000) as i64;
    let s = r % 60;
    r /= 60;
    let mi = r % 60;
    r /= 60;
    let h = r % 24;
    r /= 24;
    let d = r % 32;
    r /= 32;
    let mo = r % 13;
    let y = r / 13;
    [y, mo, d, h, mi, s, us]
}

fn when_text(k: i128) -> String {
    let [y, mo, d, h, mi, s, us] = when_fields(k);
    let mut t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    if us > 0 {
        t.push_str(&format!(".{us:06}"));
    }
    t
}

fn when_to_number(k: i128) -> f64 {
    let [y, mo, d, h, mi, s, us] = when_fields(k);
    (((((y * 100 + mo) * 100 + d) * 100 + h) * 100 + mi) * 100 + s) as f64 + us as f64 / 1e6
}

/// Reads `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` (also `T` as separator, and `/` in dates).
pub fn parse_datetime(s: &str) -> Option<i128> {
    let s = s.trim();
    let (date, time) = match s.find([' ', 'T']) {
        Some(i) => (&s[..i], s[i + 1..].trim()),
        None => (s, ""),
    };
    let mut parts = date.split(['-', '/']);
    let y: i64 = parts.next()?.parse().ok()?;
    let mo: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(0..=9999).contains(&y) || mo > 12 || d > 31 || mo < 0 || d < 0 {
        return None;
    }
    let (h, mi, sec, us) = if time.is_empty() {
        (0, 0, 0, 0)
    } else {
        let us = parse_duration(time)?;
        if !(0..86_400_000_000).contains(&us) {
            return None;
        }
        let secs = (us / 1_000_000) as i64;
        (
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            (us % 1_000_000) as i64,
        )
    };
    Some(datetime_key(y, mo, d, h, mi, sec, us))
}

/// Reads `[-]HH:MM[:SS[.ffffff]]` into signed microseconds.
pub fn parse_duration(s: &str) -> Option<i128> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut parts = hms.split(':');
    let h: i128 = parts.next()?.parse().ok()?;
    let m: i128 = parts.next()?.parse().ok()?;
    let sec: i128 = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || m > 59 || sec > 59 || h > 838 || frac.len() > 6 {
        return None;
    }
    let us: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    let v = ((h * 60 + m) * 60 + sec) * 1_000_000 + us;
    Some(if neg { -v } else { v })
}

/// Compares two non-NULL values under MySQL's rules; `None` when either is NULL.
pub fn compare(a: &V, b: &V) -> Option<Ordering> {
    use V::*;
    Some(match (a, b) {
        (Null, _) | (_, Null) => return None,
        (Str(x, xci), Str(y, yci)) => compare_str(x, y, *xci && *yci),
        (Bin(x), Bin(y)) => x.cmp(y),
        (Bin(x), Str(y, _)) => x.as_slice().cmp(y.as_bytes()),
        (Str(x, _), Bin(y)) => x.as_bytes().cmp(y.as_slice()),
        (Int(x), Int(y)) => x.cmp(y),
        (When(x), When(y)) | (Dur(x), Dur(y)) => x.cmp(y),
        (When(x), Str(s, _)) => match parse_datetime(s) {
            Some(y) => x.cmp(&y),
            None => compare_str(&when_text(*x), s, true),
        },
        (Str(_, _), When(_)) => compare(b, a)?.reverse(),
        (Dur(x), Str(s, _)) => match parse_duration(s) {
            Some(y) => x.cmp(&y),
            None => compare_f64(a.to_f64()?, str_to_f64(s)),
        },
        (Str(_, _), Dur(_)) => compare(b, a)?.reverse(),
        (Int(_) | Dec(..), Int(_) | Dec(..)) => match compare_exact(a, b) {
            Some(o) => o,
            None => compare_f64(a.to_f64()?, b.to_f64()?),
        },
        _ => compare_f64(a.to_f64()?, b.to_f64()?),
    })
}

fn compare_f64(x: f64, y: f64) -> Ordering {
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// Exact comparison of integers and decimals; `None` when scaling would overflow.
fn compare_exact(a: &V, b: &V) -> Option<Ordering> {
    let (am, as_) = exact(a)?;
    let (bm, bs) = exact(b)?;
    let (x, y) = align(am, as_, bm, bs)?;
    Some(x.cmp(&y))
}

/// The mantissa and scale of an exact number.
pub fn exact(v: &V) -> Option<(i128, u32)> {
    match v {
        V::Int(i) => Some((*i, 0)),
        V::Dec(m, s) => Some((*m, *s)),
        _ => None,
    }
}

/// Brings two exact numbers to the same scale; `None` on overflow.
pub fn align(am: i128, as_: u32, bm: i128, bs: u32) -> Option<(i128, i128)> {
    let scale = as_.max(bs);
    let up = |m: i128, s: u32| 10i128.checked_pow(scale - s).and_then(|p| m.checked_mul(p));
    Some((up(am, as_)?, up(bm, bs)?))
}

/// String comparison: PAD SPACE (trailing spaces ignored), optionally case-folded.
fn compare_str(x: &str, y: &str, case_insensitive: bool) -> Ordering {
    let (x, y) = (x.trim_end_matches(' '), y.trim_end_matches(' '));
    if case_insensitive {
        x.chars()
            .flat_map(char::to_lowercase)
            .cmp(y.chars().flat_map(char::to_lowercase))
    } else {
        x.cmp(y)
    }
}

/// Collation ids whose comparisons are case-sensitive: `binary` and the `_bin`/`_cs` collations
/// of the common charsets (MySQL and MariaDB share these ids).
const CASE_SENSITIVE_COLLATIONS: &[u16] = &[
    46, 47, 55, 61, 62, 63, 65, 83, 84, 86, 87, 90, 248, 278, 309, 1070, 1107,
];

/// Whether a column with this collation id compares text case-insensitively (0 = unknown: the
/// server default, case-insensitive).
pub fn collation_is_case_insensitive(id: u16) -> bool {
    !CASE_SENSITIVE_COLLATIONS.contains(&id)
}
