//! Where a store call runs: inline for a store that does not block, on tokio's blocking pool for
//! one that does.
//!
//! Invariant: a call started on the blocking pool runs to its end whether or not its future is
//! awaited (tokio detaches a dropped `JoinHandle`'s task), so a dropped future never cuts a
//! store call in half. A panic in the call is resumed in the awaiting task.

use crate::StoreError;

/// Runs `call` inline when `blocks` is false, else on the blocking pool.
///
/// # Errors
///
/// [`StoreError::Closed`] when the runtime shut down before the call started (nothing of it
/// ran).
pub(crate) async fn offload<R, F>(blocks: bool, call: F) -> Result<R, StoreError>
where
    R: Send + 'static,
    F: FnOnce() -> R + Send + 'static,
{
    if !blocks {
        return Ok(call());
    }
    match tokio::task::spawn_blocking(call).await {
        Ok(value) => Ok(value),
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => Err(StoreError::Closed),
        },
    }
}
