//! Latency and memory under a steady load: obsync streams a table while this writes RATE rows/s
//! into it (100-row transactions every 10 ms, one connection) for SECONDS. Each transaction's
//! commit time is taken when its COMMIT returns to the writer; each message's arrival is the
//! broker's store timestamp; the distribution of the difference is printed. RSS is sampled every
//! 100 ms during the load. Then one transaction of BIG rows is committed and the peak RSS while
//! obsync delivers it is compared with the RSS before it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql_async::prelude::Queryable;
use obsync_tests::agent::project_toml;
use obsync_tests::{unique, unique_server_id};

use crate::e2e::{mib, row, setup};
use crate::obsync::Obsync;

/// Rows per transaction of the steady load.
const PER_TXN: usize = 100;
/// Ids of the big transaction start here, clear of the steady load's.
const BIG_BASE: usize = 1_000_000_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Runs the latency and memory measurements and prints their tables.
pub async fn run(seconds: u64, rate: usize, big: usize) -> anyhow::Result<()> {
    let db = unique("benchlat");
    let topic = unique("bench_lat");
    let (mq, mut conn) = setup(&db, &[&topic]).await?;
    let name = unique("benchlat");
    let project = project_toml(&name, &db, "t", &topic, unique_server_id());
    let obsync = Obsync::start(&name, &project).await?;
    let idle_rss = obsync.rss_mib();

    // The steady load.
    let txns = (seconds as usize * rate).div_ceil(PER_TXN);
    let every = Duration::from_secs_f64(PER_TXN as f64 / rate as f64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut committed = Vec::with_capacity(txns);
    let mut rss_samples = Vec::new();
    let mut last_sample = Instant::now();
    let started = Instant::now();
    for txn in 0..txns {
        tick.tick().await;
        let values: Vec<String> = (txn * PER_TXN..(txn + 1) * PER_TXN).map(row).collect();
        conn.query_drop(format!("INSERT INTO t VALUES {}", values.join(",")))
            .await?;
        committed.push(now_ms());
        if last_sample.elapsed() >= Duration::from_millis(100) {
            last_sample = Instant::now();
            if let Some(r) = obsync.rss_mib() {
                rss_samples.push(r);
            }
        }
    }
    let achieved = (txns * PER_TXN) as f64 / started.elapsed().as_secs_f64();
    let total = txns * PER_TXN;
    obsync
        .wait_sent(total as u64, Duration::from_secs(600))
        .await?;
    let steady_peak = obsync.peak_rss_mib();
    let got = mq
        .read_topic(&topic, total, Duration::from_secs(300))
        .await?;
    anyhow::ensure!(
        got.len() == total,
        "read {} messages of {total} back",
        got.len()
    );
    let mut latencies: Vec<i64> = Vec::with_capacity(total);
    for m in &got {
        let id = &m.body["postStruct"]["id"];
        let id = id
            .as_u64()
            .or_else(|| id.as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| anyhow::anyhow!("no id in {}", m.body_text))?;
        let txn = id as usize / PER_TXN;
        latencies.push(m.store_timestamp - committed[txn]);
    }
    latencies.sort_unstable();

    // One big transaction.
    let before = obsync.rss_mib();
    obsync.reset_peak()?;
    let big_started = Instant::now();
    conn.query_drop(format!(
        "INSERT INTO t SELECT seq, seq % 1000, CONCAT('name-', seq, '-订单'), \
         (seq % 100000) + 0.5, '2024-02-29 12:00:00.123' FROM seq_{BIG_BASE}_to_{}",
        BIG_BASE + big - 1
    ))
    .await?;
    let big_commit = big_started.elapsed().as_secs_f64();
    obsync
        .wait_sent((total + big) as u64, Duration::from_secs(1800))
        .await?;
    let big_delivered = big_started.elapsed().as_secs_f64() - big_commit;
    let big_peak = obsync.peak_rss_mib();
    obsync.stop()?;
    drop(conn);
    mq.shutdown().await;

    let steady_max = rss_samples.iter().copied().fold(f64::NAN, f64::max);
    let steady_mean = rss_samples.iter().sum::<f64>() / rss_samples.len().max(1) as f64;
    println!(
        "steady load: {total} rows in {txns} transactions of {PER_TXN}, asked {rate} rows/s, \
         written {achieved:.0} rows/s; commit (COMMIT returned to the writer) → stored \
         (broker store timestamp), ms:"
    );
    println!("| p50 | p90 | p99 | p99.9 | max | min |");
    println!("|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {} | {} | {} |",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.90),
        percentile(&latencies, 0.99),
        percentile(&latencies, 0.999),
        latencies.last().copied().unwrap_or(0),
        latencies.first().copied().unwrap_or(0)
    );
    println!("| RSS | MiB |");
    println!("|---|---:|");
    println!("| idle, streaming | {} |", mib(idle_rss));
    println!("| steady load: mean of samples | {steady_mean:.1} |");
    println!("| steady load: max of samples | {steady_max:.1} |");
    println!("| steady load: peak (VmHWM) | {} |", mib(steady_peak));
    println!("| before the big transaction | {} |", mib(before));
    println!(
        "| peak while delivering one {big}-row transaction | {} |",
        mib(big_peak)
    );
    if let (Some(b), Some(p)) = (before, big_peak) {
        println!("| big transaction: peak − before | {:.1} |", p - b);
    }
    println!(
        "big transaction: committed in {big_commit:.1} s, delivered {big_delivered:.1} s after \
         the commit returned ({:.0} rows/s)",
        big as f64 / big_delivered.max(1e-9)
    );
    Ok(())
}
