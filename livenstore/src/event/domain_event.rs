//! The [`DomainEvent`] trait, implemented by `#[derive(DomainEvent)]`.

use serde::de::DeserializeOwned;
use serde::Serialize;

#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a domain event",
    label = "`{Self}` does not implement `DomainEvent`",
    note = "add `#[derive(DomainEvent)]` (and `Serialize`, `Deserialize`) to `{Self}`"
)]
/// A domain event: a plain serializable struct or enum with a stable type name.
///
/// Derive it with `#[derive(DomainEvent)]`; the name is the type's own name unless
/// `#[event(name = "...")]` gives another. The derive also registers the type in the
/// [`EventRegistry`](crate::EventRegistry), so a stored `(type name, JSON)` pair can be decoded
/// by name anywhere in the program.
///
/// # Examples
///
/// ```
/// use livenstore::DomainEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// struct UserCreated { username: String }
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "user.renamed")]
/// struct UserRenamed { new_username: String }
///
/// assert_eq!(UserCreated::EVENT_TYPE, "UserCreated");
/// assert_eq!(UserRenamed::EVENT_TYPE, "user.renamed");
/// ```
pub trait DomainEvent: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable name stored with every event of this type. Renaming the Rust type does not
    /// change it when it is set with `#[event(name = "...")]`.
    const EVENT_TYPE: &'static str;
}
