//! What each intrinsic function computes, with AWS's argument rules.
//!
//! Argument values that a function cannot use fail with `States.IntrinsicFailure`;
//! AWS's exact cause wording for these is not in the conformance corpus, so the causes
//! here say plainly what was wrong (see `docs/asl-eval.md`).

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::{Function, IntrinsicEnv};
use crate::eval::error::RuntimeError;

/// Largest string `Base64Encode`, `Base64Decode` and `Hash` accept (AWS quota).
const MAX_STRING_CHARS: usize = 10_000;
/// Largest array `ArrayRange` may build (AWS quota).
const MAX_RANGE_ITEMS: usize = 1_000;

/// Applies `function` to evaluated arguments. `template` is `States.Format`'s first
/// argument split into pieces at load time, when it is a literal.
pub(super) fn apply(
    function: Function,
    template: Option<&[Piece]>,
    values: Vec<Value>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, RuntimeError> {
    let a = Args { function, values };
    match function {
        Function::Format => format(&a, template),
        Function::StringToJson => string_to_json(&a),
        Function::JsonToString => Ok(Value::String(crate::eval::path::compact(a.get(0)?))),
        Function::Array => Ok(Value::Array(a.values)),
        Function::ArrayPartition => array_partition(&a),
        Function::ArrayContains => {
            let needle = a.get(1)?;
            Ok(Value::Bool(a.array(0)?.iter().any(|v| json_eq(v, needle))))
        }
        Function::ArrayRange => array_range(&a),
        Function::ArrayGetItem => array_get_item(&a),
        Function::ArrayLength => Ok(Value::from(a.array(0)?.len())),
        Function::ArrayUnique => array_unique(&a),
        Function::Base64Encode => base64_encode(&a),
        Function::Base64Decode => base64_decode(&a),
        Function::Hash => hash(&a),
        Function::JsonMerge => json_merge(&a),
        Function::MathRandom => math_random(&a, env),
        Function::MathAdd => math_add(&a),
        Function::StringSplit => string_split(&a),
        Function::Uuid => Ok(Value::String(env.uuid())),
    }
}

/// Evaluated arguments with typed accessors whose errors name the function.
struct Args {
    function: Function,
    values: Vec<Value>,
}

impl Args {
    fn fail(&self, why: impl std::fmt::Display) -> RuntimeError {
        RuntimeError::intrinsic(format!(
            "Invalid arguments in {}: {why}",
            self.function.name()
        ))
    }

    fn get(&self, i: usize) -> Result<&Value, RuntimeError> {
        self.values
            .get(i)
            .ok_or_else(|| self.fail(format!("missing argument {}", i + 1)))
    }

    fn string(&self, i: usize) -> Result<&str, RuntimeError> {
        let v = self.get(i)?;
        v.as_str().ok_or_else(|| {
            self.fail(format!(
                "argument {} must be a string, got {}",
                i + 1,
                kind(v)
            ))
        })
    }

    fn array(&self, i: usize) -> Result<&Vec<Value>, RuntimeError> {
        let v = self.get(i)?;
        v.as_array().ok_or_else(|| {
            self.fail(format!(
                "argument {} must be an array, got {}",
                i + 1,
                kind(v)
            ))
        })
    }

    fn number(&self, i: usize) -> Result<f64, RuntimeError> {
        let v = self.get(i)?;
        v.as_f64().ok_or_else(|| {
            self.fail(format!(
                "argument {} must be a number, got {}",
                i + 1,
                kind(v)
            ))
        })
    }

    /// An integer argument: AWS rounds non-integral numbers half up (Java `Math.round`).
    fn rounded(&self, i: usize) -> Result<i64, RuntimeError> {
        let v = self.get(i)?;
        if let Some(n) = v.as_i64() {
            return Ok(n);
        }
        let f = self.number(i)?;
        let r = (f + 0.5).floor();
        if r.is_finite() && r >= i64::MIN as f64 && r <= i64::MAX as f64 {
            // In range and integral, so the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            Ok(r as i64)
        } else {
            Err(self.fail(format!("argument {} is out of range: {f}", i + 1)))
        }
    }

    /// An integer argument that must already be integral.
    fn integer(&self, i: usize) -> Result<i64, RuntimeError> {
        let v = self.get(i)?;
        if let Some(n) = v.as_i64() {
            return Ok(n);
        }
        match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Ok(f as i64)
            }
            _ => Err(self.fail(format!(
                "argument {} must be an integer, got {}",
                i + 1,
                crate::eval::path::compact(v)
            ))),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `States.Format(template, args…)`: each `{}` takes the next argument. In a literal
/// template, `\{` and `\}` are plain braces; a template read from a path has no escapes.
fn format(a: &Args, template: Option<&[Piece]>) -> Result<Value, RuntimeError> {
    let from_path;
    let pieces = match template {
        Some(pieces) => pieces,
        None => {
            from_path = template_pieces(a.string(0)?, false);
            &from_path[..]
        }
    };
    let holes = pieces.iter().filter(|p| matches!(p, Piece::Hole)).count();
    let given = a.values.len().saturating_sub(1);
    if holes != given {
        return Err(a.fail(format!(
            "the template has {holes} placeholder(s) but {given} value(s) were given"
        )));
    }
    let mut out = String::new();
    let mut next = a.values.iter().skip(1);
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole => {
                if let Some(v) = next.next() {
                    out.push_str(&format_value(v));
                }
            }
        }
    }
    Ok(Value::String(out))
}

/// A `States.Format` template, split once.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Text(String),
    Hole,
}

/// Splits a template at its `{}` placeholders; `escapes` (literal templates only) makes
/// `\x` the plain character `x`.
pub(super) fn template_pieces(text: &str, escapes: bool) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut buf = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if escapes => {
                if let Some(escaped) = chars.next() {
                    buf.push(escaped);
                }
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                pieces.push(Piece::Text(std::mem::take(&mut buf)));
                pieces.push(Piece::Hole);
            }
            c => buf.push(c),
        }
    }
    pieces.push(Piece::Text(buf));
    pieces
}

/// How `States.Format` prints a value: strings bare, scalars as JSON, containers the
/// way Java prints maps and lists (`{a=1, b=[x, y]}`).
fn format_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(format_value).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{k}={}", format_value(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        other => crate::eval::path::compact(other),
    }
}

/// `States.StringToJson`: blank text is `null` (as recorded on AWS).
fn string_to_json(a: &Args) -> Result<Value, RuntimeError> {
    let s = a.string(0)?;
    if s.trim().is_empty() {
        return Ok(Value::Null);
    }
    let parsed: Value = serde_json::from_str(s)
        .map_err(|e| a.fail(format!("the string is not valid JSON: {e}")))?;
    // AWS (Jackson) reads the integer `-0` as `0`; serde_json reads it as the float
    // `-0.0`, which it would print as `-0.0`. When the text has no float negative zero
    // (`-0.0`, `-0e1`), every `-0.0` came from an integer `-0`.
    let has_float_negative_zero = ["-0.", "-0e", "-0E"].iter().any(|p| s.contains(p));
    Ok(if has_float_negative_zero {
        parsed
    } else {
        integer_zeros(parsed)
    })
}

/// Turns every `-0.0` into the integer `0`.
fn integer_zeros(v: Value) -> Value {
    match v {
        Value::Number(n) if n.as_f64().is_some_and(|f| f == 0.0 && f.is_sign_negative()) => {
            Value::from(0)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integer_zeros).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integer_zeros(v)))
                .collect(),
        ),
        other => other,
    }
}

fn array_partition(a: &Args) -> Result<Value, RuntimeError> {
    let items = a.array(0)?;
    let size = a.integer(1)?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| {
            a.fail(format!(
                "the chunk size must be a positive integer, got {size}"
            ))
        })?;
    Ok(Value::Array(
        items
            .chunks(size)
            .map(|c| Value::Array(c.to_vec()))
            .collect(),
    ))
}

fn array_range(a: &Args) -> Result<Value, RuntimeError> {
    let (start, end, step) = (a.integer(0)?, a.integer(1)?, a.integer(2)?);
    if step == 0 {
        return Err(a.fail("the step must not be 0"));
    }
    let mut out = Vec::new();
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        if out.len() == MAX_RANGE_ITEMS {
            return Err(a.fail(format!("the range has more than {MAX_RANGE_ITEMS} items")));
        }
        out.push(Value::from(n));
        match n.checked_add(step) {
            Some(next) => n = next,
            None => break,
        }
    }
    Ok(Value::Array(out))
}

fn array_get_item(a: &Args) -> Result<Value, RuntimeError> {
    let items = a.array(0)?;
    let index = a.integer(1)?;
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .cloned()
        .ok_or_else(|| {
            a.fail(format!(
                "index {index} is out of bounds for an array of length {}",
                items.len()
            ))
        })
}

fn array_unique(a: &Args) -> Result<Value, RuntimeError> {
    let mut out: Vec<Value> = Vec::new();
    for v in a.array(0)? {
        if !out.iter().any(|seen| json_eq(seen, v)) {
            out.push(v.clone());
        }
    }
    Ok(Value::Array(out))
}

fn limited_string(a: &Args, i: usize) -> Result<&str, RuntimeError> {
    let s = a.string(i)?;
    let n = s.chars().count();
    if n > MAX_STRING_CHARS {
        return Err(a.fail(format!(
            "the string has {n} characters, more than the {MAX_STRING_CHARS} allowed"
        )));
    }
    Ok(s)
}

fn base64_encode(a: &Args) -> Result<Value, RuntimeError> {
    let s = limited_string(a, 0)?;
    Ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(s),
    ))
}

fn base64_decode(a: &Args) -> Result<Value, RuntimeError> {
    let s = limited_string(a, 0)?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| a.fail(format!("the string is not valid base64: {e}")))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| a.fail("the decoded bytes are not UTF-8 text"))
}

fn hash(a: &Args) -> Result<Value, RuntimeError> {
    use sha2::Digest as _;
    let data = limited_string(a, 0)?.as_bytes();
    let digest = match a.string(1)? {
        "MD5" => hex::encode(md5::Md5::digest(data)),
        "SHA-1" => hex::encode(sha1::Sha1::digest(data)),
        "SHA-256" => hex::encode(sha2::Sha256::digest(data)),
        "SHA-384" => hex::encode(sha2::Sha384::digest(data)),
        "SHA-512" => hex::encode(sha2::Sha512::digest(data)),
        other => {
            return Err(a.fail(format!(
                "unknown hash algorithm '{other}' (expected MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
            )));
        }
    };
    Ok(Value::String(digest))
}

/// Shallow merge only: AWS rejects `true` for the deep-merge flag.
fn json_merge(a: &Args) -> Result<Value, RuntimeError> {
    let object = |i: usize| -> Result<&Map<String, Value>, RuntimeError> {
        let v = a.get(i)?;
        v.as_object().ok_or_else(|| {
            a.fail(format!(
                "argument {} must be an object, got {}",
                i + 1,
                kind(v)
            ))
        })
    };
    let (left, right) = (object(0)?, object(1)?);
    match a.get(2)? {
        Value::Bool(false) => {}
        Value::Bool(true) => {
            return Err(
                a.fail("only a shallow merge is supported: the third argument must be false")
            );
        }
        other => return Err(a.fail(format!("argument 3 must be a boolean, got {}", kind(other)))),
    }
    let mut merged = left.clone();
    for (k, v) in right {
        merged.insert(k.clone(), v.clone());
    }
    Ok(Value::Object(merged))
}

fn math_random(a: &Args, env: &mut dyn IntrinsicEnv) -> Result<Value, RuntimeError> {
    let (start, end) = (a.rounded(0)?, a.rounded(1)?);
    let seed = if a.values.len() > 2 {
        Some(a.rounded(2)?)
    } else {
        None
    };
    if start >= end {
        return Err(a.fail(format!(
            "the start ({start}) must be less than the end ({end})"
        )));
    }
    Ok(Value::from(env.random(start, end, seed)))
}

/// Both operands are rounded half up first, so the sum is always an integer; AWS limits
/// operands and result to 32-bit integers.
fn math_add(a: &Args) -> Result<Value, RuntimeError> {
    let (x, y) = (a.rounded(0)?, a.rounded(1)?);
    let in_range = |n: i64| i32::try_from(n).is_ok();
    if !in_range(x) || !in_range(y) || !in_range(x + y) {
        return Err(a.fail(format!("{x} + {y} is outside the 32-bit integer range")));
    }
    Ok(Value::Number(Number::from(x + y)))
}

/// Splits on every character of the delimiter and drops empty pieces (as AWS does).
fn string_split(a: &Args) -> Result<Value, RuntimeError> {
    let s = a.string(0)?;
    let delimiters: Vec<char> = a.string(1)?.chars().collect();
    let parts = if delimiters.is_empty() {
        vec![Value::String(s.to_owned())]
    } else {
        s.split(delimiters.as_slice())
            .filter(|p| !p.is_empty())
            .map(|p| Value::String(p.to_owned()))
            .collect()
    };
    Ok(Value::Array(parts))
}

/// JSON equality as Jackson (which Step Functions runs on) sees it: object member
/// order does not matter, and an integer never equals a float (`1` is not `1.0`).
fn json_eq(x: &Value, y: &Value) -> bool {
    // serde_json keeps integers and floats apart and compares maps by content.
    x == y
}
