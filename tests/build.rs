//! Builds the example modules in `examples/` for `wasm32-unknown-unknown`, so the tests can run
//! them exactly as a user would (see `agent/build_wasm.rs`).

include!("../agent/build_wasm.rs");

fn main() {
    build_wasm_modules(&[
        (
            "debezium-format",
            "debezium_format.wasm",
            "OBSYNC_EXAMPLE_DEBEZIUM_FORMAT",
        ),
        (
            "mask-filter",
            "mask_filter.wasm",
            "OBSYNC_EXAMPLE_MASK_FILTER",
        ),
    ]);
}
