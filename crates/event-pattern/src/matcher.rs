//! One entry of a field's value list (`"state": ["a", {"prefix": "b"}]` has two) and how
//! it judges one leaf value of the event.

use std::net::IpAddr;

use serde_json::{Number, Value};

use crate::cidr::{Cidr, ip_literal};
use crate::wildcard::Wildcard;

#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// `"text"`: equal strings, or the same address when both are IP literals.
    String {
        text: String,
        ip: Option<IpAddr>,
    },
    /// `{"exactly": "text"}`: equal strings, nothing else.
    Exactly(String),
    /// `5`, `3.018e2`: numerically equal numbers.
    Number(Num),
    Bool(bool),
    Null,
    Prefix {
        text: String,
        case: Case,
    },
    Suffix {
        text: String,
        case: Case,
    },
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    Numeric(Range),
    Cidr(Cidr),
    /// `{"exists": true}` matches any leaf; `false` is decided by the field's absence.
    Exists(bool),
    AnythingBut(AnythingBut),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Sensitive,
    Insensitive,
}

/// `anything-but`: a leaf that is present and not excluded. Leaves of another type than
/// the excluded values (a number against excluded strings, `null`) are not excluded.
#[derive(Debug, Clone, PartialEq)]
pub enum AnythingBut {
    Strings(Vec<String>),
    Numbers(Vec<f64>),
    IgnoreCase(Vec<String>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

/// A JSON number as EventBridge compares it: as an IEEE double when the double is exact,
/// otherwise only by its digits (an account id beyond 2^53 stays comparable for equality).
#[derive(Debug, Clone, PartialEq)]
pub struct Num {
    raw: Number,
    exact: Option<f64>,
}

impl Num {
    pub fn new(raw: &Number) -> Num {
        Num {
            raw: raw.clone(),
            exact: comparable(raw),
        }
    }

    fn equals(&self, other: &Number) -> bool {
        match (self.exact, comparable(other)) {
            (Some(a), Some(b)) => a == b,
            _ => self.raw == *other,
        }
    }
}

/// The number as an `f64`, when that double is exactly the number written.
pub fn comparable(number: &Number) -> Option<f64> {
    if let Some(int) = number.as_i64() {
        let float = int as f64;
        return (float as i128 == i128::from(int)).then_some(float);
    }
    if let Some(uint) = number.as_u64() {
        let float = uint as f64;
        return (float as u128 == u128::from(uint)).then_some(float);
    }
    number.as_f64().filter(|float| float.is_finite())
}

/// A numeric interval; `None` is unbounded on that side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub lower: Option<Bound>,
    pub upper: Option<Bound>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub value: f64,
    pub inclusive: bool,
}

impl Range {
    fn contains(&self, x: f64) -> bool {
        let above = self
            .lower
            .is_none_or(|b| x > b.value || (b.inclusive && x == b.value));
        let below = self
            .upper
            .is_none_or(|b| x < b.value || (b.inclusive && x == b.value));
        above && below
    }
}

impl Matcher {
    /// Whether this matcher accepts one leaf (a string, number, boolean or null).
    pub fn matches(&self, leaf: &Value) -> bool {
        match (self, leaf) {
            (Matcher::String { text, ip }, Value::String(value)) => {
                text == value || ip.is_some_and(|ip| ip_literal(value) == Some(ip))
            }
            (Matcher::Exactly(text), Value::String(value)) => text == value,
            (Matcher::Number(num), Value::Number(value)) => num.equals(value),
            (Matcher::Bool(b), Value::Bool(value)) => b == value,
            (Matcher::Null, Value::Null) => true,
            (Matcher::Prefix { text, case }, Value::String(value)) => match case {
                Case::Sensitive => value.starts_with(text.as_str()),
                Case::Insensitive => fold(value).starts_with(&fold(text)),
            },
            (Matcher::Suffix { text, case }, Value::String(value)) => match case {
                Case::Sensitive => value.ends_with(text.as_str()),
                Case::Insensitive => fold(value).ends_with(&fold(text)),
            },
            (Matcher::EqualsIgnoreCase(text), Value::String(value)) => fold(text) == fold(value),
            (Matcher::Wildcard(wildcard), Value::String(value)) => wildcard.matches(value),
            (Matcher::Numeric(range), Value::Number(value)) => {
                comparable(value).is_some_and(|x| range.contains(x))
            }
            (Matcher::Cidr(cidr), Value::String(value)) => {
                ip_literal(value).is_some_and(|ip| cidr.contains(ip))
            }
            (Matcher::Exists(exists), _) => *exists,
            (Matcher::AnythingBut(but), _) => !but.excludes(leaf),
            _ => false,
        }
    }
}

impl AnythingBut {
    fn excludes(&self, leaf: &Value) -> bool {
        match (self, leaf) {
            (AnythingBut::Strings(texts), Value::String(value)) => texts.contains(value),
            (AnythingBut::Numbers(numbers), Value::Number(value)) => {
                comparable(value).is_some_and(|x| numbers.contains(&x))
            }
            (AnythingBut::IgnoreCase(texts), Value::String(value)) => {
                let value = fold(value);
                texts.iter().any(|text| fold(text) == value)
            }
            (AnythingBut::Prefix(texts), Value::String(value)) => {
                texts.iter().any(|text| value.starts_with(text.as_str()))
            }
            (AnythingBut::Suffix(texts), Value::String(value)) => {
                texts.iter().any(|text| value.ends_with(text.as_str()))
            }
            (AnythingBut::Wildcard(wildcards), Value::String(value)) => {
                wildcards.iter().any(|wildcard| wildcard.matches(value))
            }
            _ => false,
        }
    }
}

/// Case folding for the `equals-ignore-case` family: Unicode lower case.
fn fold(text: &str) -> String {
    text.to_lowercase()
}
