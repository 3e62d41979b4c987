//! Sandbox tests with purpose-built bad modules (WebAssembly text): each misbehaviour ends in a
//! clear error naming the module, never a crash of the host.

use obsync_sdk::{ABI_VERSION, FormatBatch, FormatOptions, ModuleKind};

use super::{LoadedModule, ModuleInstance, ModuleLimits, WasmEngine, WasmError, builtin_format};

/// A module following the ABI, with a replaceable version, extra imports and format body.
fn module(version: u32, imports: &str, body: &str) -> String {
    format!(
        r#"(module
  {imports}
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "obsync_abi_version") (result i32) (i32.const {version}))
  (func (export "obsync_module_kind") (result i32) (i32.const 2))
  (func (export "obsync_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $len)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.const 1)
        (i32.div_u (global.get $heap) (i32.const 65536)))))))
    (local.get $p))
  (func (export "obsync_free") (param i32 i32))
  (func (export "obsync_format") (param i32 i32) (result i64) {body}))"#
    )
}

fn limits() -> ModuleLimits {
    ModuleLimits {
        memory_bytes: 4 << 20,
        call_timeout_ms: 200,
    }
}

fn batch() -> FormatBatch {
    FormatBatch {
        abi_version: ABI_VERSION,
        options: FormatOptions::default(),
        schemas: vec![],
        rows: vec![],
    }
}

fn run(name: &str, wat: &str) -> Result<(), WasmError> {
    run_limited(name, wat, limits())
}

fn run_limited(name: &str, wat: &str, limits: ModuleLimits) -> Result<(), WasmError> {
    let engine = WasmEngine::new(None)?;
    let module = LoadedModule::load(&engine, name, wat.as_bytes(), limits)?;
    let mut instance = ModuleInstance::new(module, ModuleKind::Format)?;
    let first = instance.format(&batch()).map(|_| ());
    // A failed call leaves no broken state behind: the next call runs on a fresh instance and
    // fails the same way instead of crashing.
    let second = instance.format(&batch()).map(|_| ());
    assert_eq!(first.is_ok(), second.is_ok());
    first
}

fn expect_err(name: &str, wat: &str, fragments: &[&str]) {
    let err = run(name, wat)
        .expect_err("the bad module must fail")
        .to_string();
    assert!(err.contains(name), "error does not name the module: {err}");
    for f in fragments {
        assert!(err.contains(f), "expected {f:?} in: {err}");
    }
}

#[test]
fn endless_loop_times_out() {
    expect_err(
        "loop.wasm",
        &module(1, "", "(loop $l (br $l)) (i64.const 0)"),
        &["timed out"],
    );
}

#[test]
fn memory_bomb_hits_the_limit() {
    let body =
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (i64.const 0)";
    expect_err(
        "bomb.wasm",
        &module(1, "", body),
        &["call failed", "memory"],
    );
}

#[test]
fn trap_is_reported() {
    expect_err("trap.wasm", &module(1, "", "unreachable"), &["unreachable"]);
}

#[test]
fn garbage_output_is_rejected() {
    // Sixteen zero bytes are not a MessagePack result.
    expect_err(
        "garbage.wasm",
        &module(1, "", "(i64.const 16)"),
        &["malformed output"],
    );
}

#[test]
fn out_of_bounds_output_is_rejected() {
    expect_err(
        "oob.wasm",
        &module(1, "", "(i64.const 0x7fff000000000010)"),
        &["out-of-bounds"],
    );
}

#[test]
fn wrong_abi_version_is_refused_at_load() {
    expect_err(
        "v2.wasm",
        &module(2, "", "(i64.const 0)"),
        &["ABI version 2", "ABI version 1"],
    );
}

#[test]
fn wasi_import_is_refused_at_load() {
    let import = r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#;
    expect_err(
        "wasi.wasm",
        &module(1, import, "(i64.const 0)"),
        &["wasi_snapshot_preview1.fd_write", "no WASI"],
    );
}

/// A result `{"Ok": {"x": ...}}` (an unknown field, skipped by the reader) whose value the body
/// writes after the 7-byte prefix at offset 100, `len` bytes long.
fn result_with_unknown_field(fill: &str, len: u32) -> String {
    let body = format!(
        "(drop (memory.grow (i32.const {pages}))) {fill} \
         (i64.or (i64.shl (i64.const 100) (i64.const 32)) (i64.const {total}))",
        pages = len / 65536 + 2,
        total = len + 7,
    );
    module(1, r#"(data (i32.const 100) "\81\a2Ok\81\a1x")"#, &body)
}

#[test]
fn deeply_nested_output_is_an_error_not_a_stack_overflow() {
    // 200,000 nested one-element arrays: a recursive reader overflows the host's stack (an
    // abort of the whole agent, then a crash loop on restart).
    let len = 200_000;
    let fill = format!("(memory.fill (i32.const 107) (i32.const 0x91) (i32.const {len}))");
    expect_err(
        "nested.wasm",
        &result_with_unknown_field(&fill, len),
        &["malformed output"],
    );
}

#[test]
fn a_claimed_length_reserves_nothing_ahead() {
    // `messages` claims 4 billion entries, followed by 512 MiB of zeros: reserving ahead in
    // proportion to the claim or to the output's size asks for tens of GiB (an abort).
    let len: u32 = 512 << 20;
    let wat = module(
        1,
        r#"(data (i32.const 100) "\81\a2Ok\81\a8messages\dd\ff\ff\ff\ff")"#,
        &format!(
            "(drop (memory.grow (i32.const {pages})))
             (i64.or (i64.shl (i64.const 100) (i64.const 32)) (i64.const {len}))",
            pages = len / 65536 + 2
        ),
    );
    let big = ModuleLimits {
        memory_bytes: (len as usize) + (4 << 20),
        call_timeout_ms: 2_000,
    };
    let err = run_limited("claims.wasm", &wat, big).expect_err("refused");
    assert!(err.to_string().contains("malformed output"), "{err}");
}

#[test]
fn a_second_memory_is_refused_at_load() {
    // Each memory is bounded by `memory_limit_mb`: several would multiply the limit.
    let wat = module(1, "(memory 1) (memory 1) (memory 1)", "(i64.const 0)");
    let err = run("memories.wasm", &wat).expect_err("refused").to_string();
    assert!(err.contains("memories.wasm"), "{err}");
    assert!(err.contains("multi"), "names the feature refused: {err}");
}

#[test]
fn a_growing_table_hits_the_limit() {
    // Table growth is host memory too: bounded, a trap when exceeded, like memory growth.
    let wat = module(
        1,
        "(table $t 1 funcref)",
        "(loop $l (br_if $l (i32.ne (table.grow $t (ref.null func) (i32.const 4096)) (i32.const -1)))) (i64.const 0)",
    );
    expect_err("grow.wasm", &wat, &["call failed", "table"]);
}

#[test]
fn missing_exports_are_refused_at_load() {
    expect_err(
        "empty.wasm",
        "(module (memory (export \"memory\") 1))",
        &["obsync_abi_version"],
    );
}

#[test]
fn a_filter_cannot_serve_as_format() {
    let wat = module(1, "", "(i64.const 0)").replace("(i32.const 2))", "(i32.const 1))");
    let engine = WasmEngine::new(None).unwrap();
    // A filter must export obsync_filter; this one does not.
    let err = LoadedModule::load(&engine, "kind.wasm", wat.as_bytes(), limits())
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("obsync_filter"), "{err}");
}

#[test]
fn builtin_default_format_runs() {
    let engine = WasmEngine::new(None).unwrap();
    let bytes = builtin_format("default").unwrap();
    let module = LoadedModule::load(&engine, "default", bytes, ModuleLimits::default()).unwrap();
    let mut instance = ModuleInstance::new(module, ModuleKind::Format).unwrap();
    let out = instance.format(&batch()).unwrap();
    assert!(out.messages.is_empty());
}

/// An empty cache directory of this test process named after `tag`.
fn empty_cache_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("obsync-module-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Compiles the built-in Default format with a new engine (as a restart does) caching in `dir`.
fn compile_default(dir: &std::path::Path) {
    let bytes = builtin_format("default").unwrap();
    WasmEngine::new(Some(dir))
        .unwrap()
        .compile("default", bytes)
        .unwrap();
}

#[test]
fn compiled_modules_are_cached_on_disk() {
    let dir = empty_cache_dir("cache");
    compile_default(&dir);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .collect();
    assert_eq!(files.len(), 1, "one .cwasm per module");
    // A new engine (a restart) loads the cached artifact.
    compile_default(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_cache_entry_is_recompiled_not_run() {
    use std::os::unix::fs::PermissionsExt;
    let dir = empty_cache_dir("damage");
    compile_default(&dir);
    let file = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let good = std::fs::read(&file).unwrap();
    // One byte of native code changed (wasmtime checks only the header and engine settings).
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x5a;
    std::fs::write(&file, &bad).unwrap();
    compile_default(&dir);
    assert!(
        std::fs::read(&file).unwrap() == good,
        "the damaged entry must be recompiled (and rewritten), never loaded"
    );
    // A cache directory others may write is not used at all.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    compile_default(&dir);
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "nothing cached in a shared dir"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A batch of `rows` INSERTs into a 4-column table with strings, decimals and bytes.
fn rows_batch(rows: usize, seed: usize) -> FormatBatch {
    use obsync_sdk::{
        ChangeKind, ChangeMeta, ColumnSchema, ColumnType, RowChange, TableSchema, Value,
    };
    let column = |name: &str, column_type, sql_type: &str| ColumnSchema {
        name: name.into(),
        column_type,
        sql_type: sql_type.into(),
        unsigned: false,
        nullable: true,
    };
    FormatBatch {
        abi_version: ABI_VERSION,
        options: FormatOptions::default(),
        schemas: vec![TableSchema {
            database: "db".into(),
            table: "t".into(),
            columns: vec![
                column("id", ColumnType::BigInt, "bigint"),
                column("name", ColumnType::VarChar, "varchar(200)"),
                column("price", ColumnType::Decimal, "decimal(20,4)"),
                column("raw", ColumnType::Blob, "blob"),
            ],
            primary_key: vec![0],
        }],
        rows: (0..rows)
            .map(|i| RowChange {
                table: 0,
                kind: ChangeKind::Insert,
                before: None,
                after: Some(vec![
                    Value::Int((seed * 100_000 + i) as i64),
                    Value::Text(format!("名字-{seed}-{i}-{}", "x".repeat(i % 97))),
                    Value::Decimal(format!("{i}.{seed:04}")),
                    Value::Bytes(vec![(i % 256) as u8; i % 300]),
                ]),
                meta: ChangeMeta {
                    timestamp: 1_700_000_000,
                    transaction_id: format!("tx{seed}"),
                    position: "f:4".into(),
                    index_in_transaction: i as u32,
                    dedupe_key: format!("tx{seed}#{i}"),
                    server_id: 1,
                    sequence_in_transaction: i as u32 + 1,
                    stream_sequence: 170_000_000_000_000 + i as u64,
                },
            })
            .collect(),
    }
}

#[test]
fn builtin_format_matches_native_across_many_calls_in_bounded_memory() {
    // The built-in formats reset their heap at every call (per-call arena): 200 calls of up to
    // 400 rows fit in 32 MiB only if nothing accumulates, and every output must equal the native
    // format's, so a reset that freed live data would show as a difference.
    let engine = WasmEngine::new(None).unwrap();
    let limits = ModuleLimits {
        memory_bytes: 32 << 20,
        call_timeout_ms: 5_000,
    };
    let bytes = builtin_format("default").unwrap();
    let module = LoadedModule::load(&engine, "default", bytes, limits).unwrap();
    let mut instance = ModuleInstance::new(module, ModuleKind::Format).unwrap();
    for call in 0..200 {
        let b = rows_batch([400, 3, 250, 0, 57][call % 5], call);
        let wasm = instance.format(&b).unwrap();
        let native = obsync_format_default::format_batch(&(&b).into()).unwrap();
        assert_eq!(wasm, native, "call {call}");
    }
}
