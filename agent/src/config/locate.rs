//! Lines in a project file's text: of a byte offset (serde's spans) and of a dotted field path
//! (validation errors), so every error names the file, the line and the field.
//!
//! Invariant: best effort and total: a path that cannot be found gives `None`, never a panic.

/// Returns the 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()
        .iter()
        .take(offset)
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Finds the line of a dotted field path such as `objects[1].topic` (best effort).
pub(crate) fn locate(text: &str, path: &str) -> Option<usize> {
    let mut offset = 0;
    let mut prefix = String::new();
    let segments: Vec<&str> = path.split('.').collect();
    for (n, seg) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        if let Some((name, idx)) = seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
            let idx: usize = idx.parse().ok()?;
            let header = format!("[[{prefix}{name}]]");
            let mut found = None;
            let mut from = offset;
            for _ in 0..=idx {
                let at = text[from..].find(&header)? + from;
                found = Some(at);
                from = at + header.len();
            }
            offset = found?;
            prefix = format!("{prefix}{name}.");
        } else if !last {
            let header = format!("[{prefix}{seg}]");
            if let Some(at) = text[offset..].find(&header) {
                offset += at;
            }
            prefix = format!("{prefix}{seg}.");
        } else {
            let at = text[offset..]
                .lines()
                .scan(offset, |pos, line| {
                    let start = *pos;
                    *pos += line.len() + 1;
                    Some((start, line))
                })
                .find(|(_, line)| {
                    let l = line.trim_start();
                    l.strip_prefix(seg)
                        .is_some_and(|rest| rest.trim_start().starts_with('='))
                })
                .map(|(start, _)| start)?;
            offset = at;
        }
    }
    Some(line_of(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_fields() {
        let text = "name = \"a\"\n[source]\nhost = \"h\"\n[[objects]]\ntopic = \"t\"\n[[objects]]\ntopic = \"u\"\n";
        assert_eq!(locate(text, "source.host"), Some(3));
        assert_eq!(locate(text, "objects[1].topic"), Some(7));
        assert_eq!(locate(text, "objects[0]"), Some(4));
        assert_eq!(locate(text, "name"), Some(1));
        let text = "[options]\nformat = \"x\"\n[[options.filters]]\nmodule = \"a\"\n[[options.filters]]\nmodule = \"b\"\n";
        assert_eq!(locate(text, "options.filters[1].module"), Some(6));
        assert_eq!(locate(text, "options.format"), Some(2));
    }
}
