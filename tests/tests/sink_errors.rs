//! Errors the broker side can give a running project: each stops the project with a clear error
//! and its checkpoint intact, and nothing is lost once the cause is fixed.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::{Agent, AgentOptions};
use obsync_tests::scene::Scene;
use obsync_tests::unique;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_row_stops_the_project_and_nothing_is_lost_after_the_fix() -> anyhow::Result<()>
{
    let (s, topics) = Scene::new(
        "big",
        &["CREATE TABLE t (id INT PRIMARY KEY, b LONGBLOB)"],
        &[("big_t", 2)],
    )
    .await?;
    let (mq, topic) = (&s.mq, &topics[0]);
    let name = s.project("t", topic, "")?;
    let file = s.project_file(&name);
    let text = std::fs::read_to_string(&file)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;

    // 5 MiB of base64 in one message: over the broker's 4 MiB limit.
    s.sql(&[
        "INSERT INTO t VALUES (1, 'small')",
        "INSERT INTO t VALUES (2, REPEAT('x', 5 * 1024 * 1024))",
        "INSERT INTO t VALUES (3, 'small')",
    ])
    .await?;
    agent
        .wait_for(&name, "the failed state", WAIT, |s| {
            s.state == ProjectState::Failed
        })
        .await?;
    let status = agent.status.get(&name).unwrap();
    let error = status.last_error.unwrap_or_default();
    assert!(
        error.contains("larger than the broker accepts") && error.contains(topic.as_str()),
        "{error}"
    );

    // The fix: stop carrying the blob. The project restarts from its checkpoint, which did not
    // pass row 2, so rows 2 and 3 arrive now (row 1 may arrive twice, with the same key).
    std::fs::write(&file, text + "columns = [\"id\"]\n")?;
    agent
        .wait_for(&name, "a restart after the fix", WAIT, |s| {
            s.state == ProjectState::Running && s.streams_started >= 2
        })
        .await?;
    let mut ids = Vec::new();
    let deadline = std::time::Instant::now() + WAIT;
    while !(ids.contains(&2) && ids.contains(&3)) && std::time::Instant::now() < deadline {
        let msgs = mq
            .read_topic(topic, ids.len().max(3) + 1, Duration::from_secs(5))
            .await?;
        ids = msgs
            .iter()
            .filter_map(|m| m.body["postStruct"]["id"].as_i64())
            .collect();
    }
    agent.stop().await?;
    for id in [1, 2, 3] {
        assert!(ids.contains(&id), "row {id} lost: {ids:?}");
    }
    s.mq.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_stops_the_project_and_is_never_created() -> anyhow::Result<()> {
    let (s, _) = Scene::new("notopic", &["CREATE TABLE t (id INT PRIMARY KEY)"], &[]).await?;
    let topic = unique("never_created");
    let name = s.project("t", &topic, "")?;
    // Its only project cannot start, so the agent exits with the project's start error.
    let agent = Agent::start(s.config.path(), s.data.path());
    let error = match tokio::time::timeout(WAIT, agent.stop()).await? {
        Ok(()) => anyhow::bail!("the agent ran without its only project"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains(&format!("FAIL target.topic `{topic}`"))
            && error.contains(&format!("topic {topic:?} does not exist"))
            && error.contains("obsync never creates topics"),
        "{error}"
    );
    // Still no route: nothing created it.
    let client = obsync::sink::RocketMqClient::start()?;
    let target: obsync::config::TargetConfig = toml::from_str(&format!(
        "name_server = \"{}\"\nproducer_group = \"{name}_check\"",
        obsync_tests::name_server()
    ))?;
    let mut sink = obsync::sink::RocketMqSink::start(client.runtime(), &target).await?;
    let lookup = sink.prepare_topic(&topic).await;
    sink.shutdown().await;
    client.shutdown().await;
    assert!(
        matches!(lookup, Err(obsync::sink::SinkError::MissingTopic { .. })),
        "{lookup:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_acl_keys_stop_the_project_and_the_right_ones_deliver_everything()
-> anyhow::Result<()> {
    let (s, _) = Scene::new("acl", &["CREATE TABLE t (id INT PRIMARY KEY)"], &[]).await?;
    let topic = unique("acl_t");
    let (ak, sk) = obsync_tests::acl_keys();
    s.mq.create_topic_on(
        &obsync_tests::acl_broker_addr(),
        &topic,
        2,
        Some((&ak, &sk)),
    )
    .await?;
    let name = s.project("t", &topic, "")?;
    let file = s.project_file(&name);
    let text = std::fs::read_to_string(&file)?;
    let group = format!("producer_group = \"{name}_pg\"");
    let with_keys = |secret: &str| {
        text.replace(
            &group,
            &format!("{group}\naccess_key = \"{ak}\"\nsecret_key = \"{secret}\""),
        )
    };
    std::fs::write(&file, with_keys("not-the-secret"))?;
    // `obsync check` sees it before anything is sent, and passes the right keys.
    assert!(!acl_check(&s).await?);
    std::fs::write(&file, with_keys(&sk))?;
    assert!(acl_check(&s).await?);
    std::fs::write(&file, with_keys("not-the-secret"))?;
    // `obsync run` refuses to start it: the precheck fails on `target.acl`.
    let refused = Agent::start(s.config.path(), s.data.path());
    let error = match tokio::time::timeout(WAIT, refused.stop()).await? {
        Ok(()) => anyhow::bail!("the agent started a project with wrong ACL keys"),
        Err(e) => e.to_string(),
    };
    assert!(
        error.contains("precheck failed") && error.contains("FAIL target.acl"),
        "{error}"
    );
    // Started anyway (`--skip-precheck`), the broker's refusal at the first send stops it.
    let agent = Agent::start_with(
        s.config.path(),
        s.data.path(),
        AgentOptions {
            precheck: false,
            ..AgentOptions::default()
        },
    );
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[
        "INSERT INTO t VALUES (1)",
        "INSERT INTO t VALUES (2)",
        "INSERT INTO t VALUES (3)",
    ])
    .await?;
    // RocketMQ 5 denies with code 16: the project stops. 4.9's plain ACL answers a send with
    // SYSTEM_ERROR, which the client reports without the reason: the project retries (showing
    // the code) until the keys are fixed. Either way nothing is stored or checkpointed.
    let v4 = std::env::var("OBSYNC_ROCKETMQ_VERSION").is_ok_and(|v| v.starts_with("4."));
    let (state, words) = if v4 {
        (ProjectState::Retrying, "broker response code 1".to_string())
    } else {
        (
            ProjectState::Failed,
            format!("the broker denied access to topic {topic:?}"),
        )
    };
    agent
        .wait_for(&name, "the denial", WAIT, |p| {
            p.state == state && p.last_error.as_deref().is_some_and(|e| e.contains(&words))
        })
        .await?;

    // The right keys: the project resumes from its checkpoint and the broker stores every row
    // exactly once (read back from the broker by the Java consumer, with the keys).
    std::fs::write(&file, with_keys(&sk))?;
    agent
        .wait_for(&name, "delivery with the right keys", WAIT, |p| {
            p.state == ProjectState::Running && p.streams_started >= 2 && p.messages_sent >= 3
        })
        .await?;
    let msgs =
        s.mq.read_topic_with(&topic, 3, WAIT, Some((&ak, &sk)))
            .await?;
    agent.stop().await?;
    let mut ids: Vec<i64> = msgs
        .iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [1, 2, 3],
        "what the broker holds: {} messages",
        msgs.len()
    );
    s.mq.shutdown().await;
    Ok(())
}

/// Runs the precheck of the scene's only project; returns whether `target.acl` passed (a failure
/// must be the broker's denial).
async fn acl_check(s: &Scene) -> anyhow::Result<bool> {
    let projects = obsync::config::load_dir(s.config.path()).map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = obsync::wasm::WasmEngine::new(None)?;
    let client = obsync::sink::RocketMqClient::start()?;
    let checks = obsync::precheck::run_checks(&projects[0], &engine, client.runtime()).await;
    client.shutdown().await;
    let acl = checks
        .iter()
        .find(|c| c.name == "target.acl")
        .ok_or_else(|| anyhow::anyhow!("no target.acl check: {checks:?}"))?;
    let passed = acl.outcome == obsync::precheck::Outcome::Pass;
    if !passed {
        anyhow::ensure!(
            acl.detail.contains("the broker denied access"),
            "unexpected ACL failure: {acl:?}"
        );
    }
    Ok(passed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_grown_to_more_queues_is_used_from_the_next_start() -> anyhow::Result<()> {
    let (s, topics) = Scene::new(
        "grow",
        &["CREATE TABLE t (id INT PRIMARY KEY)"],
        &[("grow_t", 1)],
    )
    .await?;
    let topic = &topics[0];
    let name = s.project("t", topic, "")?;
    let file = s.project_file(&name);
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    let inserts = |ids: std::ops::Range<i32>| -> Vec<String> {
        ids.map(|i| format!("INSERT INTO t VALUES ({i})")).collect()
    };
    let first = inserts(0..20);
    s.sql(&first.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;

    // Grow the topic to 4 queues and wait until the name server serves the new route.
    s.mq.create_topic(topic, 4).await?;
    let client = obsync::sink::RocketMqClient::start()?;
    let target: obsync::config::TargetConfig = toml::from_str(&format!(
        "name_server = \"{}\"\nproducer_group = \"{name}_route\"",
        obsync_tests::name_server()
    ))?;
    let mut probe = obsync::sink::RocketMqSink::start(client.runtime(), &target).await?;
    let deadline = std::time::Instant::now() + WAIT;
    while probe.prepare_topic(topic).await? != 4 {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "route never showed 4 queues"
        );
        tokio::task::yield_now().await;
    }
    probe.shutdown().await;
    client.shutdown().await;

    // Any change to the file restarts the project, which reads the route again.
    std::fs::write(
        &file,
        std::fs::read_to_string(&file)? + "# grown to 4 queues\n",
    )?;
    agent
        .wait_for(&name, "a restart", WAIT, |p| {
            p.state == ProjectState::Running && p.streams_started >= 2
        })
        .await?;
    let second = inserts(100..140);
    s.sql(&second.iter().map(String::as_str).collect::<Vec<_>>())
        .await?;
    let msgs = s.mq.read_topic(topic, 60, WAIT).await?;
    agent.stop().await?;
    let ids: std::collections::HashSet<i64> = msgs
        .iter()
        .filter_map(|m| m.body["postStruct"]["id"].as_i64())
        .collect();
    assert!(
        (0..20).chain(100..140).all(|i| ids.contains(&i)),
        "lost rows: {ids:?}"
    );
    let later_queues: std::collections::HashSet<i32> = msgs
        .iter()
        .filter(|m| {
            m.body["postStruct"]["id"]
                .as_i64()
                .is_some_and(|i| i >= 100)
        })
        .map(|m| m.queue)
        .collect();
    assert!(
        later_queues.len() > 1,
        "new rows still on one queue: {later_queues:?}"
    );
    s.mq.shutdown().await;
    Ok(())
}
