//! The write path: appends and links.
//!
//! | file | holds |
//! |---|---|
//! | `group_commit.rs` | the queue that gathers concurrent appends into groups, and who leads |
//! | `plan.rs` | a group's plan: versions, positions, rows, from the state it read |
//! | `state.rs` | reading what a group needs under the lock: the head and its streams |
//! | `append.rs` | a group written in one transaction under the head lock (the locked path) |
//! | `predicted.rs` | a group written as one statement when the chain predicts its state |
//! | `pipeline/` | the next group writing while the previous one commits |
//! | `columns.rs` | rows as statement parameters, split into statements |
//! | `link.rs` | `link_to_stream` |

pub(crate) mod append;
pub(crate) mod columns;
pub(crate) mod group_commit;
pub(crate) mod link;
pub(crate) mod pipeline;
pub(crate) mod plan;
pub(crate) mod predicted;
pub(crate) mod state;
