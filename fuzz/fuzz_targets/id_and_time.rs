//! Event ids and timestamps from any text: parsed or refused, never a panic; what parses prints
//! as text that parses to the same value, and JSON decoding agrees with `FromStr`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use livenstore::{EventId, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let json = serde_json::to_string(text).expect("a JSON string");
    match text.parse::<EventId>() {
        Ok(id) => {
            assert_eq!(id.to_string().parse::<EventId>().ok(), Some(id));
            assert_eq!(id.to_string(), text.to_ascii_uppercase());
            assert_eq!(serde_json::from_str::<EventId>(&json).ok(), Some(id));
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(serde_json::from_str::<EventId>(&json).is_err());
        }
    }
    match text.parse::<Timestamp>() {
        Ok(time) => {
            assert_eq!(time.to_string().parse::<Timestamp>().ok(), Some(time));
            assert_eq!(serde_json::from_str::<Timestamp>(&json).ok(), Some(time));
        }
        Err(e) => {
            let _ = e.to_string();
            assert!(serde_json::from_str::<Timestamp>(&json).is_err());
        }
    }
});
