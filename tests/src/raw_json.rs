//! The JSON text of a message's fields exactly as sent: number text is compared as written
//! (`0.10` is not `0.1`, a DECIMAL(65,30) keeps its 30 digits), which parsing into numbers would
//! lose.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::value::RawValue;

/// One step into a JSON document: an object key or an array index.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// An object member.
    Key(&'a str),
    /// An array element.
    Index(usize),
}

/// The raw text of the value at `path` in `text`.
pub fn raw_at<'t>(text: &'t str, path: &[Step<'_>]) -> anyhow::Result<&'t str> {
    let mut here: &'t str = text;
    for step in path {
        here = match step {
            Step::Key(k) => {
                let map: BTreeMap<String, &'t RawValue> =
                    serde_json::from_str(here).with_context(|| format!("not an object: {here}"))?;
                map.get(*k)
                    .with_context(|| format!("no key {k:?} in {here}"))?
                    .get()
            }
            Step::Index(i) => {
                let list: Vec<&'t RawValue> =
                    serde_json::from_str(here).with_context(|| format!("not an array: {here}"))?;
                list.get(*i)
                    .with_context(|| format!("no element {i} in {here}"))?
                    .get()
            }
        };
    }
    Ok(here)
}

/// The members of the object at `path`, each as its raw JSON text.
pub fn raw_members(text: &str, path: &[Step<'_>]) -> anyhow::Result<BTreeMap<String, String>> {
    let object = raw_at(text, path)?;
    let map: BTreeMap<String, &RawValue> =
        serde_json::from_str(object).with_context(|| format!("not an object: {object}"))?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.get().to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_text() {
        let text = r#"{"a":{"x":0.10,"y":[1,{"z":1e3}]}}"#;
        let m = raw_members(text, &[Step::Key("a")]).unwrap();
        assert_eq!(m["x"], "0.10");
        assert_eq!(
            raw_at(
                text,
                &[
                    Step::Key("a"),
                    Step::Key("y"),
                    Step::Index(1),
                    Step::Key("z")
                ]
            )
            .unwrap(),
            "1e3"
        );
        assert!(raw_at(text, &[Step::Key("b")]).is_err());
    }
}
