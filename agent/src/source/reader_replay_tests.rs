//! The live reader's stream path over recorded MySQL 8 binlogs: no MySQL 8 server runs here, so
//! a replay server speaks just enough of the replication protocol (handshake, OK to the
//! replica's set-up commands, then the file's events as the dump stream, then EOF) for
//! `mysql_async`'s own [`BinlogStream`] to read a recorded file exactly as it reads a server.
//! What this proves: whatever that library does with the events (it re-emits the inner events
//! of a compressed transaction), the reader hands each row over once, at real positions.

use std::time::Duration;

use mysql_async::{BinlogStreamRequest, Conn, OptsBuilder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::source::SourceError;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mysql-binlog");

async fn write_packet(s: &mut TcpStream, seq: u8, body: &[u8]) -> std::io::Result<()> {
    let len = body.len() as u32;
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&len.to_le_bytes()[..3]);
    out.push(seq);
    out.extend_from_slice(body);
    s.write_all(&out).await
}

async fn read_packet(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    Ok(body)
}

/// A protocol-10 handshake offering `mysql_native_password`.
fn handshake() -> Vec<u8> {
    const CAPS: u32 = 0x0000_0001 // long password
        | 0x0000_0004 // long flag
        | 0x0000_0200 // protocol 4.1
        | 0x0000_2000 // transactions
        | 0x0000_8000 // secure connection
        | 0x0002_0000 // multi results
        | 0x0008_0000 // plugin auth
        | 0x0100_0000; // deprecate EOF
    let mut p = vec![10u8];
    p.extend_from_slice(b"8.0.36-replay\0");
    p.extend_from_slice(&7u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh\0");
    p.extend_from_slice(&(CAPS as u16).to_le_bytes());
    p.push(0x21);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((CAPS >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0u8; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    p
}

const OK: [u8; 7] = [0, 0, 0, 2, 0, 0, 0];

/// Serves `binlog` (a binlog file's bytes) to one replica connection.
async fn replay(listener: TcpListener, binlog: Vec<u8>) -> std::io::Result<()> {
    let (mut s, _) = listener.accept().await?;
    write_packet(&mut s, 0, &handshake()).await?;
    read_packet(&mut s).await?;
    write_packet(&mut s, 2, &OK).await?;
    loop {
        let cmd = read_packet(&mut s).await?;
        match cmd.first() {
            // COM_BINLOG_DUMP: every event of the file, then the end of the stream.
            Some(0x12) => {
                let mut seq = 1u8;
                let mut rest = &binlog[4..];
                while rest.len() >= 19 {
                    let size = u32::from_le_bytes([rest[9], rest[10], rest[11], rest[12]]) as usize;
                    let mut body = vec![0u8];
                    body.extend_from_slice(&rest[..size]);
                    write_packet(&mut s, seq, &body).await?;
                    seq = seq.wrapping_add(1);
                    rest = &rest[size..];
                }
                write_packet(&mut s, seq, &[0xfe, 0, 0, 2, 0]).await?;
            }
            Some(0x01) | None => return Ok(()),
            // COM_QUERY (the replica's SET commands), COM_REGISTER_SLAVE: OK.
            Some(_) => write_packet(&mut s, 1, &OK).await?,
        }
    }
}

/// Every event the reader produces for a recorded file, up to the end of its stream.
async fn read_through_the_stream(name: &str) -> Vec<SourceEvent> {
    let binlog = std::fs::read(format!("{FIXTURES}/{name}")).expect("fixture");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let server = tokio::spawn(replay(listener, binlog));
    let conn = Conn::new(
        OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(port)
            .user(Some("replica"))
            .prefer_socket(false)
            .max_allowed_packet(Some(1 << 30))
            .wait_timeout(Some(28_800)),
    )
    .await
    .expect("handshake with the replay server");
    let request = BinlogStreamRequest::new(1)
        .with_filename(name.as_bytes())
        .with_pos(4u64);
    let stream = conn.get_binlog_stream(request).await.expect("stream");
    let start = Position {
        file: name.to_string(),
        offset: 4,
        gtid: None,
        timestamp: 0,
        sequence: 0,
    };
    let db = sled::Config::new().temporary(true).open().expect("sled");
    let history = SchemaHistory::load(db.open_tree("s").expect("tree"), (name, 4)).expect("h");
    let opts = SourceOptions {
        host: "127.0.0.1".into(),
        port,
        user: "replica".into(),
        password: String::new(),
        server_id: 1,
        connect_timeout: Duration::from_secs(5),
        heartbeat: Duration::from_secs(5),
        owner: "replay".into(),
    };
    let mut reader = BinlogReader {
        opts,
        flavor: Flavor::MySql,
        stream,
        read_timeout: Duration::from_secs(30),
        bytes_read: 0,
        catalog_conn: None,
        pending: None,
        catalog_reading: false,
        stream_conn_id: 7,
        decoder: EventDecoder::new(&start, history, false).with_unnamed_columns(),
        copies: LibraryCopies::default(),
    };
    let all = |_: &str, _: &str| true;
    let mut out = Vec::new();
    loop {
        match reader.next(&all).await {
            Ok(ev) => out.push(ev),
            Err(SourceError::Disconnected { message, .. }) => {
                assert!(message.contains("closed the stream"), "{message}");
                break;
            }
            Err(e) => panic!("{name}: {e}"),
        }
    }
    // Closing the stream ends the server's connection.
    drop(reader);
    server.await.expect("server task").ok();
    out
}

#[tokio::test]
async fn a_compressed_transaction_is_handed_over_once_at_real_positions() {
    let read = read_through_the_stream("transaction_compression.000001");
    let events = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("the replayed stream ends");
    let (mut rows, mut chunks, mut commits) = (Vec::new(), 0, Vec::new());
    for ev in &events {
        match ev {
            SourceEvent::Rows(chunk) => {
                chunks += 1;
                for (i, _) in chunk.rows.iter().enumerate() {
                    rows.push(format!(
                        "{}#{}",
                        chunk.transaction_id,
                        chunk.first_index as usize + i
                    ));
                }
                assert!(
                    !chunk.position.ends_with(":0"),
                    "rows at {}",
                    chunk.position
                );
            }
            SourceEvent::Commit(p) => commits.push(p.offset),
            SourceEvent::Heartbeat => {}
        }
    }
    // The fixture's one compressed transaction holds one ROWS event (the file reader path
    // agrees: tests/stream_decoder.rs); each row id (transaction, index) is handed over once.
    assert_eq!(chunks, 1, "row chunks handed over: {rows:?}");
    let mut unique = rows.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        rows.len(),
        "a row handed over twice: {rows:?}"
    );
    assert!(!commits.is_empty(), "the transaction commits");
    assert!(
        commits.iter().all(|&o| o > 4),
        "commit positions: {commits:?}"
    );
}

#[test]
fn a_packet_over_the_limit_is_final_not_a_lost_stream() {
    use mysql_common::proto::codec::error::PacketCodecError;
    let e: mysql_async::Error = PacketCodecError::PacketTooLarge.into();
    assert!(is_packet_too_large(&e), "{e}");
    let other: mysql_async::Error = PacketCodecError::PacketsOutOfSync.into();
    assert!(!is_packet_too_large(&other));
}
