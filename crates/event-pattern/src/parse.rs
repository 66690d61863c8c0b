//! Pattern JSON → [`Rule`]s, validating as EventBridge does and failing with its reasons.
//!
//! `$or` is expanded: a pattern becomes a list of rules without `$or`, and matches when any
//! of them does. The order of checks follows EventBridge's rule compiler (aws/event-ruler
//! `JsonRuleCompiler`), so that the first problem reported is the one AWS would report.

use serde_json::{Map, Number, Value};

use crate::cidr::{Cidr, ip_literal};
use crate::matcher::{AnythingBut, Bound, Case, Matcher, Num, Range, comparable};
use crate::wildcard::{MAX_COMPLEXITY, Wildcard};
use crate::{Field, PatternError, Rule};

/// `$or` expansion stops here: past it a pattern is rejected as too complex.
pub const MAX_RULES: usize = 1024;

const OR: &str = "$or";

/// Names that cannot be field names inside `$or` (operators and reserved words).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "cidr",
];

pub fn parse(pattern: &Value) -> Result<Vec<Rule>, PatternError> {
    let Value::Object(root) = pattern else {
        return Err(PatternError::new("Filter is not an object", ""));
    };
    let mut parser = Parser {
        path: Vec::new(),
        rules: vec![Rule::default()],
    };
    parser.object(root, false)?;
    Ok(parser.rules)
}

struct Parser {
    /// Keys from the root to the object being parsed.
    path: Vec<String>,
    /// The rules built so far; `$or` multiplies them.
    rules: Vec<Rule>,
}

impl Parser {
    fn field_path(&self, key: &str) -> String {
        let mut path = self.path.join(".");
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        path
    }

    fn error(&self, reason: impl Into<String>, key: &str) -> PatternError {
        PatternError::new(reason, &self.field_path(key))
    }

    fn object(&mut self, object: &Map<String, Value>, in_or: bool) -> Result<(), PatternError> {
        if object.is_empty() {
            return Err(PatternError::new(
                "Empty objects are not allowed",
                &self.path.join("."),
            ));
        }
        for (key, value) in object {
            if key == OR {
                self.or(value)?;
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(self.error(
                    format!("{key} is Ruler reserved fieldName which cannot be used inside $or."),
                    key,
                ));
            }
            match value {
                Value::Object(child) => {
                    self.path.push(key.clone());
                    let result = self.object(child, in_or);
                    self.path.pop();
                    result?;
                }
                Value::Array(items) => {
                    let path = self.field_path(key);
                    let matchers = values(items).map_err(|reason| self.error(reason, key))?;
                    for rule in &mut self.rules {
                        rule.set(path.clone(), matchers.clone());
                    }
                }
                _ => {
                    return Err(self.error(format!("\"{key}\" must be an object or an array"), key));
                }
            }
        }
        Ok(())
    }

    /// Each object of the `$or` array continues every rule built so far.
    fn or(&mut self, value: &Value) -> Result<(), PatternError> {
        let Value::Array(branches) = value else {
            return Err(self.error("It must be an Array followed with $or.", OR));
        };
        let before = std::mem::take(&mut self.rules);
        for branch in branches {
            let Value::Object(branch) = branch else {
                return Err(self.error(
                    "Only JSON object is allowed in array of $or relationship.",
                    OR,
                ));
            };
            let after = std::mem::replace(&mut self.rules, before.clone());
            self.object(branch, true)?;
            let mut expanded = std::mem::replace(&mut self.rules, after);
            self.rules.append(&mut expanded);
            if self.rules.len() > MAX_RULES {
                return Err(self.error(
                    format!(
                        "Rule is too complex - $or expands to more than {MAX_RULES} combinations"
                    ),
                    OR,
                ));
            }
        }
        if branches.len() < 2 {
            return Err(self.error(
                "There must have at least 2 Objects in $or relationship.",
                OR,
            ));
        }
        Ok(())
    }
}

/// A field's value list: `["a", 5, null, {"prefix": "b"}]`.
fn values(items: &[Value]) -> Result<Vec<Matcher>, String> {
    if items.is_empty() {
        return Err("Empty arrays are not allowed".into());
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(text) => Ok(Matcher::String {
                text: text.clone(),
                ip: ip_literal(text),
            }),
            Value::Number(number) => Ok(Matcher::Number(Num::new(number))),
            Value::Bool(b) => Ok(Matcher::Bool(*b)),
            Value::Null => Ok(Matcher::Null),
            Value::Object(expression) => match_expression(expression),
            Value::Array(_) => {
                Err("Match value must be String, number, true, false, or null".into())
            }
        })
        .collect()
}

/// `{"prefix": "x"}` and the other operators.
fn match_expression(expression: &Map<String, Value>) -> Result<Matcher, String> {
    let Some((name, value)) = expression.iter().next() else {
        return Err("Match expression name not found".into());
    };
    let only_one = |matcher: Matcher| {
        if expression.len() > 1 {
            Err("Only one key allowed in match expression".to_string())
        } else {
            Ok(matcher)
        }
    };
    // EventBridge reports extra keys after numeric and anything-but with this message.
    let too_many = |matcher: Matcher| {
        if expression.len() > 1 {
            Err(TOO_MANY_ELEMENTS.to_string())
        } else {
            Ok(matcher)
        }
    };
    match name.as_str() {
        "exactly" => only_one(Matcher::Exactly(
            string(value).ok_or("exact match pattern must be a string")?,
        )),
        "prefix" | "suffix" => {
            let suffix = name == "suffix";
            let (text, case) = match value {
                Value::Object(inner) => (ignore_case_affix(inner, suffix)?, Case::Insensitive),
                Value::String(text) => (text.clone(), Case::Sensitive),
                _ => return Err(format!("{name} match pattern must be a string")),
            };
            only_one(if suffix {
                Matcher::Suffix { text, case }
            } else {
                Matcher::Prefix { text, case }
            })
        }
        "numeric" => {
            let Value::Array(terms) = value else {
                return Err("Value of numeric must be an array.".into());
            };
            too_many(Matcher::Numeric(numeric(terms)?))
        }
        "anything-but" => too_many(Matcher::AnythingBut(anything_but(value)?)),
        "exists" => match value {
            Value::Bool(b) => only_one(Matcher::Exists(*b)),
            _ => Err("exists match pattern must be either true or false.".into()),
        },
        // EventBridge's message for a non-string CIDR names "prefix"; kept for fidelity.
        "cidr" => {
            let text = string(value).ok_or("prefix match pattern must be a string")?;
            only_one(Matcher::Cidr(Cidr::parse(&text)?))
        }
        "equals-ignore-case" => only_one(Matcher::EqualsIgnoreCase(
            string(value).ok_or("equals-ignore-case match pattern must be a string")?,
        )),
        "wildcard" => {
            let text = string(value).ok_or("wildcard match pattern must be a string")?;
            only_one(Matcher::Wildcard(wildcard(&text)?))
        }
        other => Err(format!("Unrecognized match type {other}")),
    }
}

const TOO_MANY_ELEMENTS: &str = "Too many elements in numeric expression";

fn string(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn wildcard(text: &str) -> Result<Wildcard, String> {
    let wildcard = Wildcard::parse(text)?;
    if wildcard.exceeds(MAX_COMPLEXITY) {
        return Err(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating \
                    character sequences after a wildcard character"
                .into(),
        );
    }
    Ok(wildcard)
}

/// `{"prefix": {"equals-ignore-case": "x"}}` (and suffix).
fn ignore_case_affix(inner: &Map<String, Value>, suffix: bool) -> Result<String, String> {
    let kind = if suffix { "Suffix" } else { "Prefix" };
    let Some((op, value)) = inner.iter().next() else {
        return Err(format!("{kind} expression name not found"));
    };
    if op != "equals-ignore-case" {
        return Err(format!("Unsupported {} pattern: {op}", kind.to_lowercase()));
    }
    let text = string(value).ok_or("equals-ignore-case match pattern must be a string")?;
    if inner.len() > 1 {
        return Err("Only one key allowed in match expression".into());
    }
    Ok(text)
}

/// The kind of `anything-but`, from its optional inner operator.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ButKind {
    Plain,
    IgnoreCase,
    Prefix,
    Suffix,
    Wildcard,
}

fn anything_but(value: &Value) -> Result<AnythingBut, String> {
    let (kind, operand) = match value {
        Value::Object(inner) => {
            let Some((op, operand)) = inner.iter().next() else {
                return Err("Anything-But expression name not found".into());
            };
            let kind = match op.as_str() {
                "equals-ignore-case" => ButKind::IgnoreCase,
                "prefix" => ButKind::Prefix,
                "suffix" => ButKind::Suffix,
                "wildcard" => ButKind::Wildcard,
                other => return Err(format!("Unsupported anything-but pattern: {other}")),
            };
            check_operand_shape(operand)?;
            let but = anything_but_set(kind, operand)?;
            if inner.len() > 1 {
                return Err(TOO_MANY_ELEMENTS.into());
            }
            return Ok(but);
        }
        other => (ButKind::Plain, other),
    };
    check_operand_shape(operand)?;
    match (kind, operand) {
        (_, Value::Array(items)) => anything_but_list(items),
        (_, Value::String(text)) => Ok(AnythingBut::Strings(vec![text.clone()])),
        (_, Value::Number(number)) => Ok(AnythingBut::Numbers(vec![compare(number)?])),
        _ => Err(ANYTHING_BUT_SCALARS.into()),
    }
}

const ANYTHING_BUT_SHAPE: &str =
    "Value of anything-but must be an array or single string/number value.";
const ANYTHING_BUT_SCALARS: &str = "Inside anything but list, start|null|boolean is not supported.";

fn check_operand_shape(operand: &Value) -> Result<(), String> {
    match operand {
        Value::Array(_) | Value::String(_) | Value::Number(_) => Ok(()),
        _ => Err(ANYTHING_BUT_SHAPE.into()),
    }
}

/// `{"anything-but": ["a", "b"]}` or `[1, 2]`: all strings or all numbers.
fn anything_but_list(items: &[Value]) -> Result<AnythingBut, String> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    for item in items {
        match item {
            Value::String(text) => strings.push(text.clone()),
            Value::Number(number) => numbers.push(compare(number)?),
            _ => return Err(ANYTHING_BUT_SCALARS.into()),
        }
    }
    match (strings.is_empty(), numbers.is_empty()) {
        (false, true) => Ok(AnythingBut::Strings(strings)),
        (true, false) => Ok(AnythingBut::Numbers(numbers)),
        _ => Err(
            "Inside anything but list, either all values are number or string, mixed type \
                  is not supported"
                .into(),
        ),
    }
}

/// The operand of `anything-but` with an inner operator: one string or a list of strings.
fn anything_but_set(kind: ButKind, operand: &Value) -> Result<AnythingBut, String> {
    let items: Vec<&Value> = match operand {
        Value::Array(items) => items.iter().collect(),
        single => vec![single],
    };
    let mut texts = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(text) = item else {
            return Err(match kind {
                ButKind::IgnoreCase => "Inside anything-but/equals-ignore-case list, \
                                        number|start|null|boolean is not supported."
                    .into(),
                ButKind::Wildcard => "wildcard match pattern must be a string".into(),
                _ => "prefix/suffix match pattern must be a string".into(),
            });
        };
        if matches!(kind, ButKind::Prefix | ButKind::Suffix) && text.is_empty() {
            return Err("Null prefix/suffix not allowed".into());
        }
        texts.push(text.clone());
    }
    Ok(match kind {
        ButKind::IgnoreCase => AnythingBut::IgnoreCase(texts),
        ButKind::Prefix => AnythingBut::Prefix(texts),
        ButKind::Suffix => AnythingBut::Suffix(texts),
        ButKind::Wildcard => AnythingBut::Wildcard(
            texts
                .iter()
                .map(|text| wildcard(text))
                .collect::<Result<_, _>>()?,
        ),
        ButKind::Plain => AnythingBut::Strings(texts),
    })
}

/// A number usable in a numeric comparison.
fn compare(number: &Number) -> Result<f64, String> {
    comparable(number).ok_or_else(|| format!("Cannot compare number : {number}"))
}

/// How EventBridge names a JSON token in messages about numeric expressions.
fn token_text(value: Option<&Value>) -> String {
    match value {
        None => "]".into(),
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Null) => "null".into(),
        Some(Value::Array(_)) => "[".into(),
        Some(Value::Object(_)) => "{".into(),
    }
}

/// `["=", 5]`, `[">", 0]`, `[">=", 0, "<", 10]`, `["<=", 5]`.
fn numeric(terms: &[Value]) -> Result<Range, String> {
    let Some(Value::String(op)) = terms.first() else {
        return Err(format!(
            "Invalid member in numeric match: {}",
            token_text(terms.first())
        ));
    };
    let operand = |name: &str| match terms.get(1) {
        Some(Value::Number(number)) => compare(number),
        _ => Err(format!("Value of {name} must be numeric")),
    };
    let bound = |value: f64, inclusive: bool| Some(Bound { value, inclusive });
    let end = |range: Range| {
        if terms.len() > 2 {
            Err(TOO_MANY_ELEMENTS.to_string())
        } else {
            Ok(range)
        }
    };
    match op.as_str() {
        "=" => {
            let value = operand("equals")?;
            end(Range {
                lower: bound(value, true),
                upper: bound(value, true),
            })
        }
        ">" | ">=" => {
            let lower = Bound {
                value: operand(op)?,
                inclusive: op == ">=",
            };
            if terms.len() == 2 {
                return Ok(Range {
                    lower: Some(lower),
                    upper: None,
                });
            }
            upper_bound(lower, terms.get(2..).unwrap_or_default())
        }
        "<" | "<=" => {
            let value = operand(op)?;
            end(Range {
                lower: None,
                upper: bound(value, op == "<="),
            })
        }
        other => Err(format!("Unrecognized numeric range operator: {other}")),
    }
}

/// The `"<", 10` after a lower bound.
fn upper_bound(lower: Bound, rest: &[Value]) -> Result<Range, String> {
    let Some(Value::String(op)) = rest.first() else {
        return Err(format!(
            "Bad value in numeric range: {}",
            token_text(rest.first())
        ));
    };
    if op != "<" && op != "<=" {
        return Err(format!("Bad numeric range operator: {op}"));
    }
    let value = match rest.get(1) {
        Some(Value::Number(number)) => compare(number)?,
        _ => return Err(format!("Value of {op} must be numeric")),
    };
    if rest.len() > 2 {
        return Err("Too many terms in numeric range expression".into());
    }
    if lower.value >= value {
        return Err("Bottom must be less than top".into());
    }
    Ok(Range {
        lower: Some(lower),
        upper: Some(Bound {
            value,
            inclusive: op == "<=",
        }),
    })
}

impl Rule {
    /// A later value for the same path replaces the earlier one, as with duplicate keys.
    fn set(&mut self, path: String, matchers: Vec<Matcher>) {
        match self.fields.iter_mut().find(|field| field.path == path) {
            Some(field) => field.matchers = matchers,
            None => self.fields.push(Field { path, matchers }),
        }
    }
}
