//! The account in livenstore: derived events and aggregate, saved and loaded by a `Repository`.

use livenstore::{
    Aggregate, AggregateEvent, AggregateRoot, DomainEvent, EventStore, ExpectedVersion, Repository,
};
use serde::{Deserialize, Serialize};

use crate::workload::{AccountError, AccountState, Operation, Workload};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
pub struct AccountOpened {
    owner: String,
    currency: String,
    overdraft_limit: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct MoneyDeposited {
    amount: u64,
    reference: String,
    description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
pub struct MoneyWithdrawn {
    amount: u64,
    reference: String,
    description: String,
}

#[derive(Debug, Clone, Default, Aggregate)]
#[aggregate(
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn),
    error = AccountError,
    name = "account"
)]
pub struct Account {
    state: AccountState,
}

impl Account {
    fn on_account_opened(&mut self, e: &AccountOpened) -> Result<(), AccountError> {
        self.state.check_open()?;
        self.state.opened(&e.owner, &e.currency, e.overdraft_limit);
        Ok(())
    }

    fn on_money_deposited(&mut self, e: &MoneyDeposited) -> Result<(), AccountError> {
        self.state.check_deposit(e.amount)?;
        self.state.balance += e.amount as i64;
        Ok(())
    }

    fn on_money_withdrawn(&mut self, e: &MoneyWithdrawn) -> Result<(), AccountError> {
        self.state.check_withdraw(e.amount)?;
        self.state.balance -= e.amount as i64;
        Ok(())
    }
}

/// The event an operation becomes (its strings cloned, as a command handler would move them).
fn event(op: &Operation) -> AccountEvent {
    match op {
        Operation::Open {
            owner,
            currency,
            overdraft_limit,
        } => AccountOpened {
            owner: owner.clone(),
            currency: currency.clone(),
            overdraft_limit: *overdraft_limit,
        }
        .into(),
        Operation::Deposit {
            amount,
            reference,
            description,
        } => MoneyDeposited {
            amount: *amount,
            reference: reference.clone(),
            description: description.clone(),
        }
        .into(),
        Operation::Withdraw {
            amount,
            reference,
            description,
        } => MoneyWithdrawn {
            amount: *amount,
            reference: reference.clone(),
            description: description.clone(),
        }
        .into(),
    }
}

/// How an account's unsaved events reach the store.
#[derive(Debug, Clone, Copy)]
pub enum Save {
    /// `Repository::save` (and `transact`): the events are serialized from a borrow
    /// (`to_new_event`), so the store holds JSON only and a load decodes it.
    Repository,
    /// `collect_unsaved` + `AggregateEvent::into_new_event` + `EventStore::append` with the same
    /// expected version as `save`: the events keep their typed values, which `InMemoryStore`
    /// replays without decoding JSON.
    TypedAppend,
}

fn save<S: EventStore>(repo: &Repository<S>, account: &mut AggregateRoot<Account>, how: Save) {
    match how {
        Save::Repository => {
            repo.save(account).expect("save");
        }
        Save::TypedAppend => {
            let expected = ExpectedVersion::Exact(account.saved_version());
            let events = account
                .collect_unsaved()
                .into_iter()
                .map(|event| event.into_new_event().expect("serialize"))
                .collect();
            repo.store()
                .append(&account.stream_name(), expected, events)
                .expect("append");
        }
    }
}

/// Every account: `create`, `apply` each operation's event, one save.
pub fn persist_one_save<S: EventStore>(repo: &Repository<S>, work: &Workload, how: Save) {
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        let mut account = repo.create::<Account>(id).expect("new account");
        for op in ops {
            account.apply(event(op)).expect("rules hold");
        }
        save(repo, &mut account, how);
    }
}

/// Every operation of every account as its own command: `transact` (load, apply, save; retried
/// on a conflict, which never happens here), or with `Save::TypedAppend` the same steps by hand.
pub fn persist_per_command<S: EventStore>(repo: &Repository<S>, work: &Workload, how: Save) {
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        for op in ops {
            match how {
                Save::Repository => repo
                    .transact::<Account, _, _>(id, |account| account.apply(event(op)))
                    .expect("transact"),
                Save::TypedAppend => {
                    let mut account = repo.get_or_create::<Account>(id).expect("load");
                    account.apply(event(op)).expect("rules hold");
                    save(repo, &mut account, how);
                }
            }
        }
    }
}

/// Loads every account and checks its balance.
pub fn reload<S: EventStore>(repo: &Repository<S>, work: &Workload) {
    for (id, balance) in work.ids.iter().zip(&work.balances) {
        let account = repo.load::<Account>(id).expect("load");
        assert_eq!(account.state().state.balance, *balance, "{id}");
    }
}
