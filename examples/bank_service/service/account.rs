//! The bank account of `examples/bank_account.rs`, copied: its events, its rules (checked by
//! the handlers, so replay and commands agree) and its error. The service adds only
//! [`AccountView`], the state as the API returns it.

use livenstore::{Aggregate, AggregateRoot, DomainEvent};
use serde::{Deserialize, Serialize};

/// An account was opened for `owner`, who may go `overdraft_limit` below zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened")]
pub struct AccountOpened {
    /// Who holds the account.
    pub owner: String,
    /// How far below zero the balance may go.
    pub overdraft_limit: u64,
}

/// Money was paid in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct MoneyDeposited {
    /// How much (positive).
    pub amount: u64,
}

/// Money was taken out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
pub struct MoneyWithdrawn {
    /// How much (positive).
    pub amount: u64,
}

/// The account was closed (its balance was zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.closed")]
pub struct AccountClosed;

/// A rule of the account refused a command.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AccountError {
    /// Opening an account that is open.
    #[error("the account is already open")]
    AlreadyOpen,
    /// A command on an account that was closed.
    #[error("the account is not open")]
    NotOpen,
    /// A deposit or withdrawal of 0.
    #[error("amounts must be positive")]
    ZeroAmount,
    /// A withdrawal beyond balance plus overdraft.
    #[error("withdrawing {requested} would exceed the overdraft limit (available: {available})")]
    InsufficientFunds {
        /// The amount asked for.
        requested: u64,
        /// Balance plus overdraft limit.
        available: i128,
    },
    /// Closing an account that still holds (or owes) money.
    #[error("an account with a balance of {0} cannot be closed")]
    NonZeroBalance(i128),
}

/// The account's state, rebuilt from its events.
#[derive(Debug, Default, Clone, Aggregate)]
#[aggregate(
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed),
    error = AccountError,
    name = "account"
)]
pub struct BankAccount {
    /// Opened and not closed.
    pub open: bool,
    /// Who holds it.
    pub owner: String,
    /// Deposits minus withdrawals.
    pub balance: i128,
    /// How far below zero the balance may go.
    pub overdraft_limit: u64,
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

/// An account as `GET /accounts/{id}` and the commands return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account's id (its stream is `account-<id>`).
    pub id: String,
    /// Who holds it.
    pub owner: String,
    /// Deposits minus withdrawals (negative within the overdraft).
    pub balance: i128,
    /// How far below zero the balance may go.
    pub overdraft_limit: u64,
    /// The number of events the account has (its stream's version).
    pub version: u64,
    /// Opened and not closed.
    pub open: bool,
}

impl AccountView {
    /// The view of `root`, with the events it applied but has not saved counted in `version`
    /// (a command returns the view it is about to save).
    pub fn of(root: &AggregateRoot<BankAccount>) -> Self {
        AccountView {
            id: root.id().to_owned(),
            owner: root.owner.clone(),
            balance: root.balance,
            overdraft_limit: root.overdraft_limit,
            version: root.version(),
            open: root.open,
        }
    }
}
