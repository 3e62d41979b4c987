//! Golden value tests: real rows written by SQL to the private MariaDB, read back through every
//! built-in format, each value compared as JSON text with what the OMS spec (§1.2) says it must
//! be, written here by hand (not derived from any output): TIME of every precision and sign up
//! to ±838:59:59, zero and extreme TIMESTAMP and DATETIME, BINARY with trailing zeros, DECIMAL
//! zero and extremes with every digit kept (`0.10` is not `0.1`).

use std::collections::BTreeMap;
use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::raw_json::{Step, raw_members};
use obsync_tests::scene::Scene;
use obsync_tests::unique;

const WAIT: Duration = Duration::from_secs(120);

const DDL: &str = "CREATE TABLE v (id INT PRIMARY KEY,
  t0 TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), t4 TIME(4), t5 TIME(5), t6 TIME(6),
  ts0 TIMESTAMP NULL, ts6 TIMESTAMP(6) NULL, dt0 DATETIME, dt6 DATETIME(6),
  b8 BINARY(8), b3 BINARY(3), d65 DECIMAL(65,30), d10 DECIMAL(10,2), d38 DECIMAL(38,0))";

const NINES_38: &str = "99999999999999999999999999999999999999";
const D65_MAX: &str = "99999999999999999999999999999999999.999999999999999999999999999999";

/// Each row's SQL values and, per column, the JSON text the spec gives for it.
fn rows() -> Vec<(String, Vec<(&'static str, String)>)> {
    let s = |v: &str| format!("\"{v}\"");
    vec![
        (
            format!(
                "(1, '-838:59:59', '-00:00:01.5', '-00:00:01.50', '-00:00:00.001', \
                 '-12:34:56.7891', '-100:00:00.00001', '-838:59:58.999999', \
                 '0000-00-00 00:00:00', '1970-01-01 00:00:01.000000', '0000-00-00 00:00:00', \
                 '1000-01-01 00:00:00.000000', x'0102', x'000000', 0, 0.10, -{NINES_38})"
            ),
            vec![
                ("id", "1".into()),
                ("t0", s("-838:59:59")),
                ("t1", s("-00:00:01.5")),
                ("t2", s("-00:00:01.5")),
                ("t3", s("-00:00:00.001")),
                ("t4", s("-12:34:56.7891")),
                ("t5", s("-100:00:00.00001")),
                ("t6", s("-838:59:58.999999")),
                // An invalid TIMESTAMP is `0000-00-00 00:00:00` (spec §1.2), never "0".
                ("ts0", s("0000-00-00 00:00:00")),
                ("ts6", s("1")),
                ("dt0", s("0000-00-00 00:00:00")),
                ("dt6", s("1000-01-01 00:00:00")),
                // BINARY(n) holds n bytes: the image's dropped trailing zeros come back.
                ("b8", s("AQIAAAAAAAA=")),
                ("b3", s("AAAA")),
                ("d65", "0.000000000000000000000000000000".into()),
                ("d10", "0.10".into()),
                ("d38", format!("-{NINES_38}")),
            ],
        ),
        (
            format!(
                "(2, '838:59:59', '00:00:00.1', '23:59:59.99', '00:00:00', '838:59:58.9999', \
                 '00:00:59.12340', '838:59:59.000000', '2038-01-19 03:14:07', \
                 '2038-01-19 03:14:07.999999', '9999-12-31 23:59:59', \
                 '9999-12-31 23:59:59.999999', x'ff00ff', 'a', {D65_MAX}, -12345678.90, 1)"
            ),
            vec![
                ("id", "2".into()),
                ("t0", s("838:59:59")),
                ("t1", s("00:00:00.1")),
                ("t2", s("23:59:59.99")),
                ("t3", s("00:00:00")),
                ("t4", s("838:59:58.9999")),
                ("t5", s("00:00:59.1234")),
                ("t6", s("838:59:59")),
                ("ts0", s("2147483647")),
                ("ts6", s("2147483647.999999")),
                ("dt0", s("9999-12-31 23:59:59")),
                ("dt6", s("9999-12-31 23:59:59.999999")),
                ("b8", s("/wD/AAAAAAA=")),
                ("b3", s("YQAA")),
                ("d65", D65_MAX.into()),
                ("d10", "-12345678.90".into()),
                ("d38", "1".into()),
            ],
        ),
        (
            "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
             -0.000000000000000000000000000001, -0.01, 0)"
                .into(),
            vec![
                ("id", "3".into()),
                ("t0", "null".into()),
                ("t1", "null".into()),
                ("t2", "null".into()),
                ("t3", "null".into()),
                ("t4", "null".into()),
                ("t5", "null".into()),
                ("t6", "null".into()),
                ("ts0", "null".into()),
                ("ts6", "null".into()),
                ("dt0", "null".into()),
                ("dt6", "null".into()),
                ("b8", "null".into()),
                ("b3", "null".into()),
                ("d65", "-0.000000000000000000000000000001".into()),
                ("d10", "-0.01".into()),
                ("d38", "0".into()),
            ],
        ),
    ]
}

const FORMATS: &[&str] = &[
    "default",
    "canal",
    "dataworks",
    "shareplex",
    "default_extend_column_type",
];

/// Where each format puts the row image of an INSERT.
fn after_image(format: &str) -> Vec<Step<'static>> {
    match format {
        "default" | "default_extend_column_type" => vec![Step::Key("postStruct")],
        "canal" => vec![Step::Key("data"), Step::Index(0)],
        "dataworks" => vec![Step::Key("payload"), Step::Key("after"), Step::Key("data")],
        _ => vec![Step::Key("data")],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_value_is_rendered_as_the_spec_writes_it() -> anyhow::Result<()> {
    let (s, _) = Scene::new("values", &[DDL], &[]).await?;
    let mut projects = Vec::new();
    for format in FORMATS {
        let topic = unique(&format!("val_{}", format.replace('_', "")));
        s.mq.create_topic(&topic, 2).await?;
        let name = s.project("v", &topic, "")?;
        let file = s.project_file(&name);
        let text =
            std::fs::read_to_string(&file)? + &format!("\n[options]\nformat = \"{format}\"\n");
        std::fs::write(&file, text)?;
        projects.push((format, name, topic));
    }
    let agent = Agent::start(s.config.path(), s.data.path());
    for (_, name, _) in &projects {
        agent.wait_running(name, WAIT).await?;
    }
    let rows = rows();
    let inserts: Vec<String> = rows
        .iter()
        .map(|(values, _)| format!("INSERT INTO v VALUES {values}"))
        .collect();
    let mut statements = vec!["SET sql_mode = ''", "SET time_zone = '+00:00'"];
    statements.extend(inserts.iter().map(String::as_str));
    s.sql(&statements).await?;

    for (format, _, topic) in &projects {
        let msgs = s.mq.read_topic(topic, rows.len(), WAIT).await?;
        assert_eq!(msgs.len(), rows.len(), "{format}: {msgs:#?}");
        let mut by_id: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for m in &msgs {
            let mut image = raw_members(&m.body_text, &after_image(format))?;
            image.remove("__light_type");
            by_id.insert(image.get("id").cloned().unwrap_or_default(), image);
        }
        for (_, want) in &rows {
            let want: BTreeMap<String, String> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            let got = by_id.get(&want["id"]).cloned().unwrap_or_default();
            assert_eq!(got, want, "{format}: row {}", want["id"]);
        }
    }
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
