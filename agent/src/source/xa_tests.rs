//! Unit tests of the XA statement reader and the prepared-branch store.

use super::*;

fn xid(g: &str, b: &str, f: i64) -> Xid {
    Xid {
        format_id: f,
        gtrid: g.as_bytes().to_vec(),
        bqual: b.as_bytes().to_vec(),
    }
}

#[test]
fn reads_the_statements_as_users_write_and_servers_log_them() {
    assert_eq!(
        parse("XA START 'order-1'"),
        Some(XaStatement::Start(xid("order-1", "", 1)))
    );
    // Servers log the xid in hex, with its branch qualifier and format id.
    assert_eq!(
        parse("XA COMMIT X'6f726465722d31',X'',1"),
        Some(XaStatement::Commit(xid("order-1", "", 1)))
    );
    assert_eq!(
        parse("xa rollback 'g''1', 'b', 7"),
        Some(XaStatement::Rollback(xid("g'1", "b", 7)))
    );
    assert_eq!(
        parse("XA BEGIN 0x6131 JOIN"),
        Some(XaStatement::Start(xid("a1", "", 1)))
    );
    assert_eq!(
        parse("XA PREPARE 'a\\'b'"),
        Some(XaStatement::Prepare(xid("a'b", "", 1)))
    );
    assert_eq!(
        parse("XA COMMIT 'x' ONE PHASE"),
        Some(XaStatement::Commit(xid("x", "", 1)))
    );
    assert_eq!(parse("XA END X'78',X'',1"), Some(XaStatement::Other));
    assert_eq!(parse("XA RECOVER"), Some(XaStatement::Other));
    assert_eq!(parse("XA"), Some(XaStatement::Other));
    for other in ["COMMIT", "XACT", "INSERT INTO xa VALUES (1)", ""] {
        assert_eq!(parse(other), None, "{other}");
    }
    // Damaged literals are no xid, never a panic.
    for bad in [
        "XA COMMIT X'6",
        "XA COMMIT 'open",
        "XA COMMIT X'zz'",
        "XA COMMIT 'a',",
    ] {
        assert_eq!(parse(bad), Some(XaStatement::Other), "{bad}");
    }
    assert_eq!(
        xid("order-1", "b", 1).to_string(),
        "X'6f726465722d31',X'62',1"
    );
}

#[test]
fn reads_the_prepare_event() {
    let mut data = vec![0u8];
    data.extend_from_slice(&1i32.to_le_bytes());
    data.extend_from_slice(&2i32.to_le_bytes());
    data.extend_from_slice(&1i32.to_le_bytes());
    data.extend_from_slice(b"g1b");
    assert_eq!(prepare_event(&data), Some((false, xid("g1", "b", 1))));
    data[0] = 1;
    assert_eq!(prepare_event(&data), Some((true, xid("g1", "b", 1))));
    assert_eq!(prepare_event(&data[..14]), None);
    assert_eq!(prepare_event(&[]), None);
}

fn chunk(id: &str, position: &str) -> RowsChunk {
    let table = Arc::new(SourceTable {
        database: "d".into(),
        table: "t".into(),
        columns: Vec::new(),
        primary_key: Vec::new(),
    });
    RowsChunk {
        table,
        kind: ChangeKind::Insert,
        rows: vec![(None, Some(vec![obsync_sdk::Value::Text(id.into())]))],
        timestamp: 7,
        transaction_id: Arc::from(id),
        first_index: 0,
        position: Arc::from(position),
        server_id: 1,
        event_bytes: 10,
    }
}

fn ids(chunks: Option<Vec<RowsChunk>>) -> Vec<String> {
    chunks
        .unwrap_or_default()
        .iter()
        .map(|c| c.transaction_id.to_string())
        .collect()
}

#[test]
fn a_stored_branch_survives_a_restart_until_a_stream_starts_after_its_outcome() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = db.open_tree("xa/p").unwrap();
    let x = xid("g", "", 1);
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 4)).unwrap();
    b.prepare(&x, ("b.000001", 100), vec![chunk("one", "b.000001:90")])
        .unwrap();
    assert_eq!(
        b.complete(&xid("other", "", 1), ("b.000001", 150))
            .unwrap()
            .map(|v| v.len()),
        None
    );
    // A restart before the outcome: the branch is found again.
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 120)).unwrap();
    assert_eq!(ids(b.complete(&x, ("b.000001", 200)).unwrap()), ["one"]);
    // A second outcome for the same xid in one stream: nothing left.
    assert_eq!(
        b.complete(&x, ("b.000001", 300)).unwrap().map(|v| v.len()),
        None
    );
    // Restarted before the outcome (checkpoint at 150): delivered again.
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 150)).unwrap();
    assert_eq!(ids(b.complete(&x, ("b.000001", 200)).unwrap()), ["one"]);
    // Restarted after the outcome: gone for good.
    let mut b = XaBranches::open(tree.clone(), ("b.000002", 4)).unwrap();
    assert_eq!(
        b.complete(&x, ("b.000002", 50)).unwrap().map(|v| v.len()),
        None
    );
    assert_eq!(tree.len(), 0);
}

#[test]
fn a_reused_xid_completes_its_branches_in_prepare_order() {
    let db = sled::Config::new().temporary(true).open().unwrap();
    let tree = db.open_tree("xa/p").unwrap();
    let x = xid("same", "", 1);
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 4)).unwrap();
    b.prepare(&x, ("b.000001", 100), vec![chunk("first", "b.000001:90")])
        .unwrap();
    assert_eq!(ids(b.complete(&x, ("b.000001", 200)).unwrap()), ["first"]);
    b.prepare(&x, ("b.000001", 300), vec![chunk("second", "b.000001:290")])
        .unwrap();
    // A restart between the two: the stream reads the first outcome and the second PREPARE
    // again; each outcome takes its own branch.
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 150)).unwrap();
    assert_eq!(ids(b.complete(&x, ("b.000001", 200)).unwrap()), ["first"]);
    b.prepare(&x, ("b.000001", 300), vec![chunk("second", "b.000001:290")])
        .unwrap();
    assert_eq!(ids(b.complete(&x, ("b.000001", 400)).unwrap()), ["second"]);
    // Restarted between the first outcome and the second PREPARE: the first is gone, the
    // second (prepared after the start) is dropped to be prepared again, not kept twice.
    let mut b = XaBranches::open(tree.clone(), ("b.000001", 250)).unwrap();
    assert_eq!(
        b.complete(&x, ("b.000001", 400)).unwrap().map(|v| v.len()),
        None
    );
    assert_eq!(tree.len(), 0);
}

#[test]
fn in_memory_branches_complete_once() {
    let x = xid("m", "", 1);
    let mut b = XaBranches::in_memory();
    b.prepare(&x, ("f", 10), vec![chunk("a", "f:5"), chunk("b", "f:8")])
        .unwrap();
    assert_eq!(ids(b.complete(&x, ("f", 20)).unwrap()), ["a", "b"]);
    assert!(b.complete(&x, ("f", 30)).unwrap().is_none());
}
