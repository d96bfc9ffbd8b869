//! Live balance control shared by the engine shards: one [`BalanceBook`] for the switch, keyed
//! by stable account ids that survive snapshot swaps (snapshot ids do not).
//!
//! Lock order, where both are taken: the line counters first, then billing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tollswitch_billing::{
    AccountTerms, AccountView, BalanceBook, BillingConfig, BillingError, LedgerOp, OpId,
};
use tollswitch_model::provisioning::Account;
use tollswitch_model::{AccountId, Money};

/// The switch's balance book (cheap clone).
#[derive(Debug, Clone)]
pub struct Billing {
    inner: Arc<Mutex<Ledger>>,
}

/// The book and the names of its accounts.
#[derive(Debug)]
pub struct Ledger {
    /// Balances and reservations.
    pub book: BalanceBook,
    ids: HashMap<Arc<str>, AccountId>,
    names: Vec<Arc<str>>,
}

impl Ledger {
    /// The stable id of an account name, when billing knows it.
    pub fn id(&self, name: &str) -> Option<AccountId> {
        self.ids.get(name).copied()
    }

    /// The name behind a stable id.
    pub fn name(&self, id: AccountId) -> Option<&Arc<str>> {
        usize::try_from(id.0).ok().and_then(|i| self.names.get(i))
    }
}

impl Billing {
    /// An empty book with these rules.
    pub fn new(cfg: BillingConfig) -> Billing {
        Billing {
            inner: Arc::new(Mutex::new(Ledger {
                book: BalanceBook::new(cfg),
                ids: HashMap::new(),
                names: Vec::new(),
            })),
        }
    }

    /// The book, locked (a poisoned lock still yields it: every update is all-or-nothing).
    pub fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Brings the book in line with provisioning: new accounts enter with `balance_of(name)`
    /// (the stored balance; the provisioned one when `None`), known ones get their new terms
    /// and keep their live balance. Accounts no longer provisioned stay (their calls finish).
    pub fn sync_accounts(
        &self,
        accounts: &[Account],
        balance_of: impl Fn(&str) -> Option<Money>,
        cfg: Option<BillingConfig>,
    ) -> Result<(), BillingError> {
        let mut l = self.lock();
        if let Some(cfg) = cfg {
            l.book.set_config(cfg);
        }
        for a in accounts {
            if !l.ids.contains_key(a.name.as_str()) {
                let id = AccountId(i64::try_from(l.names.len()).unwrap_or(i64::MAX));
                let name: Arc<str> = Arc::from(a.name.as_str());
                l.ids.insert(name.clone(), id);
                l.names.push(name);
            }
        }
        for a in accounts {
            let Some(id) = l.id(&a.name) else { continue };
            let agent = a.parent_agent.as_deref().and_then(|p| l.id(p));
            let terms = AccountTerms::from_account(a, agent);
            if l.book.account(id).is_some() {
                l.book.update_terms(id, terms)?;
            } else {
                let balance = balance_of(&a.name).unwrap_or(a.balance);
                l.book.insert_account(id, balance, terms)?;
            }
        }
        Ok(())
    }

    /// An account's live state by name.
    pub fn account(&self, name: &str) -> Option<AccountView> {
        let l = self.lock();
        l.id(name).and_then(|id| l.book.account(id))
    }

    /// Credits a payment to the live balance; the op goes to the ledger store.
    pub fn pay(&self, id: &str, account: &str, amount: Money) -> Result<LedgerOp, BillingError> {
        let mut l = self.lock();
        let acc = l.id(account).ok_or(BillingError::UnknownAccount {
            account: AccountId(-1),
        })?;
        l.book.pay(OpId(id.to_owned()), acc, amount)
    }

    /// Applies a balance change recorded elsewhere (a payment made with the CLI or API while
    /// the switch runs). False when billing does not know the account.
    pub fn apply_external(&self, account: &str, delta: Money) -> bool {
        let mut l = self.lock();
        match l.id(account) {
            Some(id) => l.book.apply_external(id, delta).is_ok(),
            None => false,
        }
    }

    /// Open grants (calls holding money); 0 when every call has settled.
    pub fn open_grants(&self) -> usize {
        self.lock().book.open_grants()
    }
}
