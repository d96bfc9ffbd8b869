//! Phone numbers as the switch routes them: a string of digits (E.164 without '+', or a national
//! or technical-prefix form). The '+' of a global number is stripped on the way in.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest number accepted. E.164 is 15 digits; technical prefixes and LRN dips add more.
pub const MAX_NUMBER_DIGITS: usize = 32;

/// A validated digit string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Number(String);

/// Why a text is not a routable number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NumberError {
    /// No digits.
    Empty,
    /// A character other than 0-9 (after an optional leading '+').
    NotADigit(char),
    /// More than [`MAX_NUMBER_DIGITS`] digits.
    TooLong(usize),
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumberError::Empty => f.write_str("number is empty"),
            NumberError::NotADigit(c) => write!(f, "number may hold only digits, found {c:?}"),
            NumberError::TooLong(n) => {
                write!(
                    f,
                    "number has {n} digits, at most {MAX_NUMBER_DIGITS} are allowed"
                )
            }
        }
    }
}

impl std::error::Error for NumberError {}

impl Number {
    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `prefix` is a prefix of this number.
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.0.starts_with(prefix)
    }
}

impl FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Number, NumberError> {
        let digits = s.strip_prefix('+').unwrap_or(s);
        if digits.is_empty() {
            return Err(NumberError::Empty);
        }
        if let Some(c) = digits.chars().find(|c| !c.is_ascii_digit()) {
            return Err(NumberError::NotADigit(c));
        }
        if digits.len() > MAX_NUMBER_DIGITS {
            return Err(NumberError::TooLong(digits.len()));
        }
        Ok(Number(digits.to_owned()))
    }
}

impl TryFrom<String> for Number {
    type Error = NumberError;
    fn try_from(s: String) -> Result<Number, NumberError> {
        s.parse()
    }
}

impl From<Number> for String {
    fn from(n: Number) -> String {
        n.0
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_digits_and_strips_plus() {
        assert_eq!(
            "+4420".parse::<Number>().map(|n| n.to_string()),
            Ok("4420".to_owned())
        );
        assert_eq!("".parse::<Number>(), Err(NumberError::Empty));
        assert_eq!("12a".parse::<Number>(), Err(NumberError::NotADigit('a')));
        assert!(matches!(
            "1".repeat(33).parse::<Number>(),
            Err(NumberError::TooLong(33))
        ));
    }
}
