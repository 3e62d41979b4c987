//! A test scene: a fresh database with its tables, fresh topics, and empty config and data
//! directories, plus helpers to write a project for it and to run SQL in its database.

use crate::agent::{TempDir, project_toml};
use crate::mq::Mq;
use crate::sql::{admin, exec_all};
use crate::{init_logs, unique, unique_server_id};

/// A database with tables, topics, a config and a data directory.
pub struct Scene {
    /// The database name.
    pub db: String,
    /// A client of the private broker.
    pub mq: Mq,
    /// The config directory.
    pub config: TempDir,
    /// The data directory.
    pub data: TempDir,
}

impl Scene {
    /// Creates a database named after `prefix` holding `tables` (DDL statements), and one topic
    /// per `(prefix, queues)`; returns the scene and the topic names.
    pub async fn new(
        prefix: &str,
        tables: &[&str],
        topics: &[(&str, u32)],
    ) -> anyhow::Result<(Scene, Vec<String>)> {
        init_logs();
        let db = unique(prefix);
        let mut conn = admin().await?;
        let mut statements = vec![format!("CREATE DATABASE `{db}`"), format!("USE `{db}`")];
        statements.extend(tables.iter().map(|t| t.to_string()));
        let refs: Vec<&str> = statements.iter().map(String::as_str).collect();
        exec_all(&mut conn, &refs).await?;
        let mq = Mq::new()?;
        let mut names = Vec::new();
        for (topic_prefix, queues) in topics {
            let topic = unique(topic_prefix);
            mq.create_topic(&topic, *queues).await?;
            names.push(topic);
        }
        Ok((
            Scene {
                db,
                mq,
                config: TempDir::new(&format!("{prefix}cfg"))?,
                data: TempDir::new(&format!("{prefix}data"))?,
            },
            names,
        ))
    }

    /// Writes a project for `table` → `topic` (its file text ends inside the object, so `extra`
    /// can add object fields or further tables); returns the project name.
    pub fn project(&self, table: &str, topic: &str, extra: &str) -> anyhow::Result<String> {
        let name = unique("p");
        let text = project_toml(&name, &self.db, table, topic, unique_server_id()) + extra;
        std::fs::write(self.project_file(&name), text)?;
        Ok(name)
    }

    /// The path of a project's file.
    pub fn project_file(&self, name: &str) -> std::path::PathBuf {
        self.config.path().join(format!("{name}.toml"))
    }

    /// Runs statements in the scene's database, in order.
    pub async fn sql(&self, statements: &[&str]) -> anyhow::Result<()> {
        let mut conn = admin().await?;
        let use_db = format!("USE `{}`", self.db);
        let mut all = vec![use_db.as_str()];
        all.extend_from_slice(statements);
        exec_all(&mut conn, &all).await
    }
}
