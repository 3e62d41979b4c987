//! RocketMQ helpers, through Apache RocketMQ's own Java client (`tests/java`, built by
//! `scripts/env.sh`'s `ensure_java_client`): topics are created with the admin call of
//! `mqadmin updateTopic`, and whole topics are read back by an orderly push consumer of a new
//! group, as a user's consumer would read them. No obsync code is on the reading side.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::process::Command;

/// One message as the Java consumer received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Queue id.
    pub queue: i32,
    /// Offset in the queue.
    pub offset: i64,
    /// Message keys.
    pub keys: Vec<String>,
    /// Tag.
    pub tags: Option<String>,
    /// Body parsed as JSON.
    pub body: serde_json::Value,
    /// Body as text, exactly as sent.
    pub body_text: String,
    /// Properties as the Java client sees them (user and system ones).
    pub properties: HashMap<String, String>,
    /// Broker store time (ms).
    pub store_timestamp: i64,
    /// The broker's id of the stored message (store host and commit log offset).
    pub offset_msg_id: String,
    /// The order in which the consumer received it (0, 1, ...), whatever its queue.
    pub arrival: usize,
}

/// A handle on the Java client for tests.
#[derive(Debug, Default)]
pub struct Mq {
    _private: (),
}

/// The checkout's root (where `tests/java/target` is).
fn root() -> PathBuf {
    std::env::var_os("OBSYNC_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")))
}

/// A `java` command running the test client's `Main` with `args`.
fn java_client(args: &[&str], acl: Option<(&str, &str)>) -> anyhow::Result<Command> {
    let target = root().join("tests/java/target");
    let jar = target.join("obsync-java-client.jar");
    anyhow::ensure!(
        jar.is_file(),
        "{} is missing: build it with `source scripts/env.sh && ensure_java_client` (scripts/test.sh does)",
        jar.display()
    );
    let services = std::env::var_os("OBSYNC_SERVICES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".local/share/obsync/services")
        });
    let home = services.join("java-client");
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    let mut cmd = Command::new("java");
    cmd.arg("-Xmx256m")
        .arg("-XX:TieredStopAtLevel=1")
        .arg(format!("-Duser.home={}", home.display()))
        .arg("-Dlogback.statusListenerClass=org.apache.rocketmq.logging.ch.qos.logback.core.status.NopStatusListener")
        .arg("-cp")
        .arg(format!(
            "{}:{}/lib/*",
            jar.display(),
            target.display()
        ))
        .arg("io.obsync.testclient.Main")
        .args(args)
        .env_remove("OBSYNC_JAVA_ACCESS_KEY")
        .env_remove("OBSYNC_JAVA_SECRET_KEY")
        .kill_on_drop(true);
    if let Some((ak, sk)) = acl {
        cmd.env("OBSYNC_JAVA_ACCESS_KEY", ak)
            .env("OBSYNC_JAVA_SECRET_KEY", sk);
    }
    Ok(cmd)
}

/// Runs the Java client; returns its standard output, or its error output as the error.
async fn run_java(args: &[&str], acl: Option<(&str, &str)>) -> anyhow::Result<String> {
    let out = java_client(args, acl)?
        .output()
        .await
        .context("running java (the Java test client)")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    anyhow::ensure!(
        out.status.success(),
        "java client {:?} failed: {}",
        args.first(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(stdout)
}

impl Mq {
    /// A handle (the Java client runs per call).
    pub fn new() -> anyhow::Result<Self> {
        Ok(Mq::default())
    }

    /// Creates a topic with `queues` read and write queues on the private broker.
    pub async fn create_topic(&self, topic: &str, queues: u32) -> anyhow::Result<()> {
        self.create_topic_on(&crate::broker_addr(), topic, queues, None)
            .await
    }

    /// Creates a topic on the broker at `broker`, signing the request with `acl` keys if given
    /// (the ACL broker of `scripts/services.sh`); returns when the name server serves its route.
    pub async fn create_topic_on(
        &self,
        broker: &str,
        topic: &str,
        queues: u32,
        acl: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        self.create_topic_with(broker, topic, queues, &[], acl)
            .await
    }

    /// Creates a topic with topic attributes (`+message.type=FIFO`: an ordered topic of 5.x).
    pub async fn create_topic_with(
        &self,
        broker: &str,
        topic: &str,
        queues: u32,
        attributes: &[&str],
        acl: Option<(&str, &str)>,
    ) -> anyhow::Result<()> {
        let ns = crate::name_server();
        let queues = queues.to_string();
        let mut args = vec!["create-topic", ns.as_str(), broker, topic, queues.as_str()];
        args.extend_from_slice(attributes);
        run_java(&args, acl).await.map(drop)
    }

    /// Reads every message of a topic from the beginning until `want` arrived and every message
    /// the broker stores for it then was received (extras and duplicates are seen), or `timeout`
    /// passed. Sorted by (queue, offset); `arrival` keeps the order of receipt.
    pub async fn read_topic(
        &self,
        topic: &str,
        want: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        self.read_topic_with(topic, want, timeout, None).await
    }

    /// [`Mq::read_topic`] with ACL keys (a topic on the ACL broker).
    pub async fn read_topic_with(
        &self,
        topic: &str,
        want: usize,
        timeout: Duration,
        acl: Option<(&str, &str)>,
    ) -> anyhow::Result<Vec<Received>> {
        self.read(topic, want, timeout, acl, true).await
    }

    /// [`Mq::read_topic`] for bodies that are not JSON (a trace topic's records): `body_text`
    /// only.
    pub async fn read_topic_text(
        &self,
        topic: &str,
        want: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<Received>> {
        self.read(topic, want, timeout, None, false).await
    }

    async fn read(
        &self,
        topic: &str,
        want: usize,
        timeout: Duration,
        acl: Option<(&str, &str)>,
        json_body: bool,
    ) -> anyhow::Result<Vec<Received>> {
        let ns = crate::name_server();
        let want_s = want.to_string();
        let millis = timeout.as_millis().to_string();
        let out = run_java(&["consume", &ns, topic, &want_s, &millis], acl).await?;
        let mut received = out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| parse_line(i, l, json_body))
            .collect::<anyhow::Result<Vec<_>>>()?;
        received.sort_by_key(|m| (m.queue, m.offset));
        Ok(received)
    }

    /// The queue index the Java client's `SelectMessageQueueByHash` picks for each key among
    /// `queues` queues.
    pub async fn java_hash_queues(&self, queues: u32, keys: &[&str]) -> anyhow::Result<Vec<u32>> {
        let n = queues.to_string();
        let mut args = vec!["select-queue", n.as_str()];
        args.extend_from_slice(keys);
        let out = run_java(&args, None).await?;
        out.lines()
            .map(|l| l.trim().parse::<u32>().context("select-queue output"))
            .collect()
    }

    /// Sends one message with the Java producer (no retry) and returns the send status
    /// (`SEND_OK`, ...) or `refused CODE REMARK` when the broker refuses it: a probe of what the
    /// broker accepts now.
    pub async fn probe_send(&self, topic: &str, body: &str) -> anyhow::Result<String> {
        let ns = crate::name_server();
        let out = run_java(&["send", &ns, topic, body], None).await?;
        Ok(out.trim().to_string())
    }

    /// Nothing to stop (kept so tests read the same as with a long-lived client).
    pub async fn shutdown(self) {}
}

/// One consumer line: `{"queue","offset","keys","tags","properties","store_timestamp","body"}`.
/// With `json_body`, a body that is not JSON is an error; without, `body` is null.
fn parse_line(arrival: usize, line: &str, json_body: bool) -> anyhow::Result<Received> {
    let v: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("java client line: {line}"))?;
    let body_text = v["body"].as_str().unwrap_or_default().to_string();
    let body: serde_json::Value = match serde_json::from_str(&body_text) {
        Ok(b) => b,
        Err(_) if !json_body => serde_json::Value::Null,
        Err(e) => anyhow::bail!("message body is not JSON ({e}): {body_text}"),
    };
    let properties = v["properties"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Ok(Received {
        queue: v["queue"].as_i64().unwrap_or(-1) as i32,
        offset: v["offset"].as_i64().unwrap_or(-1),
        keys: v["keys"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        tags: v["tags"].as_str().map(str::to_string),
        body,
        body_text,
        properties,
        store_timestamp: v["store_timestamp"].as_i64().unwrap_or(0),
        offset_msg_id: v["offset_msg_id"].as_str().unwrap_or_default().to_string(),
        arrival,
    })
}
