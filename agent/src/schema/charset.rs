//! Column character sets: from a collation id (table map, catalog or DDL) to the character set
//! name, and text bytes in that character set to UTF-8.
//!
//! Collation ids are MySQL's (`mysql_common`'s table, ids below 324) plus MariaDB's own: its
//! NO PAD collations (the PAD SPACE id + 1024), its 5xx–7xx tailorings of the Unicode charsets
//! and its UCA 14.0 collations (2048 and up, the charset in bits 8–10). Single-byte charsets
//! decode with the server's own tables ([`charset_tables`], generated from MariaDB); multi-byte
//! ones with `encoding_rs` (the WHATWG decoders, each a superset of the MySQL charset mapped to
//! it). Decoding is strict: bytes not valid in the charset are an error, never replaced or
//! passed on as bytes.
//! Invariant: a charset this module does not name or cannot decode is a [`CharsetError`], so no
//! text reaches a consumer in an encoding it did not ask for.

use encoding_rs::Encoding;
use mysql_common::collations::{Collation, CollationId};

use super::charset_tables;

/// The binary collation id (`BINARY`, `VARBINARY`, `BLOB`: bytes, not text).
pub const BINARY_COLLATION: u16 = 63;

/// Why text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CharsetError {
    /// The collation id is not one this reader knows.
    #[error("unknown collation id {0}")]
    UnknownCollation(u16),
    /// The character set is known but has no decoder here.
    #[error("character set {0} is not supported (convert the column to utf8mb4)")]
    Unsupported(&'static str),
    /// The bytes are not valid text in the column's character set.
    #[error("bytes not valid {charset} at offset {offset}")]
    Invalid {
        /// The character set.
        charset: &'static str,
        /// The first byte that is not valid.
        offset: usize,
    },
}

/// The character set of a collation id; `None` for an id no server version defines.
pub fn charset_name(collation: u16) -> Option<&'static str> {
    match collation {
        0 => None,
        // MariaDB's Unicode tailorings missing from MySQL: croatian, myanmar, thai_520_w2.
        576..=607 => Some("utf8mb3"),
        608..=639 => Some("utf8mb4"),
        640..=671 => Some("ucs2"),
        672..=703 => Some("utf16"),
        736..=767 => Some("utf32"),
        // MariaDB NO PAD variants of a PAD SPACE collation.
        1024..=2047 => charset_name(collation - 1024),
        // MariaDB UCA 14.0: the charset index in bits 8–10.
        2048..=4095 => match (collation >> 8) & 7 {
            0 => Some("utf8mb3"),
            1 => Some("utf8mb4"),
            2 => Some("ucs2"),
            3 => Some("utf16"),
            4 => Some("utf32"),
            _ => None,
        },
        id => match Collation::resolve(CollationId::from(id)).charset {
            "unknown" => None,
            name => Some(name),
        },
    }
}

/// The id of a character set's default collation (as `information_schema.COLLATIONS` numbers
/// it), `utf8` meaning `utf8mb3`; `None` for a name no server defines.
pub fn default_collation(charset: &str) -> Option<u16> {
    let charset = charset.to_ascii_lowercase();
    let charset = match charset.as_str() {
        "utf8" => "utf8mb3",
        other => other,
    };
    if charset == "binary" {
        return Some(BINARY_COLLATION);
    }
    let of = |id: u16| Collation::resolve(CollationId::from(id));
    // MariaDB's defaults: MySQL 8 made its 0900 collations (255 and up) the utf8mb4 default,
    // MariaDB has none of them; a charset without a default below 255 takes its first id.
    (1..255u16)
        .find(|&id| of(id).is_default && of(id).charset == charset)
        .or_else(|| (1..324u16).find(|&id| of(id).charset == charset))
}

/// The id of a collation by name: MySQL's own exactly, any other (MariaDB's `_nopad_`, UCA 14)
/// as its character set's default, which decodes the same; `None` when the character set is
/// unknown.
pub fn collation_by_name(collation: &str) -> Option<u16> {
    let name = collation.to_ascii_lowercase();
    if name == "binary" {
        return Some(BINARY_COLLATION);
    }
    let mysql = name.replacen("utf8_", "utf8mb3_", 1);
    match CollationId::from(mysql.as_str()) as u16 {
        0 => default_collation(name.split('_').next().unwrap_or("")),
        id => Some(id),
    }
}

/// How one character set is decoded.
enum Decoding {
    Utf8,
    Utf32,
    /// A single-byte charset: the server's own table ([`charset_tables`]).
    Table(&'static [u16; 256]),
    /// A multi-byte charset: the WHATWG decoder that is a superset of it.
    Whatwg(&'static Encoding),
}

/// The decoder for a character set; `None` for one no server defines.
fn decoder(charset: &str) -> Option<Decoding> {
    use encoding_rs::*;
    if let Some(table) = charset_tables::table(charset) {
        return Some(Decoding::Table(table));
    }
    Some(match charset {
        "utf8mb4" | "utf8mb3" | "utf8" => Decoding::Utf8,
        "utf32" => Decoding::Utf32,
        // GB2312 and GBK are subsets of the WHATWG GBK decoder (GB18030 without four-byte
        // sequences).
        "gbk" | "gb2312" => Decoding::Whatwg(GBK),
        "gb18030" => Decoding::Whatwg(GB18030),
        // The WHATWG Big5 decoder is Big5-HKSCS, a superset of MySQL's big5.
        "big5" => Decoding::Whatwg(BIG5),
        // The WHATWG Shift_JIS decoder is Windows-31J (cp932), a superset of sjis.
        "sjis" | "cp932" => Decoding::Whatwg(SHIFT_JIS),
        "ujis" | "eucjpms" => Decoding::Whatwg(EUC_JP),
        "euckr" => Decoding::Whatwg(EUC_KR),
        "ucs2" | "utf16" => Decoding::Whatwg(UTF_16BE),
        "utf16le" => Decoding::Whatwg(UTF_16LE),
        _ => return None,
    })
}

/// Whether this reader can decode text of a collation (checked when a table is first seen, so
/// a project stops on its schema rather than on its first row).
pub fn check_collation(collation: u16) -> Result<&'static str, CharsetError> {
    let name = charset_name(collation).ok_or(CharsetError::UnknownCollation(collation))?;
    if name == "binary" || decoder(name).is_some() {
        Ok(name)
    } else {
        Err(CharsetError::Unsupported(name))
    }
}

/// Decodes text in the character set of `collation` into UTF-8; the bytes are moved, not
/// copied, when they already are UTF-8. Collation 0 (neither the binlog nor the catalog named
/// one) is read as utf8mb4, strictly.
pub fn decode_text(bytes: Vec<u8>, collation: u16) -> Result<String, CharsetError> {
    let charset = match collation {
        0 => "utf8mb4",
        id => check_collation(id)?,
    };
    let invalid = |offset: usize| CharsetError::Invalid { charset, offset };
    match decoder(charset) {
        Some(Decoding::Utf8) => {
            String::from_utf8(bytes).map_err(|e| invalid(e.utf8_error().valid_up_to()))
        }
        Some(Decoding::Table(table)) => {
            if bytes.is_ascii()
                && table[..128]
                    .iter()
                    .enumerate()
                    .all(|(i, &u)| usize::from(u) == i)
            {
                return String::from_utf8(bytes).map_err(|e| invalid(e.utf8_error().valid_up_to()));
            }
            bytes
                .iter()
                .enumerate()
                .map(|(i, &b)| {
                    char::from_u32(u32::from(table[usize::from(b)]))
                        .filter(|_| table[usize::from(b)] != charset_tables::UNMAPPED)
                        .ok_or_else(|| invalid(i))
                })
                .collect()
        }
        Some(Decoding::Utf32) => {
            if !bytes.len().is_multiple_of(4) {
                return Err(invalid(bytes.len() / 4 * 4));
            }
            bytes
                .chunks_exact(4)
                .enumerate()
                .map(|(i, c)| {
                    char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                        .ok_or_else(|| invalid(i * 4))
                })
                .collect()
        }
        Some(Decoding::Whatwg(encoding)) => {
            // ASCII-compatible text that is already ASCII needs no conversion.
            if encoding.is_ascii_compatible() && bytes.is_ascii() {
                return String::from_utf8(bytes).map_err(|_| invalid(0));
            }
            match encoding.decode_without_bom_handling_and_without_replacement(&bytes) {
                Some(text) => Ok(text.into_owned()),
                None => Err(invalid(first_invalid(encoding, &bytes))),
            }
        }
        // `check_collation` passed binary: the caller keeps bytes as bytes.
        None => Err(CharsetError::Unsupported(charset)),
    }
}

/// The offset of the first malformed sequence (for the error message).
fn first_invalid(encoding: &'static Encoding, bytes: &[u8]) -> usize {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(decoder.max_utf8_buffer_length(bytes.len()).unwrap_or(0));
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        encoding_rs::DecoderResult::Malformed(len, _) => read.saturating_sub(usize::from(len)),
        _ => read,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collation_ids_name_their_charset() {
        assert_eq!(charset_name(8), Some("latin1"));
        assert_eq!(charset_name(45), Some("utf8mb4"));
        assert_eq!(charset_name(28), Some("gbk"));
        assert_eq!(charset_name(63), Some("binary"));
        assert_eq!(charset_name(255), Some("utf8mb4"));
        // MariaDB: utf8mb4_general_nopad_ci, utf8mb4_croatian_mysql561_ci... and UCA 14.
        assert_eq!(charset_name(1069), Some("utf8mb4"));
        assert_eq!(charset_name(608), Some("utf8mb4"));
        assert_eq!(charset_name(2304), Some("utf8mb4"));
        assert_eq!(charset_name(2816), Some("utf16"));
        assert_eq!(charset_name(0), None);
        assert_eq!(charset_name(5000), None);
    }

    #[test]
    fn names_resolve_to_ids() {
        assert_eq!(default_collation("gbk"), Some(28));
        assert_eq!(default_collation("UTF8"), Some(33));
        assert_eq!(default_collation("utf8mb4"), Some(45));
        assert_eq!(default_collation("latin1"), Some(8));
        assert_eq!(default_collation("binary"), Some(63));
        assert_eq!(default_collation("nope"), None);
        assert_eq!(collation_by_name("utf8mb4_bin"), Some(46));
        assert_eq!(collation_by_name("utf8_general_ci"), Some(33));
        assert_eq!(collation_by_name("gbk_bin"), Some(87));
        assert_eq!(collation_by_name("utf8mb4_uca1400_ai_ci"), Some(45));
        assert_eq!(collation_by_name("big5_chinese_nopad_ci"), Some(1));
        assert_eq!(collation_by_name("klingon_ci"), None);
    }

    #[test]
    fn text_is_decoded_by_its_charset() {
        let d = |bytes: &[u8], id: u16| decode_text(bytes.to_vec(), id);
        assert_eq!(d(b"caf\xe9 \x80", 8).unwrap(), "café €");
        assert_eq!(d("中文😀".as_bytes(), 45).unwrap(), "中文😀");
        assert_eq!(d(b"\xd6\xd0\xce\xc4", 28).unwrap(), "中文");
        assert_eq!(d(b"\x94\x39\xfc\x36", 248).unwrap(), "😀");
        assert_eq!(d(b"\x00\x41\x4e\x2d", 35).unwrap(), "A中");
        assert_eq!(d(b"\xd8\x3d\xde\x00", 54).unwrap(), "😀");
        assert_eq!(d(b"\x41\x00", 56).unwrap(), "A");
        assert_eq!(d(b"\x00\x01\xf6\x00", 60).unwrap(), "😀");
        assert_eq!(d(b"\xcf\xf0\xe8", 51).unwrap(), "При");
    }

    #[test]
    fn bad_bytes_and_unknown_charsets_are_errors() {
        assert_eq!(
            decode_text(b"ab\xff".to_vec(), 45),
            Err(CharsetError::Invalid {
                charset: "utf8mb4",
                offset: 2
            })
        );
        assert_eq!(
            decode_text(b"\x00\x41\x00".to_vec(), 35),
            Err(CharsetError::Invalid {
                charset: "ucs2",
                offset: 2
            })
        );
        assert!(matches!(
            decode_text(b"\x00\x11\x00\x00".to_vec(), 60),
            Err(CharsetError::Invalid { offset: 0, .. })
        ));
        // cp850 (4): every byte maps; swe7 (10) has no 0x80.
        assert_eq!(decode_text(b"\x82".to_vec(), 4).as_deref(), Ok("é"));
        assert!(decode_text(b"\x80".to_vec(), 10).is_err());
        assert_eq!(
            decode_text(b"x".to_vec(), 5000),
            Err(CharsetError::UnknownCollation(5000))
        );
        assert_eq!(decode_text(b"x".to_vec(), 0).as_deref(), Ok("x"));
        assert!(decode_text(b"\x80".to_vec(), 11).is_err());
    }
}
