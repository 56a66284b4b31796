//! A whole segment of any bytes through the read-only open (scan or survey), verify and repair:
//! no panic, and a repaired store opens, verifies and keeps every intact event.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| livenstore::store::json::fuzz::segment_scan(data));
