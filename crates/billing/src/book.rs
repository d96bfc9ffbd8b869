//! Balance control (SPEC §4 anti-overdraft, agents, payments): reserve, extend, settle.
//!
//! The [`BalanceBook`] owns the live state of every account it bills — balance, credit limit,
//! the money held by open [`Grant`]s — and is driven by plain method calls with `now` as unix
//! **milliseconds**. It never reads a clock.
//!
//! ## The invariant
//!
//! For every account, at every moment:
//!
//! ```text
//! balance + credit_limit − reserved ≥ 0        (reserved = money held by open grants)
//! ```
//!
//! and therefore `balance ≥ −credit_limit`. An account enters the book with no reservations,
//! so the invariant holds from the start unless its stored balance is already below
//! `−credit_limit` (then nothing is authorised until a payment lifts it). Every operation
//! keeps it:
//!
//! - [`authorise`](BalanceBook::authorise) and [`extend`](BalanceBook::extend) reserve only
//!   what fits in `balance + credit_limit − reserved − margin`, the margin being
//!   `SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME` minutes at the call's price (≥ 0);
//! - [`settle`](BalanceBook::settle) releases the grant's reservation and debits the exact
//!   charge. A charge within the reservation always fits. A charge beyond it (the engine
//!   released the call after [`Grant::hard_end_hold_ms`]) is debited only as far as the
//!   unreserved money goes; the rest is reported as [`Settlement::unbilled`] and never
//!   drives the account below its limit;
//! - [`cancel`](BalanceBook::cancel) only releases; [`pay`](BalanceBook::pay) only adds.
//!
//! This holds for any number of concurrent grants on one account, in any order, whatever hold
//! times the engine reports. The margin is never reserved: it is what pays for a release that
//! comes late (signalling delay, a busy shard) and the slack between cluster nodes that share
//! a balance but each hold their own book. Because of it a call is released
//! `SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME` minutes of its price before the money runs
//! out, which is what the parameter means in VOS3000 ("advance minutes"). Changing an
//! account's terms ([`update_terms`](BalanceBook::update_terms)) is an operator action outside
//! this guarantee: lowering a credit limit below what is already reserved is honoured for new
//! calls, while calls in progress keep what was reserved for them.
//!
//! ## Prepaid and postpaid
//!
//! Both are limited the same way: by balance + credit limit. For a prepaid account the credit
//! limit is how far below zero the balance may go; for a postpaid account it is the debt cap
//! until the next invoice (VOS3000: a postpaid account is still stopped at its credit limit).
//! [`PaymentMode`] is kept for reports and invoicing.
//!
//! ## Slices
//!
//! A grant reserves money in slices of billed time: the first slice is the connect fee plus
//! `slice_secs` (default 60 s, and at least one hold-time precision step) rounded up to the
//! tariff's increments — so at least the whole first increment; each extension adds the next
//! `slice_secs` worth of whole next increments. Near exhaustion a slice is smaller (as
//! many increments as still fit); when not one more increment fits the grant is exhausted and
//! its hard end stays where it is, so the engine releases the call exactly when the money it
//! may spend runs out.
//!
//! ## Agents
//!
//! VOS3000: "Agent accounts can have sub-accounts. Charges incurred by sub-accounts are
//! aggregated to the agent account." On settlement the sub-account's balance is debited by the
//! charge, and the **same amount is recorded on the books of every agent above it** (its
//! agent, that agent's agent, …) as an [`LedgerOpKind::AgentRollup`]: it adds to the agent's
//! sub-account consumption (the agent income report) and does **not** change the agent's
//! balance, because the money was paid once, by the sub-account. A locked or expired agent
//! refuses its sub-accounts' calls. Chains are followed at most [`MAX_AGENT_DEPTH`] levels and
//! stop at an account the book does not know or at a loop.

use crate::config::{BillingConfig, RatingRules};
use crate::error::{BillingError, Refusal};
use crate::tariff::{Affordable, Charge, Tariff, money, rate_saturating};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use tollswitch_model::provisioning::{Account, AccountStatus, PaymentMode, money_text};
use tollswitch_model::{AccountId, Money};

/// Most agent levels walked above an account.
pub const MAX_AGENT_DEPTH: usize = 16;

/// A caller-chosen id for ledger operations: the CDR id for a call, the payment id for a
/// payment. Storage applies each [`LedgerOp::entry_id`] once, so replaying a journal never
/// charges twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub String);

impl OpId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for OpId {
    fn from(s: &str) -> OpId {
        OpId(s.to_owned())
    }
}

impl From<String> for OpId {
    fn from(s: String) -> OpId {
        OpId(s)
    }
}

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a ledger operation does to its account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LedgerOpKind {
    /// A call was charged: balance − amount.
    CallCharge,
    /// A sub-account's call charge recorded on an agent's books: the agent's sub-account
    /// consumption + amount; its balance is unchanged.
    AgentRollup {
        /// The account that made the call.
        sub_account: AccountId,
        /// 1 for the direct agent, 2 for its agent, …
        level: u8,
    },
    /// A payment or recharge: balance + amount.
    Payment,
}

/// One change to one account's books, to be stored idempotently by
/// [`entry_id`](LedgerOp::entry_id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerOp {
    /// The caller's id (CDR id, payment id).
    pub id: OpId,
    /// Index within the operations of one id: 0 for the account's own entry, then one per
    /// agent level.
    pub part: u8,
    /// The account whose books change.
    pub account: AccountId,
    /// What changes.
    pub kind: LedgerOpKind,
    /// The amount (positive).
    #[serde(with = "money_text")]
    pub amount: Money,
}

impl LedgerOp {
    /// A unique id for this one operation: the [`OpId`] itself for part 0 (the call charge or
    /// the payment), `"<id>#<part>"` for the agent roll-ups.
    pub fn entry_id(&self) -> String {
        if self.part == 0 {
            self.id.0.clone()
        } else {
            format!("{}#{}", self.id, self.part)
        }
    }

    /// The change to the account's balance: −amount for a call charge, +amount for a payment,
    /// zero for an agent roll-up.
    pub fn balance_delta(&self) -> Money {
        match self.kind {
            LedgerOpKind::CallCharge => Money::ZERO.saturating_sub(self.amount),
            LedgerOpKind::AgentRollup { .. } => Money::ZERO,
            LedgerOpKind::Payment => self.amount,
        }
    }
}

/// An account's terms: everything but its balance, which only moves through the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AccountTerms {
    /// How far below zero the balance may go (never negative).
    #[serde(with = "money_text")]
    pub credit_limit: Money,
    /// Prepaid or postpaid (both are limited by balance + credit limit).
    pub payment_mode: PaymentMode,
    /// Locked accounts are refused.
    pub status: AccountStatus,
    /// Unix **seconds** from which the account may no longer call (as provisioned).
    pub expiry: Option<i64>,
    /// The agent this account belongs to.
    pub parent_agent: Option<AccountId>,
}

impl AccountTerms {
    /// The terms of a provisioned account; `parent_agent` is its agent's id (provisioning
    /// names agents, the storage layer assigns ids).
    pub fn from_account(a: &Account, parent_agent: Option<AccountId>) -> AccountTerms {
        AccountTerms {
            credit_limit: a.credit_limit,
            payment_mode: a.payment_mode,
            status: a.status,
            expiry: a.expiry,
            parent_agent,
        }
    }
}

/// A read-only view of one account in the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AccountView {
    /// The account.
    pub id: AccountId,
    /// Current balance.
    #[serde(with = "money_text")]
    pub balance: Money,
    /// Money held by open grants.
    #[serde(with = "money_text")]
    pub reserved: Money,
    /// Open grants.
    pub open_grants: u32,
    /// Charges of sub-accounts rolled up to this account (agents).
    #[serde(with = "money_text")]
    pub sub_account_charges: Money,
    /// Terms.
    pub terms: AccountTerms,
}

impl AccountView {
    /// `balance + credit_limit − reserved`: what new reservations may still take (before the
    /// anti-overdraft margin). Saturating.
    pub fn headroom(&self) -> Money {
        self.balance
            .saturating_add(self.terms.credit_limit)
            .saturating_sub(self.reserved)
    }
}

#[derive(Debug, Clone)]
struct AccountState {
    balance: Money,
    terms: AccountTerms,
    reserved: Money,
    open_grants: u32,
    sub_account_charges: Money,
}

impl AccountState {
    /// `balance + credit_limit − reserved`, exact.
    fn headroom(&self) -> i128 {
        i128::from(self.balance.micros()) + i128::from(self.terms.credit_limit.micros())
            - i128::from(self.reserved.micros())
    }
}

/// Identifies an open grant within its book. Never reused by a book.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(pub u64);

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Money held for one call, owned by the engine until it is settled or cancelled (both
/// consume it, so a grant cannot be settled twice).
///
/// Times are unix milliseconds; hold times are milliseconds since answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    id: GrantId,
    account: AccountId,
    reserved: Money,
    /// `None`: no time limit (the tariff's time part is free).
    hard_end_hold_ms: Option<u64>,
    answered_at: Option<i64>,
    exhausted: bool,
    slice_ms: u64,
    lead_ms: u64,
}

impl Grant {
    /// The grant's id.
    pub const fn id(&self) -> GrantId {
        self.id
    }

    /// The account billed.
    pub const fn account(&self) -> AccountId {
        self.account
    }

    /// Money held for this call so far.
    pub const fn reserved(&self) -> Money {
        self.reserved
    }

    /// The longest hold time the reserved money pays for; `None` when unlimited. The engine
    /// releases the call when the hold time reaches it (after trying [`BalanceBook::extend`]).
    pub const fn hard_end_hold_ms(&self) -> Option<u64> {
        self.hard_end_hold_ms
    }

    /// True once an extension found nothing more affordable; the hard end is final unless a
    /// later extension succeeds (a payment arrived or other calls ended).
    pub const fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    /// Records the answer time; hold time counts from here.
    pub fn answer(&mut self, now_ms: i64) {
        self.answered_at = Some(now_ms);
    }

    /// When the call was answered.
    pub const fn answered_at(&self) -> Option<i64> {
        self.answered_at
    }

    /// The moment the reserved time runs out (answer + hard end); `None` before answer or
    /// when unlimited.
    pub fn hard_end_at(&self) -> Option<i64> {
        let end = i64::try_from(self.hard_end_hold_ms?).unwrap_or(i64::MAX);
        Some(self.answered_at?.saturating_add(end))
    }

    /// When the engine should call [`BalanceBook::extend`]: a little before the hard end
    /// (`extend_lead_ms`, at most half a slice); `None` before answer, when unlimited or once
    /// exhausted.
    pub fn extend_at(&self) -> Option<i64> {
        if self.exhausted {
            return None;
        }
        let lead = i64::try_from(self.lead_ms).unwrap_or(0);
        Some(self.hard_end_at()?.saturating_sub(lead))
    }
}

/// What [`BalanceBook::extend`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Extension {
    /// More time was reserved.
    Extended {
        /// Money added to the reservation.
        #[serde(with = "money_text")]
        added: Money,
        /// The new hard end, hold-time milliseconds.
        hard_end_hold_ms: u64,
    },
    /// Not one more increment is affordable: the call must end at the hard end.
    Exhausted {
        /// The unchanged hard end, hold-time milliseconds.
        hard_end_hold_ms: u64,
    },
    /// Too early: the call is not answered yet, or more than one slice plus the lead is
    /// still reserved. Nothing changed.
    NotDue {
        /// The unchanged hard end, hold-time milliseconds.
        hard_end_hold_ms: u64,
    },
    /// The grant has no time limit.
    Unlimited,
}

/// The outcome of [`BalanceBook::settle`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settlement {
    /// The settled grant.
    pub grant: GrantId,
    /// The account charged.
    pub account: AccountId,
    /// The rating of the call (the exact price of the hold time).
    pub charge: Charge,
    /// The reservation released.
    #[serde(with = "money_text")]
    pub released: Money,
    /// What was debited from the balance: the charge, unless the call ran past its hard end
    /// and the account could not pay for the overrun. This is the CDR's charge.
    #[serde(with = "money_text")]
    pub debited: Money,
    /// `charge − debited`: overrun the account's limit could not cover (zero when the engine
    /// released the call in time). Written off, and worth an alarm.
    #[serde(with = "money_text")]
    pub unbilled: Money,
    /// The ledger operations to store: the call charge, then one roll-up per agent level. Empty
    /// when nothing was debited.
    pub ops: Vec<LedgerOp>,
}

#[derive(Debug, Clone)]
struct GrantState {
    account: AccountId,
    tariff: Tariff,
    rules: RatingRules,
    reserved: Money,
    /// Billed seconds covered; meaningless when unlimited.
    reserved_secs: u64,
    unlimited: bool,
}

/// Per-account balances and open reservations; see the [module docs](self) for the rules.
///
/// One book owns its accounts: run it in one place (a billing task the engine shards send
/// commands to), or partition accounts between books. It is deterministic — no clock, no
/// randomness, ordered maps — so the same calls give the same ledger.
#[derive(Debug, Clone)]
pub struct BalanceBook {
    cfg: BillingConfig,
    accounts: BTreeMap<AccountId, AccountState>,
    grants: BTreeMap<GrantId, GrantState>,
    next_grant: u64,
}

impl BalanceBook {
    /// An empty book.
    pub fn new(cfg: BillingConfig) -> BalanceBook {
        BalanceBook {
            cfg,
            accounts: BTreeMap::new(),
            grants: BTreeMap::new(),
            next_grant: 1,
        }
    }

    /// The configuration new grants are made under.
    pub fn config(&self) -> &BillingConfig {
        &self.cfg
    }

    /// Replaces the configuration. Open grants keep the rating rules they were reserved under;
    /// margins and slices follow the new values from now on.
    pub fn set_config(&mut self, cfg: BillingConfig) {
        self.cfg = cfg;
    }

    /// Adds an account with its stored balance.
    pub fn insert_account(
        &mut self,
        id: AccountId,
        balance: Money,
        terms: AccountTerms,
    ) -> Result<(), BillingError> {
        check_terms(&terms)?;
        if self.accounts.contains_key(&id) {
            return Err(BillingError::DuplicateAccount { account: id });
        }
        self.accounts.insert(
            id,
            AccountState {
                balance,
                terms,
                reserved: Money::ZERO,
                open_grants: 0,
                sub_account_charges: Money::ZERO,
            },
        );
        Ok(())
    }

    /// Changes an account's terms (credit limit, mode, status, expiry, agent); the balance and
    /// open reservations are kept.
    pub fn update_terms(&mut self, id: AccountId, terms: AccountTerms) -> Result<(), BillingError> {
        check_terms(&terms)?;
        let a = self
            .accounts
            .get_mut(&id)
            .ok_or(BillingError::UnknownAccount { account: id })?;
        a.terms = terms;
        Ok(())
    }

    /// One account's state.
    pub fn account(&self, id: AccountId) -> Option<AccountView> {
        self.accounts.get(&id).map(|a| AccountView {
            id,
            balance: a.balance,
            reserved: a.reserved,
            open_grants: a.open_grants,
            sub_account_charges: a.sub_account_charges,
            terms: a.terms,
        })
    }

    /// Number of open grants across all accounts.
    pub fn open_grants(&self) -> usize {
        self.grants.len()
    }

    /// Authorises a call from `account` at `tariff` at `now_ms` (unix milliseconds) and
    /// reserves its first slice.
    ///
    /// Refused when the account or an agent above it is locked or expired, or when
    /// `balance + credit_limit − reserved − margin` does not cover the connect fee plus the
    /// first increment (or plus the first hold-time precision step, when that is longer).
    /// A tariff whose time part is free gives an unlimited grant (it reserves the connect fee,
    /// if any); a wholly free tariff needs no balance at all.
    pub fn authorise(
        &mut self,
        account: AccountId,
        tariff: &Tariff,
        now_ms: i64,
    ) -> Result<Grant, Refusal> {
        self.check_chain(account, now_ms)?;
        let rules = self.cfg.rating;
        let a = self
            .accounts
            .get(&account)
            .ok_or(Refusal::UnknownAccount { account })?;
        let headroom = a.headroom();
        let margin = i128::from(
            self.cfg
                .overdraft_margin(tariff.price_per_minute())
                .ok_or(Refusal::Overflow)?
                .micros(),
        );
        let budget = headroom - margin;

        let min_secs = tariff.billed_secs(rules.min_useful_secs());
        let min_cost = tariff.cost_micros(min_secs, &rules);
        let refuse = || Refusal::InsufficientBalance {
            available: clamp_money(headroom),
            required: clamp_money(min_cost.saturating_add(margin)),
        };

        // A wholly free tariff costs nothing and needs no balance; otherwise the connect fee
        // and the first useful step must fit above the margin.
        if min_cost > 0 && budget < min_cost {
            return Err(refuse());
        }
        let (reserved_secs, unlimited) = match tariff.max_billed_within(budget, &rules) {
            _ if tariff.price_per_minute() == Money::ZERO => (min_secs, true),
            Affordable::Unlimited => (min_secs, true),
            // cost(min_secs) ≤ budget makes s ≥ min_secs; kept as a check, never a stretch.
            Affordable::Secs(s) if s < min_secs => return Err(refuse()),
            // The slice target is at least one precision step, so it is ≥ min_secs too.
            Affordable::Secs(s) => {
                let target = tariff.billed_secs(self.cfg.slice_target_secs());
                (s.min(target), false)
            }
        };
        let cost = tariff.cost_micros(reserved_secs, &rules);
        let cost = money(cost).ok_or(Refusal::Overflow)?;

        let id = GrantId(self.next_grant);
        self.next_grant = self.next_grant.checked_add(1).ok_or(Refusal::Overflow)?;
        let a = self
            .accounts
            .get_mut(&account)
            .ok_or(Refusal::UnknownAccount { account })?;
        // cost ≤ budget ≤ headroom, and headroom fits: reserved + cost ≤ balance + credit.
        a.reserved = a.reserved.saturating_add(cost);
        a.open_grants = a.open_grants.saturating_add(1);
        self.grants.insert(
            id,
            GrantState {
                account,
                tariff: tariff.clone(),
                rules,
                reserved: cost,
                reserved_secs,
                unlimited,
            },
        );
        let slice_ms = self.cfg.slice_target_secs().saturating_mul(1000);
        Ok(Grant {
            id,
            account,
            reserved: cost,
            hard_end_hold_ms: (!unlimited).then(|| rules.max_hold_ms(reserved_secs)),
            answered_at: None,
            exhausted: false,
            slice_ms,
            lead_ms: u64::from(self.cfg.extend_lead_ms).min(slice_ms / 2),
        })
    }

    /// Reserves the next slice for an answered call whose reserved time is running out
    /// (call it at [`Grant::extend_at`]). Near exhaustion the slice is as many whole next
    /// increments as still fit above the margin; when none fits the grant is
    /// [`Extension::Exhausted`] and the call must end at its hard end.
    pub fn extend(&mut self, grant: &mut Grant, now_ms: i64) -> Result<Extension, BillingError> {
        let st = self
            .grants
            .get(&grant.id)
            .ok_or(BillingError::UnknownGrant { grant: grant.id.0 })?;
        if st.unlimited {
            return Ok(Extension::Unlimited);
        }
        let hard_end = st.rules.max_hold_ms(st.reserved_secs);
        let Some(answered_at) = grant.answered_at else {
            return Ok(Extension::NotDue {
                hard_end_hold_ms: hard_end,
            });
        };
        let elapsed = u64::try_from(now_ms.saturating_sub(answered_at)).unwrap_or(0);
        if hard_end.saturating_sub(elapsed) > grant.slice_ms.saturating_add(grant.lead_ms) {
            return Ok(Extension::NotDue {
                hard_end_hold_ms: hard_end,
            });
        }
        let a = self
            .accounts
            .get(&st.account)
            .ok_or(BillingError::UnknownAccount {
                account: st.account,
            })?;
        let margin = i128::from(
            self.cfg
                .overdraft_margin(st.tariff.price_per_minute())
                .ok_or(BillingError::Overflow)?
                .micros(),
        );
        // What this grant may hold in total: what it holds plus what is free above the margin.
        let budget = i128::from(st.reserved.micros()) + a.headroom() - margin;
        let next = u64::from(st.tariff.next_increment_secs());
        let step = self
            .cfg
            .slice_target_secs()
            .div_ceil(next)
            .saturating_mul(next);
        let target = st.reserved_secs.saturating_add(step);
        let affordable = match st.tariff.max_billed_within(budget, &st.rules) {
            Affordable::Unlimited => target,
            Affordable::Secs(s) => s.min(target),
        };
        let new_end = st.rules.max_hold_ms(affordable);
        if affordable <= st.reserved_secs || new_end <= hard_end {
            grant.exhausted = true;
            return Ok(Extension::Exhausted {
                hard_end_hold_ms: hard_end,
            });
        }
        let new_cost =
            money(st.tariff.cost_micros(affordable, &st.rules)).ok_or(BillingError::Overflow)?;
        let added = new_cost
            .checked_sub(st.reserved)
            .ok_or(BillingError::Overflow)?;
        let account = st.account;
        if let Some(st) = self.grants.get_mut(&grant.id) {
            st.reserved = new_cost;
            st.reserved_secs = affordable;
        }
        if let Some(a) = self.accounts.get_mut(&account) {
            a.reserved = a.reserved.saturating_add(added);
        }
        grant.reserved = new_cost;
        grant.hard_end_hold_ms = Some(new_end);
        grant.exhausted = false;
        Ok(Extension::Extended {
            added,
            hard_end_hold_ms: new_end,
        })
    }

    /// Ends a call that was answered: rates `hold_ms` (measured answer → hangup) at the
    /// grant's tariff and rules, releases the reservation, debits the charge (see the
    /// [module docs](self) for overruns) and rolls it up to the agents. `op` identifies the
    /// ledger operations (use the CDR id). A hold time of 0 settles like
    /// [`cancel`](BalanceBook::cancel).
    pub fn settle(
        &mut self,
        grant: Grant,
        hold_ms: u64,
        op: OpId,
    ) -> Result<Settlement, BillingError> {
        let st = self
            .grants
            .remove(&grant.id)
            .ok_or(BillingError::UnknownGrant { grant: grant.id.0 })?;
        let (charge, _exact) = rate_saturating(&st.tariff, hold_ms, &st.rules);
        let a = self
            .accounts
            .get_mut(&st.account)
            .ok_or(BillingError::UnknownAccount {
                account: st.account,
            })?;
        a.reserved = a.reserved.saturating_sub(st.reserved);
        a.open_grants = a.open_grants.saturating_sub(1);
        // Within the reservation: always paid. Beyond it: only from unreserved money.
        let within = charge.charge.min(st.reserved);
        let overrun = i128::from(charge.charge.micros()) - i128::from(within.micros());
        let free_after = a.headroom() - i128::from(within.micros());
        let collected = overrun.min(free_after.max(0));
        let debited = clamp_money(i128::from(within.micros()) + collected);
        a.balance = a.balance.saturating_sub(debited);
        let unbilled = charge.charge.saturating_sub(debited);

        let mut ops = Vec::new();
        if debited > Money::ZERO {
            ops.push(LedgerOp {
                id: op.clone(),
                part: 0,
                account: st.account,
                kind: LedgerOpKind::CallCharge,
                amount: debited,
            });
            for (i, agent) in self.agents_of(st.account).into_iter().enumerate() {
                // i < MAX_AGENT_DEPTH = 16, so the level fits a u8.
                let level = u8::try_from(i + 1).unwrap_or(u8::MAX);
                if let Some(ag) = self.accounts.get_mut(&agent) {
                    ag.sub_account_charges = ag.sub_account_charges.saturating_add(debited);
                }
                ops.push(LedgerOp {
                    id: op.clone(),
                    part: level,
                    account: agent,
                    kind: LedgerOpKind::AgentRollup {
                        sub_account: st.account,
                        level,
                    },
                    amount: debited,
                });
            }
        }
        Ok(Settlement {
            grant: grant.id,
            account: st.account,
            charge,
            released: st.reserved,
            debited,
            unbilled,
            ops,
        })
    }

    /// Ends a call that never connected: releases its reservation, charges nothing. Returns
    /// the money released.
    pub fn cancel(&mut self, grant: Grant) -> Result<Money, BillingError> {
        let st = self
            .grants
            .remove(&grant.id)
            .ok_or(BillingError::UnknownGrant { grant: grant.id.0 })?;
        if let Some(a) = self.accounts.get_mut(&st.account) {
            a.reserved = a.reserved.saturating_sub(st.reserved);
            a.open_grants = a.open_grants.saturating_sub(1);
        }
        Ok(st.reserved)
    }

    /// A payment or recharge of `amount` (positive) to `account`, identified by `op` (the
    /// payment id). Expiry changes that come with a recharge go through
    /// [`update_terms`](BalanceBook::update_terms).
    pub fn pay(
        &mut self,
        op: OpId,
        account: AccountId,
        amount: Money,
    ) -> Result<LedgerOp, BillingError> {
        if amount <= Money::ZERO {
            return Err(BillingError::NonPositivePayment { amount });
        }
        let a = self
            .accounts
            .get_mut(&account)
            .ok_or(BillingError::UnknownAccount { account })?;
        a.balance = a
            .balance
            .checked_add(amount)
            .ok_or(BillingError::Overflow)?;
        Ok(LedgerOp {
            id: op,
            part: 0,
            account,
            kind: LedgerOpKind::Payment,
            amount,
        })
    }

    /// Applies a balance change made and recorded elsewhere (a payment or adjustment entered
    /// through storage while the switch runs); it produces no ledger operation because it
    /// already is one. Negative deltas may take the balance below the credit limit (an
    /// operator's correction); new reservations then simply find no headroom.
    pub fn apply_external(&mut self, id: AccountId, delta: Money) -> Result<(), BillingError> {
        let a = self
            .accounts
            .get_mut(&id)
            .ok_or(BillingError::UnknownAccount { account: id })?;
        a.balance = a.balance.checked_add(delta).ok_or(BillingError::Overflow)?;
        Ok(())
    }

    /// The agents above `account`, nearest first: at most [`MAX_AGENT_DEPTH`], stopping at an
    /// unknown account or a loop.
    pub fn agents_of(&self, account: AccountId) -> Vec<AccountId> {
        let mut out: Vec<AccountId> = Vec::new();
        let mut cur = self
            .accounts
            .get(&account)
            .and_then(|a| a.terms.parent_agent);
        while let Some(id) = cur {
            if out.len() >= MAX_AGENT_DEPTH || id == account || out.contains(&id) {
                break;
            }
            let Some(a) = self.accounts.get(&id) else {
                break;
            };
            out.push(id);
            cur = a.terms.parent_agent;
        }
        out
    }

    /// The account and its agents must exist (the account), be active and not expired.
    fn check_chain(&self, account: AccountId, now_ms: i64) -> Result<(), Refusal> {
        let a = self
            .accounts
            .get(&account)
            .ok_or(Refusal::UnknownAccount { account })?;
        let check = |id: AccountId, terms: &AccountTerms| {
            if terms.status == AccountStatus::Locked {
                return Err(Refusal::AccountLocked { account: id });
            }
            if terms
                .expiry
                .is_some_and(|e| now_ms >= e.saturating_mul(1000))
            {
                return Err(Refusal::AccountExpired { account: id });
            }
            Ok(())
        };
        check(account, &a.terms)?;
        for agent in self.agents_of(account) {
            if let Some(ag) = self.accounts.get(&agent) {
                check(agent, &ag.terms)?;
            }
        }
        Ok(())
    }
}

fn check_terms(terms: &AccountTerms) -> Result<(), BillingError> {
    if terms.credit_limit.is_negative() {
        return Err(BillingError::NegativeCreditLimit {
            amount: terms.credit_limit,
        });
    }
    Ok(())
}

/// Micro-units clamped into [`Money`].
fn clamp_money(v: i128) -> Money {
    money(v).unwrap_or(if v < 0 {
        Money::from_micros(i64::MIN)
    } else {
        Money::from_micros(i64::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PAYMENT_REQUIRED, RatingRules, rate_call};
    use proptest::prelude::*;
    use tollswitch_model::SipCode;

    fn m(s: &str) -> Money {
        s.parse().expect("money literal")
    }

    fn tariff(price: &str, first: u32, next: u32, fee: &str) -> Tariff {
        Tariff::new(m(price), first, next, m(fee)).expect("valid tariff")
    }

    fn terms(credit: &str) -> AccountTerms {
        AccountTerms {
            credit_limit: m(credit),
            payment_mode: PaymentMode::Prepaid,
            status: AccountStatus::Active,
            expiry: None,
            parent_agent: None,
        }
    }

    /// No anti-overdraft margin: the arithmetic of slices in isolation.
    fn no_margin() -> BillingConfig {
        BillingConfig {
            overdraft_advance_minutes: 0,
            ..BillingConfig::default()
        }
    }

    const ACME: AccountId = AccountId(1);
    const NOW: i64 = 1_700_000_000_000;

    fn book_with(cfg: BillingConfig, balance: &str, credit: &str) -> BalanceBook {
        let mut b = BalanceBook::new(cfg);
        b.insert_account(ACME, m(balance), terms(credit))
            .expect("new account");
        b
    }

    fn view(b: &BalanceBook, id: AccountId) -> AccountView {
        b.account(id).expect("known account")
    }

    #[test]
    fn authorise_reserves_the_first_slice() {
        let mut b = book_with(no_margin(), "10", "0");
        let g = b
            .authorise(ACME, &tariff("0.60", 30, 6, "0.05"), NOW)
            .expect("granted");
        // 60 s slice at 30/6 = 60 s billed = 0.60 + 0.05 connect fee.
        assert_eq!(g.reserved(), m("0.65"));
        assert_eq!(g.hard_end_hold_ms(), Some(60_000));
        assert_eq!(g.hard_end_at(), None, "not answered yet");
        let v = view(&b, ACME);
        assert_eq!(
            (v.reserved, v.open_grants, v.balance),
            (m("0.65"), 1, m("10"))
        );
        assert_eq!(v.headroom(), m("9.35"));
        // A first increment longer than the slice is reserved whole.
        let g2 = b
            .authorise(ACME, &tariff("0.60", 90, 30, "0"), NOW)
            .expect("granted");
        assert_eq!(g2.hard_end_hold_ms(), Some(90_000));
    }

    #[test]
    fn refusal_names_what_is_missing_including_the_margin() {
        let mut b = book_with(BillingConfig::default(), "0.30", "0");
        let r = b
            .authorise(ACME, &tariff("0.60", 30, 6, "0.05"), NOW)
            .expect_err("refused");
        // First increment 0.30 + connect 0.05 + one minute of margin 0.60.
        assert_eq!(
            r,
            Refusal::InsufficientBalance {
                available: m("0.30"),
                required: m("0.95"),
            }
        );
        assert_eq!(r.code(), PAYMENT_REQUIRED);
        assert_eq!(r.as_str(), "insufficient_balance");
        assert_eq!(view(&b, ACME).reserved, Money::ZERO);
    }

    #[test]
    fn credit_limit_counts_and_postpaid_is_limited_the_same_way() {
        for mode in [PaymentMode::Prepaid, PaymentMode::Postpaid] {
            let mut b = BalanceBook::new(no_margin());
            let t = AccountTerms {
                payment_mode: mode,
                ..terms("1.00")
            };
            b.insert_account(ACME, Money::ZERO, t).expect("new");
            let mut g = b
                .authorise(ACME, &tariff("0.60", 1, 1, "0"), NOW)
                .expect("credit covers it");
            g.answer(NOW);
            assert_eq!(
                b.extend(&mut g, NOW + 55_000),
                Ok(Extension::Extended {
                    added: m("0.40"),
                    hard_end_hold_ms: 100_000
                })
            );
            assert_eq!(
                b.extend(&mut g, NOW + 99_000),
                Ok(Extension::Exhausted {
                    hard_end_hold_ms: 100_000
                })
            );
            let s = b.settle(g, 100_000, "cdr-1".into()).expect("settled");
            assert_eq!(s.debited, m("1.00"));
            assert_eq!(view(&b, ACME).balance, m("-1.00"), "{mode:?}");
        }
    }

    #[test]
    fn locked_expired_and_unknown_accounts_are_refused() {
        let t = tariff("0.60", 60, 60, "0");
        let mut b = BalanceBook::new(no_margin());
        let agent = AccountId(9);
        b.insert_account(agent, Money::ZERO, terms("0"))
            .expect("new");
        b.insert_account(
            ACME,
            m("10"),
            AccountTerms {
                parent_agent: Some(agent),
                ..terms("0")
            },
        )
        .expect("new");
        assert!(b.authorise(ACME, &t, NOW).is_ok());
        assert_eq!(
            b.authorise(AccountId(7), &t, NOW),
            Err(Refusal::UnknownAccount {
                account: AccountId(7)
            })
        );
        b.update_terms(
            agent,
            AccountTerms {
                status: AccountStatus::Locked,
                ..terms("0")
            },
        )
        .expect("known");
        let r = b.authorise(ACME, &t, NOW).expect_err("agent locked");
        assert_eq!(r, Refusal::AccountLocked { account: agent });
        assert_eq!(r.code(), SipCode::FORBIDDEN);
        b.update_terms(
            agent,
            AccountTerms {
                expiry: Some(NOW / 1000),
                ..terms("0")
            },
        )
        .expect("known");
        assert_eq!(
            b.authorise(ACME, &t, NOW),
            Err(Refusal::AccountExpired { account: agent })
        );
        assert!(b.authorise(ACME, &t, NOW - 1).is_ok(), "before expiry");
    }

    #[test]
    fn extension_shrinks_near_exhaustion_then_stops_at_the_money() {
        let mut b = book_with(no_margin(), "1.00", "0");
        let mut g = b
            .authorise(ACME, &tariff("0.60", 6, 6, "0"), NOW)
            .expect("granted");
        assert_eq!(
            b.extend(&mut g, NOW),
            Ok(Extension::NotDue {
                hard_end_hold_ms: 60_000
            }),
            "not answered"
        );
        g.answer(NOW);
        assert_eq!(g.hard_end_at(), Some(NOW + 60_000));
        assert_eq!(g.extend_at(), Some(NOW + 55_000));
        // Way before the end: nothing is hoarded.
        let mut b2 = book_with(no_margin(), "100", "0");
        let mut g2 = b2
            .authorise(ACME, &tariff("0.60", 6, 6, "0"), NOW)
            .expect("granted");
        g2.answer(NOW);
        assert!(matches!(
            b2.extend(&mut g2, NOW),
            Ok(Extension::Extended { .. })
        ));
        assert!(matches!(
            b2.extend(&mut g2, NOW),
            Ok(Extension::NotDue { .. })
        ));

        // 1.00 buys 100 s at 0.60/min; 6/6 increments make it 96 s.
        assert_eq!(
            b.extend(&mut g, NOW + 55_000),
            Ok(Extension::Extended {
                added: m("0.36"),
                hard_end_hold_ms: 96_000
            })
        );
        assert_eq!(
            b.extend(&mut g, NOW + 91_000),
            Ok(Extension::Exhausted {
                hard_end_hold_ms: 96_000
            })
        );
        assert!(g.is_exhausted());
        assert_eq!(g.extend_at(), None);
        assert_eq!(g.hard_end_at(), Some(NOW + 96_000));
        let s = b.settle(g, 96_000, "cdr-1".into()).expect("settled");
        assert_eq!(
            (s.charge.charge, s.debited, s.unbilled),
            (m("0.96"), m("0.96"), Money::ZERO)
        );
        assert_eq!(s.released, m("0.96"));
        let v = view(&b, ACME);
        assert_eq!(
            (v.balance, v.reserved, v.open_grants),
            (m("0.04"), Money::ZERO, 0)
        );
    }

    #[test]
    fn a_late_release_is_paid_from_the_margin_then_written_off() {
        // Margin of one minute: 2.00 reserves at most 1.40 = 140 s at 1/1.
        let mut b = book_with(BillingConfig::default(), "2.00", "0");
        let mut g = b
            .authorise(ACME, &tariff("0.60", 1, 1, "0"), NOW)
            .expect("granted");
        g.answer(NOW);
        let mut t = NOW + 55_000;
        while let Ok(Extension::Extended { .. }) = b.extend(&mut g, t) {
            t += 60_000;
        }
        assert_eq!(g.hard_end_hold_ms(), Some(140_000));
        // Released 10 s late: the margin pays for it.
        let s = b.settle(g, 150_000, "cdr-1".into()).expect("settled");
        assert_eq!((s.debited, s.unbilled), (m("1.50"), Money::ZERO));

        // Far too late: what the limit cannot cover is written off, never overdrawn.
        let mut b = book_with(BillingConfig::default(), "2.00", "0.50");
        let mut g = b
            .authorise(ACME, &tariff("0.60", 1, 1, "0"), NOW)
            .expect("granted");
        g.answer(NOW);
        let s = b.settle(g, 3_600_000, "cdr-2".into()).expect("settled");
        assert_eq!(s.charge.charge, m("36.00"));
        assert_eq!((s.debited, s.unbilled), (m("2.50"), m("33.50")));
        assert_eq!(view(&b, ACME).balance, m("-0.50"));
    }

    #[test]
    fn charges_roll_up_to_every_agent_without_touching_their_balance() {
        let (top, mid) = (AccountId(100), AccountId(50));
        let mut b = BalanceBook::new(no_margin());
        b.insert_account(top, m("5"), terms("0")).expect("new");
        b.insert_account(
            mid,
            m("7"),
            AccountTerms {
                parent_agent: Some(top),
                ..terms("0")
            },
        )
        .expect("new");
        b.insert_account(
            ACME,
            m("10"),
            AccountTerms {
                parent_agent: Some(mid),
                ..terms("0")
            },
        )
        .expect("new");
        assert_eq!(b.agents_of(ACME), vec![mid, top]);
        let mut g = b
            .authorise(ACME, &tariff("0.60", 60, 60, "0"), NOW)
            .expect("granted");
        g.answer(NOW);
        let s = b.settle(g, 30_000, "cdr-7".into()).expect("settled");
        assert_eq!(s.debited, m("0.60"));
        let kinds: Vec<(AccountId, LedgerOpKind, String)> = s
            .ops
            .iter()
            .map(|o| (o.account, o.kind, o.entry_id()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (ACME, LedgerOpKind::CallCharge, "cdr-7".to_string()),
                (
                    mid,
                    LedgerOpKind::AgentRollup {
                        sub_account: ACME,
                        level: 1
                    },
                    "cdr-7#1".to_string()
                ),
                (
                    top,
                    LedgerOpKind::AgentRollup {
                        sub_account: ACME,
                        level: 2
                    },
                    "cdr-7#2".to_string()
                ),
            ]
        );
        assert!(s.ops.iter().all(|o| o.amount == m("0.60")));
        assert_eq!(s.ops[0].balance_delta(), m("-0.60"));
        assert_eq!(s.ops[1].balance_delta(), Money::ZERO);
        assert_eq!(view(&b, ACME).balance, m("9.40"));
        assert_eq!(view(&b, mid).balance, m("7"));
        assert_eq!(view(&b, top).balance, m("5"));
        assert_eq!(view(&b, mid).sub_account_charges, m("0.60"));
        assert_eq!(view(&b, top).sub_account_charges, m("0.60"));
    }

    #[test]
    fn agent_loops_and_unknown_agents_end_the_chain() {
        let (a, c) = (AccountId(2), AccountId(3));
        let mut b = BalanceBook::new(no_margin());
        let with_parent = |p: AccountId| AccountTerms {
            parent_agent: Some(p),
            ..terms("0")
        };
        b.insert_account(ACME, m("1"), with_parent(a)).expect("new");
        b.insert_account(a, m("1"), with_parent(c)).expect("new");
        b.insert_account(c, m("1"), with_parent(a)).expect("new");
        assert_eq!(b.agents_of(ACME), vec![a, c]);
        b.update_terms(c, with_parent(AccountId(404)))
            .expect("known");
        assert_eq!(b.agents_of(ACME), vec![a, c]);
        b.update_terms(ACME, with_parent(ACME)).expect("known");
        assert_eq!(b.agents_of(ACME), Vec::<AccountId>::new());
    }

    #[test]
    fn cancel_and_zero_hold_release_without_charging() {
        let mut b = book_with(no_margin(), "10", "0");
        let t = tariff("0.60", 60, 60, "0.05");
        let g = b.authorise(ACME, &t, NOW).expect("granted");
        assert_eq!(b.cancel(g), Ok(m("0.65")));
        let g = b.authorise(ACME, &t, NOW).expect("granted");
        let s = b.settle(g, 0, "cdr-0".into()).expect("settled");
        assert_eq!((s.debited, s.released), (Money::ZERO, m("0.65")));
        assert!(s.ops.is_empty());
        let v = view(&b, ACME);
        assert_eq!(
            (v.balance, v.reserved, v.open_grants),
            (m("10"), Money::ZERO, 0)
        );
        assert_eq!(b.open_grants(), 0);
    }

    #[test]
    fn a_grant_from_another_book_is_unknown() {
        let mut b1 = book_with(no_margin(), "10", "0");
        let mut b2 = BalanceBook::new(no_margin());
        let t = tariff("0.60", 60, 60, "0");
        let g = b1.authorise(ACME, &t, NOW).expect("granted");
        assert_eq!(
            b2.settle(g, 1000, "x".into()),
            Err(BillingError::UnknownGrant { grant: 1 })
        );
        assert_eq!(
            view(&b1, ACME).reserved,
            m("0.60"),
            "still held in its own book"
        );
    }

    #[test]
    fn payments_add_and_refuse_nonsense() {
        let mut b = book_with(no_margin(), "0", "0");
        let op = b.pay("pay-1".into(), ACME, m("5")).expect("paid");
        assert_eq!(op.kind, LedgerOpKind::Payment);
        assert_eq!(op.balance_delta(), m("5"));
        assert_eq!(op.entry_id(), "pay-1");
        assert_eq!(view(&b, ACME).balance, m("5"));
        assert!(matches!(
            b.pay("pay-2".into(), ACME, Money::ZERO),
            Err(BillingError::NonPositivePayment { .. })
        ));
        assert!(matches!(
            b.pay("pay-3".into(), AccountId(8), m("1")),
            Err(BillingError::UnknownAccount { .. })
        ));
        assert!(matches!(
            b.pay("pay-4".into(), ACME, Money::from_micros(i64::MAX)),
            Err(BillingError::Overflow)
        ));
    }

    #[test]
    fn a_payment_lets_an_exhausted_call_continue() {
        let mut b = book_with(no_margin(), "0.60", "0");
        let t = tariff("0.60", 60, 60, "0");
        let mut g = b.authorise(ACME, &t, NOW).expect("granted");
        g.answer(NOW);
        assert!(matches!(
            b.extend(&mut g, NOW + 55_000),
            Ok(Extension::Exhausted { .. })
        ));
        b.pay("pay-1".into(), ACME, m("0.60")).expect("paid");
        assert_eq!(
            b.extend(&mut g, NOW + 56_000),
            Ok(Extension::Extended {
                added: m("0.60"),
                hard_end_hold_ms: 120_000
            })
        );
    }

    #[test]
    fn free_calls_need_no_money_and_have_no_limit() {
        let mut cfg = BillingConfig::default();
        cfg.free_e164s.insert("112".into());
        let mut b = book_with(cfg.clone(), "-5", "1");
        let t = cfg.tariff_for("112", tariff("0.60", 60, 60, "0.05"));
        let mut g = b.authorise(ACME, &t, NOW).expect("free call");
        assert_eq!((g.reserved(), g.hard_end_hold_ms()), (Money::ZERO, None));
        g.answer(NOW);
        assert_eq!((g.hard_end_at(), g.extend_at()), (None, None));
        assert_eq!(b.extend(&mut g, NOW + 3_600_000), Ok(Extension::Unlimited));
        let s = b.settle(g, 3_600_000, "cdr-112".into()).expect("settled");
        assert_eq!(s.debited, Money::ZERO);
        assert!(s.ops.is_empty());
        // A priced number is refused for the same account.
        assert!(
            b.authorise(ACME, &tariff("0.60", 60, 60, "0"), NOW)
                .is_err()
        );
    }

    #[test]
    fn a_free_time_part_with_a_connect_fee_reserves_the_fee_only() {
        let mut b = book_with(BillingConfig::default(), "1", "0");
        let g = b
            .authorise(ACME, &tariff("0", 60, 60, "0.10"), NOW)
            .expect("granted");
        assert_eq!((g.reserved(), g.hard_end_hold_ms()), (m("0.10"), None));
        let s = b.settle(g, 7_200_000, "c".into()).expect("settled");
        assert_eq!(s.debited, m("0.10"));
    }

    #[test]
    fn coarse_hold_time_precision_reserves_whole_steps() {
        let cfg = BillingConfig {
            rating: RatingRules::new(0, 60_000, 4, 1),
            slice_secs: 30,
            ..no_margin()
        };
        let mut b = book_with(cfg, "10", "0");
        let mut g = b
            .authorise(ACME, &tariff("0.60", 6, 6, "0"), NOW)
            .expect("granted");
        assert_eq!(g.hard_end_hold_ms(), Some(60_000));
        g.answer(NOW);
        assert_eq!(
            b.extend(&mut g, NOW + 58_000),
            Ok(Extension::Extended {
                added: m("0.60"),
                hard_end_hold_ms: 120_000
            })
        );
    }

    #[test]
    fn terms_are_checked() {
        let mut b = book_with(no_margin(), "1", "0");
        assert_eq!(
            b.insert_account(ACME, Money::ZERO, terms("0")),
            Err(BillingError::DuplicateAccount { account: ACME })
        );
        assert!(matches!(
            b.update_terms(ACME, terms("-1")),
            Err(BillingError::NegativeCreditLimit { .. })
        ));
        assert!(matches!(
            b.update_terms(AccountId(5), terms("1")),
            Err(BillingError::UnknownAccount { .. })
        ));
    }

    // -----------------------------------------------------------------------------------------
    // The guarantee, over random interleavings.
    // -----------------------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    enum Step {
        Authorise {
            account: usize,
            tariff: usize,
        },
        Answer {
            call: usize,
        },
        Extend {
            call: usize,
            before_end_ms: u32,
        },
        /// Settle at the hard end plus `late_ms` (0 = on time), or earlier by `early_ms`.
        Settle {
            call: usize,
            late_ms: u32,
            early_ms: u32,
        },
        Cancel {
            call: usize,
        },
        Pay {
            account: usize,
            micros: i64,
        },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0usize..3, 0usize..4).prop_map(|(account, tariff)| Step::Authorise { account, tariff }),
            3 => (0usize..64).prop_map(|call| Step::Answer { call }),
            6 => (0usize..64, 0u32..70_000).prop_map(|(call, before_end_ms)| Step::Extend { call, before_end_ms }),
            3 => (0usize..64, prop_oneof![Just(0u32), 0u32..200_000], 0u32..100_000)
                .prop_map(|(call, late_ms, early_ms)| Step::Settle { call, late_ms, early_ms }),
            1 => (0usize..64).prop_map(|call| Step::Cancel { call }),
            1 => (0usize..3, 1i64..2_000_000).prop_map(|(account, micros)| Step::Pay { account, micros }),
        ]
    }

    fn tariffs() -> Vec<Tariff> {
        vec![
            tariff("0.60", 60, 60, "0"),
            tariff("0.13", 30, 6, "0.02"),
            tariff("1.00", 1, 1, "0"),
            tariff("0.0123", 6, 6, "0.0005"),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn no_interleaving_takes_an_account_below_its_limit(
            balances in proptest::collection::vec(0i64..3_000_000, 3),
            credits in proptest::collection::vec(0i64..1_000_000, 3),
            margin in 0u32..3,
            slice in prop::sample::select(vec![6u32, 30, 60, 120]),
            precision in prop::sample::select(vec![1u32, 1000, 1500, 60_000]),
            free_time in 0u32..5,
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let cfg = BillingConfig {
                rating: RatingRules::new(free_time, precision, 4, 1),
                overdraft_advance_minutes: margin,
                slice_secs: slice,
                ..BillingConfig::default()
            };
            let ids = [AccountId(1), AccountId(2), AccountId(3)];
            let mut b = BalanceBook::new(cfg);
            // Account 3 is the agent of accounts 1 and 2.
            for (i, id) in ids.iter().enumerate() {
                let parent = (i < 2).then_some(ids[2]);
                b.insert_account(*id, Money::from_micros(balances[i]), AccountTerms {
                    parent_agent: parent,
                    ..terms("0")
                }).expect("new");
                b.update_terms(*id, AccountTerms {
                    credit_limit: Money::from_micros(credits[i]),
                    parent_agent: parent,
                    ..terms("0")
                }).expect("known");
            }
            let tariffs = tariffs();
            let mut calls: Vec<Option<Grant>> = Vec::new();
            let mut now = NOW;
            let mut ledger_delta = [0i128; 3];
            let mut rollups = 0i128;
            let mut n = 0u32;
            for s in steps {
                now += 1_000;
                match s {
                    Step::Authorise { account, tariff } => {
                        if let Ok(g) = b.authorise(ids[account], &tariffs[tariff], now) {
                            calls.push(Some(g));
                        }
                    }
                    Step::Answer { call } => {
                        let len = calls.len().max(1);
                        if let Some(Some(g)) = calls.get_mut(call % len)
                            && g.answered_at().is_none()
                        {
                            g.answer(now);
                        }
                    }
                    Step::Extend { call, before_end_ms } => {
                        let len = calls.len().max(1);
                        if let Some(Some(g)) = calls.get_mut(call % len) {
                            // Around the moment the engine would call: shortly before the end.
                            let at = g.hard_end_at().map_or(now, |e| e - i64::from(before_end_ms));
                            b.extend(g, at).expect("open grant");
                        }
                    }
                    Step::Settle { call, late_ms, early_ms } => {
                        let len = calls.len().max(1);
                        if let Some(slot) = calls.get_mut(call % len)
                            && let Some(g) = slot.take()
                        {
                            let end = g.hard_end_hold_ms().unwrap_or(3_600_000);
                            let hold = if late_ms > 0 {
                                end + u64::from(late_ms)
                            } else {
                                end.saturating_sub(u64::from(early_ms))
                            };
                            n += 1;
                            let st = b.settle(g, hold, OpId(format!("cdr-{n}"))).expect("open grant");
                            prop_assert_eq!(st.charge.charge, st.debited.saturating_add(st.unbilled));
                            if late_ms == 0 {
                                prop_assert_eq!(st.unbilled, Money::ZERO, "on time is paid in full");
                            }
                            for op in &st.ops {
                                let i = ids.iter().position(|x| *x == op.account).expect("known");
                                ledger_delta[i] += i128::from(op.balance_delta().micros());
                                if matches!(op.kind, LedgerOpKind::AgentRollup { .. }) {
                                    rollups += i128::from(op.amount.micros());
                                }
                            }
                        }
                    }
                    Step::Cancel { call } => {
                        let len = calls.len().max(1);
                        if let Some(slot) = calls.get_mut(call % len)
                            && let Some(g) = slot.take()
                        {
                            b.cancel(g).expect("open grant");
                        }
                    }
                    Step::Pay { account, micros } => {
                        n += 1;
                        let op = b.pay(OpId(format!("pay-{n}")), ids[account], Money::from_micros(micros)).expect("paid");
                        ledger_delta[account] += i128::from(op.balance_delta().micros());
                    }
                }
                // The invariant, after every step.
                for (i, id) in ids.iter().enumerate() {
                    let v = view(&b, *id);
                    let open: i64 = calls.iter().flatten().filter(|g| g.account() == *id).map(|g| g.reserved().micros()).sum();
                    prop_assert_eq!(v.reserved.micros(), open, "reserved = sum of open grants");
                    prop_assert!(v.balance.micros() >= -credits[i], "balance {} below -{}", v.balance, credits[i]);
                    prop_assert!(v.headroom() >= Money::ZERO);
                }
            }
            for (i, id) in ids.iter().enumerate() {
                let v = view(&b, *id);
                prop_assert_eq!(i128::from(v.balance.micros() - balances[i]), ledger_delta[i]);
            }
            prop_assert_eq!(i128::from(view(&b, ids[2]).sub_account_charges.micros()), rollups);
        }

        #[test]
        fn totals_add_up_across_thousands_of_calls(
            calls in proptest::collection::vec((0usize..4, 0u64..900_000), 1000..3000),
        ) {
            let agent = AccountId(2);
            let mut b = BalanceBook::new(BillingConfig::default());
            b.insert_account(agent, Money::ZERO, terms("0")).expect("new");
            let opening = m("1000000");
            b.insert_account(ACME, opening, AccountTerms {
                parent_agent: Some(agent),
                ..terms("0")
            }).expect("new");
            let tariffs = tariffs();
            let cfg = BillingConfig::default();
            let (mut rated, mut parts, mut debited, mut ledger) = (0i128, 0i128, 0i128, 0i128);
            for (n, (t, hold)) in calls.into_iter().enumerate() {
                let mut g = b.authorise(ACME, &tariffs[t], NOW).expect("rich account");
                g.answer(NOW);
                let c = rate_call(&tariffs[t], hold, &cfg).expect("rated");
                rated += i128::from(c.charge.micros());
                parts += i128::from(c.connect_fee.micros()) + i128::from(c.duration_charge.micros());
                let s = b.settle(g, hold, OpId(format!("cdr-{n}"))).expect("open grant");
                prop_assert_eq!(s.charge, c);
                prop_assert_eq!(s.unbilled, Money::ZERO);
                debited += i128::from(s.debited.micros());
                ledger += s.ops.iter().map(|o| i128::from(o.balance_delta().micros())).sum::<i128>();
            }
            let v = view(&b, ACME);
            prop_assert_eq!(rated, parts);
            prop_assert_eq!(rated, debited);
            prop_assert_eq!(i128::from(opening.micros() - v.balance.micros()), debited);
            prop_assert_eq!(-ledger, debited);
            prop_assert_eq!(i128::from(view(&b, agent).sub_account_charges.micros()), debited);
            prop_assert_eq!(v.reserved, Money::ZERO);
        }
    }
}
