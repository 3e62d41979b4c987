//! The SQL side of the schema path against a real OceanBase kernel: seekdb (OceanBase 4.3.5
//! kernel, MySQL 5.7 mode, from the PyPI package `pylibseekdb`, started by `scripts/seekdb.sh`).
//! seekdb has no binlog, so only what obsync asks over SQL is exercised here: the
//! `information_schema` descriptions used when table maps carry no column names (as on the
//! OceanBase binlog service), `SHOW CREATE TABLE` text with OceanBase's extra options through
//! the DDL parser, unique keys, filter columns, flavour detection, and a clear refusal to
//! replicate from a server that cannot.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;
use obsync::checkpoint::Position;
use obsync::schema::catalog::{self, CatalogTable};
use obsync::schema::ddl::{self, Ddl};
use obsync::source::{BinlogReader, Flavor, SourceOptions, SourceState};
use obsync_tests::{init_logs, unique, unique_server_id};

fn seekdb_port() -> u16 {
    std::env::var("OBSYNC_SEEKDB_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(12881)
}

fn source_options() -> SourceOptions {
    SourceOptions {
        host: "127.0.0.1".into(),
        port: seekdb_port(),
        user: "root".into(),
        password: String::new(),
        server_id: unique_server_id(),
        connect_timeout: std::time::Duration::from_secs(10),
        heartbeat: std::time::Duration::from_secs(1),
        owner: "oceanbase_sql".into(),
    }
}

async fn connect() -> anyhow::Result<Conn> {
    Ok(source_options().connect().await?)
}

/// Every type seekdb accepts (it knows only the utf8mb4 and binary character sets), with
/// non-ASCII table, column and key names, a generated column and a two-column unique key.
const ALL_TYPES: &str = "CREATE TABLE `全部类型` (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    c_tinyint TINYINT, c_tinyint_u TINYINT UNSIGNED,
    c_smallint SMALLINT, c_smallint_u SMALLINT UNSIGNED,
    c_mediumint MEDIUMINT, c_mediumint_u MEDIUMINT UNSIGNED,
    c_int INT NOT NULL DEFAULT 0, c_int_u INT UNSIGNED,
    c_bigint BIGINT, c_decimal DECIMAL(65,30), c_float FLOAT, c_double DOUBLE, c_bit BIT(5),
    c_char CHAR(10), `名前` VARCHAR(64) NOT NULL, c_text TEXT, c_binary BINARY(4),
    c_varbinary VARBINARY(16), c_blob BLOB, c_date DATE, c_time TIME(3), c_datetime DATETIME(6),
    c_timestamp TIMESTAMP(6) NULL DEFAULT CURRENT_TIMESTAMP(6), c_year YEAR,
    c_enum ENUM('a','b','c d'), c_set SET('x','y','z'), c_json JSON,
    c_gen INT GENERATED ALWAYS AS (c_int + 1) VIRTUAL,
    c_bin_coll VARCHAR(10) COLLATE utf8mb4_bin,
    PRIMARY KEY (id),
    UNIQUE KEY `唯一` (`名前`, c_int)
) COMMENT 'all types'";

async fn show_create(conn: &mut Conn, db: &str, table: &str) -> anyhow::Result<String> {
    let row: Option<(String, String)> = conn
        .query_first(format!("SHOW CREATE TABLE `{db}`.`{table}`"))
        .await?;
    Ok(row.map(|r| r.1).unwrap_or_default())
}

/// The DDL parser's view of a `CREATE TABLE`. A JSON column's collation is not compared: MySQL
/// and OceanBase send JSON as binary documents (no collation), MariaDB's JSON is LONGTEXT in
/// utf8mb4, which the parser assumes; decoding uses the binlog type, not this number.
fn parsed(sql: &str, db: &str, table: &str) -> anyhow::Result<CatalogTable> {
    match ddl::parse(sql, db) {
        Ddl::Create(name, mut t) => {
            for c in t.columns.iter_mut().filter(|c| c.data_type == "json") {
                c.collation_id = 0;
            }
            anyhow::ensure!(
                name == (db.to_string(), table.to_string()),
                "parsed the name {name:?}"
            );
            Ok(t)
        }
        other => anyhow::bail!("not parsed as CREATE TABLE: {other:?}\n{sql}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_and_show_create_table_agree_on_a_real_oceanbase_kernel() -> anyhow::Result<()> {
    init_logs();
    let db = unique("ob_sql");
    let mut conn = connect().await?;
    conn.query_drop(format!("CREATE DATABASE `{db}`")).await?;
    conn.query_drop(format!("USE `{db}`")).await?;
    conn.query_drop(ALL_TYPES).await?;
    conn.query_drop("CREATE TABLE `无主键` (a INT NOT NULL, b VARCHAR(8) NOT NULL, c INT, UNIQUE KEY uc (c), UNIQUE KEY `ub` (b, a))")
        .await?;

    // information_schema, as the reader describes a table whose table map has no names.
    let described = catalog::table_schema(&mut conn, &db, "全部类型")
        .await?
        .expect("the table exists");
    let names: Vec<&str> = described.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 30, "{names:?}");
    assert_eq!(names[15], "名前");
    assert_eq!(described.primary_key, vec![0]);
    let col = |name: &str| {
        described
            .columns
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    assert!(col("id").unsigned() && col("c_int_u").unsigned() && !col("c_int").unsigned());
    assert_eq!(col("c_enum").members(), vec!["a", "b", "c d"]);
    assert_eq!(col("c_set").members(), vec!["x", "y", "z"]);
    // utf8mb4_general_ci, utf8mb4_bin, binary strings, and non-strings.
    assert_eq!(col("名前").collation_id, 45);
    assert_eq!(col("c_bin_coll").collation_id, 46);
    assert_eq!(col("c_blob").collation_id, 63);
    assert_eq!(col("c_int").collation_id, 0);
    assert!(!col("名前").nullable && col("c_text").nullable);
    assert_eq!(
        catalog::table_schema(&mut conn, &db, "missing").await?,
        None
    );
    // OceanBase prints quotes inside ENUM/SET members unescaped in information_schema.
    conn.query_drop(r"CREATE TABLE `引号` (e ENUM('a','b''q','c\\d','e,f'), s SET('x''y'))")
        .await?;
    let quoted = catalog::table_schema(&mut conn, &db, "引号")
        .await?
        .expect("exists");
    assert_eq!(quoted.columns[0].members(), vec!["a", "b'q", r"c\d", "e,f"]);
    assert_eq!(quoted.columns[1].members(), vec!["x'y"]);

    // SHOW CREATE TABLE, with OceanBase's own options and in compatible mode, parsed by the DDL
    // follower, gives the same description as information_schema.
    let native = show_create(&mut conn, &db, "全部类型").await?;
    assert!(native.contains("ORGANIZATION INDEX"), "{native}");
    conn.query_drop("SET SESSION _show_ddl_in_compat_mode = 1")
        .await?;
    let compat = show_create(&mut conn, &db, "全部类型").await?;
    assert!(!compat.contains("ORGANIZATION INDEX"), "{compat}");
    for sql in [&native, &compat] {
        assert_eq!(parsed(sql, &db, "全部类型")?, described, "{sql}");
    }
    let keyless = catalog::table_schema(&mut conn, &db, "无主键")
        .await?
        .expect("exists");
    let sql = show_create(&mut conn, &db, "无主键").await?;
    assert_eq!(parsed(&sql, &db, "无主键")?, keyless, "{sql}");

    // The first non-null unique key shards a table without a primary key; filter columns.
    let keys = catalog::unique_keys(&mut conn, std::slice::from_ref(&db)).await?;
    assert_eq!(
        keys.get(&(db.clone(), "无主键".to_string())),
        Some(&vec!["b".to_string(), "a".to_string()]),
        "{keys:?}"
    );
    let filter = catalog::column_facts(&mut conn, &db, "全部类型")
        .await?
        .expect("exists");
    assert_eq!(filter.len(), 30);
    conn.query_drop(format!("DROP DATABASE `{db}`")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_binlog_is_detected_and_refused_clearly() -> anyhow::Result<()> {
    init_logs();
    let opts = source_options();
    let mut conn = opts.connect().await?;
    assert_eq!(opts.flavor(&mut conn).await?, Flavor::OceanBase);
    drop(conn);
    // seekdb claims log_bin=ON, but has no binlog: the start position cannot be read...
    let now = BinlogReader::start(opts.clone(), None, SourceState::temporary()?, &[]).await;
    let err = now.err().expect("no binlog position on seekdb").to_string();
    assert!(err.contains("127.0.0.1"), "{err}");
    // ...and a given position is refused by the server (COM_REGISTER_SLAVE / BINLOG_DUMP).
    let at = Position {
        file: "mysql-bin.000001".into(),
        offset: 4,
        gtid: None,
        timestamp: 0,
        sequence: 0,
    };
    let err = BinlogReader::start(opts, Some(at), SourceState::temporary()?, &[])
        .await
        .err()
        .expect("seekdb cannot stream a binlog")
        .to_string();
    assert!(err.contains("Not supported"), "{err}");
    Ok(())
}
