//! A segment line of any bytes: decoded, or refused as corrupt, never a panic; a decoded event
//! written again decodes to the same fields.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| livenstore::store::json::fuzz::segment_line(data));
