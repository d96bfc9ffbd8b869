//! Pure billing (SPEC §4): rating, anti-overdraft balance control, agent roll-up, payments.
//!
//! How it is driven:
//!
//! ```text
//!  Parameters (SERVER_BILLING_*) ──► BillingConfig        Rate / RateMatch ──► Tariff
//!                                         │                                    │
//!  call arrives ─► cfg.tariff_for(callee, tariff)  (free numbers become free)   │
//!        │                                                                     ▼
//!        │ book.authorise(account, &tariff, now) ──► Grant (first slice reserved, hard end)
//!        │                                      └─► Refusal (402 / 403) — call rejected
//!  answer ─► grant.answer(now)
//!  at grant.extend_at() ─► book.extend(&mut grant, now) ──► Extended | Exhausted | NotDue
//!  at grant.hard_end_at() ─► the engine releases the call (money ran out)
//!  hangup ─► book.settle(grant, hold_ms, cdr_id) ──► Settlement { charge, debited, ops }
//!  never connected ─► book.cancel(grant)                          │
//!  recharge ─► book.pay(payment_id, account, amount) ──► LedgerOp  ▼
//!                              storage applies each LedgerOp once, keyed by LedgerOp::entry_id
//! ```
//!
//! Nothing here does I/O, reads the clock or draws randomness: `now` is a parameter, in unix
//! **milliseconds** (hold times are milliseconds too; provisioned account expiry stays in unix
//! seconds, as in the model). Money is [`Money`](tollswitch_model::Money) — integer
//! micro-units — with checked or saturating arithmetic and no floats anywhere.
//!
//! - [`rate_call`] turns a hold time into a [`Charge`]; the rounding rules are in [`tariff`].
//!   Customer charges and vendor costs use the same function; [`profit`] combines them.
//! - [`BalanceBook`] holds live balances and reservations; its guarantee (no account is ever
//!   taken below `−credit_limit`, however many calls run at once) and the agent and postpaid
//!   rules are in [`book`].

pub mod book;
mod config;
mod error;
pub mod tariff;

pub use book::{
    AccountTerms, AccountView, BalanceBook, Extension, Grant, GrantId, LedgerOp, LedgerOpKind,
    MAX_AGENT_DEPTH, OpId, Settlement,
};
pub use config::{BillingConfig, ProfitFormula, RatingRules, profit};
pub use error::{BillingError, PAYMENT_REQUIRED, Refusal};
pub use tariff::{Charge, Tariff, rate_call, rate_with};
