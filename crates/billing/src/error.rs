//! Why a call is refused, and why a billing operation could not be done.

use serde::Serialize;
use tollswitch_model::provisioning::money_text;
use tollswitch_model::{AccountId, Money, SipCode};

/// 402 Payment Required (the same code routing answers an insufficient balance with).
pub const PAYMENT_REQUIRED: SipCode = match SipCode::new(402) {
    Some(c) => c,
    None => SipCode::FORBIDDEN,
};

/// Why [`BalanceBook::authorise`](crate::BalanceBook::authorise) refused a call.
///
/// | refusal | SIP code | why this code |
/// |---|---|---|
/// | `unknown_account` | 403 | nothing to bill: the call is not authorised |
/// | `account_locked`, `account_expired` (the account or an agent above it) | 403 | VOS3000: "account blocked" |
/// | `insufficient_balance` | 402 | Payment Required: says exactly what to fix |
/// | `overflow` | 500 | a tariff so large the arithmetic overflows is a provisioning bug |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// The account is not in the book.
    #[error("account {account} is unknown to billing")]
    UnknownAccount {
        /// The account asked for.
        account: AccountId,
    },
    /// The account, or an agent above it, is locked.
    #[error("account {account} is locked")]
    AccountLocked {
        /// The locked account (the caller's account or one of its agents).
        account: AccountId,
    },
    /// The account, or an agent above it, has passed its expiry.
    #[error("account {account} expired")]
    AccountExpired {
        /// The expired account (the caller's account or one of its agents).
        account: AccountId,
    },
    /// Balance + credit limit − open reservations does not cover the first increment plus the
    /// anti-overdraft margin.
    #[error("insufficient balance ({available} available, {required} required)")]
    InsufficientBalance {
        /// Balance + credit limit − open reservations.
        #[serde(serialize_with = "money_text::serialize")]
        available: Money,
        /// Connect fee + the first increment (or the first billable hold-time step) + the
        /// `SERVER_BILLING_PREVENT_OVERDRAFT_ADVANCE_TIME` margin at this tariff.
        #[serde(serialize_with = "money_text::serialize")]
        required: Money,
    },
    /// The tariff is so large that the arithmetic overflows.
    #[error("tariff arithmetic overflows")]
    Overflow,
}

impl Refusal {
    /// The SIP code the call is answered with (the table on [`Refusal`]).
    pub const fn code(&self) -> SipCode {
        match self {
            Refusal::UnknownAccount { .. }
            | Refusal::AccountLocked { .. }
            | Refusal::AccountExpired { .. } => SipCode::FORBIDDEN,
            Refusal::InsufficientBalance { .. } => PAYMENT_REQUIRED,
            Refusal::Overflow => SipCode::SERVER_INTERNAL_ERROR,
        }
    }

    /// A stable snake_case name (the `kind` in JSON).
    pub const fn as_str(&self) -> &'static str {
        match self {
            Refusal::UnknownAccount { .. } => "unknown_account",
            Refusal::AccountLocked { .. } => "account_locked",
            Refusal::AccountExpired { .. } => "account_expired",
            Refusal::InsufficientBalance { .. } => "insufficient_balance",
            Refusal::Overflow => "overflow",
        }
    }
}

/// Why a rating or ledger operation could not be done. These are caller or provisioning
/// mistakes, not call outcomes (those are [`Refusal`]s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BillingError {
    /// Money or time arithmetic overflowed (an absurd price or duration).
    #[error("billing arithmetic overflows")]
    Overflow,
    /// The account is not in the book.
    #[error("account {account} is unknown to billing")]
    UnknownAccount {
        /// The account asked for.
        account: AccountId,
    },
    /// The account is already in the book.
    #[error("account {account} is already in the book")]
    DuplicateAccount {
        /// The account.
        account: AccountId,
    },
    /// The grant was already settled or cancelled, or belongs to another book.
    #[error("grant {grant} is not open in this book")]
    UnknownGrant {
        /// The grant id.
        grant: u64,
    },
    /// A payment must be a positive amount.
    #[error("payment must be positive, got {amount}")]
    NonPositivePayment {
        /// The refused amount.
        #[serde(serialize_with = "money_text::serialize")]
        amount: Money,
    },
    /// A credit limit must not be negative.
    #[error("credit limit must not be negative, got {amount}")]
    NegativeCreditLimit {
        /// The refused amount.
        #[serde(serialize_with = "money_text::serialize")]
        amount: Money,
    },
    /// A price or connect fee must not be negative.
    #[error("{field} must not be negative, got {amount}")]
    NegativePrice {
        /// `price_per_minute` or `connect_fee`.
        field: &'static str,
        /// The refused amount.
        #[serde(serialize_with = "money_text::serialize")]
        amount: Money,
    },
    /// A billing increment must be at least one second.
    #[error("{field} must be at least 1 second")]
    ZeroIncrement {
        /// `first_increment_secs` or `next_increment_secs`.
        field: &'static str,
    },
    /// A system parameter value does not fit its specification.
    #[error("{0}")]
    Parameter(String),
}
