//! Loading a module (validation, pre-instantiation) and calling it on batches.

use std::sync::Arc;

use obsync_sdk::abi::{GuestResult, decode};
use obsync_sdk::{
    ABI_VERSION, FilterDecision, FilterOutput, FormatBatch, FormatOutput, ModuleKind,
};
use sha2::Digest;
use wasmtime::{
    Caller, ExternType, InstancePre, Linker, Memory, Store, StoreLimits, StoreLimitsBuilder,
    TypedFunc,
};

use super::engine::{EPOCH_TICK, ModuleLimits, WasmEngine, WasmError};

/// Per-instance host state.
pub struct GuestState {
    limits: StoreLimits,
    module: Arc<str>,
}

/// A validated, pre-instantiated module.
pub struct LoadedModule {
    name: Arc<str>,
    /// `abi N, sha256 <first 12 hex digits of the module bytes>`.
    version: String,
    kind: ModuleKind,
    pre: InstancePre<GuestState>,
    limits: ModuleLimits,
    engine: WasmEngine,
}

impl LoadedModule {
    /// Compiles and checks a module: imports limited to `obsync.log`, ABI exports present, ABI
    /// version equal to the host's.
    pub fn load(
        engine: &WasmEngine,
        name: &str,
        bytes: &[u8],
        limits: ModuleLimits,
    ) -> Result<Arc<Self>, WasmError> {
        let abi = |message: String| WasmError::Abi {
            module: name.to_string(),
            message,
        };
        let module = engine.compile(name, bytes)?;
        for import in module.imports() {
            if (import.module(), import.name()) != ("obsync", "log") {
                return Err(abi(format!(
                    "imports `{}.{}`, but modules may import only `obsync.log` (no WASI, no host access)",
                    import.module(),
                    import.name()
                )));
            }
        }
        for (export, want) in [
            ("memory", "memory"),
            ("obsync_abi_version", "func"),
            ("obsync_module_kind", "func"),
            ("obsync_alloc", "func"),
            ("obsync_free", "func"),
        ] {
            let ok = match module.get_export(export) {
                Some(ExternType::Memory(_)) => want == "memory",
                Some(ExternType::Func(_)) => want == "func",
                _ => false,
            };
            if !ok {
                return Err(abi(format!(
                    "does not export the {want} `{export}` required by ABI {ABI_VERSION}"
                )));
            }
        }
        let mut linker: Linker<GuestState> = Linker::new(&engine.engine);
        linker
            .func_wrap("obsync", "log", guest_log)
            .map_err(|e| abi(format!("cannot link `obsync.log`: {e:#}")))?;
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| abi(format!("cannot link: {e:#}")))?;
        let name: Arc<str> = Arc::from(name);
        let digest: String = sha2::Sha256::digest(bytes)
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut loaded = LoadedModule {
            name: name.clone(),
            version: format!("abi {ABI_VERSION}, sha256 {digest}"),
            kind: ModuleKind::Format,
            pre,
            limits,
            engine: engine.clone(),
        };
        let (mut store, instance) = loaded.instantiate()?;
        let version = call_u32(&mut store, &instance, "obsync_abi_version").map_err(&abi)?;
        if version != ABI_VERSION {
            return Err(abi(format!(
                "was built for ABI version {version}, but this obsync speaks ABI version {ABI_VERSION}; rebuild it with a matching obsync-sdk"
            )));
        }
        let kind = call_u32(&mut store, &instance, "obsync_module_kind").map_err(&abi)?;
        loaded.kind = ModuleKind::from_raw(kind)
            .ok_or_else(|| abi(format!("reports unknown module kind {kind}")))?;
        let entry = entry_name(loaded.kind);
        if !matches!(module_export(&loaded, entry), Some(ExternType::Func(_))) {
            return Err(abi(format!(
                "is a {:?} module but does not export `{entry}`",
                loaded.kind
            )));
        }
        Ok(Arc::new(loaded))
    }

    /// Returns the module's name (the built-in format name or the file path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the module's version: its ABI version and a digest of its bytes.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Returns the module's kind.
    pub fn kind(&self) -> ModuleKind {
        self.kind
    }

    fn instantiate(&self) -> Result<(Store<GuestState>, wasmtime::Instance), WasmError> {
        let state = GuestState {
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes)
                .memories(1)
                .tables(1)
                .table_elements(MAX_TABLE_ELEMENTS)
                .instances(1)
                .trap_on_grow_failure(true)
                .build(),
            module: self.name.clone(),
        };
        let mut store = Store::new(&self.engine.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(self.deadline_ticks());
        store.epoch_deadline_trap();
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| WasmError::Trap {
                module: self.name.to_string(),
                message: format!("cannot instantiate: {e:#}"),
            })?;
        Ok((store, instance))
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout_ms / EPOCH_TICK.as_millis() as u64).max(1) + 1
    }
}

/// Function table size a module may have or grow to: far above what compiled Rust, C or Go
/// modules use (one slot per function called indirectly), far below host memory (8 bytes each).
const MAX_TABLE_ELEMENTS: usize = 1 << 16;

fn module_export(m: &LoadedModule, name: &str) -> Option<ExternType> {
    m.pre.module().get_export(name)
}

fn call_u32(
    store: &mut Store<GuestState>,
    instance: &wasmtime::Instance,
    name: &str,
) -> Result<u32, String> {
    let f = instance
        .get_typed_func::<(), u32>(&mut *store, name)
        .map_err(|e| format!("export `{name}` has the wrong signature: {e:#}"))?;
    f.call(&mut *store, ())
        .map_err(|e| format!("`{name}` failed: {e:#}"))
}

fn guest_log(mut caller: Caller<'_, GuestState>, level: u32, ptr: u32, len: u32) {
    let Some(wasmtime::Extern::Memory(mem)) = caller.get_export("memory") else {
        return;
    };
    let data = mem.data(&caller);
    let (start, end) = (ptr as usize, ptr as usize + (len as usize).min(4096));
    let Some(bytes) = data.get(start..end) else {
        return;
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    let module = caller.data_mut().module.clone();
    match level {
        0 => tracing::error!(module = %module, "{text}"),
        1 => tracing::warn!(module = %module, "{text}"),
        2 => tracing::info!(module = %module, "{text}"),
        _ => tracing::debug!(module = %module, "{text}"),
    }
}

/// A live instance of a module, owned by one project.
pub struct ModuleInstance {
    module: Arc<LoadedModule>,
    live: Option<Live>,
    /// The encoded batch, kept between calls so its buffer is allocated once.
    input: Vec<u8>,
}

/// Decodes a call's result from the module's memory.
type Read<T> = fn(&[u8]) -> Result<GuestResult<T>, rmp_serde::decode::Error>;

struct Live {
    store: Store<GuestState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    entry: TypedFunc<(u32, u32), u64>,
}

impl ModuleInstance {
    /// Creates an instance of a module that must be of kind `expected`.
    pub fn new(module: Arc<LoadedModule>, expected: ModuleKind) -> Result<Self, WasmError> {
        if module.kind() != expected {
            return Err(WasmError::Abi {
                module: module.name().to_string(),
                message: format!(
                    "is a {:?} module, but a {expected:?} module is required here",
                    module.kind()
                ),
            });
        }
        let mut me = ModuleInstance {
            module,
            live: None,
            input: Vec::new(),
        };
        me.live = Some(me.start()?);
        Ok(me)
    }

    /// Returns the module's name.
    pub fn module_name(&self) -> &str {
        self.module.name()
    }

    /// Returns the module's version (ABI version and digest).
    pub fn module_version(&self) -> &str {
        self.module.version()
    }

    fn start(&self) -> Result<Live, WasmError> {
        let (mut store, instance) = self.module.instantiate()?;
        let abi = |message: String| WasmError::Abi {
            module: self.module.name().to_string(),
            message,
        };
        let memory = instance
            .get_memory(&mut store, "memory")
            .ok_or_else(|| abi("does not export `memory`".into()))?;
        let alloc = instance
            .get_typed_func::<u32, u32>(&mut store, "obsync_alloc")
            .map_err(|e| abi(format!("`obsync_alloc` must be (i32) -> i32: {e:#}")))?;
        let free = instance
            .get_typed_func::<(u32, u32), ()>(&mut store, "obsync_free")
            .map_err(|e| abi(format!("`obsync_free` must be (i32, i32) -> (): {e:#}")))?;
        let name = entry_name(self.module.kind());
        let entry = instance
            .get_typed_func::<(u32, u32), u64>(&mut store, name)
            .map_err(|e| abi(format!("`{name}` must be (i32, i32) -> i64: {e:#}")))?;
        Ok(Live {
            store,
            memory,
            alloc,
            free,
            entry,
        })
    }

    /// Formats one batch. On any error the instance is discarded and rebuilt on the next call.
    pub fn format(&mut self, batch: &FormatBatch) -> Result<FormatOutput, WasmError> {
        let out = self.invoke(batch, obsync_sdk::abi::decode_format_result)?;
        self.check_output(batch, out)
    }

    /// Filters one batch: returns one decision per row, checked against the batch.
    pub fn filter(&mut self, batch: &FormatBatch) -> Result<FilterOutput, WasmError> {
        let out: FilterOutput = self.invoke(batch, |b| decode(b))?;
        let bad = |message: String| WasmError::Output {
            module: self.module.name().to_string(),
            message,
        };
        if out.decisions.len() != batch.rows.len() {
            return Err(bad(format!(
                "returned {} decisions for {} rows",
                out.decisions.len(),
                batch.rows.len()
            )));
        }
        for (i, d) in out.decisions.iter().enumerate() {
            if let FilterDecision::Replace(new) = d {
                let old = &batch.rows[i];
                let columns = batch.schema_of(old).map(|s| s.columns.len()).unwrap_or(0);
                let image_ok = |img: &Option<Vec<obsync_sdk::Value>>| {
                    img.as_ref().is_none_or(|v| v.len() == columns)
                };
                if new.table != old.table || new.kind != old.kind {
                    return Err(bad(format!(
                        "replaced row {i} with a row of another table or kind"
                    )));
                }
                if !image_ok(&new.before)
                    || !image_ok(&new.after)
                    || new.before.is_some() != old.before.is_some()
                    || new.after.is_some() != old.after.is_some()
                {
                    return Err(bad(format!(
                        "replaced row {i} with images that do not match its table"
                    )));
                }
            }
        }
        Ok(out)
    }

    fn invoke<T>(&mut self, batch: &FormatBatch, read: Read<T>) -> Result<T, WasmError> {
        let mut input = std::mem::take(&mut self.input);
        input.clear();
        obsync_sdk::abi::encode_batch_into(batch, &mut input).map_err(|e| WasmError::Output {
            module: self.module.name().to_string(),
            message: format!("cannot encode the batch: {e}"),
        })?;
        let live = match self.live.take() {
            Some(l) => l,
            None => self.start()?,
        };
        let (live, result) = self.call(live, &input, read);
        // Keep the buffer unless one huge batch made it large.
        if input.capacity() <= 16 << 20 {
            self.input = input;
        }
        if result.is_ok() {
            self.live = Some(live);
        }
        result
    }

    fn check_output(
        &self,
        batch: &FormatBatch,
        out: FormatOutput,
    ) -> Result<FormatOutput, WasmError> {
        if let Some(m) = out
            .messages
            .iter()
            .find(|m| m.row as usize >= batch.rows.len())
        {
            return Err(WasmError::Output {
                module: self.module.name().to_string(),
                message: format!(
                    "returned a message for row {} but the batch has {} rows",
                    m.row,
                    batch.rows.len()
                ),
            });
        }
        if out.messages.windows(2).any(|w| w[0].row > w[1].row) {
            return Err(WasmError::Output {
                module: self.module.name().to_string(),
                message: "returned messages out of row order".into(),
            });
        }
        Ok(out)
    }

    /// One call: the batch into guest memory, the entry point, the result decoded straight
    /// from guest memory (no copy of it first), the result buffer freed.
    fn call<T>(&self, mut live: Live, input: &[u8], read: Read<T>) -> (Live, Result<T, WasmError>) {
        let name = self.module.name().to_string();
        let trap = |e: wasmtime::Error| WasmError::Trap {
            module: name.clone(),
            message: describe_trap(&e),
        };
        let result = (|| {
            live.store.set_epoch_deadline(self.module.deadline_ticks());
            let len = u32::try_from(input.len()).map_err(|_| WasmError::Output {
                module: name.clone(),
                message: format!(
                    "batch of {} bytes is too large for a 32-bit guest",
                    input.len()
                ),
            })?;
            let ptr = live.alloc.call(&mut live.store, len).map_err(trap)?;
            live.memory
                .write(&mut live.store, ptr as usize, input)
                .map_err(|_| WasmError::Output {
                    module: name.clone(),
                    message: format!("`obsync_alloc` returned an out-of-bounds buffer {ptr}+{len}"),
                })?;
            let packed = live.entry.call(&mut live.store, (ptr, len)).map_err(trap)?;
            let (out_ptr, out_len) = ((packed >> 32) as u32, packed as u32);
            let bytes = live
                .memory
                .data(&live.store)
                .get(out_ptr as usize..out_ptr as usize + out_len as usize)
                .ok_or_else(|| WasmError::Output {
                    module: name.clone(),
                    message: format!("returned an out-of-bounds result {out_ptr}+{out_len}"),
                })?;
            let decoded = match read(bytes) {
                Ok(GuestResult::Ok(out)) => Ok(out),
                Ok(GuestResult::Err(message)) => Err(WasmError::Output {
                    module: name.clone(),
                    message: format!("reported an error: {message}"),
                }),
                Err(e) => Err(WasmError::Output {
                    module: name.clone(),
                    message: format!("returned malformed output ({out_len} bytes): {e}"),
                }),
            };
            live.free
                .call(&mut live.store, (out_ptr, out_len))
                .map_err(trap)?;
            decoded
        })();
        (live, result)
    }
}

fn entry_name(kind: ModuleKind) -> &'static str {
    match kind {
        ModuleKind::Format => "obsync_format",
        ModuleKind::Filter => "obsync_filter",
    }
}

fn describe_trap(e: &wasmtime::Error) -> String {
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => "timed out (epoch deadline reached)".into(),
        Some(wasmtime::Trap::UnreachableCodeReached) => {
            "trapped: unreachable (a panic in the module?)".into()
        }
        Some(t) => format!("trapped: {t}"),
        None => {
            let text = format!("{e:#}");
            if text.contains("memory") && text.contains("limit") || text.contains("grow") {
                format!("exceeded its memory limit: {text}")
            } else {
                text
            }
        }
    }
}
