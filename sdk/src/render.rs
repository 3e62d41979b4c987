//! Value rendering shared by the OMS-compatible formats (OMS spec §1.2).
//!
//! - integers and YEAR: JSON numbers; DECIMAL: a JSON number with the exact digits (trailing
//!   zeros kept); FLOAT/DOUBLE: the shortest text that reads back to the same value, with an
//!   exponent only outside 1e-7..1e21;
//! - text, ENUM, SET: strings; JSON columns: a string holding the JSON text;
//! - binary, BLOB, BIT: Base64 strings;
//! - DATE `YYYY-MM-DD`, TIME `[-]HH:mm:ss[.f]`, DATETIME `YYYY-MM-DD HH:mm:ss[.f]` (fraction
//!   without trailing zeros), TIMESTAMP `seconds[.f]` as a string; zero dates are printed as is,
//!   and the zero TIMESTAMP (`0000-00-00 00:00:00`, stored as second 0: no valid TIMESTAMP is
//!   1970-01-01 00:00:00 UTC) as the spec's invalid time, [`ZERO_TIMESTAMP`].

use base64::Engine as _;
use std::fmt::Write as _;

use crate::json::JsonWriter;
use crate::view::{AsValue, ValueRef};

/// Returns `micros` as a fraction `.ffffff` without trailing zeros, or "" when zero.
pub fn fraction(micros: u32) -> String {
    if micros == 0 {
        return String::new();
    }
    let mut s = format!(".{micros:06}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

/// Renders a DATE as `YYYY-MM-DD`.
pub fn date(year: u16, month: u8, day: u8) -> String {
    format!("{year:04}-{month:02}-{day:02}")
}

/// Renders a TIME as `[-]HH:mm:ss[.f]`.
pub fn time(negative: bool, hours: u32, minutes: u8, seconds: u8, micros: u32) -> String {
    let sign = if negative { "-" } else { "" };
    format!(
        "{sign}{hours:02}:{minutes:02}:{seconds:02}{}",
        fraction(micros)
    )
}

/// Renders a DATETIME as `YYYY-MM-DD HH:mm:ss[.f]`.
#[allow(clippy::too_many_arguments)]
pub fn datetime(
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    micros: u32,
) -> String {
    format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}{}",
        fraction(micros)
    )
}

/// What OMS writes for a TIMESTAMP that is not a valid time: the zero TIMESTAMP.
pub const ZERO_TIMESTAMP: &str = "0000-00-00 00:00:00";

/// Whether a TIMESTAMP value is the zero TIMESTAMP (MySQL stores it as second 0, which no valid
/// TIMESTAMP is: they start at second 1).
pub fn is_zero_timestamp(seconds: i64, micros: u32) -> bool {
    seconds == 0 && micros == 0
}

/// Renders a TIMESTAMP as `seconds[.f]`, the zero TIMESTAMP as [`ZERO_TIMESTAMP`].
pub fn timestamp(seconds: i64, micros: u32) -> String {
    if is_zero_timestamp(seconds, micros) {
        return ZERO_TIMESTAMP.to_string();
    }
    format!("{seconds}{}", fraction(micros))
}

/// Lays out the shortest round-trip digits of a finite float (as `ryu` prints them) the way
/// Rust's `{}` does for decimal exponents in -7..21 (`0.0000001`, `123456`, `1e20` in full), and
/// as `{:e}` does outside it (`1.5e-8`, `1e21`): the text OMS examples show.
fn layout_float(ryu_text: &str, out: &mut Vec<u8>) {
    // Without an exponent ryu's text is already the layout (its plain range lies inside
    // -7..21), except the `.0` it gives whole numbers.
    if !ryu_text.contains('e') {
        let text = ryu_text.strip_suffix(".0").unwrap_or(ryu_text);
        crate::bytes::extend(out, text.as_bytes());
        return;
    }
    let (neg, text) = match ryu_text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, ryu_text),
    };
    let (mantissa, exp10) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = [0u8; 40];
    let mut n = 0;
    for &d in int.as_bytes().iter().chain(frac.as_bytes()) {
        if n < digits.len() {
            digits[n] = d;
            n += 1;
        }
    }
    // value = 0.d1d2…dn × 10^point
    let mut point = int.len() as i32 + exp10;
    let lead = digits[..n].iter().take_while(|&&d| d == b'0').count();
    let digits_all = &digits[lead..n];
    point -= lead as i32;
    let len = digits_all
        .iter()
        .rposition(|&d| d != b'0')
        .map_or(0, |p| p + 1);
    let d = &digits_all[..len];
    if neg {
        out.push(b'-');
    }
    if d.is_empty() {
        out.push(b'0');
        return;
    }
    let e = point - 1;
    if (-7..21).contains(&e) {
        if point <= 0 {
            out.extend_from_slice(b"0.");
            out.extend(std::iter::repeat_n(b'0', (-point) as usize));
            out.extend_from_slice(d);
        } else {
            let p = point as usize;
            if d.len() <= p {
                out.extend_from_slice(d);
                out.extend(std::iter::repeat_n(b'0', p - d.len()));
            } else {
                out.extend_from_slice(&d[..p]);
                out.push(b'.');
                out.extend_from_slice(&d[p..]);
            }
        }
    } else {
        out.push(d[0]);
        if d.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&d[1..]);
        }
        out.push(b'e');
        out.extend_from_slice(itoa::Buffer::new().format(e).as_bytes());
    }
}

/// Appends the text of a DOUBLE (`f64`) or FLOAT (`f32` widened exactly, `single` true) value:
/// shortest round-trip digits (`ryu`; a value exactly halfway between two shortest candidates
/// rounds half to even) laid out as [`layout_float`] says; `null` when not finite.
fn push_float(v: f64, single: bool, out: &mut Vec<u8>) {
    if !v.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    let mut b = ryu::Buffer::new();
    let text = if single {
        b.format_finite(v as f32)
    } else {
        b.format_finite(v)
    };
    layout_float(text, out);
}

/// Renders an `f32` (FLOAT column).
pub fn f32_text(v: f32) -> String {
    let mut out = Vec::with_capacity(24);
    push_float(f64::from(v), true, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Renders an `f64` (DOUBLE column).
pub fn f64_text(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    push_float(v, false, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Encodes bytes as standard Base64.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Days from 1970-01-01 to a proleptic Gregorian date (negative before the epoch).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date `(year, month, day)` of a day number since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Writes `YYYY-MM-DD` (zero parts as they are).
fn write_date(w: &mut JsonWriter, year: u16, month: u8, day: u8) {
    w.padded(u32::from(year), 4);
    w.raw("-");
    w.padded(u32::from(month), 2);
    w.raw("-");
    w.padded(u32::from(day), 2);
}

/// Writes a value as JSON following the OMS rules above.
#[inline]
pub fn write_value(w: &mut JsonWriter, v: &impl AsValue) {
    write_view(w, v.view());
}

fn write_view(w: &mut JsonWriter, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => w.null(),
        ValueRef::Int(i) => w.i64(i),
        ValueRef::UInt(u) => w.u64(u),
        ValueRef::Year(y) => w.u64(u64::from(y)),
        ValueRef::Float(f) => w.float_with(|out| push_float(f64::from(f), true, out)),
        ValueRef::Double(d) => w.float_with(|out| push_float(d, false, out)),
        ValueRef::Decimal(d) => w.number_text(d),
        ValueRef::Text(s) | ValueRef::Json(s) => w.string(s),
        ValueRef::Bytes(b) => w.base64_string(b),
        ValueRef::Date { year, month, day } => {
            w.raw("\"");
            write_date(w, year, month, day);
            w.raw("\"");
        }
        ValueRef::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => {
            w.raw("\"");
            write_date(w, year, month, day);
            w.raw(" ");
            w.padded(u32::from(hour), 2);
            w.raw(":");
            w.padded(u32::from(minute), 2);
            w.raw(":");
            w.padded(u32::from(second), 2);
            w.fraction(micros);
            w.raw("\"");
        }
        ValueRef::Timestamp { seconds, micros } if is_zero_timestamp(seconds, micros) => {
            w.string(ZERO_TIMESTAMP)
        }
        ValueRef::Timestamp { seconds, micros } => {
            w.raw("\"");
            w.i64(seconds);
            w.fraction(micros);
            w.raw("\"");
        }
        other => w.string(&view_text(other)),
    }
}

/// Returns a value as plain text (used for key strings such as `record_primary_value`).
pub fn text(v: &impl AsValue) -> String {
    view_text(v.view())
}

fn view_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Int(i) => i.to_string(),
        ValueRef::UInt(u) => u.to_string(),
        ValueRef::Year(y) => y.to_string(),
        ValueRef::Float(f) => f32_text(f),
        ValueRef::Double(d) => f64_text(d),
        ValueRef::Decimal(s) | ValueRef::Text(s) | ValueRef::Json(s) => s.to_owned(),
        ValueRef::Bytes(b) => base64(b),
        ValueRef::Date { year, month, day } => date(year, month, day),
        ValueRef::Time {
            negative,
            hours,
            minutes,
            seconds,
            micros,
        } => time(negative, hours, minutes, seconds, micros),
        ValueRef::DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        } => datetime(year, month, day, hour, minute, second, micros),
        ValueRef::Timestamp { seconds, micros } => timestamp(seconds, micros),
    }
}

/// Appends `text(v)` to `out` without an intermediate allocation for the common cases.
pub fn push_text(out: &mut String, v: &impl AsValue) {
    match v.view() {
        ValueRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        ValueRef::UInt(u) => {
            let _ = write!(out, "{u}");
        }
        ValueRef::Text(s) | ValueRef::Decimal(s) => out.push_str(s),
        other => out.push_str(&view_text(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_temporal_values_like_oms() {
        assert_eq!(date(2020, 11, 25), "2020-11-25");
        assert_eq!(date(0, 0, 0), "0000-00-00");
        assert_eq!(time(false, 0, 1, 2, 0), "00:01:02");
        assert_eq!(time(true, 838, 59, 59, 123000), "-838:59:59.123");
        assert_eq!(datetime(2020, 11, 25, 0, 1, 2, 0), "2020-11-25 00:01:02");
        assert_eq!(
            datetime(2020, 11, 25, 0, 1, 2, 12345),
            "2020-11-25 00:01:02.012345"
        );
        assert_eq!(timestamp(1606233662, 12345), "1606233662.012345");
        assert_eq!(timestamp(1606233662, 500000), "1606233662.5");
        assert_eq!(timestamp(0, 0), "0000-00-00 00:00:00");
        assert_eq!(timestamp(1, 0), "1");
    }

    #[test]
    fn renders_floats_shortest() {
        assert_eq!(f32_text(1.2222), "1.2222");
        assert_eq!(f32_text(9.999999), "9.999999");
        assert_eq!(f64_text(9.999999999999), "9.999999999999");
        assert_eq!(f64_text(1.5e-308), "1.5e-308");
        assert_eq!(f64_text(-2.5e-8), "-2.5e-8");
        assert_eq!(f64_text(1e21), "1e21");
        assert_eq!(f64_text(123456.0), "123456");
        assert_eq!(f64_text(0.0), "0");
    }

    #[test]
    fn converts_civil_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2022, 11, 15), 19_311);
        assert_eq!(civil_from_days(19_311), (2022, 11, 15));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        for d in [-800_000, -1, 0, 59, 60, 11_016, 2_932_896] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    /// The rendering before `ryu`: Rust's own shortest formatting, `{}` or `{:e}` by exponent.
    fn float_by_fmt(v: f64, shortest_e: String, shortest: String) -> String {
        if !v.is_finite() {
            return "null".to_string();
        }
        let exp = shortest_e
            .rsplit_once('e')
            .and_then(|(_, e)| e.parse::<i32>().ok())
            .unwrap_or(0);
        if v == 0.0 || (-7..21).contains(&exp) {
            shortest
        } else {
            shortest_e
        }
    }

    #[test]
    fn floats_match_rust_formatting_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut doubles: Vec<f64> = (0..200_000).map(|_| f64::from_bits(next())).collect();
        let mut singles: Vec<f32> = (0..200_000)
            .map(|_| f32::from_bits(next() as u32))
            .collect();
        for e in -30..30 {
            for m in [1.0, 1.5, 9.999_999, 123_456.789, 0.1, 0.3] {
                doubles.push(m * 10f64.powi(e));
                singles.push((m * 10f64.powi(e)) as f32);
            }
        }
        doubles.extend([
            0.0,
            -0.0,
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            f64::NAN,
        ]);
        singles.extend([
            0.0,
            -0.0,
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-45,
            f32::INFINITY,
        ]);
        // Where the exact value lies halfway between two shortest candidates, ryu rounds half to
        // even and Rust's formatter does not: both read back to the same value, same length.
        let same = |ours: &str, rust: &str, back: &dyn Fn(&str) -> Option<u64>| {
            ours == rust
                || (ours.len() == rust.len() && back(ours).is_some() && back(ours) == back(rust))
        };
        for v in doubles {
            let (ours, rust) = (
                f64_text(v),
                float_by_fmt(v, format!("{v:e}"), format!("{v}")),
            );
            let back = |t: &str| t.parse::<f64>().ok().map(f64::to_bits);
            assert!(same(&ours, &rust, &back), "{v:e}: {ours} vs {rust}");
        }
        for v in singles {
            let (ours, rust) = (
                f32_text(v),
                float_by_fmt(f64::from(v), format!("{v:e}"), format!("{v}")),
            );
            let back = |t: &str| t.parse::<f32>().ok().map(|f| u64::from(f.to_bits()));
            assert!(same(&ours, &rust, &back), "{v:e}: {ours} vs {rust}");
        }
    }

    #[test]
    fn renders_bytes_as_base64() {
        assert_eq!(base64(b"hello world"), "aGVsbG8gd29ybGQ=");
    }
}
