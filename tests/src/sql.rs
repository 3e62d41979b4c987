//! The admin connection tests write data with.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder};

/// Connects to the private MariaDB as the admin user.
pub async fn admin() -> anyhow::Result<Conn> {
    admin_on(crate::mysql_port()).await
}

/// An admin connection to the private MariaDB on `port`.
pub async fn admin_on(port: u16) -> anyhow::Result<Conn> {
    let (user, pass) = crate::admin_user();
    let opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(port)
        .user(Some(user))
        .pass(Some(pass))
        .prefer_socket(false);
    let mut conn = Conn::new(opts).await?;
    conn.query_drop("SET NAMES utf8mb4").await?;
    Ok(conn)
}

/// What a session on the second MariaDB (global STATEMENT format, MINIMAL row metadata) runs to
/// write ROW events with full images, as users' writers do there.
pub const ROW_SESSION: [&str; 2] = [
    "SET SESSION binlog_format = 'ROW'",
    "SET SESSION binlog_row_image = 'FULL'",
];

/// An admin connection to the second MariaDB writing ROW events ([`ROW_SESSION`]).
pub async fn second_row_session() -> anyhow::Result<Conn> {
    let mut conn = admin_on(crate::mysql2_port()).await?;
    exec_all(&mut conn, &ROW_SESSION).await?;
    Ok(conn)
}

/// Runs several statements in order.
pub async fn exec_all(conn: &mut Conn, statements: &[&str]) -> anyhow::Result<()> {
    for s in statements {
        conn.query_drop(*s)
            .await
            .map_err(|e| anyhow::anyhow!("{s}: {e}"))?;
    }
    Ok(())
}

/// Where the server's binlog ends now: `SHOW MASTER STATUS`'s file and position.
pub async fn binlog_end(conn: &mut Conn) -> anyhow::Result<(String, u64)> {
    let row: mysql_async::Row = conn
        .query_first("SHOW MASTER STATUS")
        .await?
        .ok_or_else(|| anyhow::anyhow!("the server has no binlog"))?;
    Ok((
        row.get_opt(0).and_then(Result::ok).unwrap_or_default(),
        row.get_opt(1).and_then(Result::ok).unwrap_or_default(),
    ))
}
