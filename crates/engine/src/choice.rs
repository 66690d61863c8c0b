//! Choice rules: compiled once from the definition, evaluated against a state's effective
//! input. Comparison semantics follow AWS: a comparison against a value of the wrong type is
//! false (not an error), numbers compare as numbers whatever their JSON spelling, timestamps
//! must be RFC 3339, and `StringMatches` knows `*` with `\*` and `\\` escapes.

use std::cmp::Ordering;

use approvalc_asl::eval::Roots;
use serde_json::{Map, Value};

use crate::dataflow::Path;
use crate::error::{LoadError, Location};

#[derive(Debug)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test {
        variable: Path,
        op: Op,
        operand: Operand,
    },
}

#[derive(Debug)]
pub(crate) enum Operand {
    Literal(Value),
    /// A `…Path` comparison: the right-hand side is read from the input too.
    Path(Path),
    /// `StringMatches` pre-split into literal pieces around each `*`.
    Pattern(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    StringEquals,
    StringLessThan,
    StringGreaterThan,
    StringLessThanEquals,
    StringGreaterThanEquals,
    StringMatches,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
    TimestampEquals,
    TimestampLessThan,
    TimestampGreaterThan,
    TimestampLessThanEquals,
    TimestampGreaterThanEquals,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

const OPS: &[(&str, Op)] = &[
    ("StringEquals", Op::StringEquals),
    ("StringLessThan", Op::StringLessThan),
    ("StringGreaterThan", Op::StringGreaterThan),
    ("StringLessThanEquals", Op::StringLessThanEquals),
    ("StringGreaterThanEquals", Op::StringGreaterThanEquals),
    ("StringMatches", Op::StringMatches),
    ("NumericEquals", Op::NumericEquals),
    ("NumericLessThan", Op::NumericLessThan),
    ("NumericGreaterThan", Op::NumericGreaterThan),
    ("NumericLessThanEquals", Op::NumericLessThanEquals),
    ("NumericGreaterThanEquals", Op::NumericGreaterThanEquals),
    ("BooleanEquals", Op::BooleanEquals),
    ("TimestampEquals", Op::TimestampEquals),
    ("TimestampLessThan", Op::TimestampLessThan),
    ("TimestampGreaterThan", Op::TimestampGreaterThan),
    ("TimestampLessThanEquals", Op::TimestampLessThanEquals),
    ("TimestampGreaterThanEquals", Op::TimestampGreaterThanEquals),
    ("IsNull", Op::IsNull),
    ("IsPresent", Op::IsPresent),
    ("IsNumeric", Op::IsNumeric),
    ("IsString", Op::IsString),
    ("IsBoolean", Op::IsBoolean),
    ("IsTimestamp", Op::IsTimestamp),
];

/// Compiles one rule. `top` rules carry `Next`; nested ones (inside And/Or/Not) must not.
pub(crate) fn compile(
    at: &Location,
    field: &str,
    obj: &Map<String, Value>,
    top: bool,
) -> Result<Rule, LoadError> {
    for key in obj.keys() {
        let k = key.as_str();
        let known = matches!(k, "Variable" | "And" | "Or" | "Not" | "Comment")
            || (top && (k == "Next" || k == "Assign"))
            || OPS
                .iter()
                .any(|(name, _)| k == *name || k.strip_suffix("Path") == Some(name));
        if !known {
            let why = match k {
                "Condition" => "JSONata `Condition` is not supported by this engine".to_owned(),
                "Assign" => "`Assign` is only allowed on top-level choice rules".to_owned(),
                "Next" => "`Next` is only allowed on top-level choice rules".to_owned(),
                _ => format!("unknown choice rule field `{k}`"),
            };
            return Err(LoadError::new(at, format!("{field}.{k}"), why));
        }
    }
    if let Some(list) = obj.get("And") {
        return Ok(Rule::And(compile_list(at, &format!("{field}.And"), list)?));
    }
    if let Some(list) = obj.get("Or") {
        return Ok(Rule::Or(compile_list(at, &format!("{field}.Or"), list)?));
    }
    if let Some(inner) = obj.get("Not") {
        let f = format!("{field}.Not");
        let inner = inner
            .as_object()
            .ok_or_else(|| LoadError::new(at, f.clone(), "must be a choice rule object"))?;
        return Ok(Rule::Not(Box::new(compile(at, &f, inner, false)?)));
    }
    let variable = match obj.get("Variable") {
        Some(Value::String(v)) => Path::parse(at, &format!("{field}.Variable"), v)?,
        _ => {
            return Err(LoadError::new(
                at,
                format!("{field}.Variable"),
                "a comparison needs a `Variable` path string",
            ));
        }
    };
    let mut found = None;
    for (key, value) in obj {
        if matches!(key.as_str(), "Variable" | "Next" | "Comment" | "Assign") {
            continue;
        }
        if found.is_some() {
            return Err(LoadError::new(
                at,
                format!("{field}.{key}"),
                "a choice rule has exactly one comparison operator",
            ));
        }
        found = Some((key.as_str(), value));
    }
    let (key, value) = found.ok_or_else(|| {
        LoadError::new(
            at,
            field.to_owned(),
            "a choice rule needs a comparison operator",
        )
    })?;
    let f = format!("{field}.{key}");
    if let Some((_, op)) = OPS.iter().find(|(name, _)| *name == key) {
        let operand = literal_operand(at, &f, *op, value)?;
        return Ok(Rule::Test {
            variable,
            op: *op,
            operand,
        });
    }
    let base = key.strip_suffix("Path").unwrap_or(key);
    let op = OPS
        .iter()
        .find(|(name, _)| *name == base)
        .map(|(_, op)| *op)
        .filter(|op| !is_type_test(*op) && *op != Op::StringMatches)
        .ok_or_else(|| LoadError::new(at, f.clone(), "unknown comparison operator"))?;
    let path = value
        .as_str()
        .ok_or_else(|| LoadError::new(at, f.clone(), "must be a path string"))?;
    Ok(Rule::Test {
        variable,
        op,
        operand: Operand::Path(Path::parse(at, &f, path)?),
    })
}

fn compile_list(at: &Location, field: &str, list: &Value) -> Result<Vec<Rule>, LoadError> {
    let list = list
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| LoadError::new(at, field, "must be a non-empty array of rules"))?;
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let f = format!("{field}[{i}]");
            let obj = r
                .as_object()
                .ok_or_else(|| LoadError::new(at, f.clone(), "must be a choice rule object"))?;
            compile(at, &f, obj, false)
        })
        .collect()
}

fn is_type_test(op: Op) -> bool {
    matches!(
        op,
        Op::IsNull | Op::IsPresent | Op::IsNumeric | Op::IsString | Op::IsBoolean | Op::IsTimestamp
    )
}

fn literal_operand(
    at: &Location,
    field: &str,
    op: Op,
    value: &Value,
) -> Result<Operand, LoadError> {
    let ok = match op {
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals
        | Op::StringMatches => value.is_string(),
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => value.is_number(),
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => value
            .as_str()
            .is_some_and(|s| crate::clock::parse_timestamp(s).is_some()),
        _ => value.is_boolean(),
    };
    if !ok {
        return Err(LoadError::new(
            at,
            field,
            format!("operand {value} has the wrong type for this operator"),
        ));
    }
    if op == Op::StringMatches {
        return Ok(Operand::Pattern(split_pattern(
            value.as_str().unwrap_or(""),
        )));
    }
    Ok(Operand::Literal(value.clone()))
}

/// Splits a `StringMatches` pattern into the literal pieces between unescaped `*`.
fn split_pattern(pattern: &str) -> Vec<String> {
    let mut pieces = vec![String::new()];
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(last)) = (chars.next(), pieces.last_mut()) {
                    last.push(next);
                }
            }
            '*' => pieces.push(String::new()),
            _ => {
                if let Some(last) = pieces.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    pieces
}

fn matches_pattern(text: &str, pieces: &[String]) -> bool {
    let [first, middle @ .., last] = pieces else {
        return pieces.first().is_some_and(|p| p == text);
    };
    let Some(mut rest) = text.strip_prefix(first.as_str()) else {
        return false;
    };
    for piece in middle {
        match rest.find(piece.as_str()) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last.as_str())
}

impl Rule {
    pub(crate) fn evaluate(&self, roots: Roots<'_>) -> bool {
        match self {
            Rule::And(rules) => rules.iter().all(|r| r.evaluate(roots)),
            Rule::Or(rules) => rules.iter().any(|r| r.evaluate(roots)),
            Rule::Not(rule) => !rule.evaluate(roots),
            Rule::Test {
                variable,
                op,
                operand,
            } => {
                let value = variable.find(roots);
                let Some(value) = value else {
                    // A missing variable only answers IsPresent (false); every other test on
                    // it is false as well.
                    return false;
                };
                if *op == Op::IsPresent {
                    return operand_bool(operand);
                }
                if is_type_test(*op) {
                    return type_test(*op, &value) == operand_bool(operand);
                }
                let rhs = match operand {
                    Operand::Literal(v) => std::borrow::Cow::Borrowed(v),
                    Operand::Path(p) => match p.find(roots) {
                        Some(v) => v,
                        None => return false,
                    },
                    Operand::Pattern(pieces) => {
                        return value.as_str().is_some_and(|s| matches_pattern(s, pieces));
                    }
                };
                compare(*op, &value, &rhs)
            }
        }
    }
}

fn operand_bool(operand: &Operand) -> bool {
    matches!(operand, Operand::Literal(Value::Bool(true)))
}

fn type_test(op: Op, value: &Value) -> bool {
    match op {
        Op::IsNull => value.is_null(),
        Op::IsNumeric => value.is_number(),
        Op::IsString => value.is_string(),
        Op::IsBoolean => value.is_boolean(),
        Op::IsTimestamp => value
            .as_str()
            .is_some_and(|s| crate::clock::parse_timestamp(s).is_some()),
        _ => false,
    }
}

fn compare(op: Op, lhs: &Value, rhs: &Value) -> bool {
    let ordering = match op {
        Op::StringEquals
        | Op::StringLessThan
        | Op::StringGreaterThan
        | Op::StringLessThanEquals
        | Op::StringGreaterThanEquals => match (lhs.as_str(), rhs.as_str()) {
            (Some(a), Some(b)) => a.cmp(b),
            _ => return false,
        },
        Op::NumericEquals
        | Op::NumericLessThan
        | Op::NumericGreaterThan
        | Op::NumericLessThanEquals
        | Op::NumericGreaterThanEquals => match (lhs.as_f64(), rhs.as_f64()) {
            (Some(a), Some(b)) => match a.partial_cmp(&b) {
                Some(o) => o,
                None => return false,
            },
            _ => return false,
        },
        Op::BooleanEquals => {
            return match (lhs.as_bool(), rhs.as_bool()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            };
        }
        Op::TimestampEquals
        | Op::TimestampLessThan
        | Op::TimestampGreaterThan
        | Op::TimestampLessThanEquals
        | Op::TimestampGreaterThanEquals => {
            let a = lhs.as_str().and_then(crate::clock::parse_timestamp);
            let b = rhs.as_str().and_then(crate::clock::parse_timestamp);
            match (a, b) {
                (Some(a), Some(b)) => a.cmp(&b),
                _ => return false,
            }
        }
        _ => return false,
    };
    match op {
        Op::StringEquals | Op::NumericEquals | Op::TimestampEquals => ordering == Ordering::Equal,
        Op::StringLessThan | Op::NumericLessThan | Op::TimestampLessThan => {
            ordering == Ordering::Less
        }
        Op::StringGreaterThan | Op::NumericGreaterThan | Op::TimestampGreaterThan => {
            ordering == Ordering::Greater
        }
        Op::StringLessThanEquals | Op::NumericLessThanEquals | Op::TimestampLessThanEquals => {
            ordering != Ordering::Greater
        }
        _ => ordering != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_match(pattern: &str, text: &str, expect: bool) {
        assert_eq!(
            matches_pattern(text, &split_pattern(pattern)),
            expect,
            "{pattern} vs {text}"
        );
    }

    #[test]
    fn string_matches_wildcards_and_escapes() {
        check_match("log-*.txt", "log-2024.txt", true);
        check_match("log-*.txt", "log-.txt", true);
        check_match("log-*.txt", "log.txt", false);
        check_match("*", "", true);
        check_match("a*b*c", "abc", true);
        check_match("a*b*c", "acb", false);
        check_match(r"a\*b", "a*b", true);
        check_match(r"a\*b", "axb", false);
        check_match(r"a\\b", r"a\b", true);
        check_match("exact", "exact", true);
        check_match("exact", "exactly", false);
        check_match("ab*ba", "aba", false);
    }
}
