//! The shared `wasmtime` engine and its epoch ticker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, Module};

use super::module_cache;

/// How often the epoch advances; per-call deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits applied to every instance of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Maximum linear memory in bytes.
    pub memory_bytes: usize,
    /// Maximum wall time of one batch call, in milliseconds.
    pub call_timeout_ms: u64,
}

impl Default for ModuleLimits {
    /// 256 MiB and 5 s: generous for a format over a batch of a few thousand rows, small enough to
    /// stop a runaway module quickly.
    fn default() -> Self {
        ModuleLimits {
            memory_bytes: 256 << 20,
            call_timeout_ms: 5_000,
        }
    }
}

/// Why a module could not be loaded or called.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// The bytes are not a valid module for this engine.
    #[error("module {module}: cannot compile: {message}")]
    Compile {
        /// Module name.
        module: String,
        /// Compiler message.
        message: String,
    },
    /// The module's imports or exports do not follow the ABI.
    #[error("module {module}: {message}")]
    Abi {
        /// Module name.
        module: String,
        /// What is wrong.
        message: String,
    },
    /// A call trapped, ran out of time or memory.
    #[error("module {module}: call failed: {message}")]
    Trap {
        /// Module name.
        module: String,
        /// The trap or limit hit.
        message: String,
    },
    /// The module returned bytes that are not a valid result, or an error of its own.
    #[error("module {module}: {message}")]
    Output {
        /// Module name.
        module: String,
        /// What is wrong.
        message: String,
    },
}

struct Ticker {
    stop: AtomicBool,
}

/// One engine shared by every module of the agent, with a background epoch ticker and a cache of
/// compiled modules keyed by the SHA-256 of their bytes (in memory, and on disk when a cache
/// directory is given), so reloads and restarts do not compile again.
#[derive(Clone)]
pub struct WasmEngine {
    pub(crate) engine: Engine,
    compiled: Arc<Mutex<HashMap<[u8; 32], Module>>>,
    cache_dir: Option<PathBuf>,
    /// Keeps the ticker thread alive as long as an engine clone exists.
    _ticker: Arc<Ticker>,
}

impl WasmEngine {
    /// Creates the engine and starts its ticker thread; compiled modules are also kept in
    /// `cache_dir` when given.
    pub fn new(cache_dir: Option<&Path>) -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        // One linear memory per module: `memory_limit_mb` bounds a memory, so a module with
        // several could take that much for each (tables are bounded in the store's limits).
        config.wasm_multi_memory(false);
        // 32-bit memories live in a 4 GiB reservation and never move, so compiled code may keep
        // the memory base in a register across calls.
        config.memory_may_move(false);
        // 64×64→128-bit multiplies as one instruction (float printing is full of them); the
        // built-in modules are built with `+wide-arithmetic` (`build_wasm.rs`).
        config.wasm_wide_arithmetic(true);
        // `OBSYNC_WASM_PERFMAP=1`: name compiled module functions in /tmp/perf-<pid>.map, so
        // `perf` profiles show where a module spends its time (off by default).
        if std::env::var_os("OBSYNC_WASM_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| WasmError::Compile {
            module: "<engine>".into(),
            message: format!("{e:#}"),
        })?;
        let ticker = Arc::new(Ticker {
            stop: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&ticker);
        let tick_engine = engine.clone();
        std::thread::Builder::new()
            .name("obsync-wasm-epoch".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(t) if !t.stop.load(Ordering::Relaxed) => tick_engine.increment_epoch(),
                        _ => break,
                    }
                }
            })
            .map_err(|e| WasmError::Compile {
                module: "<engine>".into(),
                message: format!("cannot start the epoch thread: {e}"),
            })?;
        let cache_dir = cache_dir.and_then(|dir| match module_cache::open_dir(dir) {
            Ok(d) => Some(d),
            Err(why) => {
                tracing::warn!(dir = %dir.display(), %why, "module cache directory not used; compiling in memory only");
                None
            }
        });
        Ok(WasmEngine {
            engine,
            compiled: Arc::default(),
            cache_dir,
            _ticker: ticker,
        })
    }

    /// Compiles a module, or returns it from the cache when the same bytes were compiled before.
    pub fn compile(&self, name: &str, bytes: &[u8]) -> Result<Module, WasmError> {
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(m) = self
            .compiled
            .lock()
            .ok()
            .and_then(|c| c.get(&hash).cloned())
        {
            return Ok(m);
        }
        let file = self.cache_dir.as_ref().map(|d| {
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            d.join(format!("{hex}.cwasm"))
        });
        let cached = match (self.cache_dir.as_ref(), file.as_ref()) {
            (Some(dir), Some(f)) => module_cache::load(&self.engine, dir, f),
            _ => None,
        };
        let module = match cached {
            Some(m) => m,
            None => {
                let m = Module::new(&self.engine, bytes).map_err(|e| WasmError::Compile {
                    module: name.to_string(),
                    message: format!("{e:#}"),
                })?;
                if let Some(f) = file.as_ref() {
                    module_cache::store(f, &m);
                }
                m
            }
        };
        if let Ok(mut c) = self.compiled.lock() {
            c.insert(hash, module.clone());
        }
        Ok(module)
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
