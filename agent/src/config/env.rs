//! `${NAME}` substitution from the environment, for secrets kept out of config files.
//!
//! Only whole-value references and embedded references are expanded; `$$` is a literal `$`.
//! The expanded value is never logged or included in an error.

/// Expands `${NAME}` references; returns the name of the first unset variable on failure.
pub fn expand(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("$$") {
            out.push('$');
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                return Err(String::from("unterminated `${`"));
            };
            let name = &body[..end];
            match std::env::var(name) {
                Ok(v) => out.push_str(&v),
                Err(_) => return Err(format!("environment variable `{name}` is not set")),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_references() {
        // SAFETY: test-local variable name, tests in this module do not race on it.
        unsafe { std::env::set_var("OBSYNC_TEST_EXPAND", "s3cr$t") };
        assert_eq!(expand("${OBSYNC_TEST_EXPAND}").unwrap(), "s3cr$t");
        assert_eq!(expand("a-${OBSYNC_TEST_EXPAND}-b").unwrap(), "a-s3cr$t-b");
        assert_eq!(expand("p$$w").unwrap(), "p$w");
        assert_eq!(expand("plain").unwrap(), "plain");
        assert!(
            expand("${OBSYNC_TEST_UNSET_VARIABLE}")
                .unwrap_err()
                .contains("OBSYNC_TEST_UNSET_VARIABLE")
        );
        assert!(expand("${oops").is_err());
    }
}
