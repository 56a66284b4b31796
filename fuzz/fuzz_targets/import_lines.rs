//! An import file of any bytes through `livenstore DIR import`'s reader into an empty store.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| livenstore_cli::fuzz::import(data));
