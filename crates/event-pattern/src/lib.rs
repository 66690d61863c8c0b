//! Amazon EventBridge event patterns: parse and validate a pattern, match events against it.
//!
//! ```
//! use approvalc_event_pattern::Pattern;
//! use serde_json::json;
//!
//! let pattern: Pattern = r#"{"source": ["aws.ssm"], "detail": {"Status": [{"prefix": "Succ"}]}}"#
//!     .parse()?;
//! assert!(pattern.matches(&json!({"source": "aws.ssm", "detail": {"Status": "Success"}})));
//! assert!(!pattern.matches(&json!({"source": "aws.ssm", "detail": {"Status": "Failed"}})));
//! # Ok::<(), approvalc_event_pattern::PatternError>(())
//! ```
//!
//! The engine's simulated EventBridge uses it to route the events of simulated SSM and
//! CodePipeline executions through the rule patterns the compiler emits, and tests use it
//! to check those patterns. Main types: [`Pattern`] ([`Pattern::parse`],
//! [`Pattern::matches`]) and [`PatternError`], whose reason is EventBridge's own wording
//! (`Event pattern is not valid. Reason: Empty arrays are not allowed`).
//!
//! Covered, with EventBridge's semantics:
//! * exact values (strings, numbers compared numerically, `true`/`false`, `null`), and
//!   `{"exactly": "…"}`; a value list matches if any entry does;
//! * nested objects; keys joined with `.` (`{"a.b": […]}` and `{"a": {"b": […]}}` are the
//!   same field); arrays in events (any element may match), with array consistency: two
//!   fields never match from different elements of the same array;
//! * `prefix`, `suffix` (each also with `{"equals-ignore-case": …}` inside),
//!   `equals-ignore-case`, `wildcard` (`*`, `\*`, `\\`), `anything-but` (a value, a list
//!   of strings or of numbers, `prefix`, `suffix`, `equals-ignore-case`, `wildcard`),
//!   `numeric` (`=`, `<`, `<=`, `>`, `>=`, and a lower with an upper bound), `exists`
//!   (`true` on leaf values only; `false` when the field has no value), `cidr` (IPv4 and
//!   IPv6; IP literals compare by address), `$or` (nested too);
//! * validation with EventBridge's reasons: malformed operators, wrong operand types,
//!   empty arrays and objects, unknown operators, bad numeric ranges (`Bottom must be less
//!   than top`, numbers that are not exact doubles), bad CIDRs, wildcard escapes and
//!   complexity, `$or` shape.
//!
//! Left out or approximated (documented in `docs/event-patterns.md`):
//! * the wildcard complexity limit: EventBridge does not publish its measure, so a
//!   wildcard's complexity here is a measure of our own (the most automaton states alive
//!   at once) calibrated against AWS's recorded verdicts, judged per wildcard rather than
//!   per rule set;
//! * size limits on patterns and events (EventBridge's 2048-character pattern limit and
//!   256 KB event limit are not enforced here); `$or` expands to at most
//!   1,024 combinations, more is an error of our own wording;
//! * locations in messages: EventBridge gives line and column, we give the field path.
//!
//! Tests: unit tests per module, and `tests/cases.rs` runs every JSON case under
//! `tests/cases/` (localstack's AWS-recorded cases, the EventBridge user guide's examples
//! and event-ruler's README examples; see `tests/cases/README.md`).

mod cidr;
mod event;
mod matcher;
mod parse;
mod wildcard;

use std::str::FromStr;

use serde_json::Value;

use event::{Flat, Leaf, compatible};
use matcher::Matcher;

/// A validated event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The pattern with every `$or` expanded: it matches if any rule does.
    rules: Vec<Rule>,
}

/// A pattern without `$or`: every field must match.
#[derive(Debug, Clone, PartialEq, Default)]
struct Rule {
    fields: Vec<Field>,
}

/// A dotted path and the value list for it.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    path: String,
    matchers: Vec<Matcher>,
}

/// Why a pattern is not valid: EventBridge's reason and the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {reason}{}", at(path))]
pub struct PatternError {
    reason: String,
    path: String,
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" (at `{path}`)")
    }
}

impl PatternError {
    fn new(reason: impl Into<String>, path: &str) -> PatternError {
        PatternError {
            reason: reason.into(),
            path: path.to_owned(),
        }
    }

    /// EventBridge's reason, e.g. `Unrecognized match type EXISTS`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The dotted path of the field concerned (empty for the whole pattern).
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// How many combinations of array elements one rule may try before giving up (and not
/// matching). Only events with many arrays, matched by many fields, come near it.
const MAX_ARRAY_COMBINATIONS: usize = 100_000;

impl Pattern {
    /// Validates a pattern given as JSON.
    pub fn parse(pattern: &Value) -> Result<Pattern, PatternError> {
        parse::parse(pattern).map(|rules| Pattern { rules })
    }

    /// Parses and validates a pattern given as JSON text. Duplicate keys keep the last
    /// value, as EventBridge does.
    pub fn parse_str(pattern: &str) -> Result<Pattern, PatternError> {
        let value: Value = serde_json::from_str(pattern)
            .map_err(|err| PatternError::new(format!("Invalid JSON: {err}"), ""))?;
        Pattern::parse(&value)
    }

    /// Whether `event` matches. An event that is not a JSON object matches nothing.
    pub fn matches(&self, event: &Value) -> bool {
        if !event.is_object() {
            return false;
        }
        let flat = Flat::new(event);
        self.rules.iter().any(|rule| rule.matches(&flat))
    }
}

impl FromStr for Pattern {
    type Err = PatternError;

    fn from_str(pattern: &str) -> Result<Pattern, PatternError> {
        Pattern::parse_str(pattern)
    }
}

impl Rule {
    fn matches(&self, flat: &Flat<'_>) -> bool {
        // Per field, the leaves that satisfy it. Fields whose candidates include a leaf
        // outside every array constrain nothing and need no search.
        let mut constrained: Vec<Vec<&Leaf<'_>>> = Vec::new();
        for field in &self.fields {
            let leaves = flat.leaves(&field.path);
            if leaves.is_empty() {
                if field.allows_absence() {
                    continue;
                }
                return false;
            }
            let candidates: Vec<&Leaf<'_>> = leaves
                .iter()
                .filter(|leaf| field.matchers.iter().any(|m| m.matches(leaf.value)))
                .collect();
            if candidates.is_empty() {
                return false;
            }
            if candidates.iter().any(|leaf| leaf.elements.is_empty()) {
                continue;
            }
            constrained.push(candidates);
        }
        constrained.sort_by_key(Vec::len);
        let mut budget = MAX_ARRAY_COMBINATIONS;
        consistent(&constrained, &mut Vec::new(), &mut budget)
    }
}

impl Field {
    fn allows_absence(&self) -> bool {
        self.matchers.contains(&Matcher::Exists(false))
    }
}

/// Picks one candidate per field so that no two come from different elements of one
/// array (depth-first, bounded by `budget`).
fn consistent<'a>(
    fields: &[Vec<&'a Leaf<'a>>],
    chosen: &mut Vec<&'a Leaf<'a>>,
    budget: &mut usize,
) -> bool {
    let Some((candidates, rest)) = fields.split_first() else {
        return true;
    };
    for &leaf in candidates {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        if chosen
            .iter()
            .all(|other| compatible(&leaf.elements, &other.elements))
        {
            chosen.push(leaf);
            let found = consistent(rest, chosen, budget);
            chosen.pop();
            if found {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pattern(value: Value) -> Pattern {
        Pattern::parse(&value).unwrap()
    }

    #[test]
    fn array_consistency() {
        let p = pattern(json!({"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}));
        let event = json!({"employees": [
            {"firstName": "John", "lastName": "Doe"},
            {"firstName": "Anna", "lastName": "Smith"},
            {"firstName": "Peter", "lastName": "Jones"}
        ]});
        assert!(!p.matches(&event));
        let p = pattern(json!({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}));
        assert!(p.matches(&event));
    }

    #[test]
    fn non_object_events_match_nothing() {
        let p = pattern(json!({"a": [{"exists": false}]}));
        assert!(p.matches(&json!({})));
        assert!(!p.matches(&json!([1])));
        assert!(!p.matches(&json!("a")));
    }

    #[test]
    fn error_names_field_path() {
        let err = Pattern::parse(&json!({"detail": {"x": []}})).unwrap_err();
        assert_eq!(err.reason(), "Empty arrays are not allowed");
        assert_eq!(err.path(), "detail.x");
        assert_eq!(
            err.to_string(),
            "Event pattern is not valid. Reason: Empty arrays are not allowed (at `detail.x`)"
        );
    }

    #[test]
    fn or_expansion_is_bounded() {
        let mut inner = serde_json::Map::new();
        for i in 0..11 {
            inner.insert(format!("f{i}"), json!({"$or": [{"a": [1]}, {"b": [2]}]}));
        }
        let err = Pattern::parse(&Value::Object(inner)).unwrap_err();
        assert!(err.reason().starts_with("Rule is too complex"), "{err}");
    }

    #[test]
    fn invalid_json_text() {
        let err = Pattern::parse_str("{").unwrap_err();
        assert!(err.reason().starts_with("Invalid JSON"), "{err}");
    }
}
