//! The account in eventually 0.4: an `Aggregate` whose `handle` turns a command into events and
//! whose `apply` folds them; an `AggregateRoot` collects them and the `Repository` appends them to
//! the in-memory `EventStore`.

use eventually::aggregate::AggregateRootBuilder;
use eventually::inmemory::EventStore;
use eventually::{Aggregate, Repository};
use std::future::Future;
use std::pin::Pin;

use crate::workload::{AccountError, AccountState, Operation, Workload};

/// The references and descriptions are stored with each event; the state only needs amounts.
#[allow(dead_code)]
#[derive(Debug, Clone)]
pub enum AccountEvent {
    Opened {
        owner: String,
        currency: String,
        overdraft_limit: u64,
    },
    Deposited {
        amount: u64,
        reference: String,
        description: String,
    },
    Withdrawn {
        amount: u64,
        reference: String,
        description: String,
    },
}

/// The commands are the operations themselves.
pub type AccountCommand = Operation;

#[derive(Debug, Clone, Copy)]
pub struct BankAccount;

impl Aggregate for BankAccount {
    type Id = String;
    type State = AccountState;
    type Event = AccountEvent;
    type Command = AccountCommand;
    type Error = AccountError;

    fn apply(mut state: AccountState, event: AccountEvent) -> Result<AccountState, AccountError> {
        match event {
            AccountEvent::Opened {
                owner,
                currency,
                overdraft_limit,
            } => state.opened(&owner, &currency, overdraft_limit),
            AccountEvent::Deposited { amount, .. } => state.balance += amount as i64,
            AccountEvent::Withdrawn { amount, .. } => state.balance -= amount as i64,
        }
        Ok(state)
    }

    fn handle<'a, 's: 'a>(
        &'a self,
        _id: &'s String,
        state: &'s AccountState,
        command: AccountCommand,
    ) -> Pin<Box<dyn Future<Output = Result<Option<Vec<AccountEvent>>, AccountError>> + Send + 'a>>
    {
        Box::pin(async move {
            let event = match command {
                Operation::Open {
                    owner,
                    currency,
                    overdraft_limit,
                } => {
                    state.check_open()?;
                    AccountEvent::Opened {
                        owner,
                        currency,
                        overdraft_limit,
                    }
                }
                Operation::Deposit {
                    amount,
                    reference,
                    description,
                } => {
                    state.check_deposit(amount)?;
                    AccountEvent::Deposited {
                        amount,
                        reference,
                        description,
                    }
                }
                Operation::Withdraw {
                    amount,
                    reference,
                    description,
                } => {
                    state.check_withdraw(amount)?;
                    AccountEvent::Withdrawn {
                        amount,
                        reference,
                        description,
                    }
                }
            };
            Ok(Some(vec![event]))
        })
    }
}

pub type Store = EventStore<String, AccountEvent>;
pub type Repo = Repository<BankAccount, Store>;

/// A repository over a new, empty store.
pub fn repository() -> Repo {
    Repository::new(AggregateRootBuilder::from(BankAccount), Store::default())
}

/// Every account: a new root, `handle` each operation, one `Repository::add`.
pub async fn persist_one_add(repo: &mut Repo, work: &Workload) {
    let builder = AggregateRootBuilder::from(BankAccount);
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        let mut root = builder.build(id.clone());
        for op in ops {
            root.handle(op.clone()).await.expect("rules hold");
        }
        repo.add(root).await.expect("add");
    }
}

/// Every operation of every account as its own command: `get`, `handle`, `add`.
pub async fn persist_per_command(repo: &mut Repo, work: &Workload) {
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        for op in ops {
            let mut root = repo.get(id.clone()).await.expect("get");
            root.handle(op.clone()).await.expect("rules hold");
            repo.add(root).await.expect("add");
        }
    }
}

/// Loads every account (`Repository::get`) and checks its balance.
pub async fn reload(repo: &Repo, work: &Workload) {
    for (id, balance) in work.ids.iter().zip(&work.balances) {
        let root = repo.get(id.clone()).await.expect("get");
        assert_eq!(root.state().balance, *balance, "{id}");
    }
}
