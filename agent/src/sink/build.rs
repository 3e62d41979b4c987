//! Messages from a format module's output: the queue each goes to, its tag, key and properties,
//! and the size checks, before the pipeline sends them.
//!
//! Invariants: the queue is chosen from the source row's sharding key (or `db.table` under the
//! `table` partition rule), never from the module's output, so per-key order holds whatever the
//! module writes; text a module sets is refused when it holds a property separator, and obsync's
//! own properties are made separator-free (`message_text.rs`), so nothing can inject or override a
//! property; a message larger than `target.max_message_bytes` is an error naming the row, never
//! sent and never dropped.

use std::sync::Arc;

use obsync_sdk::{FormatOutput, RowChange};
use rocketmq_model::common::message::message_single::Message;

use super::error::SinkError;
use super::message_text;
use super::queue::queue_for_key;
use super::send::{Outgoing, batch_entry_bytes};
use crate::config::PartitionRule;
use crate::metrics::kind_index;
use crate::route::RowRoute;

/// The project settings that shape its messages.
#[derive(Debug, Clone)]
pub struct MessageSettings {
    /// The tag of messages whose module sets none (`{target.tag}_tag`).
    pub default_tag: String,
    /// How the queue is chosen.
    pub partition_rule: PartitionRule,
    /// `target.max_message_bytes`.
    pub max_message_bytes: usize,
}

/// One message from its parts; `properties` are set in order.
pub fn message(
    topic: &str,
    tag: &str,
    key: &str,
    body: Vec<u8>,
    properties: impl IntoIterator<Item = (String, String)>,
) -> Result<Message, SinkError> {
    let malformed = |detail: String| SinkError::Malformed {
        topic: topic.to_string(),
        detail,
    };
    let mut builder = Message::builder()
        .topic(topic)
        .tags(tag)
        .key(key)
        .body(body);
    for (k, v) in properties {
        builder = builder
            .raw_property(k, v)
            .map_err(|e| malformed(format!("bad message property: {e}")))?;
    }
    builder.build().map_err(|e| malformed(e.to_string()))
}

/// Builds the messages of one formatted batch: `rows[i]` and `routes[i]` describe the row a
/// message names; `queue_count` gives a topic's queue count (1 when unknown).
pub fn messages(
    output: FormatOutput,
    rows: &[RowChange],
    routes: &[RowRoute],
    queue_count: impl Fn(&str) -> usize,
    settings: &MessageSettings,
) -> Result<Vec<Outgoing>, SinkError> {
    let mut outgoing = Vec::with_capacity(output.messages.len());
    for m in output.messages {
        let (Some(row), Some(route)) = (rows.get(m.row as usize), routes.get(m.row as usize))
        else {
            return Err(SinkError::BadMessage {
                topic: String::new(),
                row: m.row,
                detail: format!(
                    "the module names row {} of a batch of {}",
                    m.row,
                    rows.len()
                ),
            });
        };
        let key = match settings.partition_rule {
            PartitionRule::Table => format!("{}.{}", route.database, route.table),
            PartitionRule::Hash => route.key.clone(),
        };
        let queue = queue_for_key(&key, queue_count(&route.topic).max(1));
        let bytes = m.body.len();
        let refused = |detail: String| SinkError::BadMessage {
            topic: route.topic.to_string(),
            row: m.row,
            detail,
        };
        for (what, text) in [("tag", &m.tags), ("key", &m.key)] {
            if let Some(t) = text {
                message_text::check_module_text(what, t).map_err(refused)?;
            }
        }
        for (k, v) in &m.properties {
            message_text::check_module_property(k, v).map_err(refused)?;
        }
        let own = |text: &str| message_text::separator_free(text).into_owned();
        let props = [
            ("obsync_db".to_string(), own(&route.database)),
            ("obsync_table".to_string(), own(&route.table)),
            ("obsync_type".to_string(), row.kind.as_str().to_string()),
            ("obsync_position".to_string(), own(&row.meta.position)),
            ("obsync_dedupe_key".to_string(), own(&row.meta.dedupe_key)),
        ];
        let derived = route
            .derived
            .map(|why| ("obsync_from_update".to_string(), why.to_string()));
        let message = message(
            &route.topic,
            m.tags.as_deref().unwrap_or(&settings.default_tag),
            m.key.as_deref().unwrap_or(&row.meta.dedupe_key),
            m.body,
            props.into_iter().chain(derived).chain(m.properties),
        )?;
        // Measured as the broker measures it (body, properties and headers in a batch).
        let wire_bytes = batch_entry_bytes(&message);
        if wire_bytes > settings.max_message_bytes {
            return Err(SinkError::TooLarge {
                topic: route.topic.to_string(),
                bytes: wire_bytes,
                detail: format!(
                    "the message of `{}`.`{}` key {key:?} at {} is larger than target.max_message_bytes ({}); raise it together with the broker's maxMessageSize, or leave the column out (objects.columns)",
                    route.database, route.table, row.meta.position, settings.max_message_bytes
                ),
            });
        }
        outgoing.push(Outgoing {
            topic: Arc::clone(&route.topic),
            queue,
            bytes,
            wire_bytes,
            kind: kind_index(row.kind),
            message,
        });
    }
    Ok(outgoing)
}

#[cfg(test)]
mod tests {
    use obsync_sdk::{ChangeKind, ChangeMeta, OutMessage};

    use super::*;

    fn row(dedupe_key: &str) -> RowChange {
        RowChange {
            table: 0,
            kind: ChangeKind::Insert,
            before: None,
            after: Some(Vec::new()),
            meta: ChangeMeta {
                timestamp: 1,
                transaction_id: "t".into(),
                position: "mysql-bin.000001:400".into(),
                index_in_transaction: 0,
                dedupe_key: dedupe_key.into(),
                server_id: 1,
                sequence_in_transaction: 0,
                stream_sequence: 0,
            },
        }
    }

    fn route(key: &str) -> RowRoute {
        RowRoute {
            topic: Arc::from("orders"),
            key: key.into(),
            database: Arc::from("shop"),
            table: Arc::from("orders"),
            derived: None,
        }
    }

    fn out(row: u32) -> OutMessage {
        OutMessage {
            row,
            body: b"{}".to_vec(),
            key: None,
            tags: None,
            properties: Vec::new(),
        }
    }

    fn settings(partition_rule: PartitionRule) -> MessageSettings {
        MessageSettings {
            default_tag: "obsync_tag".into(),
            partition_rule,
            max_message_bytes: 4 << 20,
        }
    }

    fn build(
        messages: Vec<OutMessage>,
        keys: &[&str],
        s: &MessageSettings,
    ) -> Result<Vec<Outgoing>, SinkError> {
        let rows: Vec<RowChange> = keys.iter().map(|k| row(&format!("t#{k}"))).collect();
        let routes: Vec<RowRoute> = keys.iter().map(|k| route(k)).collect();
        super::messages(FormatOutput { messages }, &rows, &routes, |_| 8, s)
    }

    #[test]
    fn the_queue_follows_the_sharding_key_or_the_table() {
        let keys: Vec<String> = (0..64).map(|k| k.to_string()).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let all = |s| build((0..64).map(out).collect(), &keys, &settings(s)).unwrap();
        let by_key = all(PartitionRule::Hash);
        for (o, k) in by_key.iter().zip(&keys) {
            assert_eq!(o.queue, queue_for_key(k, 8));
        }
        assert!(by_key.iter().any(|o| o.queue != by_key[0].queue));
        let by_table = all(PartitionRule::Table);
        assert!(
            by_table
                .iter()
                .all(|o| o.queue == queue_for_key("shop.orders", 8))
        );
    }

    #[test]
    fn obsync_sets_tag_key_and_properties_the_module_leaves_out() {
        let built = build(vec![out(0)], &["7"], &settings(PartitionRule::Hash)).unwrap();
        let m = &built[0].message;
        assert_eq!(m.tags(), Some("obsync_tag"));
        assert_eq!(m.keys(), Some(vec!["t#7".to_string()]));
        assert_eq!(m.property("obsync_db"), Some("shop"));
        assert_eq!(m.property("obsync_type"), Some("INSERT"));
        assert_eq!(m.property("obsync_position"), Some("mysql-bin.000001:400"));
        assert_eq!(m.property("obsync_dedupe_key"), Some("t#7"));
        assert_eq!(built[0].bytes, 2);
    }

    #[test]
    fn module_text_with_a_separator_is_refused_naming_the_row() {
        let mut bad = out(0);
        bad.properties.push(("k".into(), "a\u{1}b".into()));
        let err = build(vec![bad], &["1"], &settings(PartitionRule::Hash)).unwrap_err();
        assert!(
            matches!(&err, SinkError::BadMessage { row: 0, topic, .. } if topic == "orders"),
            "{err:?}"
        );
        let err = build(vec![out(3)], &["1"], &settings(PartitionRule::Hash)).unwrap_err();
        assert!(
            matches!(err, SinkError::BadMessage { row: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_message_the_client_refuses_stops_the_project_instead_of_retrying_forever() {
        let err = message(
            "orders",
            "t",
            "k",
            Vec::new(),
            [("KEYS".into(), "x".into())],
        )
        .unwrap_err();
        assert!(
            matches!(&err, SinkError::Malformed { topic, .. } if topic == "orders"),
            "{err:?}"
        );
        assert_eq!(err.policy(), crate::policy::ErrorPolicy::Stop);
    }

    #[test]
    fn a_message_over_the_limit_is_an_error_naming_the_row() {
        let mut s = settings(PartitionRule::Hash);
        s.max_message_bytes = 100;
        let mut big = out(0);
        big.body = vec![b'x'; 200];
        let err = build(vec![big], &["1"], &s).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SinkError::TooLarge { .. }), "{text}");
        assert!(
            text.contains("`shop`.`orders`") && text.contains("mysql-bin.000001:400"),
            "{text}"
        );
    }
}
