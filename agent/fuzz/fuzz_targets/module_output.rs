//! The host's reader of module output (format and filter results) over arbitrary bytes: an
//! error or a result, never a panic, never an allocation in proportion to a claimed length
//! (scripts/fuzz.sh runs it with a malloc limit).
#![no_main]

use libfuzzer_sys::fuzz_target;
use obsync_sdk::abi::{self, FilterOutput, GuestResult};

fuzz_target!(|data: &[u8]| {
    let _ = abi::decode_format_result(data);
    let _ = abi::decode::<GuestResult<FilterOutput>>(data);
});
