//! Any bytes through the parser and the error renderer (`deriv::fuzz::parse`).
//!
//! With `DERIV_FUZZ_LAST=FILE` set, each input is written to FILE before it runs, so
//! that an input that kills the process outright (an abort from a stack overflow) is
//! kept even when libFuzzer cannot save it.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(path) = std::env::var_os("DERIV_FUZZ_LAST") {
        let _ = std::fs::write(path, data);
    }
    deriv::fuzz::parse(data)
});
