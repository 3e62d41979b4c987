//! The OMS sort fields and keys, end to end on real rows: SharePlex `seq` (in-transaction number,
//! no gaps for filtered rows, the halves of a split key-changing UPDATE numbered apart), SharePlex
//! `scn` and Default `storeDataSequence` (commit second followed by a counter that increments
//! along the stream, carried over a restart by the checkpoint), and the key fields of a table
//! whose only key is a non-null unique key.
//!
//! Every statement runs with `SET TIMESTAMP` fixed, so all changes share one commit second and
//! every expected number is exact.

use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::mq::Received;
use obsync_tests::scene::Scene;
use obsync_tests::unique;
use serde_json::{Value as Json, json};

const WAIT: Duration = Duration::from_secs(120);
/// The commit second of every change.
const SECOND: u64 = 1_700_000_000;
const SET_TIME: &str = "SET TIMESTAMP = 1700000000";

/// The stream sequence of the `n`th change of the second.
fn nth(n: u64) -> u64 {
    SECOND * 100_000 + n
}

fn scn(m: &Received) -> u64 {
    m.body["meta"]["scn"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no numeric scn in {}", m.body_text))
}

/// (scn, op, id, seq) of SharePlex messages, sorted by `scn`: the order a consumer sorting by
/// it sees.
fn by_scn(msgs: &[Received]) -> Vec<(u64, String, i64, u64)> {
    let mut out: Vec<(u64, String, i64, u64)> = msgs
        .iter()
        .map(|m| {
            let meta = &m.body["meta"];
            (
                scn(m),
                meta["op"].as_str().unwrap_or_default().to_string(),
                // An UPDATE's `data` holds the changed columns only; `key` its before image.
                m.body["data"]["id"]
                    .as_i64()
                    .or(m.body["key"]["id"].as_i64())
                    .unwrap_or(-1),
                meta["seq"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

fn expected(rows: &[(u64, &str, i64, u64)]) -> Vec<(u64, String, i64, u64)> {
    rows.iter()
        .map(|(n, op, id, seq)| (nth(*n), op.to_string(), *id, *seq))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sort_fields_count_along_the_stream_and_keys_fall_back_to_the_unique_key()
-> anyhow::Result<()> {
    let (s, _) = Scene::new(
        "seqs",
        &[
            "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))",
            "CREATE TABLE u (a INT NOT NULL, b VARCHAR(8) NOT NULL, v INT, UNIQUE KEY uk (a, b))",
        ],
        &[],
    )
    .await?;
    let with_options = |name: &str, options: &str| -> anyhow::Result<()> {
        let file = s.project_file(name);
        let text = std::fs::read_to_string(&file)? + "\n[options]\n" + options;
        std::fs::write(&file, text)?;
        Ok(())
    };
    let filter = "where = \"`v` <> 'skip'\"\n";
    let shareplex_topic = unique("seq_sp");
    s.mq.create_topic(&shareplex_topic, 4).await?;
    let shareplex = s.project("t", &shareplex_topic, filter)?;
    with_options(
        &shareplex,
        "format = \"shareplex\"\nsequence_within_transaction = true\n",
    )?;
    let default_topic = unique("seq_def");
    s.mq.create_topic(&default_topic, 4).await?;
    let default = s.project("t", &default_topic, filter)?;
    let unique_topic = unique("seq_uk");
    s.mq.create_topic(&unique_topic, 2).await?;
    let dataworks = s.project("u", &unique_topic, "")?;
    with_options(&dataworks, "format = \"dataworks\"\n")?;

    let agent = Agent::start(s.config.path(), s.data.path());
    for p in [&shareplex, &default, &dataworks] {
        agent.wait_running(p, WAIT).await?;
    }
    s.sql(&[
        SET_TIME,
        "BEGIN",
        "INSERT INTO t VALUES (1, 'a'), (2, 'skip'), (3, 'b')",
        "COMMIT",
        "BEGIN",
        // The key changes: a DELETE of 1 and an INSERT of 10, numbered apart.
        "UPDATE t SET id = 10 WHERE id = 1",
        "INSERT INTO t VALUES (4, 'skip')",
        "UPDATE t SET v = 'c' WHERE id = 3",
        "COMMIT",
        "INSERT INTO t VALUES (5, 'd')",
        "INSERT INTO u VALUES (1, 'x', 7)",
    ])
    .await?;

    let first = expected(&[
        (0, "ins", 1, 1),
        (1, "ins", 3, 2),
        (2, "del", 1, 1),
        (3, "ins", 10, 2),
        (4, "upd", 3, 3),
        (5, "ins", 5, 1),
    ]);
    let msgs = s.mq.read_topic(&shareplex_topic, first.len(), WAIT).await?;
    assert_eq!(
        by_scn(&msgs),
        first,
        "SharePlex (scn, op, id, seq) in scn order"
    );

    // Default numbers the same stream the same way, in `storeDataSequence` (a number).
    let msgs = s.mq.read_topic(&default_topic, first.len(), WAIT).await?;
    let mut got: Vec<(u64, String, i64)> = msgs
        .iter()
        .map(|m| {
            let image = if m.body["recordType"] == "DELETE" {
                &m.body["prevStruct"]
            } else {
                &m.body["postStruct"]
            };
            (
                m.body["allMetaData"]["storeDataSequence"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("no storeDataSequence in {}", m.body_text)),
                m.body["recordType"].as_str().unwrap_or_default().into(),
                image["id"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    got.sort();
    let ops = ["INSERT", "INSERT", "DELETE", "INSERT", "UPDATE", "INSERT"];
    let want: Vec<(u64, String, i64)> = first
        .iter()
        .zip(ops)
        .map(|((n, _, id, _), op)| (*n, op.to_string(), *id))
        .collect();
    assert_eq!(got, want, "Default (storeDataSequence, type, id)");

    // A table without a primary key: its non-null unique key is the key of every format.
    let msgs = s.mq.read_topic(&unique_topic, 1, WAIT).await?;
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(
        msgs[0].body["schema"]["pk"],
        json!(["a", "b"]),
        "DataWorks pk: {}",
        msgs[0].body_text
    );

    // A restart resumes the counter from the checkpoint: the next change of the same second is
    // the seventh, not a second "first".
    agent.stop().await?;
    s.sql(&[
        SET_TIME,
        "INSERT INTO t VALUES (6, 'e')",
        "INSERT INTO u VALUES (2, 'y', 8)",
    ])
    .await?;
    let agent = Agent::start(s.config.path(), s.data.path());
    let mut all = first.clone();
    all.extend(expected(&[(6, "ins", 6, 1)]));
    let msgs = s.mq.read_topic(&shareplex_topic, all.len(), WAIT).await?;
    assert_eq!(by_scn(&msgs), all, "SharePlex after the restart");
    let msgs = s.mq.read_topic(&unique_topic, 2, WAIT).await?;
    let keys: Vec<(Json, Json)> = msgs
        .iter()
        .map(|m| {
            (
                m.body["schema"]["pk"].clone(),
                m.body["payload"]["after"]["data"]["a"].clone(),
            )
        })
        .collect();
    assert_eq!(keys.len(), 2, "{msgs:#?}");
    assert!(
        keys.iter().all(|(pk, _)| *pk == json!(["a", "b"])),
        "{keys:?}"
    );
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
