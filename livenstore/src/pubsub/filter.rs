//! [`EventFilter`]: which events a subscription receives.

use std::fmt;

use crate::{DomainEvent, RecordedEvent};

/// Which events a subscription receives: all, a set of event types, one stream, or one stream
/// category.
///
/// The category of a stream is the part of its name before the first `-` (`"user"` for
/// `"user-42"`); a stream name without `-` is its own category.
///
/// For typed event sets, [`EventFilter::types`] takes a tuple of [`DomainEvent`] types and
/// [`EventFilter::or_type`] adds one more type to a type filter.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::EventFilter;
/// use livenstore::DomainEvent;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Serialize, Deserialize)] struct UserCreated;
/// # impl DomainEvent for UserCreated { const EVENT_TYPE: &'static str = "UserCreated"; }
/// # #[derive(Serialize, Deserialize)] struct UserRenamed;
/// # impl DomainEvent for UserRenamed { const EVENT_TYPE: &'static str = "user.renamed"; }
///
/// let users = EventFilter::types::<(UserCreated, UserRenamed)>();
/// assert!(users.matches_parts("UserCreated", "user-1"));
/// assert!(!users.matches_parts("OrderPlaced", "order-1"));
///
/// let same = EventFilter::event_type::<UserCreated>().or_type::<UserRenamed>();
/// assert_eq!(users, same);
///
/// assert!(EventFilter::category("user").matches_parts("OrderPlaced", "user-7"));
/// assert!(EventFilter::stream("user-7").matches_parts("OrderPlaced", "user-7"));
/// assert!(EventFilter::all().matches_parts("Anything", "any"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EventFilter {
    kind: Kind,
    /// Only the streams of one member of a group: `(index, count)`.
    share: Option<(u32, u32)>,
}

#[derive(Clone, PartialEq, Eq)]
enum Kind {
    All,
    /// Sorted, without duplicates.
    Types(Vec<Box<str>>),
    Stream(Box<str>),
    Category(Box<str>),
}

impl EventFilter {
    /// Every event.
    pub fn all() -> Self {
        EventFilter {
            kind: Kind::All,
            share: None,
        }
    }

    /// Events whose type is one of the types of the tuple `T` (`(A,)`, `(A, B)`, … up to 8).
    pub fn types<T: EventTypeSet>() -> Self {
        let mut names = Vec::new();
        T::push_names(&mut names);
        Self::from_names(names.into_iter().map(Box::from))
    }

    /// Events of the domain type `T`: stored under its name or one of its aliases (each then
    /// decodes as `T` with [`RecordedEvent::to_domain`], older versions through its upcasts).
    pub fn event_type<T: DomainEvent>() -> Self {
        Self::from_names(names_of::<T>().map(Box::from))
    }

    /// Events whose type name is one of `names` (untyped form of [`types`](Self::types)). An
    /// empty set matches nothing.
    pub fn event_type_names<I, N>(names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        Self::from_names(names.into_iter().map(|n| Box::from(n.as_ref())))
    }

    /// This type filter, also matching events of the domain type `T`. On a filter that is not a
    /// type filter, the result matches only `T` (a type set replaces a stream or category
    /// filter; it does not combine with it).
    pub fn or_type<T: DomainEvent>(self) -> Self {
        let mut names = match self.kind {
            Kind::Types(names) => names,
            _ => Vec::new(),
        };
        names.extend(names_of::<T>().map(Box::from));
        Self {
            share: self.share,
            ..Self::from_names(names)
        }
    }

    /// Events appended to the stream `stream` (linked copies are not followed).
    pub fn stream(stream: impl AsRef<str>) -> Self {
        EventFilter {
            kind: Kind::Stream(Box::from(stream.as_ref())),
            share: None,
        }
    }

    /// Events of every stream whose category (the name before the first `-`) is `category`.
    pub fn category(category: impl AsRef<str>) -> Self {
        EventFilter {
            kind: Kind::Category(Box::from(category.as_ref())),
            share: None,
        }
    }

    fn from_names(names: impl IntoIterator<Item = Box<str>>) -> Self {
        let mut names: Vec<Box<str>> = names.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        EventFilter {
            kind: Kind::Types(names),
            share: None,
        }
    }

    /// Only the events of the streams that member `index` of a group of `count` owns: each
    /// stream belongs to exactly one member ([`stream_member`], a stable hash of its name), so
    /// the members of a [`Consumer`](super::Consumer) group split a store between them and
    /// each stream's events stay in order on one member. An `index` not below `count` matches
    /// nothing; a `count` of 0 is taken as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use livenstore::pubsub::{stream_member, EventFilter};
    ///
    /// let streams = ["account-1", "account-2", "order-9", "user-3"];
    /// for stream in streams {
    ///     let owners: Vec<u32> = (0..3)
    ///         .filter(|&i| EventFilter::all().member_of(i, 3).matches_parts("Any", stream))
    ///         .collect();
    ///     assert_eq!(owners, [stream_member(stream, 3)]);
    /// }
    /// ```
    pub fn member_of(mut self, index: u32, count: u32) -> Self {
        self.share = Some((index, count.max(1)));
        self
    }

    /// Whether `event` passes the filter.
    #[inline]
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        // `All` does not read the event: on the publish path its fields may sit in a cache
        // line another core just wrote (the previous handler dropping its clone).
        match (&self.kind, self.share) {
            (Kind::All, None) => true,
            _ => self.matches_parts(event.event_type(), event.stream()),
        }
    }

    /// Whether an event of type `event_type` appended to `stream` passes the filter.
    pub fn matches_parts(&self, event_type: &str, stream: &str) -> bool {
        if let Some((index, count)) = self.share {
            if stream_member(stream, count) != index {
                return false;
            }
        }
        match &self.kind {
            Kind::All => true,
            Kind::Types(names) => names.iter().any(|n| &**n == event_type),
            Kind::Stream(s) => &**s == stream,
            Kind::Category(c) => category_of(stream) == &**c,
        }
    }

    /// Whether the filter lets every event through.
    pub fn is_all(&self) -> bool {
        matches!(self.kind, Kind::All) && self.share.is_none()
    }
}

impl Default for EventFilter {
    /// [`EventFilter::all`].
    fn default() -> Self {
        Self::all()
    }
}

impl fmt::Debug for EventFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((index, count)) = self.share {
            write!(f, "member {index} of {count}: ")?;
        }
        match &self.kind {
            Kind::All => f.write_str("EventFilter::All"),
            Kind::Types(names) => f.debug_tuple("EventFilter::Types").field(names).finish(),
            Kind::Stream(s) => f.debug_tuple("EventFilter::Stream").field(s).finish(),
            Kind::Category(c) => f.debug_tuple("EventFilter::Category").field(c).finish(),
        }
    }
}

/// The member of a group of `count` (0 taken as 1) that owns `stream`: the FNV-1a 64 hash of
/// its name modulo `count`. Stable across processes, machines and versions of this crate, so
/// members started anywhere agree.
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::stream_member;
///
/// assert_eq!(stream_member("account-1", 1), 0);
/// assert_eq!(stream_member("account-1", 4), stream_member("account-1", 4));
/// assert!(stream_member("account-1", 4) < 4);
/// ```
pub fn stream_member(stream: &str, count: u32) -> u32 {
    let hash = crate::fnv::hash(stream.as_bytes());
    // The remainder is below `count`, a u32.
    u32::try_from(hash % u64::from(count.max(1))).unwrap_or(0)
}

/// The category of a stream: its name before the first `-` (the whole name when it has none).
///
/// # Examples
///
/// ```
/// assert_eq!(livenstore::pubsub::category_of("user-42-a"), "user");
/// assert_eq!(livenstore::pubsub::category_of("audit"), "audit");
/// ```
pub fn category_of(stream: &str) -> &str {
    stream
        .split_once('-')
        .map_or(stream, |(category, _)| category)
}

/// A set of [`DomainEvent`] types, written as a tuple: `(A,)`, `(A, B)`, … up to 8 types. Used
/// by [`EventFilter::types`].
///
/// # Examples
///
/// ```
/// use livenstore::pubsub::{EventFilter, EventTypeSet};
/// use livenstore::DomainEvent;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// struct OrderPlaced { order: u64 }
/// #[derive(Serialize, Deserialize, DomainEvent)]
/// #[event(name = "order.shipped")]
/// struct OrderShipped { order: u64 }
///
/// type OrderEvents = (OrderPlaced, OrderShipped);
/// let mut names = Vec::new();
/// <OrderEvents as EventTypeSet>::push_names(&mut names);
/// assert_eq!(names, ["OrderPlaced", "order.shipped"]);
///
/// let orders = EventFilter::types::<OrderEvents>();
/// assert!(orders.matches_parts("order.shipped", "order-7"));
/// assert!(!orders.matches_parts("UserCreated", "order-7"));
/// ```
pub trait EventTypeSet {
    /// Appends the `EVENT_TYPE` and the `ALIASES` of every type of the set to `names`.
    fn push_names(names: &mut Vec<&'static str>);
}

/// The names events of `T` are stored under: its own, then its aliases.
fn names_of<T: DomainEvent>() -> impl Iterator<Item = &'static str> {
    std::iter::once(T::EVENT_TYPE).chain(T::ALIASES.iter().copied())
}

macro_rules! impl_event_type_set {
    ($($t:ident),+) => {
        impl<$($t: DomainEvent),+> EventTypeSet for ($($t,)+) {
            fn push_names(names: &mut Vec<&'static str>) {
                $(names.extend(names_of::<$t>());)+
            }
        }
    };
}

impl_event_type_set!(A);
impl_event_type_set!(A, B);
impl_event_type_set!(A, B, C);
impl_event_type_set!(A, B, C, D);
impl_event_type_set!(A, B, C, D, E);
impl_event_type_set!(A, B, C, D, E, F);
impl_event_type_set!(A, B, C, D, E, F, G);
impl_event_type_set!(A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    #[test]
    fn adding_a_type_keeps_a_members_share() {
        let filter = EventFilter::event_type_names(["A"])
            .member_of(1, 2)
            .or_type::<B>();
        let other = (0..100)
            .map(|i| format!("s-{i}"))
            .find(|s| stream_member(s, 2) == 0)
            .unwrap();
        assert!(!filter.matches_parts("A", &other), "{filter:?}");
    }

    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct A;
    impl DomainEvent for A {
        const EVENT_TYPE: &'static str = "A";
    }
    #[derive(Serialize, Deserialize)]
    struct B;
    impl DomainEvent for B {
        const EVENT_TYPE: &'static str = "b.renamed";
        const ALIASES: &'static [&'static str] = &["B"];
    }

    #[test]
    fn type_sets_are_sorted_and_deduplicated() {
        assert_eq!(
            EventFilter::types::<(B, A, B)>(),
            EventFilter::event_type_names(["A", "B", "b.renamed"])
        );
        assert!(EventFilter::types::<(A,)>().matches_parts("A", "x"));
        assert!(!EventFilter::types::<(A,)>().matches_parts("b.renamed", "x"));
    }

    #[test]
    fn a_type_matches_its_aliases() {
        for filter in [
            EventFilter::event_type::<B>(),
            EventFilter::all().or_type::<B>(),
        ] {
            assert!(filter.matches_parts("b.renamed", "x"));
            assert!(filter.matches_parts("B", "x"), "stored under the old name");
            assert!(!filter.matches_parts("A", "x"));
        }
    }

    #[test]
    fn empty_type_set_matches_nothing() {
        let none = EventFilter::event_type_names(Vec::<String>::new());
        assert!(!none.matches_parts("A", "s"));
    }

    #[test]
    fn or_type_replaces_a_stream_filter() {
        let f = EventFilter::stream("s-1").or_type::<A>();
        assert_eq!(f, EventFilter::event_type::<A>());
    }

    #[test]
    fn matches_reads_type_and_stream_of_a_recorded_event() {
        use crate::{EventId, Metadata, Payload, RecordedEventParts, Timestamp};
        let event = RecordedEvent::from_parts(RecordedEventParts {
            id: EventId::new(),
            event_type: "A".into(),
            stream: "user-1".into(),
            version: 1,
            position: 1,
            recorded_at: Timestamp::now(),
            metadata: Metadata::new(),
            payload: Payload::from_trusted_json("{}"),
            event_version: 1,
        });
        assert!(EventFilter::all().matches(&event));
        assert!(EventFilter::types::<(A,)>().matches(&event));
        assert!(!EventFilter::types::<(B,)>().matches(&event));
        assert!(EventFilter::category("user").matches(&event));
        assert!(!EventFilter::stream("user-2").matches(&event));
    }

    #[test]
    fn categories_and_streams() {
        assert_eq!(category_of("a-b-c"), "a");
        assert_eq!(category_of("-x"), "");
        assert!(EventFilter::category("user").matches_parts("T", "user-1"));
        assert!(EventFilter::category("user").matches_parts("T", "user"));
        assert!(!EventFilter::category("user").matches_parts("T", "users-1"));
        assert!(!EventFilter::stream("user-1").matches_parts("T", "user-10"));
    }
}
