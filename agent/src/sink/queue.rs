//! Queue selection: which queue of a topic a row goes to.
//!
//! The hash rule (OMS "Hash"): the sharding values are rendered as text (see
//! [`obsync_sdk::render::text`]), joined with U+0001 into a key string, and the queue is
//! `abs(javaStringHashCode(key) % queueCount)`, exactly what Java's `SelectMessageQueueByHash`
//! computes for that key. Equal keys always land on the same queue, so each key stays in commit
//! order. The table rule hashes `db.table` the same way.

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for unit in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    h
}

/// Returns the queue index for a key, as `SelectMessageQueueByHash` does; `queues` must be > 0.
pub fn queue_for_key(key: &str, queues: usize) -> usize {
    if queues == 0 {
        return 0;
    }
    let value = java_string_hash(key) % (queues as i32);
    value.unsigned_abs() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_java_hash_code() {
        // Expected values follow the JDK definition (UTF-16 code units, wrapping i32); "polygenelubricants"
        // is the well-known string whose Java hashCode is Integer.MIN_VALUE.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99162322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash("中文"), 646394);
        assert_eq!(java_string_hash("😀"), 1772899);
    }

    #[test]
    fn selects_like_select_message_queue_by_hash() {
        assert_eq!(queue_for_key("a", 8), 1);
        // i32::MIN % 8 == 0 in Java.
        assert_eq!(queue_for_key("polygenelubricants", 8), 0);
        // a negative hash: abs of the Java remainder.
        let h = java_string_hash("negative-key-7");
        let expect = (h % 8).unsigned_abs() as usize;
        assert_eq!(queue_for_key("negative-key-7", 8), expect);
        for q in 1..20 {
            assert!(queue_for_key("x", q) < q);
        }
    }
}
