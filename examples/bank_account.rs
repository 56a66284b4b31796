//! A bank account: business rules enforced in handlers, events saved through a repository,
//! concurrent writers resolved by optimistic concurrency.
//!
//! Run with `cargo run --example bank_account`.

use livenstore::{Aggregate, DomainEvent, InMemoryStore, Repository, RepositoryError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
struct AccountOpened {
    owner: String,
    overdraft_limit: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct MoneyDeposited {
    amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
struct MoneyWithdrawn {
    amount: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.closed")]
struct AccountClosed;

#[derive(Debug, PartialEq, thiserror::Error)]
enum AccountError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
    #[error("amounts must be positive")]
    ZeroAmount,
    #[error("withdrawing {requested} would exceed the overdraft limit (available: {available})")]
    InsufficientFunds { requested: u64, available: i128 },
    #[error("an account with a balance of {0} cannot be closed")]
    NonZeroBalance(i128),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed),
    error = AccountError,
    name = "account"
)]
struct BankAccount {
    open: bool,
    owner: String,
    balance: i128,
    overdraft_limit: u64,
}

impl BankAccount {
    fn on_account_opened(&mut self, e: &AccountOpened) -> Result<(), AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        self.open = true;
        self.owner = e.owner.clone();
        self.overdraft_limit = e.overdraft_limit;
        Ok(())
    }

    fn on_money_deposited(&mut self, e: &MoneyDeposited) -> Result<(), AccountError> {
        self.ensure_open()?;
        if e.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        self.balance += i128::from(e.amount);
        Ok(())
    }

    fn on_money_withdrawn(&mut self, e: &MoneyWithdrawn) -> Result<(), AccountError> {
        self.ensure_open()?;
        if e.amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        let available = self.balance + i128::from(self.overdraft_limit);
        if i128::from(e.amount) > available {
            return Err(AccountError::InsufficientFunds {
                requested: e.amount,
                available,
            });
        }
        self.balance -= i128::from(e.amount);
        Ok(())
    }

    fn on_account_closed(&mut self, _: &AccountClosed) -> Result<(), AccountError> {
        self.ensure_open()?;
        if self.balance != 0 {
            return Err(AccountError::NonZeroBalance(self.balance));
        }
        self.open = false;
        Ok(())
    }

    fn ensure_open(&self) -> Result<(), AccountError> {
        if self.open {
            Ok(())
        } else {
            Err(AccountError::NotOpen)
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repo = Repository::new(InMemoryStore::new());

    // Open an account and make a deposit: events are applied, then saved in one append.
    let mut account = repo.create::<BankAccount>("alice")?;
    account.apply(AccountOpened {
        owner: "Alice".into(),
        overdraft_limit: 50,
    })?;
    account.apply(MoneyDeposited { amount: 100 })?;
    repo.save(&mut account)?;
    println!(
        "opened {}: balance {}",
        account.stream_name(),
        account.balance
    );

    // A business rule violation comes back as the handler's typed error; nothing is recorded.
    let err = account.apply(MoneyWithdrawn { amount: 500 }).unwrap_err();
    println!("refused: {err}");
    assert_eq!(
        err,
        AccountError::InsufficientFunds {
            requested: 500,
            available: 150
        }
    );
    assert!(!account.has_unsaved());

    // Two writers load the same version; only the first save wins.
    let mut first = repo.load::<BankAccount>("alice")?;
    let mut second = repo.load::<BankAccount>("alice")?;
    first.apply(MoneyWithdrawn { amount: 120 })?;
    second.apply(MoneyWithdrawn { amount: 120 })?;
    repo.save(&mut first)?;
    match repo.save(&mut second) {
        Err(err @ RepositoryError::Store(_)) if err.is_conflict() => {
            println!("second writer: {err}")
        }
        other => return Err(format!("expected a conflict, got {other:?}").into()),
    }

    // `transact` reloads and retries on conflict; the rule check runs on fresh state.
    let result = repo
        .transact::<BankAccount, _, _>("alice", |acc| acc.apply(MoneyWithdrawn { amount: 120 }));
    println!(
        "retried withdrawal: {:?}",
        result.map_err(|e| e.to_string())
    );

    let account = repo.load::<BankAccount>("alice")?;
    println!(
        "{} has balance {} after {} events",
        account.owner,
        account.balance,
        account.version()
    );
    assert_eq!(account.balance, -20);
    Ok(())
}

/// The account's rules as given/when/then scenarios (`cargo test --example bank_account`).
/// Every `then_*` also checks that the state is what replaying the events from JSON gives.
#[cfg(test)]
mod tests {
    use super::*;
    use livenstore::testing::AggregateTest;

    fn opened(overdraft_limit: u64) -> AccountOpened {
        AccountOpened {
            owner: "Alice".into(),
            overdraft_limit,
        }
    }

    #[test]
    fn a_withdrawal_within_the_overdraft_is_recorded() {
        AggregateTest::<BankAccount>::given([
            BankAccountEvent::from(opened(50)),
            MoneyDeposited { amount: 100 }.into(),
        ])
        .when(|acc| acc.apply(MoneyWithdrawn { amount: 120 }))
        .then_events([MoneyWithdrawn { amount: 120 }])
        .then_state(|account| assert_eq!(account.balance, -20));
    }

    #[test]
    fn a_withdrawal_beyond_the_overdraft_is_refused() {
        AggregateTest::<BankAccount>::given([
            BankAccountEvent::from(opened(50)),
            MoneyDeposited { amount: 100 }.into(),
        ])
        .named("withdrawing 500 of 150 available")
        .when(|acc| acc.apply(MoneyWithdrawn { amount: 500 }))
        .then_error(|e| matches!(e, AccountError::InsufficientFunds { available: 150, .. }))
        .then_state(|account| assert_eq!(account.balance, 100));
    }

    #[test]
    fn an_account_opens_once_and_closes_only_when_empty() {
        AggregateTest::<BankAccount>::given_no_events()
            .when(|acc| acc.apply(opened(0)))
            .then_events([opened(0)]);
        AggregateTest::<BankAccount>::given([opened(0)])
            .when(|acc| acc.apply(opened(0)))
            .then_error(|e| *e == AccountError::AlreadyOpen);
        AggregateTest::<BankAccount>::given([
            BankAccountEvent::from(opened(0)),
            MoneyDeposited { amount: 5 }.into(),
        ])
        .when(|acc| acc.apply(AccountClosed))
        .then_error(|e| *e == AccountError::NonZeroBalance(5));
        AggregateTest::<BankAccount>::given([opened(0)])
            .when(|acc| acc.apply(AccountClosed))
            .then_events([AccountClosed])
            .then_state(|account| assert!(!account.open));
    }

    #[test]
    fn a_rule_check_that_passes_produces_no_events() {
        AggregateTest::<BankAccount>::given([opened(0)])
            .when(|acc| acc.ensure_open())
            .then_no_events();
    }
}
