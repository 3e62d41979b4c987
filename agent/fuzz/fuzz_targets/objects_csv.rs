//! The OMS objects CSV import over arbitrary bytes: objects and per-cell errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = obsync::config::parse_csv(std::path::Path::new("objects.csv"), data);
});
