//! The agent's HTTP listener, status page and alerts against the real MariaDB and broker:
//! metrics and API values checked against known traffic, the status page as headless Chromium
//! renders it (screenshot kept in `target/test-artifacts/`), and alerts delivered to a local
//! webhook receiver (firing, repeated, resolved).
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use obsync::http::ProjectReport;
use obsync_tests::agent::{Agent, AgentOptions};
use obsync_tests::scene::Scene;
use obsync_tests::webhook::Receiver;

const WAIT: Duration = Duration::from_secs(60);

fn with_listener() -> AgentOptions {
    AgentOptions {
        listen: Some("127.0.0.1:0".parse().unwrap()),
        ..AgentOptions::default()
    }
}

/// The agent's listener URL, from the address it wrote into its data directory.
async fn base_url(scene: &Scene) -> anyhow::Result<String> {
    let file = scene.data.path().join(obsync::LISTEN_FILE);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(addr) = std::fs::read_to_string(&file)
            && !addr.trim().is_empty()
        {
            return Ok(format!("http://{}", addr.trim()));
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "no {}",
            file.display()
        );
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn get(url: &str) -> anyhow::Result<(u16, String)> {
    let r = reqwest::get(url).await?;
    Ok((r.status().as_u16(), r.text().await?))
}

async fn report(base: &str, project: &str) -> anyhow::Result<ProjectReport> {
    let (code, body) = get(&format!("{base}/api/projects/{project}")).await?;
    anyhow::ensure!(code == 200, "{code}: {body}");
    Ok(serde_json::from_str(&body)?)
}

/// Polls the project's report until `f` holds.
async fn wait_report(
    base: &str,
    project: &str,
    what: &str,
    f: impl Fn(&ProjectReport) -> bool,
) -> anyhow::Result<ProjectReport> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut changes = tokio::time::interval(Duration::from_millis(100));
    loop {
        let r = report(base, project).await?;
        if f(&r) {
            return Ok(r);
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{what} not reached: {r:?}"
        );
        changes.tick().await;
    }
}

fn metric_line<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    text.lines().find(|l| l.starts_with(prefix))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_api_match_known_traffic() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "ops",
        &["CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20))"],
        &[("ops_t", 2)],
    )
    .await?;
    let name = s.project("t", &topics[0], "")?;
    let agent = Agent::start_with(s.config.path(), s.data.path(), with_listener());
    agent.wait_running(&name, WAIT).await?;
    let base = base_url(&s).await?;
    assert_eq!(get(&format!("{base}/healthz")).await?.0, 200);
    assert_eq!(
        get(&format!("{base}/readyz")).await?,
        (200, "ready\n".into())
    );

    // 40 inserts, 10 updates, 5 deletes, in several transactions.
    let inserts: Vec<String> = (1..=40)
        .map(|i| format!("INSERT INTO t VALUES ({i}, 'v{i}')"))
        .collect();
    let mut statements: Vec<&str> = inserts.iter().map(String::as_str).collect();
    statements.extend([
        "BEGIN",
        "UPDATE t SET v = 'changed' WHERE id <= 10",
        "COMMIT",
        "DELETE FROM t WHERE id > 35",
    ]);
    s.sql(&statements).await?;
    let r = wait_report(&base, &name, "65 messages acknowledged", |r| {
        r.metrics.messages_sent == [40, 10, 5]
    })
    .await?;
    assert_eq!(r.metrics.rows_read, [40, 10, 5]);
    assert!(r.metrics.bytes_sent.iter().all(|b| *b > 0), "{r:?}");
    assert!(r.metrics.bytes_read.iter().all(|b| *b > 0), "{r:?}");
    assert!(r.metrics.binlog_bytes >= r.metrics.bytes_read.iter().sum::<u64>());
    assert!(r.metrics.format_calls > 0 && r.metrics.format_seconds > 0.0);
    assert_eq!(r.metrics.errors, 0);
    let info = r.info.as_ref().unwrap();
    assert_eq!(info.objects[0].topic, topics[0]);
    assert_eq!(info.modules[0].name, "default");
    assert!(info.modules[0].version.starts_with("abi 1, sha256 "));
    // The broker holds exactly those messages.
    let got = s.mq.read_topic(&topics[0], 55, WAIT).await?;
    assert_eq!(got.len(), 55);

    // Idle and caught up: the heartbeat brings the latency near zero, nothing is in flight.
    let r = wait_report(&base, &name, "near-zero latency", |r| {
        r.latency_seconds.is_some_and(|l| l < 3.0) && r.metrics.in_flight == 0
    })
    .await?;
    let checkpoint = r.position.clone().unwrap();
    assert!(r.checkpoint_time.is_some());

    let (code, text) = get(&format!("{base}/metrics")).await?;
    assert_eq!(code, 200);
    let p = format!("project=\"{name}\"");
    for (kind, n) in [("insert", 40), ("update", 10), ("delete", 5)] {
        assert_eq!(
            metric_line(
                &text,
                &format!("obsync_messages_sent_total{{{p},type=\"{kind}\"}}")
            ),
            Some(format!("obsync_messages_sent_total{{{p},type=\"{kind}\"}} {n}").as_str()),
            "{text}"
        );
        assert!(
            metric_line(
                &text,
                &format!("obsync_rows_read_total{{{p},type=\"{kind}\"}} {n}")
            )
            .is_some(),
            "{text}"
        );
    }
    assert!(
        metric_line(
            &text,
            &format!("obsync_project_state{{{p},state=\"running\"}} 1")
        )
        .is_some()
    );
    assert!(
        metric_line(
            &text,
            &format!(
                "obsync_checkpoint_offset{{{p},file=\"{}\"}} {}",
                checkpoint.file, checkpoint.offset
            )
        )
        .is_some(),
        "{text}"
    );
    assert!(metric_line(&text, &format!("obsync_in_flight_messages{{{p}}} 0")).is_some());
    let latency: f64 = metric_line(&text, &format!("obsync_latency_seconds{{{p}}} "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((0.0..5.0).contains(&latency), "{latency}");

    // The list endpoint carries the same project; an unknown one is a 404.
    let (_, list) = get(&format!("{base}/api/projects")).await?;
    let list: Vec<ProjectReport> = serde_json::from_str(&list)?;
    assert!(list.iter().any(|r| r.name == name));
    assert_eq!(get(&format!("{base}/api/projects/nope")).await?.0, 404);
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}

/// The workspace's `target/test-artifacts` directory.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`, `--screenshot=...`).
async fn chromium(url: &str, args: &[&str]) -> anyhow::Result<String> {
    let profile = obsync_tests::agent::TempDir::new("chromium")?;
    let out = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            "--window-size=1280,1100",
            "--virtual-time-budget=6000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .await
        .map_err(|e| anyhow::anyhow!("cannot run chromium (scripts/test.sh installs it): {e}"))?;
    anyhow::ensure!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The visible text of an HTML document: tags dropped, entities of the page decoded.
fn visible_text(html: &str) -> String {
    let body = html.split("<body>").nth(1).unwrap_or(html);
    let body = body.split("<script>").next().unwrap_or(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_projects_in_headless_chromium() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "page",
        &["CREATE TABLE `订单` (id INT PRIMARY KEY, v INT)"],
        &[("page_t", 1)],
    )
    .await?;
    let name = s.project("订单", &topics[0], "where = \"v > 0\"\n")?;
    let agent = Agent::start_with(s.config.path(), s.data.path(), with_listener());
    agent.wait_running(&name, WAIT).await?;
    let base = base_url(&s).await?;
    s.sql(&[
        "INSERT INTO `订单` VALUES (1, 1), (2, 2), (3, 3)",
        "INSERT INTO `订单` VALUES (4, 0)",
    ])
    .await?;
    wait_report(&base, &name, "3 messages and 2 samples", |r| {
        r.metrics.messages_sent[0] == 3 && r.history.len() >= 2
    })
    .await?;

    // The list: the project, its state and its counters.
    let list = visible_text(&chromium(&format!("{base}/"), &["--dump-dom"]).await?);
    assert!(list.contains("Sync projects (1)"), "{list}");
    assert!(list.contains(&format!("{name} Running")), "{list}");

    // The detail page, as a person sees it.
    let url = format!("{base}/#/project/{name}");
    let detail = visible_text(&chromium(&url, &["--dump-dom"]).await?);
    for expected in [
        format!("{name} Running"),
        "Latency".to_string(),
        "Checkpoint time".to_string(),
        "Messages sent 3".to_string(),
        "RPS (messages/s)".to_string(),
        "Latency (s)".to_string(),
        format!(
            "Objects (1) Database Table Topic Row filter {} 订单 {} v > 0",
            s.db, topics[0]
        ),
        "format default (abi 1, sha256".to_string(),
    ] {
        assert!(
            detail.contains(&expected),
            "missing {expected:?} in: {detail}"
        );
    }
    assert!(!detail.contains("Loading"), "{detail}");
    assert!(!detail.contains("agent unreachable"), "{detail}");

    let shot = artifacts().join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&url, &[&format!("--screenshot={}", shot.display())]).await?;
    let png = std::fs::read(&shot)?;
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot of {} bytes",
        png.len()
    );
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fire_repeat_and_resolve_on_a_webhook() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "alert",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("alert_t", 1)],
    )
    .await?;
    let mut hook = Receiver::start().await?;
    let alerts = format!(
        "\n[alerts]\nlevel = \"high\"\nlatency_seconds = 20\ninterruption_seconds = 0\nrepeat_seconds = 1\nwebhook = \"{}\"\n",
        hook.url
    );
    let name = s.project("t", &topics[0], &alerts)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;

    // A transaction committed "an hour ago" (the binlog carries the session's TIMESTAMP) is
    // delivered with an hour of latency: a delay alert, then its recovery once caught up.
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        - 3600;
    s.sql(&[
        &format!("SET TIMESTAMP = {an_hour_ago}"),
        "INSERT INTO t VALUES (1)",
        "SET TIMESTAMP = DEFAULT",
    ])
    .await?;
    let fired = hook.next(WAIT).await?;
    assert_eq!(fired["project"], name.as_str());
    assert_eq!(fired["alert"], "sync_delay");
    assert_eq!(fired["status"], "firing");
    assert_eq!(fired["level"], "high");
    assert_eq!(fired["threshold_seconds"], 20);
    assert!(fired["value_seconds"].as_f64().unwrap() > 3000.0, "{fired}");
    let resolved = hook.next(WAIT).await?;
    assert_eq!(resolved["alert"], "sync_delay");
    assert_eq!(resolved["status"], "resolved", "{resolved}");

    // A format module that traps fails the project: an interruption alert, repeated every
    // second while it lasts, and resolved once the fixed file runs again.
    let file = s.project_file(&name);
    let good = std::fs::read_to_string(&file)?;
    // A module that follows the ABI but traps on every batch (WebAssembly text is accepted).
    let trap = "(module (memory (export \"memory\") 1)
      (func (export \"obsync_abi_version\") (result i32) i32.const 1)
      (func (export \"obsync_module_kind\") (result i32) i32.const 2)
      (func (export \"obsync_alloc\") (param i32) (result i32) i32.const 1024)
      (func (export \"obsync_free\") (param i32 i32))
      (func (export \"obsync_format\") (param i32 i32) (result i64) unreachable))";
    std::fs::write(s.config.path().join("trap.wasm"), trap)?;
    std::fs::write(
        &file,
        good.replace("[alerts]", "[options]\nformat = \"trap.wasm\"\n\n[alerts]"),
    )?;
    agent
        .wait_for(&name, "the trapping module running", WAIT, |p| {
            p.state == obsync::status::ProjectState::Running
                && p.info
                    .as_ref()
                    .is_some_and(|i| i.modules.iter().any(|m| m.name.ends_with("trap.wasm")))
        })
        .await?;
    s.sql(&["INSERT INTO t VALUES (2)"]).await?;
    let down = loop {
        let n = hook.next(WAIT).await?;
        if n["alert"] == "sync_interrupted" {
            break n;
        }
    };
    assert_eq!(down["status"], "firing");
    assert_eq!(down["state"], "failed");
    assert!(
        down["error"]
            .as_str()
            .unwrap_or_default()
            .contains("trap.wasm"),
        "{down}"
    );
    let again = loop {
        let n = hook.next(WAIT).await?;
        if n["alert"] == "sync_interrupted" {
            break n;
        }
    };
    assert_eq!(again["status"], "firing");
    assert_eq!(again["count"], 2);
    std::fs::write(&file, &good)?;
    let up = loop {
        let n = hook.next(WAIT).await?;
        if n["alert"] == "sync_interrupted" && n["status"] == "resolved" {
            break n;
        }
    };
    assert_eq!(up["project"], name.as_str());
    // Row 2 was not lost while the module was broken.
    let got = s.mq.read_topic(&topics[0], 2, WAIT).await?;
    assert_eq!(got.len(), 2);
    agent.stop().await?;
    s.mq.shutdown().await;
    Ok(())
}
