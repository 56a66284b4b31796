//! The fault rules of the JetStream store, proven against real servers (skipped when
//! `LIVENSTORE_NATS_URL` is unset, like every test of this crate):
//!
//! 1. a server restart (SIGTERM, then SIGKILL) in the middle of concurrent appends: the same
//!    store instance reconnects, every acknowledged append is stored exactly once, gap-free,
//!    every append refused with a known outcome is absent, and retries store at most once;
//! 2. an unreachable or silent server at start is a `StoreError::Connection` naming the address
//!    without its credentials, within the connect timeout (and credentials in the URL do reach
//!    a server that requires them; a list of URLs connects to the one that answers; a server
//!    without JetStream is a `StoreError::Backend`);
//! 3. a stream made by someone else with settings the store cannot use is refused by name, and
//!    nothing is written to it;
//! 4. a foreign message in the store's subject is `StoreError::Corrupted` at its sequence, for
//!    a new store and for an open one;
//! 5. two stores on one stream appending to the same streams with expected versions: no lost
//!    update, typed conflicts, gap-free positions, converging replicas;
//! 6. a stream deleted and made again under an open store is damage, reported at once (not an
//!    append that never returns).
//!
//! The restart tests start their own `nats-server` (on a free port, with a store directory of
//! their own), so they can stop and restart it; the binary is looked up as `NATS_SERVER_BIN`,
//! then `/usr/sbin/nats-server`, then `nats-server` on the `PATH`.

mod support;

mod connect;
mod foreign;
mod incompatible;
mod recreated;
mod restart;
mod two_stores;
