//! MySQL partial JSON updates (`binlog_row_value_options=PARTIAL_JSON`): the after image of a
//! JSON column carries only the changes (REPLACE, INSERT or REMOVE at a JSON path), which are
//! applied here to the before image's document, so consumers always get whole documents.
//!
//! Invariants: the result is what the server stored (MySQL applies the same operations, in
//! order, in `Json_diff_vector` application); a path that does not resolve, or a change that
//! cannot apply, is an error naming the path, never a silently different document.

use mysql_common::binlog::jsondiff::{JsonDiff, JsonDiffOperation};
use mysql_common::serde_json::{self, Value as Json};

/// One step of a JSON path: an object member or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses a MySQL JSON path as partial updates write it: `$`, then `.key`, `."quoted key"` or
/// `[n]` steps.
fn parse_path(path: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("unsupported JSON path `{path}`");
    let rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let b = rest.as_bytes();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' => i += 1,
            b'.' => {
                i += 1;
                if b.get(i) == Some(&b'"') {
                    // A JSON string: find its closing quote, then let serde_json unescape it.
                    let start = i;
                    i += 1;
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    let quoted = rest.get(start..=i).ok_or_else(bad)?;
                    let key: String = serde_json::from_str(quoted).map_err(|_| bad())?;
                    steps.push(Step::Key(key));
                    i += 1;
                } else {
                    let start = i;
                    while i < b.len() && !matches!(b[i], b'.' | b'[' | b' ') {
                        i += 1;
                    }
                    let key = rest
                        .get(start..i)
                        .filter(|k| !k.is_empty())
                        .ok_or_else(bad)?;
                    steps.push(Step::Key(key.to_string()));
                }
            }
            b'[' => {
                let end = rest[i..].find(']').map(|e| i + e).ok_or_else(bad)?;
                let index = rest[i + 1..end].trim().parse().map_err(|_| bad())?;
                steps.push(Step::Index(index));
                i = end + 1;
            }
            _ => return Err(bad()),
        }
    }
    Ok(steps)
}

/// The value at `steps` inside `doc`.
fn resolve<'a>(doc: &'a mut Json, steps: &[Step]) -> Option<&'a mut Json> {
    steps.iter().try_fold(doc, |node, step| match (node, step) {
        (Json::Object(m), Step::Key(k)) => m.get_mut(k),
        (Json::Array(a), Step::Index(i)) => a.get_mut(*i),
        _ => None,
    })
}

/// Applies one change to a document.
fn apply_one(
    doc: &mut Json,
    path: &str,
    op: JsonDiffOperation,
    value: Option<Json>,
) -> Result<(), String> {
    let steps = parse_path(path)?;
    let missing = || format!("JSON path `{path}` does not exist in the before image");
    let Some((last, parent_steps)) = steps.split_last() else {
        // The whole document.
        return match (op, value) {
            (JsonDiffOperation::REPLACE, Some(v)) => {
                *doc = v;
                Ok(())
            }
            _ => Err(format!("cannot {op:?} the whole JSON document")),
        };
    };
    let parent = resolve(doc, parent_steps).ok_or_else(missing)?;
    let no_value = || format!("{op:?} at `{path}` carries no value");
    match (op, parent, last) {
        (JsonDiffOperation::REPLACE, parent, _) => {
            let target = resolve(parent, std::slice::from_ref(last)).ok_or_else(missing)?;
            *target = value.ok_or_else(no_value)?;
        }
        (JsonDiffOperation::INSERT, Json::Object(m), Step::Key(k)) => {
            m.insert(k.clone(), value.ok_or_else(no_value)?);
        }
        (JsonDiffOperation::INSERT, Json::Array(a), Step::Index(i)) => {
            // Past the end appends, as JSON_ARRAY_INSERT and JSON_SET do.
            let at = (*i).min(a.len());
            a.insert(at, value.ok_or_else(no_value)?);
        }
        (JsonDiffOperation::REMOVE, Json::Object(m), Step::Key(k)) => {
            m.remove(k).ok_or_else(missing)?;
        }
        (JsonDiffOperation::REMOVE, Json::Array(a), Step::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => return Err(format!("cannot apply {op:?} at `{path}`: {}", missing())),
    }
    Ok(())
}

/// Applies a column's changes, in order, to its before image (JSON text); returns the after
/// image as JSON text.
pub fn apply(before: &str, diffs: &[JsonDiff<'_>]) -> Result<String, String> {
    let mut doc: Json =
        serde_json::from_str(before).map_err(|e| format!("the before image is not JSON: {e}"))?;
    for d in diffs {
        let value = d
            .value()
            .map(|v| Json::try_from(v.clone()).map_err(|e| format!("bad binary JSON: {e}")))
            .transpose()?;
        apply_one(&mut doc, &d.path_str(), d.operation(), value)?;
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(
        doc: Json,
        path: &str,
        op: JsonDiffOperation,
        value: Option<Json>,
    ) -> Result<Json, String> {
        let mut doc = doc;
        apply_one(&mut doc, path, op, value).map(|()| doc)
    }

    #[test]
    fn parses_paths() {
        assert_eq!(parse_path("$").unwrap(), vec![]);
        assert_eq!(
            parse_path(r#"$.a[2]."b c\"d".名前"#).unwrap(),
            vec![
                Step::Key("a".into()),
                Step::Index(2),
                Step::Key("b c\"d".into()),
                Step::Key("名前".into())
            ]
        );
        for bad in ["", "a", "$.", "$[x]", "$[1", r#"$."open"#, "$*"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn replaces_inserts_and_removes() {
        use JsonDiffOperation::*;
        let doc = json!({"a": [1, 2, 3], "b": {"c": "x"}});
        assert_eq!(
            run(doc.clone(), "$.a[1]", REPLACE, Some(json!(20))).unwrap(),
            json!({"a": [1, 20, 3], "b": {"c": "x"}})
        );
        assert_eq!(
            run(doc.clone(), "$.b.d", INSERT, Some(json!(null))).unwrap(),
            json!({"a": [1, 2, 3], "b": {"c": "x", "d": null}})
        );
        assert_eq!(
            run(doc.clone(), "$.a[0]", INSERT, Some(json!(0))).unwrap(),
            json!({"a": [0, 1, 2, 3], "b": {"c": "x"}})
        );
        assert_eq!(
            run(doc.clone(), "$.a[9]", INSERT, Some(json!(4))).unwrap(),
            json!({"a": [1, 2, 3, 4], "b": {"c": "x"}})
        );
        assert_eq!(
            run(doc.clone(), "$.b", REMOVE, None).unwrap(),
            json!({"a": [1, 2, 3]})
        );
        assert_eq!(
            run(doc.clone(), "$.a[2]", REMOVE, None).unwrap(),
            json!({"a": [1, 2], "b": {"c": "x"}})
        );
        assert_eq!(
            run(doc.clone(), "$", REPLACE, Some(json!(7))).unwrap(),
            json!(7)
        );
    }

    #[test]
    fn a_change_that_cannot_apply_is_an_error() {
        use JsonDiffOperation::*;
        let doc = json!({"a": [1]});
        assert!(run(doc.clone(), "$.x.y", REPLACE, Some(json!(1))).is_err());
        assert!(run(doc.clone(), "$.a[5]", REMOVE, None).is_err());
        assert!(run(doc.clone(), "$.zz", REMOVE, None).is_err());
        assert!(run(doc.clone(), "$.a", REPLACE, None).is_err());
        assert!(run(doc.clone(), "$", REMOVE, None).is_err());
        assert!(apply("not json", &[]).is_err());
    }
}
