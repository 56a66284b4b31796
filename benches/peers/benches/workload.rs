//! The workload every system runs: the same accounts and the same operations, made once (outside
//! the timed code) and cloned into each framework's own command or event types.

/// One operation on an account. Every system turns it into one event (after its own checks).
#[derive(Debug, Clone)]
pub enum Operation {
    /// Opens the account (the first operation of every account).
    Open {
        owner: String,
        currency: String,
        overdraft_limit: u64,
    },
    /// Puts money in.
    Deposit {
        amount: u64,
        reference: String,
        description: String,
    },
    /// Takes money out (never more than the balance, so every check passes).
    Withdraw {
        amount: u64,
        reference: String,
        description: String,
    },
}

/// The accounts, their operations and the balance each must have when reloaded.
pub struct Workload {
    /// Aggregate ids, `acc-000000` ...
    pub ids: Vec<String>,
    /// `operations[i]` are account `i`'s operations, in order: an `Open`, then deposits and
    /// withdrawals alternating.
    pub operations: Vec<Vec<Operation>>,
    /// The balance of account `i` after all its operations.
    pub balances: Vec<i64>,
}

impl Workload {
    /// `accounts` accounts of `per_account` operations each.
    pub fn new(accounts: usize, per_account: usize) -> Self {
        let ids: Vec<String> = (0..accounts).map(|i| format!("acc-{i:06}")).collect();
        let operations: Vec<Vec<Operation>> = (0..accounts)
            .map(|i| (0..per_account).map(|k| operation(i, k)).collect())
            .collect();
        let balances = operations
            .iter()
            .map(|ops| {
                ops.iter()
                    .map(|op| match op {
                        Operation::Open { .. } => 0,
                        Operation::Deposit { amount, .. } => *amount as i64,
                        Operation::Withdraw { amount, .. } => -(*amount as i64),
                    })
                    .sum()
            })
            .collect();
        Workload {
            ids,
            operations,
            balances,
        }
    }

    /// Total number of operations (= events).
    pub fn events(&self) -> u64 {
        self.operations.iter().map(|ops| ops.len() as u64).sum()
    }
}

/// Operation `k` of account `i`. Payloads serialize to 100-160 bytes of JSON.
fn operation(i: usize, k: usize) -> Operation {
    if k == 0 {
        return Operation::Open {
            owner: format!("Ada Lovelace #{i}, 12 Analytical Engine Row, London"),
            currency: "EUR".into(),
            overdraft_limit: 500,
        };
    }
    // A deposit (100..=149) always precedes a withdrawal (50..=99), so balances stay >= 0.
    let amount = ((i * 31 + k * 17) % 50) as u64;
    if k % 2 == 1 {
        Operation::Deposit {
            amount: 100 + amount,
            reference: format!("dep-{i:06}-{k:03}"),
            description: format!("salary payment from ACME Corporation, period {k:03}"),
        }
    } else {
        Operation::Withdraw {
            amount: 50 + amount,
            reference: format!("wdr-{i:06}-{k:03}"),
            description: format!("card payment at the corner bookshop, receipt {k:03}"),
        }
    }
}

/// Why an operation is refused (never, in this workload: the checks run, they do not fail).
#[derive(Debug, Clone, PartialEq)]
pub enum AccountError {
    /// `Open` on an open account.
    AlreadyOpen,
    /// Money moved on an account that is not open.
    NotOpen,
    /// A zero amount.
    ZeroAmount,
    /// A withdrawal beyond balance + overdraft.
    InsufficientFunds,
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AccountError::AlreadyOpen => "the account is already open",
            AccountError::NotOpen => "the account is not open",
            AccountError::ZeroAmount => "amounts must be positive",
            AccountError::InsufficientFunds => "not enough money",
        })
    }
}

impl std::error::Error for AccountError {}

/// The state of an account and its business rules, shared by the three implementations so that
/// each does the same work per event; each framework wires them in its own way.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountState {
    pub open: bool,
    pub owner: String,
    pub currency: String,
    pub balance: i64,
    pub overdraft_limit: u64,
}

impl AccountState {
    pub fn check_open(&self) -> Result<(), AccountError> {
        if self.open {
            Err(AccountError::AlreadyOpen)
        } else {
            Ok(())
        }
    }

    pub fn check_deposit(&self, amount: u64) -> Result<(), AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if amount == 0 {
            return Err(AccountError::ZeroAmount);
        }
        Ok(())
    }

    pub fn check_withdraw(&self, amount: u64) -> Result<(), AccountError> {
        self.check_deposit(amount)?;
        if amount as i64 > self.balance + self.overdraft_limit as i64 {
            return Err(AccountError::InsufficientFunds);
        }
        Ok(())
    }

    pub fn opened(&mut self, owner: &str, currency: &str, overdraft_limit: u64) {
        self.open = true;
        self.owner = owner.to_owned();
        self.currency = currency.to_owned();
        self.overdraft_limit = overdraft_limit;
    }
}
