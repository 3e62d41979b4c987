//! `obsync-bench`: throughput, latency and memory of the obsync binary on the private MariaDB and
//! broker, each printed beside a limit measured in the same run. Nothing is asserted: numbers
//! drift between runs and machines (`BENCHMARKS.md` records them).
//!
//! - `obsync-bench e2e [ROWS]` (default 1,000,000): end to end against the broker's direct
//!   ingest of the same messages, peak RSS; on the dataset in `BENCH_DATASET` when set (the
//!   binlog every measurement of `scripts/bench.sh` shares), else on ROWS changes written now;
//! - `obsync-bench latency [SECONDS [RATE [BIG]]]` (defaults 30, 10,000, 1,000,000): commit →
//!   broker latency under a steady load, RSS during it, and RSS while one BIG-row transaction is
//!   delivered.
#![recursion_limit = "256"]

mod direct;
mod e2e;
mod latency;
mod obsync;

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match args.get(i) {
        None => Ok(default),
        Some(a) => a
            .parse()
            .map_err(|e| anyhow::anyhow!("argument {i} ({a:?}): {e}")),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("e2e") | None => e2e::run(arg(&args, 1, 1_000_000)?, e2e::Dataset::from_env()?).await,
        Some("latency") => {
            latency::run(
                arg(&args, 1, 30)?,
                arg(&args, 2, 10_000)?,
                arg(&args, 3, 1_000_000)?,
            )
            .await
        }
        Some(other) => anyhow::bail!("unknown benchmark {other:?}: use e2e or latency"),
    }
}
