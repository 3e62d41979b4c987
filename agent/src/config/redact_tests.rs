//! Every secret field with a malformed value, in project and data source files: the error names
//! the file and field but never the value.

use std::path::PathBuf;

use super::super::{DATA_SOURCE_DIR, DataSources, load_file};

const SECRET: &str = "31415926";

fn project(source: &str, target: &str, alerts: &str) -> String {
    format!(
        r#"name = "p"

[source]
host = "127.0.0.1"
port = 3306
user = "u"
server_id = 7
{source}

[target]
name_server = "127.0.0.1:9876"
producer_group = "g"
{target}

[alerts]
{alerts}

[[objects]]
database = "d"
table = "t"
topic = "x"
"#
    )
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("obsync-redact-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join(DATA_SOURCE_DIR)).expect("dir");
    d
}

/// The errors of loading `text` as a project file (with data source files `sources`).
fn errors(tag: &str, text: &str, sources: &[(&str, &str)]) -> String {
    let d = dir(tag);
    for (name, body) in sources {
        std::fs::write(d.join(DATA_SOURCE_DIR).join(format!("{name}.toml")), body).expect("w");
    }
    let file = d.join("p.toml");
    std::fs::write(&file, text).expect("write");
    let out = match DataSources::load(&d) {
        Err(e) => e.to_string(),
        Ok(ds) => match load_file(&file, &ds) {
            Err(e) => e.to_string(),
            Ok(_) => String::new(),
        },
    };
    let _ = std::fs::remove_dir_all(&d);
    out
}

fn assert_hidden(case: &str, err: &str, field: &str) {
    assert!(
        !err.is_empty(),
        "{case}: the malformed value must be an error"
    );
    assert!(
        !err.contains(SECRET),
        "{case}: the secret is in the error: {err}"
    );
    assert!(
        err.contains(field),
        "{case}: the error must name {field}: {err}"
    );
}

#[test]
fn project_file_secrets_are_never_echoed() {
    let cases = [
        (
            "password integer",
            project(&format!("password = {SECRET}"), "", ""),
            "password",
        ),
        (
            "password unterminated",
            project(&format!("password = \"{SECRET}"), "", ""),
            "p.toml",
        ),
        (
            "secret_key integer",
            project(
                "password = \"x\"",
                &format!("access_key = \"ak\"\nsecret_key = {SECRET}"),
                "",
            ),
            "secret_key",
        ),
        (
            "webhook integer",
            project("password = \"x\"", "", &format!("webhook = {SECRET}")),
            "webhook",
        ),
        (
            "webhook not a URL",
            project(
                "password = \"x\"",
                "",
                &format!("webhook = \"ftp://h/?token={SECRET}\""),
            ),
            "webhook",
        ),
        (
            "password env unterminated",
            project(&format!("password = \"${{{SECRET}\""), "", ""),
            "password",
        ),
    ];
    for (i, (case, text, field)) in cases.iter().enumerate() {
        assert_hidden(case, &errors(&format!("p{i}"), text, &[]), field);
    }
}

#[test]
fn data_source_secrets_are_never_echoed() {
    let mysql = |line: &str| {
        format!("[mysql]\nhost = \"127.0.0.1\"\nport = 3306\nuser = \"u\"\nserver_id = 7\n{line}\n")
    };
    let cases = [
        (
            "mysql password integer",
            mysql(&format!("password = {SECRET}")),
            "password",
        ),
        (
            "mysql password unterminated",
            mysql(&format!("password = \"{SECRET}")),
            "db.toml",
        ),
        (
            "rocketmq secret_key integer",
            format!(
                "[rocketmq]\nname_server = \"127.0.0.1:9876\"\nproducer_group = \"g\"\naccess_key = \"ak\"\nsecret_key = {SECRET}\n"
            ),
            "secret_key",
        ),
    ];
    let text = project("password = \"x\"", "", "");
    for (i, (case, body, field)) in cases.iter().enumerate() {
        assert_hidden(
            case,
            &errors(&format!("d{i}"), &text, &[("db", body)]),
            field,
        );
    }
}
