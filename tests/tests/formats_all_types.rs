//! Every built-in format over a table with every MySQL type and edge values, end to end through
//! the real MariaDB and broker: five projects on the same table, one topic each, in one agent.
#![allow(clippy::approx_constant)] // 3.14 and 2.718… are column values, not constants
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::{Agent, TempDir, project_toml};
use obsync_tests::mq::{Mq, Received};
use obsync_tests::sql::{admin, exec_all};
use obsync_tests::{init_logs, unique, unique_server_id};
use serde_json::{Value as Json, json};

const WAIT: Duration = Duration::from_secs(90);

const DDL: &str = "CREATE TABLE t (
  id INT PRIMARY KEY,
  c_tiny TINYINT, c_tiny_u TINYINT UNSIGNED, c_small SMALLINT, c_medium MEDIUMINT, c_medium_u MEDIUMINT UNSIGNED,
  c_int INT, c_int_u INT UNSIGNED, c_big BIGINT, c_big_u BIGINT UNSIGNED,
  c_dec DECIMAL(20,6), c_dec_big DECIMAL(65,30), c_float FLOAT, c_double DOUBLE, c_bit BIT(10),
  c_char CHAR(10), c_varchar VARCHAR(64), c_latin VARCHAR(20) CHARACTER SET latin1,
  c_binary BINARY(4), c_varbinary VARBINARY(16), c_blob BLOB, c_text TEXT, c_empty VARCHAR(5),
  c_date DATE, c_zero_date DATE, c_time TIME(3), c_datetime DATETIME(6), c_ts TIMESTAMP(6) NULL,
  c_year YEAR, c_year0 YEAR, c_enum ENUM('red','green'), c_set SET('a','b','c','d'), c_json JSON,
  c_null VARCHAR(5)
)";

const INSERT: &str = "INSERT INTO t VALUES (1,
  -128, 255, -32768, -1, 16777215,
  2147483647, 4294967295, -9223372036854775808, 18446744073709551615,
  -12345678901234.567891, 12345678901234567890123456789012345.123456789012345678901234567890, 3.14, 2.718281828459045, b'1010101011',
  '中文', '你好，世界 😀', 'café',
  x'00ff10ab', x'deadbeef', 'blob', '长文本 🚀', '',
  '2024-02-29', '0000-00-00', '-838:59:59.123', '2024-02-29 23:59:59.123456', '2024-02-29 12:34:56.654321',
  2155, 0, 'green', 'a,c,d', '{\"k\": [1, 2.5, \"三\", null, true]}',
  NULL)";

/// Where each format puts the row image of an INSERT.
fn after_image<'a>(format: &str, body: &'a Json) -> &'a Json {
    match format {
        "default" | "default_extend_column_type" => &body["postStruct"],
        "canal" => &body["data"][0],
        "dataworks" => &body["payload"]["after"]["data"],
        _ => &body["data"],
    }
}

fn check_values(format: &str, m: &Received) {
    let image = after_image(format, &m.body);
    let expect = json!({
        "id": 1, "c_tiny": -128, "c_tiny_u": 255, "c_small": -32768, "c_medium": -1, "c_medium_u": 16777215,
        "c_int": 2147483647, "c_int_u": 4294967295u64, "c_big": i64::MIN, "c_big_u": u64::MAX,
        "c_float": 3.14, "c_double": 2.718281828459045, "c_bit": "Aqs=",
        "c_char": "中文", "c_varchar": "你好，世界 😀", "c_latin": "café",
        "c_binary": "AP8Qqw==", "c_varbinary": "3q2+7w==", "c_blob": "YmxvYg==", "c_text": "长文本 🚀", "c_empty": "",
        "c_date": "2024-02-29", "c_zero_date": "0000-00-00", "c_time": "-838:59:59.123",
        "c_datetime": "2024-02-29 23:59:59.123456", "c_ts": "1709210096.654321",
        "c_year": 2155, "c_year0": 0, "c_enum": "green", "c_set": "a,c,d",
        "c_json": "{\"k\": [1, 2.5, \"三\", null, true]}", "c_null": null,
    });
    for (k, v) in expect.as_object().expect("object") {
        assert_eq!(&image[k], v, "{format}: column {k} in {}", m.body_text);
    }
    // DECIMAL keeps its exact digits as a bare JSON number.
    for digits in [
        "-12345678901234.567891",
        "12345678901234567890123456789012345.123456789012345678901234567890",
    ] {
        assert!(
            m.body_text.contains(digits),
            "{format}: {digits} missing in {}",
            m.body_text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_builtin_format_carries_every_type() -> anyhow::Result<()> {
    init_logs();
    let db = unique("types");
    let mut conn = admin().await?;
    exec_all(
        &mut conn,
        &[
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            DDL,
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let config = TempDir::new("typescfg")?;
    let data = TempDir::new("typesdata")?;
    let formats = [
        "default",
        "canal",
        "dataworks",
        "shareplex",
        "default_extend_column_type",
    ];
    let mut projects = Vec::new();
    for f in formats {
        let topic = unique(&format!("types_{}", f.replace('_', "")));
        mq.create_topic(&topic, 4).await?;
        let name = unique(&format!("p{}", f.replace('_', "")));
        let mut text = project_toml(&name, &db, "t", &topic, unique_server_id());
        text.push_str(&format!(
            "\n[options]\nformat = \"{f}\"\nbusiness_system_id = \"CIBS\"\ntime_zone = \"+08:00\"\n"
        ));
        if f == "shareplex" {
            text.push_str("sequence_within_transaction = true\n");
        }
        std::fs::write(config.path().join(format!("{name}.toml")), text)?;
        projects.push((f, name, topic));
    }
    let agent = Agent::start(config.path(), data.path());
    for (_, name, _) in &projects {
        agent.wait_running(name, WAIT).await?;
    }
    exec_all(
        &mut conn,
        &[
            "SET time_zone = '+00:00'",
            INSERT,
            "UPDATE t SET c_varchar = 'changed', c_int = 7 WHERE id = 1",
            "DELETE FROM t WHERE id = 1",
        ],
    )
    .await?;
    for (format, _, topic) in &projects {
        let msgs = mq.read_topic(topic, 3, WAIT).await?;
        assert_eq!(msgs.len(), 3, "{format}: {msgs:#?}");
        check_values(format, &msgs[0]);
        let body = &msgs[1].body;
        match *format {
            "canal" => {
                assert_eq!(body["type"], "UPDATE");
                assert_eq!(
                    body["old"],
                    json!([{ "c_int": 2147483647, "c_varchar": "你好，世界 😀" }])
                );
                assert_eq!(body["mysqlType"]["c_big_u"], "bigint");
                assert_eq!(body["mysqlType"]["c_big"], "int64");
                assert_eq!(body["sqlType"]["c_blob"], 2004);
            }
            "dataworks" => {
                assert_eq!(body["payload"]["op"], "UPDATE");
                assert_eq!(body["extend"]["load_fm"], "CIBS");
                assert_eq!(body["payload"]["after"]["data"]["c_varchar"], "changed");
            }
            "shareplex" => {
                assert_eq!(body["meta"]["op"], "upd");
                assert_eq!(body["data"], json!({ "c_int": 7, "c_varchar": "changed" }));
                assert_eq!(body["key"]["c_varchar"], "你好，世界 😀");
                assert_eq!(body["meta"]["seq"], 1);
            }
            "default_extend_column_type" => {
                assert_eq!(
                    body["postStruct"]["__light_type"]["c_dec"]["schemaType"],
                    "DECIMAL"
                );
                assert_eq!(
                    body["postStruct"]["__light_type"]["c_text"]["schemaType"],
                    "TEXT"
                );
            }
            _ => assert_eq!(body["postStruct"]["c_varchar"], "changed"),
        }
        assert!(msgs[2].body_text.contains("DELETE") || msgs[2].body_text.contains("\"del\""));
    }
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}

/// The OceanBase binlog service (and MySQL 5.7, and `binlog_row_metadata=MINIMAL`) sends table
/// maps without column names: the same table, written on the second MariaDB (MINIMAL metadata)
/// in ROW format, decodes to the same values with names from `information_schema`, also after
/// DDL in the middle of the stream (a column added in the middle, a column renamed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_decodes_without_table_map_metadata() -> anyhow::Result<()> {
    use obsync_tests::agent::AgentOptions;
    init_logs();
    let port = obsync_tests::mysql2_port();
    let db = unique("nometa");
    let mut conn = obsync_tests::sql::admin_on(port).await?;
    // The server's binlog is STATEMENT with MINIMAL metadata; this session writes ROW events.
    exec_all(
        &mut conn,
        &[
            "SET SESSION binlog_format = 'ROW'",
            "SET SESSION binlog_row_image = 'FULL'",
            "SET time_zone = '+00:00'",
            &format!("CREATE DATABASE `{db}`"),
            &format!("USE `{db}`"),
            DDL,
        ],
    )
    .await?;
    let mq = Mq::new()?;
    let config = TempDir::new("nometacfg")?;
    let data = TempDir::new("nometadata")?;
    let topic = unique("nometa_t");
    mq.create_topic(&topic, 4).await?;
    let name = unique("pnometa");
    let text = project_toml(&name, &db, "t", &topic, unique_server_id()).replace(
        &format!("port = {}", obsync_tests::mysql_port()),
        &format!("port = {port}"),
    );
    std::fs::write(config.path().join(format!("{name}.toml")), text)?;
    // The precheck fails this server's global STATEMENT format; the test's session writes ROW.
    let unchecked = AgentOptions {
        precheck: false,
        ..AgentOptions::default()
    };
    let agent = Agent::start_with(config.path(), data.path(), unchecked);
    agent.wait_running(&name, WAIT).await?;
    exec_all(
        &mut conn,
        &[
            INSERT,
            "UPDATE t SET c_varchar = 'changed', c_int = 7 WHERE id = 1",
            "ALTER TABLE t ADD COLUMN c_added VARCHAR(8) DEFAULT 'x' AFTER id",
            "INSERT INTO t (id, c_added, c_int) VALUES (2, '新', 22)",
            "ALTER TABLE t CHANGE c_int c_renamed INT",
            "INSERT INTO t (id, c_renamed) VALUES (3, 33)",
            "DELETE FROM t WHERE id = 1",
        ],
    )
    .await?;
    let msgs = mq.read_topic(&topic, 5, WAIT).await?;
    assert_eq!(msgs.len(), 5, "{msgs:#?}");
    let by_id = |id: i64, kind: &str| {
        msgs.iter()
            .find(|m| {
                m.body["recordType"] == kind
                    && (m.body["postStruct"]["id"] == id || m.body["prevStruct"]["id"] == id)
            })
            .unwrap_or_else(|| panic!("no {kind} of row {id} in {msgs:#?}"))
    };
    check_values("default", by_id(1, "INSERT"));
    let update = &by_id(1, "UPDATE").body;
    assert_eq!(update["postStruct"]["c_varchar"], "changed");
    assert_eq!(update["prevStruct"]["c_int"], 2147483647);
    let added = &by_id(2, "INSERT").body["postStruct"];
    assert_eq!(added["c_added"], "新", "{added}");
    assert_eq!(added["c_int"], 22, "{added}");
    assert_eq!(added["c_tiny"], Json::Null, "{added}");
    let renamed = &by_id(3, "INSERT").body["postStruct"];
    assert_eq!(renamed["c_renamed"], 33, "{renamed}");
    assert_eq!(renamed["c_added"], "x", "{renamed}");
    assert!(renamed.get("c_int").is_none(), "{renamed}");
    let deleted = &by_id(1, "DELETE").body["prevStruct"];
    assert_eq!(deleted["c_renamed"], 7, "{deleted}");
    assert_eq!(deleted["c_enum"], "green", "{deleted}");
    agent.stop().await?;

    // While obsync is stopped: a column dropped, then a table swap as online schema change
    // tools do it (create a new table, rename both), and the old table dropped. On restart the
    // schemas come from the history in sled (information_schema shows only the final table).
    exec_all(
        &mut conn,
        &[
            "ALTER TABLE t DROP COLUMN c_added",
            "INSERT INTO t (id, c_renamed) VALUES (4, 44)",
            "CREATE TABLE t_new (id INT PRIMARY KEY, `名字` VARCHAR(10), c_renamed INT UNSIGNED)",
            "RENAME TABLE t TO t_old, t_new TO t",
            "INSERT INTO t VALUES (5, '五', 4294967295)",
            "DROP TABLE t_old",
        ],
    )
    .await?;
    let agent = Agent::start_with(config.path(), data.path(), unchecked);
    agent.wait_running(&name, WAIT).await?;
    let msgs = mq.read_topic(&topic, 7, WAIT).await?;
    assert_eq!(msgs.len(), 7, "{msgs:#?}");
    let row = |id: i64| {
        msgs.iter()
            .map(|m| &m.body["postStruct"])
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("no row {id} in {msgs:#?}"))
    };
    let four = row(4);
    assert_eq!(four["c_renamed"], 44, "{four}");
    assert!(four.get("c_added").is_none(), "{four}");
    assert_eq!(four["c_enum"], Json::Null, "{four}");
    let five = row(5);
    assert_eq!(
        five,
        &json!({ "id": 5, "名字": "五", "c_renamed": 4294967295u64 }),
        "{five}"
    );
    agent.stop().await?;
    mq.shutdown().await;
    Ok(())
}
