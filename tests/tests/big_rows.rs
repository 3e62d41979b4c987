//! Wide rows in bulk: 2,048 rows of 64 KiB TEXT inserted in one transaction, then changed by
//! one UPDATE (before and after images: 256 MiB of row events in one transaction), through the
//! Default format with the default module limits. Every row arrives exactly once, and the
//! agent's peak memory stays far below the transaction's size (batches flush by bytes too).
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(300);
const ROWS: usize = 2048;

/// The process's peak resident memory so far (VmHWM), in MiB.
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_update_of_wide_rows_passes_with_default_limits() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "wide",
        &["CREATE TABLE t (id INT PRIMARY KEY, v MEDIUMTEXT)"],
        &[("wide_t", 4)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, Duration::from_secs(60)).await?;
    let before = peak_rss_mib();
    s.sql(&[
        &format!("INSERT INTO t SELECT seq, REPEAT('x', 65536) FROM seq_1_to_{ROWS}"),
        "UPDATE t SET v = REPEAT('y', 65536)",
    ])
    .await?;
    let want = 2 * ROWS as u64;
    agent
        .wait_for(&name, "every row sent and acknowledged", WAIT, |p| {
            p.messages_sent >= want && p.in_flight == 0
                || p.state == obsync::status::ProjectState::Failed
        })
        .await?;
    let status = agent.status.get(&name);
    anyhow::ensure!(
        status
            .as_ref()
            .is_some_and(|p| p.state == obsync::status::ProjectState::Running),
        "the project must still run: {status:?}"
    );
    let peak = peak_rss_mib();
    println!(
        "peak RSS {peak} MiB ({} MiB more while 2 x {ROWS} rows of 64 KiB streamed through)",
        peak.saturating_sub(before)
    );
    // The UPDATE alone is 256 MiB of row events; holding it (or a batch of it) in memory a few
    // times over would pass 1 GiB.
    anyhow::ensure!(
        peak.saturating_sub(before) < 640,
        "peak RSS grew by {} MiB",
        peak - before
    );
    agent.stop().await?;

    let got = s.mq.read_topic(&topics[0], 2 * ROWS, WAIT).await?;
    let mut ids: Vec<(String, String)> = got
        .iter()
        .map(|m| {
            let kind = m.properties.get("obsync_type").cloned().unwrap_or_default();
            (
                kind,
                m.properties
                    .get("obsync_dedupe_key")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    ids.sort();
    ids.dedup();
    anyhow::ensure!(
        got.len() == 2 * ROWS && ids.len() == 2 * ROWS,
        "want {} messages once each, got {} ({} distinct)",
        2 * ROWS,
        got.len(),
        ids.len()
    );
    Ok(())
}
