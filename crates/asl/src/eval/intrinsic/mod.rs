//! Intrinsic functions (`States.Format(…)`, `States.Array(…)`, …): parsed once into a
//! call tree, evaluated against the state input and context object.

mod functions;
mod parse;

use serde_json::Value;

use super::error::{DefinitionError, RuntimeError};
use super::roots::Roots;
use parse::{Arg, Call};

/// Sources of nondeterminism, injected so tests and simulations are repeatable.
pub trait IntrinsicEnv {
    /// A new version-4 UUID in its canonical lowercase text form (`States.UUID()`).
    fn uuid(&mut self) -> String;
    /// A random integer in `start..end` (`States.MathRandom`); `seed` is the optional
    /// third argument, with which AWS returns the same number for the same seed.
    fn random(&mut self, start: i64, end: i64, seed: Option<i64>) -> i64;
}

/// A deterministic [`IntrinsicEnv`]: UUIDs count up from
/// `00000000-0000-4000-8000-000000000001`, random numbers come from a small linear
/// congruential generator (or from the seed when one is given).
#[derive(Debug, Clone, Default)]
pub struct FixedEnv {
    counter: u64,
}

impl IntrinsicEnv for FixedEnv {
    fn uuid(&mut self) -> String {
        self.counter += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.counter)
    }

    fn random(&mut self, start: i64, end: i64, seed: Option<i64>) -> i64 {
        let state = match seed {
            Some(s) => s.unsigned_abs(),
            None => {
                self.counter += 1;
                self.counter
            }
        };
        let mixed = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            >> 33;
        let span = end.saturating_sub(start).max(1).unsigned_abs();
        start.saturating_add(i64::try_from(mixed % span).unwrap_or(0))
    }
}

/// A parsed intrinsic function call.
#[derive(Debug, Clone)]
pub struct Intrinsic {
    text: String,
    call: Call,
}

impl Intrinsic {
    /// Parses a call such as `States.Format('{} items', States.ArrayLength($.items))`.
    /// Unknown functions, malformed arguments and wrong argument counts are rejected here.
    pub fn parse(text: &str) -> Result<Self, DefinitionError> {
        Ok(Self {
            text: text.to_owned(),
            call: parse::parse_call(text)?,
        })
    }

    /// Whether `text` looks like an intrinsic call rather than a path (starts with
    /// `States.`), which is how a `.$` value is told apart.
    pub fn looks_like_call(text: &str) -> bool {
        text.starts_with("States.")
    }

    /// The call as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Evaluates the call. A path argument that names nothing fails with
    /// `States.Runtime`; bad argument values fail with `States.IntrinsicFailure`.
    pub fn evaluate(
        &self,
        input: &Value,
        context: &Value,
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, RuntimeError> {
        self.evaluate_in(Roots::new(input, context), None, env)
    }

    /// Like [`evaluate`](Self::evaluate), for the value of the key `field` (such as
    /// `x.$`), which AWS names when a path argument selects nothing.
    pub fn evaluate_for_field(
        &self,
        input: &Value,
        context: &Value,
        field: &str,
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, RuntimeError> {
        self.evaluate_in(Roots::new(input, context), Some(field), env)
    }

    /// The general form: any roots (variables included), and the field being computed
    /// if there is one.
    pub fn evaluate_in(
        &self,
        roots: Roots<'_>,
        field: Option<&str>,
        env: &mut dyn IntrinsicEnv,
    ) -> Result<Value, RuntimeError> {
        eval_call(&self.call, &Scope { roots, field }, env)
    }
}

impl std::fmt::Display for Intrinsic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

struct Scope<'a> {
    roots: Roots<'a>,
    field: Option<&'a str>,
}

fn eval_call(
    call: &Call,
    scope: &Scope<'_>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, RuntimeError> {
    let mut values = Vec::with_capacity(call.args.len());
    for arg in &call.args {
        values.push(eval_arg(arg, scope, env)?);
    }
    functions::apply(call.function, call.template.as_deref(), values, env)
}

fn eval_arg(
    arg: &Arg,
    scope: &Scope<'_>,
    env: &mut dyn IntrinsicEnv,
) -> Result<Value, RuntimeError> {
    match arg {
        Arg::Literal { value, .. } => Ok(value.clone()),
        Arg::Path(path) => match scope.field {
            Some(field) => path.select_for_field_in(scope.roots, field),
            None => path.select_in(scope.roots),
        },
        Arg::Call(call) => eval_call(call, scope, env),
    }
}

/// Algorithms `States.Hash` accepts.
pub(crate) const HASH_ALGORITHMS: [&str; 5] = ["MD5", "SHA-1", "SHA-256", "SHA-384", "SHA-512"];

/// The kind of value an intrinsic parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Any,
    Str,
    Number,
    Bool,
    Array,
    Object,
}

impl Param {
    fn describe(self) -> &'static str {
        match self {
            Param::Any => "any value",
            Param::Str => "a string",
            Param::Number => "a number",
            Param::Bool => "a boolean",
            Param::Array => "an array (a path or a call)",
            Param::Object => "an object (a path or a call)",
        }
    }
}

/// The intrinsic functions of the JSONPath query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

impl Function {
    const ALL: [(&'static str, Function); 18] = [
        ("States.Format", Function::Format),
        ("States.StringToJson", Function::StringToJson),
        ("States.JsonToString", Function::JsonToString),
        ("States.Array", Function::Array),
        ("States.ArrayPartition", Function::ArrayPartition),
        ("States.ArrayContains", Function::ArrayContains),
        ("States.ArrayRange", Function::ArrayRange),
        ("States.ArrayGetItem", Function::ArrayGetItem),
        ("States.ArrayLength", Function::ArrayLength),
        ("States.ArrayUnique", Function::ArrayUnique),
        ("States.Base64Encode", Function::Base64Encode),
        ("States.Base64Decode", Function::Base64Decode),
        ("States.Hash", Function::Hash),
        ("States.JsonMerge", Function::JsonMerge),
        ("States.MathRandom", Function::MathRandom),
        ("States.MathAdd", Function::MathAdd),
        ("States.StringSplit", Function::StringSplit),
        ("States.UUID", Function::Uuid),
    ];

    fn from_name(name: &str) -> Option<Function> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub(crate) fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("States.?", |(n, _)| n)
    }

    /// What each parameter takes; parameters past the list take anything.
    fn parameters(self) -> &'static [Param] {
        use Param::{Any, Array, Bool, Number, Object, Str};
        match self {
            Function::Format => &[Str],
            Function::StringToJson | Function::Base64Encode | Function::Base64Decode => &[Str],
            Function::Hash | Function::StringSplit => &[Str, Str],
            Function::ArrayPartition | Function::ArrayGetItem => &[Array, Number],
            Function::ArrayContains => &[Array, Any],
            Function::ArrayLength | Function::ArrayUnique => &[Array],
            Function::ArrayRange => &[Number, Number, Number],
            Function::JsonMerge => &[Object, Object, Bool],
            Function::MathRandom => &[Number, Number, Number],
            Function::MathAdd => &[Number, Number],
            Function::JsonToString | Function::Array | Function::Uuid => &[],
        }
    }

    /// Literal arguments of the wrong kind can never work, so they are rejected when the
    /// definition is loaded (as validators of ASL do): `States.MathAdd(1, '-1')`,
    /// `States.ArrayLength('abc')`, `States.JsonMerge($.a, $.b, true)`, an unknown
    /// `States.Hash` algorithm. Paths and nested calls are checked when evaluated.
    fn check_literals(self, args: &[Arg]) -> Result<(), String> {
        for (i, (arg, param)) in args.iter().zip(self.parameters()).enumerate() {
            let Arg::Literal { value, .. } = arg else {
                continue;
            };
            let fits = match param {
                Param::Any => true,
                Param::Str => value.is_string(),
                Param::Number => value.is_number(),
                Param::Bool => value.is_boolean(),
                // A literal is never an array or an object.
                Param::Array | Param::Object => false,
            };
            if !fits {
                return Err(format!(
                    "argument {} of {} must be {}, not the literal {value}",
                    i + 1,
                    self.name(),
                    param.describe()
                ));
            }
        }
        match (self, args.get(1), args.get(2)) {
            (
                Function::Hash,
                Some(Arg::Literal {
                    value: Value::String(alg),
                    ..
                }),
                _,
            ) if !HASH_ALGORITHMS.contains(&alg.as_str()) => Err(format!(
                "unknown hash algorithm '{alg}' (expected one of {})",
                HASH_ALGORITHMS.join(", ")
            )),
            (
                Function::JsonMerge,
                _,
                Some(Arg::Literal {
                    value: Value::Bool(true),
                    ..
                }),
            ) => Err(
                "States.JsonMerge supports only a shallow merge: the third argument must be false"
                    .to_owned(),
            ),
            _ => Ok(()),
        }
    }

    /// Argument counts AWS accepts, checked when the definition is loaded.
    fn check_arity(self, n: usize) -> Result<(), String> {
        let (min, max) = match self {
            Function::Array => (0, usize::MAX),
            Function::Format => (1, usize::MAX),
            Function::Uuid => (0, 0),
            Function::StringToJson
            | Function::JsonToString
            | Function::ArrayLength
            | Function::ArrayUnique
            | Function::Base64Encode
            | Function::Base64Decode => (1, 1),
            Function::ArrayPartition
            | Function::ArrayContains
            | Function::ArrayGetItem
            | Function::Hash
            | Function::MathAdd
            | Function::StringSplit => (2, 2),
            Function::ArrayRange | Function::JsonMerge => (3, 3),
            Function::MathRandom => (2, 3),
        };
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let expected = match (min, max) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        Err(format!(
            "{} takes {expected} argument(s), got {n}",
            self.name()
        ))
    }
}
