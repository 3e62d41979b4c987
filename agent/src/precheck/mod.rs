//! Precheck: the checks that matter before a project starts (the OMS precheck catalogue, spec §5,
//! narrowed to a MySQL-protocol source and a RocketMQ target), each with pass / warn / fail and a
//! one-line fix. Read-only: nothing is created or changed on either side.

use std::sync::Arc;

use mysql_async::prelude::Queryable;
use rocketmq_client_rust::ClientRuntime;

mod facts;

pub use facts::{Columns, Findings, StartCatalog};

use crate::checkpoint::Position;
use crate::config::{Project, StartAt};
use crate::route::WHOLE_DATABASE;
use crate::sink::RocketMqSink;
use crate::source::{SourceOptions, binlog_files, own_streams, position_at};
use crate::wasm::{WasmEngine, load_spec};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fine.
    Pass,
    /// Works, with a cost or a risk worth knowing.
    Warn,
    /// The project cannot run like this.
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Short name, e.g. `source.binlog_format`.
    pub name: String,
    /// The outcome.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// How to fix it (empty on pass).
    pub fix: String,
}

impl Check {
    /// The check as `obsync check` prints it: `  PASS  name  detail  -> fix`.
    pub fn line(&self) -> String {
        let mark = match self.outcome {
            Outcome::Pass => "PASS",
            Outcome::Warn => "WARN",
            Outcome::Fail => "FAIL",
        };
        let fix = if self.fix.is_empty() {
            String::new()
        } else {
            format!("  -> {}", self.fix)
        };
        format!("  {mark}  {:<36} {}{fix}", self.name, self.detail)
    }
}

fn check(name: &str, outcome: Outcome, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name: name.to_string(),
        outcome,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// Runs every check of one project.
pub async fn run_checks(
    p: &Project,
    engine: &WasmEngine,
    runtime: Arc<ClientRuntime>,
) -> Vec<Check> {
    run_checks_resuming(p, engine, runtime, None).await
}

/// [`run_checks`] for a project that would resume at `checkpoint` (from the agent's
/// `status.json`), so the start check can tell whether that position is still in the binlog.
pub async fn run_checks_resuming(
    p: &Project,
    engine: &WasmEngine,
    runtime: Arc<ClientRuntime>,
    checkpoint: Option<&Position>,
) -> Vec<Check> {
    let (checks, findings) = run_checks_finding(p, engine, runtime, checkpoint).await;
    findings.discard().await;
    checks
}

/// [`run_checks_resuming`], keeping what the checks read for the project's start.
pub async fn run_checks_finding(
    p: &Project,
    engine: &WasmEngine,
    runtime: Arc<ClientRuntime>,
    checkpoint: Option<&Position>,
) -> (Vec<Check>, Findings) {
    let mut out = Vec::new();
    let mut findings = Findings::default();
    source_checks(p, &mut out, &mut findings).await;
    if out
        .iter()
        .any(|c| c.name == "source.reachable" && c.outcome == Outcome::Pass)
    {
        out.push(start_position_check(p, checkpoint).await);
    }
    target_checks(p, runtime, &mut out, &mut findings).await;
    module_checks(p, engine, &mut out, &mut findings);
    (out, findings)
}

async fn source_checks(p: &Project, out: &mut Vec<Check>, findings: &mut Findings) {
    let opts = SourceOptions::from_config(&p.config.source);
    let mut conn = match opts.connect().await {
        Ok(conn) => {
            out.push(check(
                "source.reachable",
                Outcome::Pass,
                format!("connected to {}", opts.addr()),
                "",
            ));
            conn
        }
        Err(e) => {
            out.push(check(
                "source.reachable",
                Outcome::Fail,
                e.to_string(),
                "check source.host, source.port, source.user and source.password",
            ));
            return;
        }
    };
    let var = |name: &'static str| format!("SELECT @@{name}");
    let mut get = async |name: &'static str| -> Option<String> {
        conn.query_first::<Option<String>, _>(var(name))
            .await
            .ok()
            .flatten()
            .flatten()
    };
    let log_bin = get("log_bin").await.unwrap_or_default();
    out.push(if log_bin == "1" || log_bin.eq_ignore_ascii_case("ON") {
        check("source.log_bin", Outcome::Pass, "binary log on", "")
    } else {
        check(
            "source.log_bin",
            Outcome::Fail,
            format!("log_bin = {log_bin:?}"),
            "start the server with log_bin",
        )
    });
    let format = get("binlog_format").await.unwrap_or_default();
    out.push(if format.eq_ignore_ascii_case("ROW") {
        check("source.binlog_format", Outcome::Pass, "ROW", "")
    } else {
        check(
            "source.binlog_format",
            Outcome::Fail,
            format!("binlog_format = {format:?}"),
            "SET GLOBAL binlog_format = 'ROW'",
        )
    });
    let image = get("binlog_row_image").await.unwrap_or_default();
    out.push(if image.eq_ignore_ascii_case("FULL") {
        check("source.binlog_row_image", Outcome::Pass, "FULL", "")
    } else {
        check(
            "source.binlog_row_image",
            Outcome::Fail,
            format!("binlog_row_image = {image:?}"),
            "SET GLOBAL binlog_row_image = 'FULL'",
        )
    });
    let metadata = get("binlog_row_metadata").await.unwrap_or_default();
    out.push(if metadata.eq_ignore_ascii_case("FULL") {
        check("source.binlog_row_metadata", Outcome::Pass, "FULL", "")
    } else {
        check(
            "source.binlog_row_metadata",
            Outcome::Warn,
            format!(
                "binlog_row_metadata = {metadata:?}: row events carry no column names, so they come from information_schema; rows written before a DDL that obsync reads only after it cannot be decoded (the project stops, nothing wrong is sent)"
            ),
            "SET GLOBAL binlog_row_metadata = 'FULL' where the server has it (MariaDB 10.5+, MySQL 8); the OceanBase binlog service and MySQL 5.7 have not",
        )
    });
    let gtid = match get("gtid_mode").await {
        Some(mode) => mode,
        None => get("gtid_strict_mode")
            .await
            .map(|m| format!("MariaDB GTIDs (strict mode {m})"))
            .unwrap_or_default(),
    };
    out.push(if gtid.is_empty() || gtid.eq_ignore_ascii_case("OFF") {
        check(
            "source.gtid",
            Outcome::Warn,
            format!("gtid mode {gtid:?}"),
            "enable GTIDs for transaction ids that survive file rotation",
        )
    } else {
        check("source.gtid", Outcome::Pass, gtid, "")
    });
    let grants: Vec<String> = conn.query("SHOW GRANTS").await.unwrap_or_default();
    let all = grants.join(" ").to_ascii_uppercase();
    let has = |p: &str| all.contains("ALL PRIVILEGES") || all.contains(p);
    let missing: Vec<&str> = [
        (
            "REPLICATION SLAVE",
            has("REPLICATION SLAVE") || has("REPLICATION REPLICA"),
        ),
        (
            "REPLICATION CLIENT",
            has("REPLICATION CLIENT") || has("BINLOG MONITOR"),
        ),
        ("SELECT", has("SELECT")),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(p, _)| p)
    .collect();
    out.push(if missing.is_empty() {
        check(
            "source.privileges",
            Outcome::Pass,
            "REPLICATION SLAVE, REPLICATION CLIENT, SELECT",
            "",
        )
    } else {
        check(
            "source.privileges",
            Outcome::Fail,
            format!("missing {}", missing.join(", ")),
            format!("GRANT {} ON *.* TO the user", missing.join(", ")),
        )
    });
    let addr = SourceOptions::from_config(&p.config.source).addr();
    out.push(server_id_check(&mut conn, &addr, &p.config.name, p.config.source.server_id).await);
    if let Ok(flavor) = opts.flavor(&mut conn).await {
        findings.catalog = StartCatalog::read(&mut conn, flavor, p, &databases(p), Columns::All)
            .await
            .ok();
    }
    for (i, o) in p.config.objects.iter().enumerate() {
        let name = format!("objects[{i}] `{}`.`{}`", o.database, o.table);
        if o.table == WHOLE_DATABASE {
            let n: Option<u64> = conn
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
                    (o.database.as_str(),),
                )
                .await
                .ok()
                .flatten();
            out.push(if n.unwrap_or(0) > 0 {
                check(&name, Outcome::Pass, "database exists", "")
            } else {
                check(
                    &name,
                    Outcome::Fail,
                    "database does not exist",
                    "create it or fix `database`",
                )
            });
            continue;
        }
        let kind: Option<String> = conn
            .exec_first(
                "SELECT TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
                (o.database.as_str(), o.table.as_str()),
            )
            .await
            .ok()
            .flatten();
        let Some(kind) = kind else {
            out.push(check(
                &name,
                Outcome::Fail,
                "table does not exist",
                "create it or fix `database`/`table`",
            ));
            continue;
        };
        if kind != "BASE TABLE" {
            out.push(check(
                &name,
                Outcome::Fail,
                format!("is a {kind}, not a physical table"),
                "sync the base table instead",
            ));
            continue;
        }
        let facts = match findings.catalog.as_ref().map(|c| c.columns[i].clone()) {
            Some(facts) => facts,
            None => crate::schema::catalog::column_facts(&mut conn, &o.database, &o.table)
                .await
                .ok()
                .flatten(),
        };
        let table_columns = facts
            .unwrap_or_default()
            .into_iter()
            .map(crate::filter::FilterColumn::from_catalog)
            .collect::<Vec<_>>();
        if let Some(filter) = p.row_filters.get(i).cloned().flatten() {
            let text = filter.text();
            let bound = filter.bind(&table_columns, p.time_zone.offset_seconds());
            out.push(match bound {
                Ok(_) => check(
                    &format!("{name} row filter"),
                    Outcome::Pass,
                    "fits the table",
                    "",
                ),
                Err(e) => check(
                    &format!("{name} row filter"),
                    Outcome::Fail,
                    format!("{text:?}: {e}"),
                    "fix `where`",
                ),
            });
        }
        let columns: Vec<String> = table_columns.into_iter().map(|c| c.name).collect();
        let unknown: Vec<&String> = o
            .sharding_columns
            .iter()
            .chain(&o.columns)
            .chain(o.column_renames.keys())
            .filter(|c| !columns.contains(c))
            .collect();
        out.push(if unknown.is_empty() {
            check(
                &name,
                Outcome::Pass,
                "physical table with every configured column",
                "",
            )
        } else {
            check(
                &name,
                Outcome::Fail,
                format!("unknown columns {unknown:?}"),
                "fix `sharding_columns`, `columns` or `column_renames`",
            )
        });
    }
    let _ = conn.disconnect().await;
}

/// The source's binlog files, oldest first.
async fn server_binlog_files(opts: &SourceOptions) -> Result<Vec<String>, String> {
    let mut conn = opts.connect().await.map_err(|e| e.to_string())?;
    let files = binlog_files(&mut conn).await.map_err(|e| e.to_string());
    let _ = conn.disconnect().await;
    files
}

/// Where the project would start must still be in the binlog: the checkpoint's file (a purged
/// file would mean lost changes), or the binlog around `start_timestamp`.
async fn start_position_check(p: &Project, checkpoint: Option<&Position>) -> Check {
    let name = "source.start_position";
    let opts = SourceOptions::from_config(&p.config.source);
    if let Some(cp) = checkpoint {
        let files = server_binlog_files(&opts).await;
        return match files {
            Ok(files) if files.contains(&cp.file) => check(
                name,
                Outcome::Pass,
                format!("resumes at {cp}, still in the binlog"),
                "",
            ),
            Ok(files) => check(
                name,
                Outcome::Fail,
                format!(
                    "the checkpoint {cp} is in a purged binlog file (the oldest is {})",
                    files.first().map_or("none", String::as_str)
                ),
                "changes were lost on the source: resynchronize, then remove the checkpoint (start anew)",
            ),
            Err(e) => unlisted_binlogs(name, e),
        };
    }
    match &p.start {
        StartAt::Gtid(g) => check(
            name,
            Outcome::Pass,
            format!(
                "a new project starts after the GTID set {g}; the server refuses it if that history was purged"
            ),
            "",
        ),
        StartAt::FileOffset { file, offset } => {
            let at = format!("{file}:{offset}");
            match server_binlog_files(&opts).await {
                Ok(files) if files.contains(file) => check(
                    name,
                    Outcome::Pass,
                    format!("start_position {at} is in the binlog"),
                    "",
                ),
                Ok(files) => check(
                    name,
                    Outcome::Fail,
                    format!(
                        "start_position {at}: the server has no binlog file {file} (it has {} to {})",
                        files.first().map_or("none", String::as_str),
                        files.last().map_or("none", String::as_str)
                    ),
                    "choose a position in a binlog file the server still has (SHOW BINARY LOGS)",
                ),
                Err(e) => unlisted_binlogs(name, e),
            }
        }
        StartAt::Timestamp(ts) => match position_at(&opts, *ts).await {
            Ok(pos) => check(
                name,
                Outcome::Pass,
                format!("start_timestamp {ts} is at {pos}"),
                "",
            ),
            Err(e) => check(
                name,
                Outcome::Fail,
                e.to_string(),
                "choose a later options.start_timestamp",
            ),
        },
        StartAt::Now => check(
            name,
            Outcome::Pass,
            "a new project starts at the current end of the binlog",
            "",
        ),
    }
}

/// The warning when the binary logs cannot be listed (the start position goes unchecked).
fn unlisted_binlogs(name: &str, e: impl std::fmt::Display) -> Check {
    check(
        name,
        Outcome::Warn,
        format!("cannot list the binary logs: {e}"),
        "grant BINLOG MONITOR / REPLICATION CLIENT",
    )
}

/// The server-id check alone (a new connection), for waiting until a just-stopped stream of the
/// same project has left the source's replica list without running every check again.
pub async fn server_id_recheck(p: &Project) -> Check {
    let opts = SourceOptions::from_config(&p.config.source);
    match opts.connect().await {
        Ok(mut conn) => {
            let c = server_id_check(
                &mut conn,
                &opts.addr(),
                &p.config.name,
                p.config.source.server_id,
            )
            .await;
            let _ = conn.disconnect().await;
            c
        }
        Err(e) => check(
            "source.server_id",
            Outcome::Fail,
            format!("cannot connect to check it: {e}"),
            "make the source reachable",
        ),
    }
}

/// The replica server id must differ from the source's own and from every replica registered
/// with it (a second stream with the same id makes the server drop the first). A registration
/// that is this project's own earlier stream in this agent (just closed, or left by a failed run;
/// see [`crate::source::own_streams`]) is not another replica: that stream is ended and the list
/// read again. The check runs before the project streams, so no current stream of it is hit.
async fn server_id_check(
    conn: &mut mysql_async::Conn,
    addr: &str,
    project: &str,
    id: u32,
) -> Check {
    let name = "source.server_id";
    let own: Option<u32> = conn.query_first("SELECT @@server_id").await.ok().flatten();
    if own == Some(id) {
        return check(
            name,
            Outcome::Fail,
            format!("{id} is the source server's own server_id"),
            "choose another source.server_id",
        );
    }
    let mut hosts = registered_as(conn, id).await;
    if matches!(hosts, Ok(Some(_))) && !own_streams::of(addr, id, project).is_empty() {
        own_streams::end(conn, addr, id, project).await;
        // A killed dump thread leaves the list as it exits: read it again until it did.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            hosts = registered_as(conn, id).await;
            if !matches!(hosts, Ok(Some(_))) || tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    match hosts {
        Ok(taken) => match taken {
            Some(host) => check(
                name,
                Outcome::Fail,
                format!(
                    "{id} is in use by another replica ({host:?}); the server would drop one of the two streams"
                ),
                "give every replica (and every obsync project on this source) its own source.server_id",
            ),
            None => check(
                name,
                Outcome::Pass,
                format!("{id} is not used by another replica"),
                "",
            ),
        },
        Err(e) => check(
            name,
            Outcome::Warn,
            format!("cannot list the replicas: {e}"),
            "make sure no other replica uses this source.server_id",
        ),
    }
}

/// The host of the replica registered on the source with server id `id`, if any.
async fn registered_as(
    conn: &mut mysql_async::Conn,
    id: u32,
) -> Result<Option<String>, mysql_async::Error> {
    // Columns: Server_id, Host, Port, Master_id (MariaDB and MySQL 5.7 add more after them).
    let rows: Vec<mysql_async::Row> = conn.query("SHOW SLAVE HOSTS").await?;
    Ok(rows.iter().find_map(|r| {
        let sid = r.get_opt::<u32, _>(0).and_then(Result::ok);
        let host = r.get_opt::<String, _>(1).and_then(Result::ok);
        (sid == Some(id)).then(|| host.unwrap_or_default())
    }))
}

async fn target_checks(
    p: &Project,
    runtime: Arc<ClientRuntime>,
    out: &mut Vec<Check>,
    findings: &mut Findings,
) {
    let mut sink = match RocketMqSink::start(runtime, &p.config.target).await {
        Ok(s) => s,
        Err(e) => {
            out.push(check(
                "target.producer",
                Outcome::Fail,
                e.to_string(),
                "check target.name_server and the ACL keys",
            ));
            return;
        }
    };
    let mut topics: Vec<&str> = p.config.objects.iter().map(|o| o.topic.as_str()).collect();
    topics.sort_unstable();
    topics.dedup();
    let mut access_checked = false;
    let mut all_ok = true;
    for topic in topics {
        let name = format!("target.topic `{topic}`");
        let prepared = sink.prepare_topic(topic).await;
        let ok = prepared.is_ok();
        all_ok &= ok;
        out.push(match prepared {
            Ok(n) => check(&name, Outcome::Pass, format!("{n} queues"), ""),
            Err(e) => check(
                &name,
                Outcome::Fail,
                e.to_string(),
                "create the topic (obsync never creates topics)",
            ),
        });
        // The name server does not check keys; one signed broker request per project does.
        if ok && !access_checked {
            access_checked = true;
            let keys = p.config.target.access_key.is_some();
            out.push(match sink.check_access(topic).await {
                Ok(()) if keys => check(
                    "target.acl",
                    Outcome::Pass,
                    "the broker accepts the ACL keys",
                    "",
                ),
                Ok(()) => check(
                    "target.acl",
                    Outcome::Pass,
                    "no ACL keys set; the broker does not ask for them",
                    "",
                ),
                Err(e) => {
                    all_ok = false;
                    check(
                        "target.acl",
                        Outcome::Fail,
                        e.to_string(),
                        "set target.access_key / target.secret_key to a user the broker knows",
                    )
                }
            });
        }
    }
    if all_ok {
        findings.sink = Some(sink);
    } else {
        sink.shutdown().await;
    }
}

fn module_checks(p: &Project, engine: &WasmEngine, out: &mut Vec<Check>, findings: &mut Findings) {
    let mut loaded = Vec::new();
    for (spec, limits, kind) in p.config.options.module_specs() {
        let name = format!("module `{spec}`");
        out.push(match load_spec(engine, &p.path, spec, limits, kind) {
            Ok(module) => {
                loaded.push(module);
                check(&name, Outcome::Pass, "loads", "")
            }
            Err(e) => check(&name, Outcome::Fail, e, "fix or rebuild the module"),
        });
    }
    if loaded.len() == p.config.options.filters.len() + 1 {
        findings.modules = Some(loaded);
    }
}

/// The databases a project carries, sorted, each once.
pub fn databases(p: &Project) -> Vec<String> {
    let mut d: Vec<String> = p
        .config
        .objects
        .iter()
        .map(|o| o.database.clone())
        .collect();
    d.sort();
    d.dedup();
    d
}
