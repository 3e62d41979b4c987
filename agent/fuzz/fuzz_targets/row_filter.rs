//! The row filter (`WHERE`) parser over arbitrary text: an error or a filter, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use obsync::filter::RowFilter;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = RowFilter::parse(text);
    }
});
