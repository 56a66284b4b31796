//! The bank service: an HTTP API over the bank account of `examples/bank_account.rs`.
//!
//! The binary (`main.rs`) parses its command line and calls [`start`]; the integration tests
//! (`tests/bank_service/`) and the load bench (`benches/bank_service.rs`) include this module
//! with `#[path]` and start the same service in-process on an ephemeral port.
//!
//! - [`account`]: the aggregate, its events and rules (copied from the bank account example).
//! - [`api`]: the routes and their handlers; [`live`]: `GET /events/live` (server-sent events);
//!   [`state`]: what they share (the repository and its settings).
//! - [`error`]: every failure as a status and a JSON body; [`extract`]: the extractors that
//!   turn bad requests into those errors.
//! - [`backend`]: the store (a JSON directory or a PostgreSQL schema) and its subscription
//!   manager.

pub mod account;
pub mod api;
pub mod backend;
pub mod error;
pub mod extract;
pub mod live;
pub mod state;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::router;
pub use backend::Backend;
pub use state::AppState;

/// A service started by [`start`]: where it listens, and how to stop it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl Running {
    /// The address the service listens on (with the port the system chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits up to `grace` for the open ones to finish; a live
    /// feed never finishes by itself, so connections still open then are closed. Returns
    /// whether every connection finished within `grace`.
    ///
    /// # Errors
    ///
    /// When serving failed (accepting connections).
    pub async fn stop(mut self, grace: Duration) -> io::Result<bool> {
        let _ = self.shutdown.send(());
        match tokio::time::timeout(grace, &mut self.task).await {
            Ok(Ok(served)) => served.map(|()| true),
            Ok(Err(join)) => Err(io::Error::other(join)),
            Err(_) => {
                self.task.abort();
                Ok(false)
            }
        }
    }
}

/// Binds `listen` and serves the API over `backend` on the current tokio runtime.
///
/// # Errors
///
/// When the address cannot be bound.
pub async fn start(backend: Backend, listen: SocketAddr) -> io::Result<Running> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    // Small requests and answers: send each at once rather than wait for more to fill a packet.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let app = router(AppState::new(backend));
    let (shutdown, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        shutdown,
        task,
    })
}
