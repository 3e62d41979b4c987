//! The shared `wasmtime` engine and its epoch ticker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine};

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

/// One engine shared by every module of the agent, with a background epoch ticker.
#[derive(Clone)]
pub struct WasmEngine {
    pub(crate) engine: Engine,
    /// Keeps the ticker thread alive as long as an engine clone exists.
    _ticker: Arc<Ticker>,
}

impl WasmEngine {
    /// Creates the engine and starts its ticker thread.
    pub fn new() -> Result<Self, WasmError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
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
        Ok(WasmEngine {
            engine,
            _ticker: ticker,
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
