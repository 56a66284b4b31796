//! The account in cqrs-es 0.5: commands handled by the aggregate, which writes events to the
//! `EventSink`; `CqrsFramework::execute` over its `MemStore`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, CqrsFramework, DomainEvent, EventStore};
use serde::{Deserialize, Serialize};

use crate::workload::{AccountError, AccountState, Operation, Workload};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            AccountEvent::Opened { .. } => "account.opened",
            AccountEvent::Deposited { .. } => "account.deposited",
            AccountEvent::Withdrawn { .. } => "account.withdrawn",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

#[derive(Debug)]
pub enum AccountCommand {
    Open {
        owner: String,
        currency: String,
        overdraft_limit: u64,
    },
    Deposit {
        amount: u64,
        reference: String,
        description: String,
    },
    Withdraw {
        amount: u64,
        reference: String,
        description: String,
    },
    /// Several commands handled as one (one load, one commit).
    Batch(Vec<AccountCommand>),
}

/// `Clone` because `MemStore`'s derived `Clone` asks for it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BankAccount {
    state: AccountState,
}

impl BankAccount {
    async fn handle_one(
        &mut self,
        command: AccountCommand,
        sink: &EventSink<Self>,
    ) -> Result<(), AccountError> {
        let event = match command {
            AccountCommand::Open {
                owner,
                currency,
                overdraft_limit,
            } => {
                self.state.check_open()?;
                AccountEvent::Opened {
                    owner,
                    currency,
                    overdraft_limit,
                }
            }
            AccountCommand::Deposit {
                amount,
                reference,
                description,
            } => {
                self.state.check_deposit(amount)?;
                AccountEvent::Deposited {
                    amount,
                    reference,
                    description,
                }
            }
            AccountCommand::Withdraw {
                amount,
                reference,
                description,
            } => {
                self.state.check_withdraw(amount)?;
                AccountEvent::Withdrawn {
                    amount,
                    reference,
                    description,
                }
            }
            AccountCommand::Batch(_) => unreachable!("batches are not nested"),
        };
        // Applies the event to `self` and keeps it for the commit.
        sink.write(event, self).await;
        Ok(())
    }
}

impl Aggregate for BankAccount {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: AccountCommand,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), AccountError> {
        match command {
            AccountCommand::Batch(commands) => {
                for command in commands {
                    self.handle_one(command, sink).await?;
                }
                Ok(())
            }
            command => self.handle_one(command, sink).await,
        }
    }

    fn apply(&mut self, event: AccountEvent) {
        match event {
            AccountEvent::Opened {
                owner,
                currency,
                overdraft_limit,
            } => self.state.opened(&owner, &currency, overdraft_limit),
            AccountEvent::Deposited { amount, .. } => self.state.balance += amount as i64,
            AccountEvent::Withdrawn { amount, .. } => self.state.balance -= amount as i64,
        }
    }
}

fn command(op: &Operation) -> AccountCommand {
    match op.clone() {
        Operation::Open {
            owner,
            currency,
            overdraft_limit,
        } => AccountCommand::Open {
            owner,
            currency,
            overdraft_limit,
        },
        Operation::Deposit {
            amount,
            reference,
            description,
        } => AccountCommand::Deposit {
            amount,
            reference,
            description,
        },
        Operation::Withdraw {
            amount,
            reference,
            description,
        } => AccountCommand::Withdraw {
            amount,
            reference,
            description,
        },
    }
}

pub type Framework = CqrsFramework<BankAccount, MemStore<BankAccount>>;

/// A `MemStore` and a framework over it (a `MemStore` clone shares its events).
pub struct MemStoreFramework {
    pub store: MemStore<BankAccount>,
    pub cqrs: Framework,
}

impl MemStoreFramework {
    pub fn new() -> Self {
        let store = MemStore::default();
        let cqrs = CqrsFramework::new(store.clone(), Vec::new(), ());
        MemStoreFramework { store, cqrs }
    }
}

/// Every account: one `execute` of a batch command producing all its events.
pub async fn persist_one_command(cqrs: &Framework, work: &Workload) {
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        let batch = AccountCommand::Batch(ops.iter().map(command).collect());
        cqrs.execute(id, batch).await.expect("execute");
    }
}

/// Every operation of every account as its own `execute` (load, handle, commit).
pub async fn persist_per_command(cqrs: &Framework, work: &Workload) {
    for (id, ops) in work.ids.iter().zip(&work.operations) {
        for op in ops {
            cqrs.execute(id, command(op)).await.expect("execute");
        }
    }
}

/// Loads every account (`EventStore::load_aggregate`) and checks its balance.
pub async fn reload(store: &MemStore<BankAccount>, work: &Workload) {
    for (id, balance) in work.ids.iter().zip(&work.balances) {
        let context = store.load_aggregate(id).await.expect("load");
        assert_eq!(context.aggregate.state.balance, *balance, "{id}");
    }
}
