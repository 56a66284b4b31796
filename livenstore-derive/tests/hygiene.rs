//! Generated code names everything by absolute path: these look-alikes in scope must not be
//! picked up, and the lints below must stay quiet.
#![deny(unused_qualifications)]
#![forbid(unsafe_code)]
#![allow(dead_code, non_camel_case_types)]

use serde::{Deserialize, Serialize};

struct Result;
struct Ok;
struct Err;
struct Option;
struct Some;
struct None;
struct Box;
struct String;
struct Vec;
struct From;
struct Debug;
struct Clone;
struct Any;
struct event;
struct json;
struct event_type;
struct self_;

#[derive(
    ::core::fmt::Debug, ::core::clone::Clone, Serialize, Deserialize, ::livenstore::DomainEvent,
)]
#[event(name = "hygiene.opened")]
struct Opened {
    n: ::core::primitive::u32,
}

#[derive(
    ::core::fmt::Debug, ::core::clone::Clone, Serialize, Deserialize, ::livenstore::DomainEvent,
)]
enum Flagged {
    Up,
    Down,
}

/// The aggregate lives where even `str` and `u8` are shadowed (serde's own derives do not
/// support that, so the events stay outside).
mod strict {
    use super::*;

    struct str;
    struct u8;

    #[derive(::core::default::Default, ::livenstore::Aggregate)]
    #[aggregate(events(Opened, Flagged))]
    pub(super) struct Thing {
        pub(super) total: ::core::primitive::u32,
    }

    impl Thing {
        fn on_opened(
            &mut self,
            e: &Opened,
        ) -> ::core::result::Result<(), ::livenstore::DomainError> {
            self.total += e.n;
            ::core::result::Result::Ok(())
        }

        fn on_flagged(
            &mut self,
            _: &Flagged,
        ) -> ::core::result::Result<(), ::livenstore::DomainError> {
            ::core::result::Result::Ok(())
        }
    }
}

use strict::{Thing, ThingEvent};

#[test]
fn compiles_and_dispatches() {
    use ::livenstore::{Aggregate as _, AggregateEvent as _};
    let mut thing = Thing::default();
    thing.handle(&ThingEvent::Opened(Opened { n: 2 })).unwrap();
    thing.handle(&ThingEvent::from(Flagged::Up)).unwrap();
    assert_eq!(thing.total, 2);
    assert!(ThingEvent::decode("hygiene.opened", 1, b"{\"n\":1}").is_ok());
    assert!(ThingEvent::decode("nope", 1, b"null").is_err());
}
