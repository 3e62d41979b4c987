//! A small, allocation-light JSON writer used by the built-in formats.
//!
//! It writes straight into a byte buffer, escapes strings per RFC 8259, and can emit a number
//! from exact text (DECIMAL, unsigned BIGINT) without a round trip through a float.

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
    pub fn raw(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    /// Writes `null`.
    pub fn null(&mut self) {
        self.raw("null");
    }

    /// Writes a quoted, escaped string.
    pub fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: Option<&[u8]> = match b {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'\n' => Some(b"\\n"),
                b'\r' => Some(b"\\r"),
                b'\t' => Some(b"\\t"),
                0x08 => Some(b"\\b"),
                0x0c => Some(b"\\f"),
                0x00..=0x1f => None,
                _ => continue,
            };
            self.buf.extend_from_slice(&bytes[start..i]);
            match esc {
                Some(e) => self.buf.extend_from_slice(e),
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.buf.extend_from_slice(b"\\u00");
                    self.buf.push(HEX[(b >> 4) as usize]);
                    self.buf.push(HEX[(b & 0xf) as usize]);
                }
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
        self.buf.push(b'"');
    }

    /// Writes an object key followed by a colon.
    pub fn key(&mut self, k: &str) {
        self.string(k);
        self.buf.push(b':');
    }

    /// Writes a signed integer.
    pub fn i64(&mut self, v: i64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    /// Writes an unsigned integer.
    pub fn u64(&mut self, v: u64) {
        self.buf
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
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
        self.buf.extend_from_slice(&digits[..len]);
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
