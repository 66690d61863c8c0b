//! The one place the engine touches `approvalc_asl::eval` (paths, payload templates,
//! intrinsic functions): compiled once at load time, evaluated per state. Keeping the calls
//! here means an API change in `eval` touches one file.

use std::borrow::Cow;

use approvalc_asl::eval::{
    DefinitionError, Intrinsic, IntrinsicEnv, Path as AslPath, PayloadTemplate, ReferencePath,
    Roots, RuntimeError,
};
use serde_json::Value;

use crate::error::{Failure, LoadError, Location};

fn load_err(at: &Location, field: &str, err: DefinitionError) -> LoadError {
    LoadError::new(at, field, err.message)
}

fn failure(err: RuntimeError) -> Failure {
    Failure {
        error: err.error,
        cause: Some(err.cause),
    }
}

/// True when a string or any string inside a JSON value mentions the context object, so
/// states that never read `$$` skip building it.
pub(crate) fn mentions_context(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains("$$"),
        Value::Array(items) => items.iter().any(mentions_context),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains("$$") || mentions_context(v)),
        _ => false,
    }
}

/// A JSONPath (`InputPath`, `OutputPath`, `ItemsPath`, a Choice `Variable`…).
#[derive(Debug, Clone)]
pub(crate) struct Path {
    inner: AslPath,
    /// `$` alone: selecting is the identity, no need to go through the evaluator.
    identity: bool,
}

impl Path {
    pub fn parse(at: &Location, field: &str, text: &str) -> Result<Self, LoadError> {
        let inner = AslPath::parse(text).map_err(|e| load_err(at, field, e))?;
        Ok(Self {
            inner,
            identity: text == "$",
        })
    }

    pub fn select(&self, roots: Roots<'_>) -> Result<Value, Failure> {
        if self.identity {
            return Ok(roots.input.clone());
        }
        self.inner.select_in(roots).map_err(failure)
    }

    /// Like [`Path::select`], but `None` when the path selects nothing (Choice `IsPresent`
    /// and comparisons on missing fields), and borrowing when it can.
    pub fn find<'a>(&self, roots: Roots<'a>) -> Option<Cow<'a, Value>> {
        if self.identity {
            return Some(Cow::Borrowed(roots.input));
        }
        self.inner.find_in(roots)
    }

    pub fn as_str(&self) -> &str {
        self.inner.as_str()
    }
}

/// A `ResultPath`: where a result is inserted into the state input.
#[derive(Debug, Clone)]
pub(crate) struct ResultPath {
    inner: ReferencePath,
    identity: bool,
}

impl ResultPath {
    pub fn parse(at: &Location, field: &str, text: &str) -> Result<Self, LoadError> {
        let inner = ReferencePath::parse(text).map_err(|e| load_err(at, field, e))?;
        Ok(Self {
            inner,
            identity: text == "$",
        })
    }

    pub fn insert(&self, target: Value, value: Value) -> Result<Value, Failure> {
        if self.identity {
            return Ok(value);
        }
        self.inner.insert(target, value).map_err(failure)
    }
}

/// A payload template (`Parameters`, `ResultSelector`, `ItemSelector`), possibly with
/// `.$` keys and intrinsic functions.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    inner: PayloadTemplate,
}

impl Template {
    pub fn compile(at: &Location, field: &str, value: &Value) -> Result<Self, LoadError> {
        let inner = PayloadTemplate::compile(value).map_err(|e| load_err(at, field, e))?;
        Ok(Self { inner })
    }

    pub fn evaluate(&self, roots: Roots<'_>, env: &mut dyn IntrinsicEnv) -> Result<Value, Failure> {
        self.inner.evaluate_in(roots, env).map_err(failure)
    }
}

/// A value given as a path or an intrinsic function (`ErrorPath`, `CausePath`): the
/// ASL allows both where a string is computed.
#[derive(Debug, Clone)]
pub(crate) enum Computed {
    Path { path: AslPath, field: String },
    Intrinsic { call: Intrinsic, field: String },
}

impl Computed {
    pub fn parse(at: &Location, field: &str, text: &str) -> Result<Self, LoadError> {
        if Intrinsic::looks_like_call(text) {
            let call = Intrinsic::parse(text).map_err(|e| load_err(at, field, e))?;
            return Ok(Self::Intrinsic {
                call,
                field: field.to_owned(),
            });
        }
        let path = AslPath::parse(text).map_err(|e| load_err(at, field, e))?;
        Ok(Self::Path {
            path,
            field: field.to_owned(),
        })
    }

    pub fn evaluate(&self, roots: Roots<'_>, env: &mut dyn IntrinsicEnv) -> Result<Value, Failure> {
        match self {
            Self::Path { path, field } => path.select_for_field_in(roots, field),
            Self::Intrinsic { call, field } => call.evaluate_in(roots, Some(field), env),
        }
        .map_err(failure)
    }
}
