//! A property test of the TIME2, DATETIME2, TIMESTAMP2 and DECIMAL decoders against the server:
//! random values of every precision and sign are written by SQL, and what obsync sends for each
//! must be the server's own text for the same row (`SELECT CAST(… AS CHAR)`, `UNIX_TIMESTAMP` for
//! TIMESTAMP), fractions without trailing zeros as the spec renders them, DECIMAL digit for digit.
//!
//! The values come from a fixed seed (`OBSYNC_VALUES_SEED` picks another); a failure prints it.

use std::collections::BTreeMap;
use std::time::Duration;

use mysql_async::prelude::Queryable;
use obsync_tests::agent::Agent;
use obsync_tests::raw_json::{Step, raw_members};
use obsync_tests::scene::Scene;
use obsync_tests::sql::{admin, exec_all};

const WAIT: Duration = Duration::from_secs(120);
const ROWS: usize = 240;
const PER_INSERT: usize = 40;
/// DECIMAL (precision, scale) pairs covered.
const DECIMALS: &[(u32, u32)] = &[
    (65, 30),
    (10, 2),
    (18, 9),
    (38, 0),
    (9, 9),
    (40, 10),
    (65, 0),
];

/// SplitMix64: small, seeded, good enough to spread values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`, the bounds themselves one time in eight each.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match self.next() % 8 {
            0 => lo,
            1 => hi,
            _ => lo + self.next() % (hi - lo + 1),
        }
    }

    fn digits(&mut self, n: u32) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }

    fn sign(&mut self) -> &'static str {
        if self.next().is_multiple_of(2) {
            "-"
        } else {
            ""
        }
    }
}

fn fraction(rng: &mut Rng, p: u32) -> String {
    if p == 0 {
        String::new()
    } else {
        format!(".{}", rng.digits(p))
    }
}

fn time(rng: &mut Rng, p: u32) -> String {
    let (h, m, s) = (rng.range(0, 838), rng.range(0, 59), rng.range(0, 59));
    let frac = if (h, m, s) == (838, 59, 59) {
        String::new()
    } else {
        fraction(rng, p)
    };
    format!("'{}{h:02}:{m:02}:{s:02}{frac}'", rng.sign())
}

fn datetime(rng: &mut Rng, p: u32) -> String {
    format!(
        "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}{}'",
        rng.range(1000, 9999),
        rng.range(1, 12),
        rng.range(1, 28),
        rng.range(0, 23),
        rng.range(0, 59),
        rng.range(0, 59),
        fraction(rng, p)
    )
}

fn timestamp(rng: &mut Rng, p: u32) -> String {
    format!(
        "FROM_UNIXTIME({}{})",
        rng.range(1, 2_147_483_646),
        fraction(rng, p)
    )
}

fn decimal(rng: &mut Rng, precision: u32, scale: u32) -> String {
    let int_digits = rng.range(0, u64::from(precision - scale)) as u32;
    let int = if int_digits == 0 {
        "0".to_string()
    } else {
        rng.digits(int_digits)
    };
    let frac = if scale == 0 {
        String::new()
    } else {
        format!(".{}", rng.digits(scale))
    };
    format!("{}{int}{frac}", rng.sign())
}

/// The columns: (name, SQL type, the server's text of it in a SELECT).
fn columns() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in 0..=6 {
        out.push((
            format!("t{p}"),
            format!("TIME({p})"),
            format!("CAST(t{p} AS CHAR)"),
        ));
        out.push((
            format!("dt{p}"),
            format!("DATETIME({p})"),
            format!("CAST(dt{p} AS CHAR)"),
        ));
        out.push((
            format!("ts{p}"),
            format!("TIMESTAMP({p}) NULL"),
            format!("CAST(UNIX_TIMESTAMP(ts{p}) AS CHAR)"),
        ));
    }
    for (precision, scale) in DECIMALS {
        let name = format!("d{precision}_{scale}");
        out.push((
            name.clone(),
            format!("DECIMAL({precision},{scale})"),
            format!("CAST({name} AS CHAR)"),
        ));
    }
    out
}

fn value(rng: &mut Rng, name: &str) -> String {
    let p = |n: &str| {
        n.trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .unwrap_or(0)
    };
    if let Some(rest) = name.strip_prefix("d")
        && let Some((precision, scale)) = rest.split_once('_')
    {
        return decimal(
            rng,
            precision.parse().unwrap_or(10),
            scale.parse().unwrap_or(0),
        );
    }
    match name.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "t" => time(rng, p(name)),
        "dt" => datetime(rng, p(name)),
        _ => timestamp(rng, p(name)),
    }
}

/// The spec's rendering of the server's text: time fractions without trailing zeros, quoted;
/// DECIMAL as written.
fn rendered(name: &str, server: &str) -> String {
    if name.starts_with('d') && !name.starts_with("dt") {
        return server.to_string();
    }
    let text = match server.split_once('.') {
        Some((whole, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            }
        }
        None => server.to_string(),
    };
    format!("\"{text}\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoders_agree_with_the_server_on_random_values() -> anyhow::Result<()> {
    let seed: u64 = std::env::var("OBSYNC_VALUES_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_204);
    let columns = columns();
    let ddl = format!(
        "CREATE TABLE r (id INT PRIMARY KEY, {})",
        columns
            .iter()
            .map(|(n, t, _)| format!("{n} {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (s, topics) = Scene::new("randvals", &[&ddl], &[("randvals", 2)]).await?;
    let name = s.project("r", &topics[0], "")?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;

    let mut rng = Rng(seed);
    let mut statements = vec![
        "SET time_zone = '+00:00'".to_string(),
        format!("USE `{}`", s.db),
    ];
    for chunk in (1..=ROWS).collect::<Vec<_>>().chunks(PER_INSERT) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|id| {
                let values: Vec<String> =
                    columns.iter().map(|(n, _, _)| value(&mut rng, n)).collect();
                format!("({id}, {})", values.join(", "))
            })
            .collect();
        statements.push(format!("INSERT INTO r VALUES {}", rows.join(", ")));
    }
    let mut conn = admin().await?;
    let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
    exec_all(&mut conn, &refs).await?;

    // The server's own text of every value.
    let select = format!(
        "SELECT id, {} FROM r ORDER BY id",
        columns
            .iter()
            .map(|(_, _, e)| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let server: Vec<mysql_async::Row> = conn.query(select).await?;
    let msgs = s.mq.read_topic(&topics[0], ROWS, WAIT).await?;
    assert_eq!(msgs.len(), ROWS, "seed {seed}: one message per row");
    let mut sent: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for m in &msgs {
        let image = raw_members(&m.body_text, &[Step::Key("postStruct")])?;
        sent.insert(image.get("id").cloned().unwrap_or_default(), image);
    }
    let mut mismatches = Vec::new();
    for row in server {
        let id: i64 = row.get(0).unwrap_or_default();
        let image = sent.get(&id.to_string()).cloned().unwrap_or_default();
        for (i, (name, _, _)) in columns.iter().enumerate() {
            let text: Option<String> = row.get(i + 1);
            let want = text.map_or("null".to_string(), |t| rendered(name, &t));
            let got = image.get(name).cloned().unwrap_or_default();
            if got != want {
                mismatches.push(format!("row {id} {name}: sent {got}, server {want}"));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "seed {seed}: {} of {} values differ from the server's:\n{}",
        mismatches.len(),
        ROWS * columns.len(),
        mismatches.join("\n")
    );
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
