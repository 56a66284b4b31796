//! [`AsyncRepository`]: a [`Repository`]'s loads, saves and commands as futures.
//!
//! Invariant: a command (`transact`) runs whole in one call on the blocking pool: load, the
//! closure, save, and the retries after a conflict, so no lock or connection is held across an
//! await and a dropped future cannot stop it between its save and its retry.

use std::sync::Arc;

use super::offload::offload;
use crate::{
    Aggregate, AggregateRoot, AppendResult, CommandContext, EventStore, Repository, RepositoryError,
};

/// A [`Repository`] for async code. Cloning is cheap (an `Arc`); every future is `Send`.
///
/// Command closures are synchronous: they decide, from the aggregate's state, which events to
/// apply (the part that may run again after a conflict). Do async work (a call to another
/// service) before the command and pass its result in, or after it with what it returned.
///
/// See the [module documentation](super) for an example.
pub struct AsyncRepository<S> {
    repo: Arc<Repository<S>>,
}

impl<S> Clone for AsyncRepository<S> {
    fn clone(&self) -> Self {
        AsyncRepository {
            repo: Arc::clone(&self.repo),
        }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for AsyncRepository<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AsyncRepository").field(&self.repo).finish()
    }
}

impl<S: EventStore + 'static> AsyncRepository<S> {
    /// The async face of `repo` (configure it first: cache, attempts, snapshot hook).
    pub fn new(repo: Repository<S>) -> Self {
        AsyncRepository {
            repo: Arc::new(repo),
        }
    }

    /// The repository, for synchronous calls.
    pub fn repository(&self) -> &Repository<S> {
        &self.repo
    }

    async fn call<R, E, F>(&self, call: F) -> Result<R, RepositoryError<E>>
    where
        R: Send + 'static,
        E: std::error::Error + Send + 'static,
        F: FnOnce(&Repository<S>) -> Result<R, RepositoryError<E>> + Send + 'static,
    {
        let repo = Arc::clone(&self.repo);
        offload(self.repo.store().blocks(), move || call(&repo)).await?
    }

    /// [`Repository::load`].
    ///
    /// # Errors
    ///
    /// As [`Repository::load`].
    pub async fn load<A>(&self, id: &str) -> Result<AggregateRoot<A>, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
    {
        let id = id.to_owned();
        self.call(move |repo| repo.load::<A>(&id)).await
    }

    /// [`Repository::create`].
    ///
    /// # Errors
    ///
    /// As [`Repository::create`].
    pub async fn create<A>(&self, id: &str) -> Result<AggregateRoot<A>, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
    {
        let id = id.to_owned();
        self.call(move |repo| repo.create::<A>(&id)).await
    }

    /// [`Repository::get_or_create`].
    ///
    /// # Errors
    ///
    /// As [`Repository::get_or_create`].
    pub async fn get_or_create<A>(
        &self,
        id: &str,
    ) -> Result<AggregateRoot<A>, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
    {
        let id = id.to_owned();
        self.call(move |repo| repo.get_or_create::<A>(&id)).await
    }

    /// [`Repository::save`]. The aggregate travels to the blocking pool and back; if this
    /// future is dropped before it completes, `root` is left a new, empty aggregate (reload it:
    /// the append completed or failed as a whole, and the stream tells which).
    ///
    /// # Errors
    ///
    /// As [`Repository::save`] (on a conflict, `root` keeps its unsaved events).
    pub async fn save<A>(
        &self,
        root: &mut AggregateRoot<A>,
    ) -> Result<Option<AppendResult>, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
    {
        if !self.repo.store().blocks() {
            return self.repo.save(root);
        }
        let mut taken = std::mem::replace(root, AggregateRoot::new(root.id()));
        let (back, result) = self
            .call(move |repo| {
                let result = repo.save(&mut taken);
                Ok((taken, result))
            })
            .await?;
        *root = back;
        result
    }

    /// [`Repository::transact`]: load `id`, run `command`, save; again on a conflict. The whole
    /// command runs in one call on the blocking pool.
    ///
    /// # Errors
    ///
    /// As [`Repository::transact`].
    pub async fn transact<A, T, F>(
        &self,
        id: &str,
        command: F,
    ) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
        T: Send + 'static,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error> + Send + 'static,
    {
        let id = id.to_owned();
        self.call(move |repo| repo.transact::<A, T, F>(&id, command))
            .await
    }

    /// [`Repository::transact_with`]: [`transact`](Self::transact), every event stamped with
    /// `context`.
    ///
    /// # Errors
    ///
    /// As [`Repository::transact`].
    pub async fn transact_with<A, T, F>(
        &self,
        context: &CommandContext,
        id: &str,
        command: F,
    ) -> Result<T, RepositoryError<A::Error>>
    where
        A: Aggregate + Send,
        T: Send + 'static,
        F: FnMut(&mut AggregateRoot<A>) -> Result<T, A::Error> + Send + 'static,
    {
        let id = id.to_owned();
        let context = context.clone();
        self.call(move |repo| repo.transact_with::<A, T, F>(&context, &id, command))
            .await
    }
}
