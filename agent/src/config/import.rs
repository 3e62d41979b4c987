//! Importing objects (OMS "import objects"): the CSV layout of OMS's data-synchronization
//! projects, and OMS's older `SCHEMA.TB1 | SCHEMA.TB2` text form.
//!
//! CSV cells, in order (OMS V4 wording, `../shared/reference/oms-spec.md` §2.1): source database,
//! source table, topic, selected columns (`;`-separated, empty = all), column mapping
//! (`src:dst;…`, OMS leaves its syntax undocumented), sharding columns (`;`-separated, empty =
//! the key), row filter (a `WHERE` condition), then two optional cells of ours: renamed database
//! and renamed table. A first row whose first cell is a known header is skipped; a UTF-8 BOM
//! (Excel) is ignored; blank lines are skipped.
//!
//! Invariant: every bad cell gives one error naming the CSV file, its line and the column;
//! imported objects remember their origin so later validation points at the CSV, not the project.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::project::{ObjectConfig, ProjectConfig};

/// The CSV columns, as errors name them.
pub const CSV_COLUMNS: [&str; 9] = [
    "source database",
    "source table",
    "topic",
    "selected columns",
    "column mapping",
    "sharding columns",
    "row filter",
    "renamed database",
    "renamed table",
];

/// First cells that mark a header row.
const HEADERS: &[&str] = &[
    "source database",
    "source_database",
    "database",
    "源端库名",
    "源库名",
];

/// Appends every imported object to `c.objects`; returns the files read and the problems.
pub fn expand(project_file: &Path, c: &mut ProjectConfig) -> (Vec<PathBuf>, Vec<ConfigError>) {
    let mut uses = Vec::new();
    let mut errors = Vec::new();
    let dir = project_file.parent().unwrap_or(Path::new("."));
    let imports = c.imports.clone();
    for (i, import) in imports.iter().enumerate() {
        let field = format!("imports[{i}]");
        let project_err = |field: String, message: String| ConfigError {
            file: project_file.to_path_buf(),
            line: None,
            field,
            message,
        };
        match (&import.csv, &import.tables) {
            (Some(csv), None) => {
                if import.topic.is_some() {
                    errors.push(project_err(
                        format!("{field}.topic"),
                        "a CSV import takes its topics from the file's third column".into(),
                    ));
                }
                let file = dir.join(csv);
                uses.push(file.clone());
                match std::fs::read(&file) {
                    Ok(bytes) => {
                        let (objects, mut bad) = parse_csv(&file, &bytes);
                        c.objects.extend(objects);
                        errors.append(&mut bad);
                    }
                    Err(e) => errors.push(project_err(
                        format!("{field}.csv"),
                        format!("cannot read {}: {e}", file.display()),
                    )),
                }
            }
            (None, Some(tables)) => {
                let Some(topic) = &import.topic else {
                    errors.push(project_err(
                        format!("{field}.topic"),
                        "a `tables` import needs the topic its tables go to".into(),
                    ));
                    continue;
                };
                match parse_text(tables) {
                    Ok(list) => c.objects.extend(list.into_iter().map(|(db, table)| {
                        let mut o = ObjectConfig::new(&db, &table, topic);
                        o.origin = Some((project_file.to_path_buf(), 0));
                        o
                    })),
                    Err(m) => errors.push(project_err(format!("{field}.tables"), m)),
                }
            }
            _ => errors.push(project_err(
                field,
                "set exactly one of `csv` (a file) or `tables` (`db.t1 | db.t2`)".into(),
            )),
        }
    }
    (uses, errors)
}

/// Parses OMS's text form: `db.table` entries separated by `|` (a trailing `|` is fine).
pub fn parse_text(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in text.split('|').map(str::trim).filter(|e| !e.is_empty()) {
        let parts =
            split_qualified(entry).ok_or_else(|| format!("{entry:?} is not `database.table`"))?;
        out.push(parts);
    }
    if out.is_empty() {
        return Err(format!("{text:?} names no table"));
    }
    Ok(out)
}

/// Splits `db.table`, `` `db`.`table` `` or `db.*`.
fn split_qualified(entry: &str) -> Option<(String, String)> {
    let (db, rest) = if let Some(stripped) = entry.strip_prefix('`') {
        let end = stripped.find('`')?;
        (
            stripped[..end].to_string(),
            stripped[end + 1..].strip_prefix('.')?,
        )
    } else {
        let (db, rest) = entry.split_once('.')?;
        (db.trim().to_string(), rest)
    };
    let rest = rest.trim();
    let table = match rest.strip_prefix('`') {
        Some(t) => t.strip_suffix('`')?.to_string(),
        None => rest.to_string(),
    };
    (!db.is_empty() && !table.is_empty()).then_some((db, table))
}

/// Parses an OMS objects CSV. Returns the good objects and one error per bad cell.
pub fn parse_csv(file: &Path, bytes: &[u8]) -> (Vec<ObjectConfig>, Vec<ConfigError>) {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut objects = Vec::new();
    let mut errors = Vec::new();
    let mut first = true;
    for record in reader.records() {
        let err = |line: usize, column: Option<usize>, message: String| ConfigError {
            file: file.to_path_buf(),
            line: Some(line),
            field: match column {
                Some(c) => format!("column {} ({})", c + 1, CSV_COLUMNS[c]),
                None => String::new(),
            },
            message,
        };
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                errors.push(err(line, None, format!("unreadable CSV row: {e}")));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells: Vec<&str> = record.iter().collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        if std::mem::take(&mut first) && HEADERS.contains(&cells[0].to_lowercase().as_str()) {
            continue;
        }
        if cells.len() > CSV_COLUMNS.len() {
            errors.push(err(
                line,
                None,
                format!(
                    "{} cells, at most {} expected ({})",
                    cells.len(),
                    CSV_COLUMNS.len(),
                    CSV_COLUMNS.join(", ")
                ),
            ));
            continue;
        }
        let cell = |i: usize| cells.get(i).copied().unwrap_or("");
        let mut bad = false;
        for required in 0..3 {
            if cell(required).is_empty() {
                errors.push(err(line, Some(required), "must not be empty".into()));
                bad = true;
            }
        }
        let list = |i: usize| -> Vec<String> {
            cell(i)
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut renames = std::collections::BTreeMap::new();
        for pair in cell(4).split(';').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once(':') {
                Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                    renames.insert(from.trim().to_string(), to.trim().to_string());
                }
                _ => {
                    errors.push(err(
                        line,
                        Some(4),
                        format!("{pair:?} is not `source_column:output_column`"),
                    ));
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        let optional = |i: usize| Some(cell(i).to_string()).filter(|s| !s.is_empty());
        let mut o = ObjectConfig::new(cell(0), cell(1), cell(2));
        o.columns = list(3);
        o.column_renames = renames;
        o.sharding_columns = list(5);
        o.row_filter = optional(6);
        o.rename_database = optional(7);
        o.rename_table = optional(8);
        o.origin = Some((file.to_path_buf(), line));
        objects.push(o);
    }
    (objects, errors)
}

/// Points an error about `objects[i]…` at the CSV cell (or the import) the object came from.
pub fn reattribute(e: &mut ConfigError, objects: &[ObjectConfig]) {
    let Some(rest) = e.field.strip_prefix("objects[") else {
        return;
    };
    let Some((index, field)) = rest.split_once(']') else {
        return;
    };
    let Some((file, line)) = index
        .parse::<usize>()
        .ok()
        .and_then(|i| objects.get(i))
        .and_then(|o| o.origin.clone())
    else {
        return;
    };
    let field = field.trim_start_matches('.');
    if line == 0 {
        // From a `tables` import: the project file, the table named in the message.
        e.field = "imports".into();
        e.line = None;
        return;
    }
    e.file = file;
    e.line = Some(line);
    e.field = match csv_column_of(field) {
        Some(c) => format!("column {} ({})", c + 1, CSV_COLUMNS[c]),
        None => String::new(),
    };
}

/// Maps an object field to the CSV column that holds it.
fn csv_column_of(field: &str) -> Option<usize> {
    Some(match field {
        "database" => 0,
        "table" => 1,
        "topic" => 2,
        "columns" => 3,
        "column_renames" => 4,
        "sharding_columns" => 5,
        "where" => 6,
        "rename_database" => 7,
        "rename_table" => 8,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_oms_layout_with_a_header_and_a_bom() {
        let text = "\u{feff}源端库名,源端表名,topic 名,选择列,列映射,分片列,行过滤条件\n\
                    shop,orders,orders-topic,id;amount;状态,amount:total;状态:state,id,\"`amount` > 10 and `状态` in ('paid','sent')\"\n\
                    \n\
                    商店,订单,t2,,,,\n";
        let (objects, errors) = parse_csv(Path::new("o.csv"), text.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(objects.len(), 2);
        let o = &objects[0];
        assert_eq!(
            (o.database.as_str(), o.table.as_str(), o.topic.as_str()),
            ("shop", "orders", "orders-topic")
        );
        assert_eq!(o.columns, ["id", "amount", "状态"]);
        assert_eq!(
            o.column_renames.get("状态").map(String::as_str),
            Some("state")
        );
        assert_eq!(o.sharding_columns, ["id"]);
        assert_eq!(
            o.row_filter.as_deref(),
            Some("`amount` > 10 and `状态` in ('paid','sent')")
        );
        assert_eq!(o.origin, Some((PathBuf::from("o.csv"), 2)));
        assert_eq!(objects[1].database, "商店");
        assert!(objects[1].columns.is_empty() && objects[1].row_filter.is_none());
    }

    #[test]
    fn names_the_line_and_column_of_every_bad_cell() {
        let text = "shop,orders,t\n,orders,t\nshop,,\nshop,a,t,,a-b\nshop,b,t,,,,,,,extra\n";
        let (objects, errors) = parse_csv(Path::new("o.csv"), text.as_bytes());
        assert_eq!(objects.len(), 1);
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "o.csv:2: `column 1 (source database)`: must not be empty",
                "o.csv:3: `column 2 (source table)`: must not be empty",
                "o.csv:3: `column 3 (topic)`: must not be empty",
                "o.csv:4: `column 5 (column mapping)`: \"a-b\" is not `source_column:output_column`",
                "o.csv:5: 10 cells, at most 9 expected (source database, source table, topic, selected columns, column mapping, sharding columns, row filter, renamed database, renamed table)",
            ][..],
            "{shown:#?}"
        );
    }

    #[test]
    fn reads_the_text_form() {
        assert_eq!(
            parse_text("SCHEMA.TB1 | SCHEMA.TB2 | `我的库`.`表.一` |").unwrap(),
            [
                ("SCHEMA".to_string(), "TB1".to_string()),
                ("SCHEMA".to_string(), "TB2".to_string()),
                ("我的库".to_string(), "表.一".to_string()),
            ]
        );
        assert!(parse_text("a.b | nodot").unwrap_err().contains("\"nodot\""));
        assert!(parse_text(" | ").is_err());
    }
}
