//! Text in every character set the private MariaDB offers, end to end: one table per charset
//! (CHAR, VARCHAR, TEXT, ENUM and SET columns holding CJK, accented or emoji text as the charset
//! can hold it), written by SQL, read back through every built-in format as UTF-8 equal to what
//! the server itself returns for the row. A row filter on a GBK column compares decoded text.
#![recursion_limit = "256"]

use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use obsync_tests::sql::admin;
use obsync_tests::unique;
use serde_json::Value as Json;

const WAIT: Duration = Duration::from_secs(120);

/// Every charset of MariaDB 10.11 but `binary`, with text it can hold.
const SAMPLES: &[(&str, &str)] = &[
    ("utf8mb4", "中文 café 😀"),
    ("utf8mb3", "中文 café"),
    ("latin1", "café € ÿ"),
    ("latin2", "Zażółć gęślą"),
    ("latin5", "Türkçe ğış İ"),
    ("latin7", "Ąčęėįšųūž"),
    ("greek", "Ελληνικά"),
    ("hebrew", "עברית"),
    ("cp1250", "Zażółć gęślą"),
    ("cp1251", "Привет"),
    ("cp1256", "مرحبا"),
    ("cp1257", "Ąčęėįšųūž"),
    ("cp866", "Привет"),
    ("cp850", "café ñ Ü"),
    ("cp852", "Zażółć"),
    ("koi8r", "Привет"),
    ("koi8u", "Привіт"),
    ("tis620", "ภาษาไทย"),
    ("macroman", "café ©"),
    ("macce", "Příliš žluťoučký"),
    ("keybcs2", "Příliš žluťoučký"),
    ("dec8", "café"),
    ("hp8", "café"),
    ("armscii8", "Հայերեն"),
    ("geostd8", "ქართული"),
    ("swe7", "ÅÄÖ åäö"),
    ("ascii", "plain text"),
    ("gbk", "中文简体"),
    ("gb2312", "中文"),
    ("big5", "中文繁體"),
    ("sjis", "日本語テキスト"),
    ("cp932", "日本語①"),
    ("ujis", "日本語"),
    ("eucjpms", "日本語①"),
    ("euckr", "한국어"),
    ("ucs2", "中文 café"),
    ("utf16", "中文 😀"),
    ("utf16le", "中文 😀"),
    ("utf32", "中文 😀"),
];

const FORMATS: &[&str] = &[
    "default",
    "canal",
    "dataworks",
    "shareplex",
    "default_extend_column_type",
];

const TEXT_COLUMNS: &[&str] = &["c", "v", "x", "e", "s"];

fn ddl(charset: &str, text: &str) -> String {
    format!(
        "CREATE TABLE t_{charset} (id INT PRIMARY KEY, cs VARCHAR(16) CHARACTER SET ascii, \
         c CHAR(30), v VARCHAR(60), x TEXT, e ENUM('{text}', 'zz'), s SET('{text}', 'zz')) \
         DEFAULT CHARSET = {charset}"
    )
}

fn insert(charset: &str, id: i64, text: &str) -> String {
    let member = if id == 2 { "zz" } else { text };
    format!(
        "INSERT INTO t_{charset} VALUES ({id}, '{charset}', '{text}', '{text}', '{text}', \
         '{member}', '{member}')"
    )
}

/// Where each format puts the row image of an INSERT.
fn after_image<'a>(format: &str, body: &'a Json) -> &'a Json {
    match format {
        "default" | "default_extend_column_type" => &body["postStruct"],
        "canal" => &body["data"][0],
        "dataworks" => &body["payload"]["after"]["data"],
        _ => &body["data"],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_charset_arrives_as_the_server_reads_it() -> anyhow::Result<()> {
    let tables: Vec<String> = SAMPLES.iter().map(|(cs, t)| ddl(cs, t)).collect();
    let table_refs: Vec<&str> = tables.iter().map(String::as_str).collect();
    let (s, _) = Scene::new("charsets", &table_refs, &[]).await?;

    // The server's own reading of each sample (what a consumer of the source would see): the
    // samples must survive it, or the test would not test non-ASCII text.
    let mut conn = admin().await?;
    let mut projects = Vec::new();
    for format in FORMATS {
        let topic = unique(&format!("cs_{}", format.replace('_', "")));
        s.mq.create_topic(&topic, 4).await?;
        let name = s.project("*", &topic, "")?;
        let file = s.project_file(&name);
        let text =
            std::fs::read_to_string(&file)? + &format!("\n[options]\nformat = \"{format}\"\n");
        std::fs::write(&file, text)?;
        projects.push((format, name, topic));
    }
    // A row filter on GBK text: it compares the decoded text, not its bytes.
    let filter_topic = unique("cs_filter");
    s.mq.create_topic(&filter_topic, 1).await?;
    let filter = s.project("t_gbk", &filter_topic, "where = \"`v` = '中文简体'\"\n")?;

    let agent = Agent::start(s.config.path(), s.data.path());
    for (_, name, _) in &projects {
        agent.wait_running(name, WAIT).await?;
    }
    agent.wait_running(&filter, WAIT).await?;
    let mut statements: Vec<String> = SAMPLES
        .iter()
        .map(|(cs, text)| insert(cs, 1, text))
        .collect();
    statements.push(insert("gbk", 2, "其他"));
    statements.push(insert("gbk", 3, "中文简体"));
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    s.sql(&refs).await?;

    for (cs, text) in SAMPLES {
        let row: Option<(String, String, String, String, String)> = conn
            .query_first(format!(
                "SELECT c, v, x, e, s FROM `{}`.t_{cs} WHERE id = 1",
                s.db
            ))
            .await?;
        let (c, v, x, e, set) = row.expect("row 1");
        let got = [c, v, x, e, set];
        assert!(
            got.iter().all(|g| g == text),
            "{cs}: the server does not hold the sample as written: {got:?}"
        );
    }

    let want = SAMPLES.len() + 2;
    for (format, _, topic) in &projects {
        let msgs = s.mq.read_topic(topic, want, WAIT).await?;
        assert_eq!(msgs.len(), want, "{format}: {} messages", msgs.len());
        let mut seen = Vec::new();
        for m in &msgs {
            let image = after_image(format, &m.body);
            let cs = image["cs"].as_str().unwrap_or_default().to_string();
            let id = image["id"].as_i64().unwrap_or_default();
            if id != 1 {
                continue;
            }
            let text = SAMPLES
                .iter()
                .find(|(c, _)| *c == cs)
                .map(|(_, t)| *t)
                .unwrap_or_else(|| panic!("{format}: a message of no sample: {}", m.body_text));
            for col in TEXT_COLUMNS {
                assert_eq!(
                    image[col].as_str(),
                    Some(text),
                    "{format} {cs}: column {col} in {}",
                    m.body_text
                );
            }
            seen.push(cs);
        }
        seen.sort();
        let mut all: Vec<String> = SAMPLES.iter().map(|(c, _)| c.to_string()).collect();
        all.sort();
        assert_eq!(seen, all, "{format}: every charset once");
    }

    let filtered = s.mq.read_topic(&filter_topic, 2, WAIT).await?;
    let ids: Vec<i64> = filtered
        .iter()
        .filter_map(|m: &Received| m.body["postStruct"]["id"].as_i64())
        .collect();
    assert_eq!(
        ids,
        [1, 3],
        "the filter keeps the GBK rows equal to its text"
    );
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
