//! The protocol joins properties as `name U+0001 value U+0002`: a table name holding both
//! separators must not inject or override a property (TAGS here) as the Java consumer reads it.
//! obsync makes its own text separator-free (U+2401, U+2402); module-set text with a separator
//! is refused (unit tests in `agent/src/sink/message_text.rs`).
#![recursion_limit = "256"]

use std::time::Duration;

use obsync_tests::agent::Agent;
use obsync_tests::scene::Scene;

const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn separators_in_a_table_name_inject_nothing() -> anyhow::Result<()> {
    let table = "t\u{1}TAGS\u{2}x";
    let (s, topics) = Scene::new(
        "props",
        &[&format!("CREATE TABLE `{table}` (id INT PRIMARY KEY)")],
        &[("props_t", 2)],
    )
    .await?;
    // TOML writes the control characters as escapes.
    let name = s.project("PLACEHOLDER", &topics[0], "")?;
    let file = s.project_file(&name);
    let text =
        std::fs::read_to_string(&file)?.replace("\"PLACEHOLDER\"", "\"t\\u0001TAGS\\u0002x\"");
    std::fs::write(&file, text)?;
    let agent = Agent::start(s.config.path(), s.data.path());
    agent.wait_running(&name, WAIT).await?;
    s.sql(&[&format!("INSERT INTO `{table}` VALUES (1)")])
        .await?;
    let msgs = s.mq.read_topic(&topics[0], 1, WAIT).await?;
    agent.stop().await?;
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    let m = &msgs[0];
    assert_eq!(
        m.properties.get("obsync_table").map(String::as_str),
        Some("t\u{2401}TAGS\u{2402}x"),
        "{:?}",
        m.properties
    );
    assert_eq!(m.properties.get("obsync_db"), Some(&s.db));
    assert_eq!(m.tags.as_deref(), Some("default_tag"));
    assert_eq!(
        m.body["allMetaData"]["table_name"], table,
        "the body keeps the real name"
    );
    Ok(())
}
