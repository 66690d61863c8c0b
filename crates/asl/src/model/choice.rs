//! Choice rules: boolean combinators over data-test expressions.

use serde::{Deserialize, Serialize};
use serde_json::Number;

/// A top-level rule of a `Choice` state: a condition and the state to go to when it holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChoiceRule {
    #[serde(flatten)]
    pub condition: Condition,
    #[serde(rename = "Next")]
    pub next: String,
}

/// A boolean expression: `And`/`Or`/`Not` over data tests on one `Variable`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Condition {
    And {
        #[serde(rename = "And")]
        all: Vec<Condition>,
    },
    Or {
        #[serde(rename = "Or")]
        any: Vec<Condition>,
    },
    Not {
        #[serde(rename = "Not")]
        negated: Box<Condition>,
    },
    Test {
        #[serde(rename = "Variable")]
        variable: String,
        #[serde(flatten)]
        test: Comparison,
    },
}

impl Condition {
    pub fn test(variable: impl Into<String>, test: Comparison) -> Self {
        Condition::Test {
            variable: variable.into(),
            test,
        }
    }

    pub fn and(all: Vec<Condition>) -> Self {
        Condition::And { all }
    }

    pub fn or(any: Vec<Condition>) -> Self {
        Condition::Or { any }
    }

    // Named `negate` rather than `not` so it does not shadow `std::ops::Not::not`.
    pub fn negate(inner: Condition) -> Self {
        Condition::Not {
            negated: Box::new(inner),
        }
    }
}

/// One data-test operator with its operand. `*Path` variants compare with the value at
/// another path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Comparison {
    StringEquals(String),
    StringEqualsPath(String),
    StringLessThan(String),
    StringLessThanPath(String),
    StringGreaterThan(String),
    StringGreaterThanPath(String),
    StringLessThanEquals(String),
    StringLessThanEqualsPath(String),
    StringGreaterThanEquals(String),
    StringGreaterThanEqualsPath(String),
    StringMatches(String),
    NumericEquals(Number),
    NumericEqualsPath(String),
    NumericLessThan(Number),
    NumericLessThanPath(String),
    NumericGreaterThan(Number),
    NumericGreaterThanPath(String),
    NumericLessThanEquals(Number),
    NumericLessThanEqualsPath(String),
    NumericGreaterThanEquals(Number),
    NumericGreaterThanEqualsPath(String),
    BooleanEquals(bool),
    BooleanEqualsPath(String),
    TimestampEquals(String),
    TimestampEqualsPath(String),
    TimestampLessThan(String),
    TimestampLessThanPath(String),
    TimestampGreaterThan(String),
    TimestampGreaterThanPath(String),
    TimestampLessThanEquals(String),
    TimestampLessThanEqualsPath(String),
    TimestampGreaterThanEquals(String),
    TimestampGreaterThanEqualsPath(String),
    IsNull(bool),
    IsPresent(bool),
    IsNumeric(bool),
    IsString(bool),
    IsBoolean(bool),
    IsTimestamp(bool),
}
