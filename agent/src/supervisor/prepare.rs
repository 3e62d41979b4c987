//! A project's start: read what it needs (or take it from the precheck's findings), bind its row
//! filters, load its modules, start its producer with every topic resolved, and build the
//! [`ProjectRunner`].
//!
//! Invariant: every failure is a [`ProjectError::Start`] naming the project file and the field to
//! fix; nothing is sent and no checkpoint is touched here.

use std::sync::Arc;
use std::time::Duration;

use obsync_sdk::{FormatOptions, ModuleKind};
use rocketmq_client_rust::ClientRuntime;

use super::error::ProjectError;
use super::project::ProjectRunner;
use crate::checkpoint::CheckpointStore;
use crate::config::ModuleLimitsConfig;
use crate::config::{Project, ProjectConfig};
use crate::filter::FilterColumn;
use crate::precheck::{Columns, Findings, StartCatalog};
use crate::route::{Router, Sequencer};
use crate::sink::{Acked, MessageSettings, RocketMqSink};
use crate::source::{Flavor, SourceOptions};
use crate::status::{ModuleInfo, ObjectInfo, ProjectInfo, StatusBoard};
use crate::wasm::{ModuleInstance, WasmEngine, load_spec};

/// An eighth of the smallest module memory limit: the batch, the module's copy of it and its
/// output all live in that memory, so a bulk UPDATE of wide rows never overflows a module.
fn max_batch_bytes(config: &ProjectConfig) -> usize {
    let smallest = config
        .options
        .filters
        .iter()
        .map(|f| f.limits().memory_limit_mb)
        .chain(std::iter::once(
            config.options.format_limits.memory_limit_mb,
        ))
        .min()
        .unwrap_or(256);
    ((smallest << 20) / 8) as usize
}

impl ProjectRunner {
    /// Runs the start checks (source reachable, format loads, every topic exists) and builds the
    /// project, reusing what a passing precheck already read (`findings`). Each failure names the
    /// project file and the field to fix.
    pub async fn prepare(
        project: &Project,
        findings: Findings,
        engine: &WasmEngine,
        runtime: Arc<ClientRuntime>,
        store: CheckpointStore,
        status: StatusBoard,
    ) -> Result<Self, ProjectError> {
        let Project {
            path: file,
            config,
            partition_rule,
            time_zone,
            start,
            row_filters,
            ..
        } = project.clone();
        let start_err = |field: &str, message: String| ProjectError::Start {
            file: file.clone(),
            field: field.to_string(),
            message,
        };
        let mut source = SourceOptions::from_config(&config.source);
        source.owner = config.name.clone();
        let Findings {
            catalog: found_catalog,
            modules: found_modules,
            sink: found_sink,
        } = findings;
        let databases = crate::precheck::databases(project);
        let catalog = match found_catalog {
            Some(c) => c,
            None => {
                let mut conn = source
                    .connect()
                    .await
                    .map_err(|e| start_err("source", e.to_string()))?;
                let flavor = source
                    .flavor(&mut conn)
                    .await
                    .map_err(|e| start_err("source", e.to_string()))?;
                let c =
                    StartCatalog::read(&mut conn, flavor, project, &databases, Columns::Filtered)
                        .await
                        .map_err(|e| {
                            start_err("source", format!("cannot read the source catalog: {e}"))
                        })?;
                let _ = conn.disconnect().await;
                c
            }
        };
        let flavor = catalog.flavor;
        let utc_offset = time_zone.offset_seconds();
        let mut router = Router::new(&config.objects, &row_filters, config.options.key_change);
        router.set_unique_keys(catalog.unique_keys);
        for (i, ((o, filter), facts)) in config
            .objects
            .iter()
            .zip(&row_filters)
            .zip(catalog.columns)
            .enumerate()
        {
            let Some(filter) = filter else { continue };
            if o.table == crate::route::WHOLE_DATABASE {
                continue;
            }
            let Some(facts) = facts else {
                tracing::warn!(project = %config.name, database = %o.database, table = %o.table, "table does not exist yet; its row filter is checked when it appears");
                continue;
            };
            let columns: Vec<_> = facts.into_iter().map(FilterColumn::from_catalog).collect();
            filter.bind(&columns, utc_offset).map_err(|e| {
                start_err(
                    &format!("objects[{i}].where"),
                    format!(
                        "row filter {:?} does not fit `{}`.`{}`: {e}",
                        filter.text(),
                        o.database,
                        o.table
                    ),
                )
            })?;
        }

        let (format, filters) = match found_modules {
            Some(modules) => {
                let mut instances = modules.into_iter().zip(config.options.module_specs()).map(
                    |(module, (_, _, kind))| {
                        ModuleInstance::new(module, kind).map_err(|e| e.to_string())
                    },
                );
                let format = instances
                    .next()
                    .unwrap_or_else(|| Err("no format module".into()))
                    .map_err(|e| start_err("options.format", e))?;
                let mut filters = Vec::with_capacity(config.options.filters.len());
                for (i, f) in instances.enumerate() {
                    filters.push(
                        f.map_err(|e| start_err(&format!("options.filters[{i}].module"), e))?,
                    );
                }
                (format, filters)
            }
            None => {
                let format = load_module(
                    engine,
                    &file,
                    project.format.as_str(),
                    config.options.format_limits,
                    ModuleKind::Format,
                )
                .map_err(|e| start_err("options.format", e))?;
                let mut filters = Vec::with_capacity(config.options.filters.len());
                for (i, f) in config.options.filters.iter().enumerate() {
                    let filter =
                        load_module(engine, &file, &f.module, f.limits(), ModuleKind::Filter)
                            .map_err(|e| start_err(&format!("options.filters[{i}].module"), e))?;
                    filters.push(filter);
                }
                (format, filters)
            }
        };

        let mut sink = match found_sink {
            Some(sink) => sink,
            None => RocketMqSink::start(runtime, &config.target)
                .await
                .map_err(|e| start_err("target", e.to_string()))?,
        };
        for (i, object) in config.objects.iter().enumerate() {
            if sink.queue_count(&object.topic).is_none() {
                sink.prepare_topic(&object.topic)
                    .await
                    .map_err(|e| start_err(&format!("objects[{i}].topic"), e.to_string()))?;
            }
        }
        let options = FormatOptions {
            db_type: flavor.db_type().to_string(),
            business_system_id: config.options.business_system_id.clone(),
            sequence_numbers: config.options.sequence_within_transaction,
            now_ms: 0,
            utc_offset_seconds: utc_offset,
            tenant: (flavor == Flavor::OceanBase)
                .then(|| config.source.tenant())
                .flatten(),
        };
        let module_info = |kind: &str, m: &ModuleInstance| ModuleInfo {
            kind: kind.to_string(),
            name: m.module_name().to_string(),
            version: m.module_version().to_string(),
        };
        let info = ProjectInfo {
            file: file.display().to_string(),
            source: source.addr(),
            name_server: config.target.name_server.clone(),
            objects: config
                .objects
                .iter()
                .map(|o| ObjectInfo {
                    database: o.database.clone(),
                    table: o.table.clone(),
                    topic: o.topic.clone(),
                    row_filter: o.row_filter.clone(),
                })
                .collect(),
            modules: filters
                .iter()
                .map(|f| module_info("filter", f))
                .chain(std::iter::once(module_info("format", &format)))
                .collect(),
        };
        status.update(&config.name, |s| s.info = Some(info));
        let metrics = status.metrics(&config.name);
        tracing::info!(project = %config.name, file = %file.display(), ?flavor, "project prepared");
        let message_settings = MessageSettings {
            default_tag: format!("{}_tag", config.target.tag),
            partition_rule,
            max_message_bytes: config.target.max_message_bytes,
        };
        Ok(ProjectRunner {
            max_batch_bytes: max_batch_bytes(&config),
            sequencer: Sequencer::default(),
            heartbeat: config
                .options
                .heartbeats
                .then(|| Duration::from_millis(config.options.heartbeat_interval_ms)),
            file,
            config,
            message_settings,
            start,
            source,
            router,
            format,
            filters,
            sink: Arc::new(sink),
            acked_seen: Acked::default(),
            metrics,
            store,
            options,
            status,
        })
    }
}

/// Loads a module of the expected kind and instantiates it for this project.
fn load_module(
    engine: &WasmEngine,
    project_file: &std::path::Path,
    spec: &str,
    limits: ModuleLimitsConfig,
    kind: ModuleKind,
) -> Result<ModuleInstance, String> {
    let module = load_spec(engine, project_file, spec, limits, kind)?;
    ModuleInstance::new(module, kind).map_err(|e| e.to_string())
}
