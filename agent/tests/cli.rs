//! The `obsync` binary's exit codes and error messages for bad configuration. These need no
//! services: every case fails before anything is reached, or against a closed port.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn obsync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_obsync"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("OBSYNC_LISTEN", "127.0.0.1:0")
        .output()
        .expect("run obsync")
}

/// Starts `obsync [global] run` on `dir` with its HTTP listener at `listen`, stderr piped.
fn spawn_run(dir: &Path, data: &Path, listen: &str, global: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_obsync"))
        .env("OBSYNC_LISTEN", listen)
        .env("RUST_LOG", "info")
        .args(global)
        .args([
            "run",
            "--config-dir",
            dir.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn obsync")
}

fn dir_with(name: &str, file: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("obsync-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
    dir
}

const GOOD: &str = r#"name = "p1"

[source]
host = "127.0.0.1"
port = 13306
user = "obsync"
server_id = 77

[target]
name_server = "127.0.0.1:19876"

[[objects]]
database = "d"
table = "t"
topic = "x"
"#;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Both `validate` and `run` must fail with every expected fragment on stderr.
fn check(dir: &Path, expect: &[&str]) {
    let config = dir.to_str().unwrap();
    let data = dir.join("data");
    let runs = [
        vec!["validate", "--config-dir", config],
        vec![
            "run",
            "--config-dir",
            config,
            "--data-dir",
            data.to_str().unwrap(),
        ],
    ];
    for args in runs {
        let out = obsync(&args);
        assert!(!out.status.success(), "{} must fail", args[0]);
        let err = stderr(&out);
        for e in expect {
            assert!(err.contains(e), "{}: expected {e:?} in:\n{err}", args[0]);
        }
    }
}

#[test]
fn a_valid_directory_validates() {
    let dir = dir_with("good", "p1.toml", GOOD);
    let out = obsync(&["validate", "--config-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 project(s) valid"));
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text = GOOD.replace("name = \"p1\"\n", "name = \"p1\"\ncolour = \"red\"\n");
    let dir = dir_with("unknown", "p1.toml", &text);
    check(&dir, &["p1.toml:2: `colour`: unknown field `colour`"]);
}

#[test]
fn wrong_type_names_file_line_and_field() {
    let text = GOOD.replace("port = 13306", "port = \"abc\"");
    let dir = dir_with("type", "p1.toml", &text);
    check(
        &dir,
        &["p1.toml:5: `source.port`: invalid type: string \"abc\", expected u16"],
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = GOOD
        .replace("name = \"p1\"", "name = \"bad name\"")
        .replace("server_id = 77", "server_id = 0")
        .replace("topic = \"x\"", "topic = \"bad topic!\"");
    let dir = dir_with("many", "p1.toml", &text);
    check(
        &dir,
        &[
            "p1.toml:1: `name`: invalid project name \"bad name\"",
            "`source.server_id`: must be a non-zero replica server id",
            "`objects[0].topic`: invalid topic name \"bad topic!\"",
        ],
    );
}

#[test]
fn unset_password_variable_is_named() {
    let text = GOOD.replace(
        "user = \"obsync\"",
        "user = \"obsync\"\npassword = \"${OBSYNC_CLI_TEST_UNSET}\"",
    );
    let dir = dir_with("env", "p1.toml", &text);
    check(
        &dir,
        &["`source.password`: environment variable `OBSYNC_CLI_TEST_UNSET` is not set"],
    );
}

#[test]
fn unreachable_database_is_retried_with_the_reason_shown() {
    use std::io::{BufRead, BufReader};
    // Port 1 on loopback is closed: the connection is refused at once. A database that is not
    // up yet (a sidecar started first) makes the project retry, not the agent exit.
    let text = GOOD.replace("port = 13306", "port = 1");
    let dir = dir_with("unreachable", "p1.toml", &text);
    let data = dir.join("data");
    let mut child = spawn_run(&dir, &data, "off", &[]);
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    // The warning spans several lines (the precheck's failures, then the reason).
    let mut seen = String::new();
    let found = lines.by_ref().map_while(Result::ok).any(|line| {
        seen.push_str(&line);
        seen.push('\n');
        seen.contains("cannot start yet; retrying")
            && seen.contains("p1.toml: precheck failed")
            && seen.contains("the source database 127.0.0.1:1 is unreachable")
    });
    assert!(found, "no retry warning: {seen}");
    assert!(
        child.try_wait().unwrap().is_none(),
        "the agent must stay up"
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a retrying project stops cleanly");
}

const BY_REFERENCE: &str = r#"name = "p2"
source = "prod-db"
target = "mq"

[[objects]]
database = "d"
table = "t"
topic = "x"
"#;

fn with_data_sources(name: &str, mysql: &str) -> PathBuf {
    let dir = dir_with(name, "p2.toml", BY_REFERENCE);
    let ds = dir.join("datasources");
    std::fs::create_dir_all(&ds).unwrap();
    std::fs::write(ds.join("prod-db.toml"), mysql).unwrap();
    std::fs::write(
        ds.join("mq.toml"),
        "[rocketmq]\nname_server = \"127.0.0.1:19876\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn projects_can_refer_to_shared_data_sources() {
    let dir = with_data_sources(
        "ds-ok",
        "[mysql]\nhost = \"127.0.0.1\"\nport = 13306\nuser = \"obsync\"\nserver_id = 78\n",
    );
    let out = obsync(&["validate", "--config-dir", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_missing_data_source_is_named() {
    let dir = with_data_sources(
        "ds-missing",
        "[mysql]\nhost = \"127.0.0.1\"\nuser = \"obsync\"\nserver_id = 78\n",
    );
    std::fs::remove_file(dir.join("datasources/prod-db.toml")).unwrap();
    check(
        &dir,
        &[
            "p2.toml:2: `source`: data source \"prod-db\" not found: expected a file datasources/prod-db.toml",
        ],
    );
}

#[test]
fn a_bad_data_source_file_is_named() {
    let dir = with_data_sources(
        "ds-bad",
        "[mysql]\nhost = \"127.0.0.1\"\nport = \"x\"\nuser = \"obsync\"\nserver_id = 78\n",
    );
    check(
        &dir,
        &["prod-db.toml: `mysql.port`: invalid type: string \"x\", expected u16"],
    );
}

#[test]
fn option_rules_are_checked() {
    let text = GOOD.replace(
        "name_server = \"127.0.0.1:19876\"",
        "name_server = \"127.0.0.1:19876\"\naccess_key = \"ak\"\npartition_rule = \"round_robin\"\nproducer_group = \"组\"",
    ) + "\n[options]\nformat = \"canal\"\nsequence_within_transaction = true\nheartbeats = true\nheartbeat_interval_ms = 50\nbusiness_system_id = \"a-name-longer-than-twenty\"\ntime_zone = \"Asia/Shanghai\"\nstart_timestamp = 99999999999\n";
    let dir = dir_with("options", "p1.toml", &text);
    check(
        &dir,
        &[
            "`target.access_key`: access_key and secret_key go together",
            "`target.partition_rule`: unknown partition rule \"round_robin\"",
            "`target.producer_group`: invalid producer group \"组\"",
            "`options.sequence_within_transaction`: in-transaction sequence numbers exist only in the shareplex format",
            "`options.heartbeats`: heartbeat messages exist only in the dataworks format, not in \"canal\"",
            "`options.heartbeat_interval_ms`: 50 is not between 100 and 3600000 milliseconds",
            "`options.business_system_id`: \"a-name-longer-than-twenty\" must be 1 to 20 characters",
            "`options.time_zone`: \"Asia/Shanghai\" is not a UTC offset",
            "`options.start_timestamp`: 99999999999 is not a Unix timestamp in seconds between 1 and now",
        ],
    );
}

#[test]
fn start_positions_are_checked() {
    let text = GOOD.to_string()
        + "\n[options]\nstart_position = \"mdb-bin.000001\"\nstart_gtid = \"0-1\"\n";
    let dir = dir_with("starts", "p1.toml", &text);
    check(
        &dir,
        &[
            "`options.start_position`: \"mdb-bin.000001\" is not `binlog-file:offset`",
            "`options.start_gtid`: \"0-1\" is neither a MariaDB GTID",
            "`options.start_timestamp`: set at most one of start_timestamp, start_position and start_gtid",
        ],
    );
}

#[test]
fn unknown_format_and_missing_module_are_named() {
    let text = GOOD.to_string()
        + "\n[options]\nformat = \"avro\"\n[[options.filters]]\nmodule = \"modules/nope.wasm\"\n";
    let dir = dir_with("modules", "p1.toml", &text);
    check(
        &dir,
        &[
            "`options.format`: unknown format \"avro\": expected one of default, canal, dataworks, shareplex, default_extend_column_type",
            "`options.filters[0].module`: module file",
            "nope.wasm does not exist",
        ],
    );
}

#[test]
fn duplicate_project_names_are_errors() {
    let dir = dir_with("dup", "p1.toml", GOOD);
    std::fs::write(dir.join("p1-copy.toml"), GOOD).unwrap();
    check(&dir, &["`name`: duplicate project name \"p1\""]);
}

#[test]
fn sigterm_stops_the_agent_cleanly() {
    use std::io::{BufRead, BufReader};
    // A saved-but-disabled project: the agent runs without reaching any service.
    let dir = dir_with(
        "sigterm",
        "p1.toml",
        &GOOD.replace("name = \"p1\"", "name = \"p1\"\nenabled = false"),
    );
    let data = dir.join("data");
    let mut child = spawn_run(&dir, &data, "127.0.0.1:0", &["--log-format", "json"]);
    let child_err = child.stderr.take().unwrap();
    let mut lines = BufReader::new(child_err).lines();
    // Wait for the readiness line (JSON, as asked), then ask it to stop.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line: {e}: {line}"));
        assert!(parsed.get("level").is_some(), "{line}");
        if parsed["message"] == "obsync running" {
            break;
        }
    }
    // `obsync status` finds the listener through the data directory.
    let out = obsync(&["status", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("p1 ") && l.contains("not_started")),
        "{table}"
    );
    let out = obsync(&[
        "status",
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
        "p1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reports[0]["name"], "p1");
    assert_eq!(reports[0]["state"], "not_started");
    let out = obsync(&["status", "--data-dir", data.to_str().unwrap(), "nope"]);
    assert!(
        !out.status.success() && stderr(&out).contains("no project \"nope\""),
        "{}",
        stderr(&out)
    );
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM must end in exit code 0");
    // The agent left its project states behind for `obsync project list`.
    let out = obsync(&["project", "list", "--data-dir", data.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("p1 ") && l.contains("not_started")),
        "{table}"
    );
    // Pause markers are written for the agent to pick up.
    let out = obsync(&[
        "project",
        "pause",
        "p1",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(data.join("control/paused/p1").exists());
    let out = obsync(&[
        "project",
        "resume",
        "p1",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(!data.join("control/paused/p1").exists());
    let out = obsync(&[
        "project",
        "pause",
        "../evil",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "names that are not project names are refused"
    );
}
