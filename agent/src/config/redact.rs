//! Secret values kept out of configuration errors: an error about a secret field (a password,
//! an ACL secret key, an alert webhook URL that may carry a token), or about a line assigning
//! one, never quotes the value — such errors reach the log, `/api`, `status.json` and alert
//! webhooks.
//!
//! Invariants: every quoted value in such a message is replaced, and no source line is quoted; the field name,
//! the file and the line stay, so the user still knows what to fix.

/// The last segment of every secret field (in project and data source files).
const SECRET_FIELDS: &[&str] = &["password", "secret_key", "webhook"];

/// What replaces a value in an error about a secret field.
const HIDDEN: &str = "(value not shown: secret field)";

/// Whether a field path (`source.password`, `mysql.password`, `alerts.webhook`) is secret.
pub fn is_secret_field(path: &str) -> bool {
    path.rsplit('.')
        .next()
        .is_some_and(|last| SECRET_FIELDS.contains(&last.trim()))
}

/// Whether 1-based `line` of `text` assigns a secret field.
pub fn line_is_secret(text: &str, line: usize) -> bool {
    let Some(l) = line.checked_sub(1).and_then(|i| text.lines().nth(i)) else {
        return false;
    };
    l.split_once('=')
        .is_some_and(|(key, _)| is_secret_field(key.trim().trim_matches('"')))
}

/// `message` with every value it quotes (between backquotes or quotes) replaced, for errors
/// about a secret field (serde and toml quote the values they name).
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut chars = message.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '"' | '\'' => {
                // A quoted value: skipped up to its closing quote (or the end).
                for d in chars.by_ref() {
                    if d == c {
                        break;
                    }
                }
                out.push_str(HIDDEN);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The message of an error about `field` at `line` of `text`, without secret values.
pub fn message_for(field: &str, text: &str, line: Option<usize>, message: String) -> String {
    if is_secret_field(field) || line.is_some_and(|l| line_is_secret(text, l)) {
        without_values(&message)
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_and_lines_are_recognised() {
        assert!(is_secret_field("source.password"));
        assert!(is_secret_field("mysql.password"));
        assert!(is_secret_field("target.secret_key"));
        assert!(is_secret_field("alerts.webhook"));
        assert!(!is_secret_field("target.access_key"));
        assert!(!is_secret_field("source.user"));
        let text = "[source]\nuser = \"u\"\npassword = 1234\n";
        assert!(line_is_secret(text, 3));
        assert!(!line_is_secret(text, 2));
        assert!(!line_is_secret(text, 9));
    }

    #[test]
    fn quoted_values_are_hidden() {
        let m = without_values("invalid type: integer `12345678`, expected a string");
        assert!(!m.contains("12345678"), "{m}");
        assert!(m.contains("expected a string"), "{m}");
        let m = without_values("invalid string \"hunter2");
        assert!(!m.contains("hunter2"), "{m}");
    }
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod file_tests;
