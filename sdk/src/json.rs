//! A small, allocation-light JSON writer used by the built-in formats.
//!
//! It writes straight into a byte buffer, escapes strings per RFC 8259, and can emit a number
//! from exact text (DECIMAL, unsigned BIGINT) without a round trip through a float.

/// For each byte, 0 when it is written as is, else the letter of its escape (`u` for `\u00XX`).
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t
};

/// True when one of eight bytes (a little-endian word) may need escaping: a control byte, `"`
/// or `\\`. False positives are possible (the caller then looks byte by byte), misses are not.
#[inline]
fn may_need_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    (control | zero_byte(w ^ (ONES * 0x22)) | zero_byte(w ^ (ONES * 0x5c))) != 0
}

/// Appends JSON text to a buffer; the caller is responsible for structure (commas, colons).
#[derive(Debug, Default)]
pub struct JsonWriter {
    buf: Vec<u8>,
}

impl JsonWriter {
    /// Creates a writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        JsonWriter {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Returns the written bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Returns the written bytes so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Writes raw JSON text (punctuation or an already valid JSON token).
    #[inline]
    pub fn raw(&mut self, text: &str) {
        self.put(text.as_bytes());
    }

    /// Writes raw JSON bytes (already valid JSON text, such as a pre-rendered key).
    #[inline]
    pub fn raw_bytes(&mut self, bytes: &[u8]) {
        self.put(bytes);
    }

    /// Appends bytes (see [`crate::bytes::extend`]: short runs without a `memory.copy`).
    #[inline]
    fn put(&mut self, b: &[u8]) {
        crate::bytes::extend(&mut self.buf, b);
    }

    /// Writes `null`.
    #[inline]
    pub fn null(&mut self) {
        self.raw("null");
    }

    /// Writes a quoted, escaped string.
    pub fn string(&mut self, s: &str) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        self.buf.reserve(bytes.len() + 2);
        self.buf.push(b'"');
        // Most strings need no escape: skip eight bytes at a time while none might.
        let clean = bytes
            .chunks_exact(8)
            .take_while(|c| {
                <[u8; 8]>::try_from(*c).is_ok_and(|w| !may_need_escape(u64::from_le_bytes(w)))
            })
            .count()
            * 8;
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate().skip(clean) {
            let esc = ESCAPE[b as usize];
            if esc == 0 {
                continue;
            }
            self.put(&bytes[start..i]);
            if esc == b'u' {
                self.put(b"\\u00");
                self.buf.push(HEX[(b >> 4) as usize]);
                self.buf.push(HEX[(b & 0xf) as usize]);
            } else {
                self.buf.push(b'\\');
                self.buf.push(esc);
            }
            start = i + 1;
        }
        self.put(&bytes[start..]);
        self.buf.push(b'"');
    }

    /// Writes an object key followed by a colon.
    #[inline]
    pub fn key(&mut self, k: &str) {
        self.string(k);
        self.buf.push(b':');
    }

    /// Writes a signed integer.
    pub fn i64(&mut self, v: i64) {
        self.put(itoa::Buffer::new().format(v).as_bytes());
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, v: u64) {
        self.put(itoa::Buffer::new().format(v).as_bytes());
    }

    /// Writes formatted text as is (for tokens that need no escaping, such as dates).
    pub fn raw_fmt(&mut self, args: std::fmt::Arguments<'_>) {
        use std::io::Write;
        let _ = self.buf.write_fmt(args);
    }

    /// Appends a fraction `.ffffff` without trailing zeros (nothing when zero).
    pub fn fraction(&mut self, micros: u32) {
        if micros == 0 {
            return;
        }
        let mut digits = [b'0'; 6];
        let mut m = micros.min(999_999);
        for d in digits.iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        let len = digits.iter().rposition(|&d| d != b'0').map_or(0, |p| p + 1);
        self.buf.push(b'.');
        self.put(&digits[..len]);
    }

    /// Writes a number from exact decimal text; falls back to a string when the text is not a
    /// valid JSON number.
    pub fn number_text(&mut self, text: &str) {
        if is_json_number(text) {
            self.raw(text);
        } else {
            self.string(text);
        }
    }

    /// Writes a float given as already formatted text (see [`crate::render`]).
    pub fn float_text(&mut self, text: &str) {
        self.number_text(text);
    }

    /// Writes a float whose text `write` appends (a number, or `null` for a non-finite value,
    /// which is written as a string as [`JsonWriter::number_text`] would).
    pub fn float_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.buf.len();
        write(&mut self.buf);
        if &self.buf[start..] == b"null" {
            self.buf.truncate(start);
            self.string("null");
        }
    }

    /// Writes bytes as a quoted standard Base64 string (no escaping needed: the alphabet is
    /// plain ASCII).
    pub fn base64_string(&mut self, bytes: &[u8]) {
        use base64::Engine as _;
        self.buf.push(b'"');
        let start = self.buf.len();
        let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
        self.buf.resize(start + len, 0);
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, &mut self.buf[start..])
            .unwrap_or(0);
        self.buf.truncate(start + written);
        self.buf.push(b'"');
    }

    /// Writes a number in decimal, left-padded with zeros to `width` digits (dates and times).
    pub fn padded(&mut self, v: u32, width: usize) {
        if width == 2 && v < 100 {
            self.buf.push(b'0' + (v / 10) as u8);
            self.buf.push(b'0' + (v % 10) as u8);
            return;
        }
        if width == 4 && v < 10_000 {
            for d in [v / 1000, v / 100 % 10, v / 10 % 10, v % 10] {
                self.buf.push(b'0' + d as u8);
            }
            return;
        }
        let mut b = itoa::Buffer::new();
        let digits = b.format(v).as_bytes();
        for _ in digits.len()..width {
            self.buf.push(b'0');
        }
        self.put(digits);
    }
}

/// Returns true if `s` is a valid JSON number.
pub fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while matches!(b.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut w = JsonWriter::default();
        w.string("a\"b\\c\nd\u{1}中😀");
        assert_eq!(
            String::from_utf8(w.into_bytes()).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001中😀\""
        );
    }

    #[test]
    fn escapes_every_byte_wherever_it_is() {
        // Each special byte at each place of a 24-byte string, read back by the JSON rules.
        for special in (0u8..0x20).chain([b'"', b'\\', b'a', 0x7f]) {
            for at in 0..24 {
                let mut text = vec![b'x'; 24];
                text[at] = special;
                let s = String::from_utf8(text).unwrap();
                let mut w = JsonWriter::default();
                w.string(&s);
                let got = String::from_utf8(w.into_bytes()).unwrap();
                assert_eq!(unescape(&got), s, "byte {special:#x} at {at}: {got}");
            }
        }
        let mut w = JsonWriter::default();
        w.padded(7, 2);
        w.padded(2024, 4);
        w.padded(838, 2);
        w.padded(5, 6);
        assert_eq!(w.as_bytes(), b"072024838000005");
    }

    /// Reads back a JSON string literal (the escapes `string` writes).
    fn unescape(lit: &str) -> String {
        let inner = &lit[1..lit.len() - 1];
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                assert!(c as u32 >= 0x20 && c != '"', "unescaped {c:?} in {lit}");
                out.push(c);
                continue;
            }
            match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
                }
                c => out.push(c),
            }
        }
        out
    }

    #[test]
    fn validates_numbers() {
        for ok in [
            "0",
            "-1",
            "12.50",
            "1e5",
            "-0.001",
            "10223372036854775806",
            "1.5E-308",
        ] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["", "-", "01", "1.", ".5", "1e", "NaN", "+1", "1 "] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
