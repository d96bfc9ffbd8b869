//! The vocabulary every other crate speaks (SPEC §1).
//!
//! Nothing here does I/O or reads a clock: these are plain values. Money is integer micro-units,
//! numbers are validated digit strings, SIP codes carry their class and the operator's
//! troubleshooting hint. [`cdr`] holds what calls and payments leave behind: call detail records
//! and ledger entries.

mod ids;
mod money;
mod number;
mod sip_code;

pub use cdr::{Cdr, LedgerEntry};
pub use ids::{AccountId, GatewayGroupId, MappingGatewayId, RateTableId, RoutingGatewayId};
pub use money::{Currency, Money, MoneyError};
pub use number::{Number, NumberError};
pub use sip_code::{SipCode, SipCodeClass};

pub mod cdr;
pub mod params;
pub mod provisioning;
