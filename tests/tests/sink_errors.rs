//! Errors the broker side can give a running project: each stops the project with a clear error
//! and its checkpoint intact, and nothing is lost once the cause is fixed.
#![recursion_limit = "256"]
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use obsync::status::ProjectState;
use obsync_tests::agent::Agent;
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
    let failed = agent.status.wait_until(|all| {
        all.get(&name)
            .is_some_and(|s| s.state == ProjectState::Failed)
    });
    tokio::time::timeout(WAIT, failed)
        .await
        .map_err(|_| anyhow::anyhow!("never failed: {:?}", agent.status.get(&name)))?;
    let status = agent.status.get(&name).unwrap();
    let error = status.last_error.unwrap_or_default();
    assert!(
        error.contains("larger than the broker accepts") && error.contains(topic.as_str()),
        "{error}"
    );

    // The fix: stop carrying the blob. The project restarts from its checkpoint, which did not
    // pass row 2, so rows 2 and 3 arrive now (row 1 may arrive twice, with the same key).
    std::fs::write(&file, text + "columns = [\"id\"]\n")?;
    let running = agent.status.wait_until(|all| {
        all.get(&name)
            .is_some_and(|s| s.state == ProjectState::Running && s.streams_started >= 2)
    });
    tokio::time::timeout(WAIT, running)
        .await
        .map_err(|_| anyhow::anyhow!("no restart after the fix: {:?}", agent.status.get(&name)))?;
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
        error.contains("`objects[0].topic`")
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
