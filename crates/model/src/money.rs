//! Money as signed 64-bit micro-units (1 unit = 1 000 000 micro-units). Never a float.
//!
//! i64 micro-units hold ±9.2 × 10¹² whole units: more than any carrier balance, while keeping
//! sub-cent per-second prices exact (0.0001/s = 100 micro-units).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Micro-units per whole currency unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount of money in micro-units. Arithmetic is checked or saturating, never wrapping.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Money(i64);

/// Why a text could not be read as money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoneyError {
    /// Empty text.
    Empty,
    /// A character that is not a digit, sign or a single decimal point.
    InvalidCharacter,
    /// More than six decimal places: the amount cannot be held exactly.
    TooPrecise,
    /// Outside ±9 223 372 036 854.775807.
    Overflow,
}

impl fmt::Display for MoneyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MoneyError::Empty => "empty amount",
            MoneyError::InvalidCharacter => {
                "amount must be digits with an optional sign and decimal point"
            }
            MoneyError::TooPrecise => "amount has more than 6 decimal places",
            MoneyError::Overflow => "amount is out of range",
        })
    }
}

impl std::error::Error for MoneyError {}

impl Money {
    /// Zero.
    pub const ZERO: Money = Money(0);

    /// From micro-units.
    pub const fn from_micros(micros: i64) -> Money {
        Money(micros)
    }

    /// The amount in micro-units.
    pub const fn micros(self) -> i64 {
        self.0
    }

    /// `a + b`, or `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `a - b`, or `None` on overflow.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    /// `a + b`, clamped to the representable range.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    /// `a - b`, clamped to the representable range.
    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    /// Price per minute × seconds, rounded **up** to the next micro-unit (a carrier never
    /// under-charges a fraction). `None` on overflow.
    pub fn per_minute_for_seconds(self, seconds: u64) -> Option<Money> {
        let product = i128::from(self.0).checked_mul(i128::from(seconds))?;
        let charge = if product >= 0 {
            (product + 59) / 60
        } else {
            product / 60
        };
        i64::try_from(charge).ok().map(Money)
    }

    /// True when below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

impl fmt::Display for Money {
    /// Six decimal places, trailing zeros trimmed to at least two: `12.50`, `0.000125`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / MICROS_PER_UNIT as u64;
        let frac = abs % MICROS_PER_UNIT as u64;
        let mut digits = format!("{frac:06}");
        while digits.len() > 2 && digits.ends_with('0') {
            digits.pop();
        }
        write!(f, "{sign}{whole}.{digits}")
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Reads `12`, `-3.5`, `0.000125`, `+7.` exactly; rejects more than six decimals.
    fn from_str(s: &str) -> Result<Money, MoneyError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (negative, rest) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (whole, frac) = match rest.split_once('.') {
            Some((w, f)) => (w, f),
            None => (rest, ""),
        };
        if whole.is_empty() && frac.is_empty() {
            return Err(MoneyError::InvalidCharacter);
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::InvalidCharacter);
        }
        if frac.len() > 6 {
            return Err(MoneyError::TooPrecise);
        }
        let mut micros: i64 = 0;
        for b in whole.bytes() {
            micros = micros
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        micros = micros
            .checked_mul(MICROS_PER_UNIT)
            .ok_or(MoneyError::Overflow)?;
        let mut scale = MICROS_PER_UNIT / 10;
        for b in frac.bytes() {
            micros = micros
                .checked_add(i64::from(b - b'0') * scale)
                .ok_or(MoneyError::Overflow)?;
            scale /= 10;
        }
        Ok(Money(if negative { -micros } else { micros }))
    }
}

/// An ISO 4217 currency code (three upper-case letters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollar, the demo's currency.
    pub const USD: Currency = Currency(*b"USD");

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII upper-case letters.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Currency, String> {
        let b = s.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
            Ok(Currency([b[0], b[1], b[2]]))
        } else {
            Err(format!(
                "currency must be three upper-case letters (ISO 4217), got {s:?}"
            ))
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Currency, String> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_exactly() {
        for (text, micros, printed) in [
            ("12", 12_000_000, "12.00"),
            ("-3.5", -3_500_000, "-3.50"),
            ("0.000125", 125, "0.000125"),
            (
                "1234567890123.123456",
                1_234_567_890_123_123_456,
                "1234567890123.123456",
            ),
            (".5", 500_000, "0.50"),
        ] {
            let m: Money = text.parse().expect(text);
            assert_eq!(m.micros(), micros, "{text}");
            assert_eq!(m.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn rejects_what_cannot_be_exact() {
        assert_eq!("0.0000001".parse::<Money>(), Err(MoneyError::TooPrecise));
        assert_eq!("1e5".parse::<Money>(), Err(MoneyError::InvalidCharacter));
        assert_eq!("".parse::<Money>(), Err(MoneyError::Empty));
        assert_eq!(".".parse::<Money>(), Err(MoneyError::InvalidCharacter));
        assert_eq!("99999999999999".parse::<Money>(), Err(MoneyError::Overflow));
    }

    #[test]
    fn per_minute_rounds_up_to_the_micro() {
        let price: Money = "0.01".parse().expect("price");
        // 1 s of 0.01/min = 166.67 micro → 167.
        assert_eq!(
            price.per_minute_for_seconds(1),
            Some(Money::from_micros(167))
        );
        assert_eq!(
            price.per_minute_for_seconds(60),
            Some(Money::from_micros(10_000))
        );
    }

    proptest! {
        #[test]
        fn display_round_trips(micros in any::<i64>()) {
            let m = Money::from_micros(micros);
            prop_assert_eq!(m.to_string().parse::<Money>(), Ok(m));
        }
    }
}
