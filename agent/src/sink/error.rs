//! Sink errors, classified by what the project should do next.

use rocketmq_client_rust::{ClientError, MQClientException};

use crate::policy::ErrorPolicy;

/// Why a send or a topic check failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// The topic does not exist (obsync never creates topics).
    #[error(
        "topic {topic:?} does not exist on the name server {name_server}; create it first (obsync never creates topics)"
    )]
    MissingTopic {
        /// The topic.
        topic: String,
        /// The name server list asked.
        name_server: String,
    },
    /// The broker refused a message because it is too large.
    #[error(
        "message of {bytes} bytes for topic {topic:?} is larger than the broker accepts: {detail}"
    )]
    TooLarge {
        /// The topic.
        topic: String,
        /// The message size.
        bytes: usize,
        /// The broker's or client's words.
        detail: String,
    },
    /// The broker denied access (ACL).
    #[error(
        "the broker denied access to topic {topic:?} (check access_key / secret_key): {detail}"
    )]
    Denied {
        /// The topic.
        topic: String,
        /// The broker's words.
        detail: String,
    },
    /// A transient failure: timeout, connection, broker busy. Retrying may succeed.
    #[error("sending to topic {topic:?} failed, will retry: {detail}")]
    Transient {
        /// The topic.
        topic: String,
        /// The cause.
        detail: String,
    },
    /// The broker answered with a status other than SEND_OK: the batch is not known to be stored
    /// as durably as the broker promises (flush or replica timed out, no replica). Sent again.
    #[error(
        "the broker answered {status} for a batch to topic {topic:?} queue {queue} (not SEND_OK: not acknowledged, sent again from the checkpoint)"
    )]
    NotDurable {
        /// The topic.
        topic: String,
        /// The queue id.
        queue: i32,
        /// The broker's send status.
        status: String,
    },
    /// A module produced a message the protocol cannot carry as meant (see `message_text`).
    #[error("the format module's message for topic {topic:?} (row {row}) is refused: {detail}")]
    BadMessage {
        /// The topic.
        topic: String,
        /// The row's index in its batch.
        row: u32,
        /// What is wrong.
        detail: String,
    },
    /// The client refused to build a message from its parts: the same parts fail again.
    #[error("topic {topic:?}: cannot build a message: {detail}")]
    Malformed {
        /// The topic.
        topic: String,
        /// The client's words.
        detail: String,
    },
    /// The client runtime or producer could not start.
    #[error("rocketmq client: {0}")]
    Client(String),
}

impl SinkError {
    /// The same send may succeed later after a transient refusal, a store that did not make it
    /// durable, or a client that could not start; a message obsync built wrong, one too large,
    /// an ACL denial or a missing topic stay so until someone changes something.
    pub fn policy(&self) -> ErrorPolicy {
        match self {
            SinkError::Transient { .. } | SinkError::NotDurable { .. } | SinkError::Client(_) => {
                ErrorPolicy::Retry
            }
            _ => ErrorPolicy::Stop,
        }
    }

    /// Classifies a client error for a send to `topic` of `bytes` bytes.
    pub fn classify(topic: &str, bytes: usize, e: &ClientError) -> SinkError {
        let code = e.descriptor().code().as_str().to_string();
        let detail = match e.source_ref::<MQClientException>() {
            Some(x) => format!(
                "{e} ({}: {})",
                x.response_code(),
                x.error_message().map(|m| m.to_string()).unwrap_or_default()
            ),
            None => match e.broker_response_code() {
                Some(code) => format!("{e} (broker response code {code}{})", reason(code, bytes)),
                None => e.to_string(),
            },
        };
        let topic = topic.to_string();
        match code.as_str() {
            // The broker's size refusal is retried: raising its maxMessageSize at runtime lets the
            // next attempt through (obsync's own limit and the client's stop the project).
            "broker.operation.failed" => match e.broker_response_code() {
                Some(16) => SinkError::Denied { topic, detail },
                Some(17) => SinkError::MissingTopic {
                    topic,
                    name_server: String::from("(broker)"),
                },
                _ => SinkError::Transient { topic, detail },
            },
            "core.argument.invalid" => match e
                .source_ref::<MQClientException>()
                .map(|x| x.response_code())
            {
                Some(13) => SinkError::TooLarge {
                    topic,
                    bytes,
                    detail,
                },
                _ => SinkError::Transient { topic, detail },
            },
            _ => SinkError::Transient { topic, detail },
        }
    }
}

/// What a broker's answer means, for the codes whose remark (the broker's own words) the
/// RocketMQ client does not pass on (it keeps only the code).
fn reason(code: i32, bytes: usize) -> String {
    match code {
        // 5.x refuses a batch request over its maxMessageSize this way (a store exception, not
        // MESSAGE_ILLEGAL as 4.9 does); 4.9's plain ACL refuses a key this way too.
        1 => format!(
            ": SYSTEM_ERROR for a request of {bytes} bytes; RocketMQ 5 answers so to a batch larger than its maxMessageSize (raise it, or keep target.max_message_bytes at most it), RocketMQ 4.9 to a wrong ACL key"
        ),
        13 => format!(
            ": MESSAGE_ILLEGAL for a request of {bytes} bytes, larger than the broker's maxMessageSize (RocketMQ 4.9; raise it, or keep target.max_message_bytes at most it)"
        ),
        14 => String::from(
            ": SERVICE_NOT_AVAILABLE, the broker takes no writes now: its disk is full (above its diskSpaceWarningLevelRatio), it is a slave, or it is shutting down",
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: i32) -> SinkError {
        let e = ClientError::broker_operation_failed("SEND_MESSAGE", code, "remark not kept");
        SinkError::classify("t", 7 << 20, &e)
    }

    #[test]
    fn a_full_disk_is_retried_and_named() {
        let e = refused(14);
        assert!(e.policy() == ErrorPolicy::Retry);
        assert!(e.to_string().contains("its disk is full"), "{e}");
    }

    #[test]
    fn a_system_error_names_the_request_size_and_the_broker_s_limit() {
        let e = refused(1);
        assert!(e.policy() == ErrorPolicy::Retry);
        let text = e.to_string();
        assert!(
            text.contains("7340032 bytes") && text.contains("maxMessageSize"),
            "{text}"
        );
    }

    #[test]
    fn the_broker_s_size_refusal_is_retried_and_names_its_limit() {
        let e = refused(13);
        assert!(e.policy() == ErrorPolicy::Retry);
        assert!(e.to_string().contains("maxMessageSize"), "{e}");
    }
}
