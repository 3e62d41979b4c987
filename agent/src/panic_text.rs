//! The message of a caught panic, for errors that report one instead of losing a task.
//!
//! Invariant: never panics itself; a payload that is not text reads as "no message".

use std::any::Any;

/// The text a panic was raised with (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("no message")
}
