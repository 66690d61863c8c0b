//! Error types shared by paths, templates and intrinsic functions.

use std::fmt;

/// A failure while evaluating against a concrete input: what AWS records as an
/// execution or state failure.
///
/// `cause` is AWS's cause text without the engine-written prefix
/// `An error occurred while executing the state '…' (entered at the event id #…). `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeError {
    /// Error name, such as `States.Runtime` or `States.IntrinsicFailure`.
    pub error: String,
    /// Human-readable cause, worded as AWS words it.
    pub cause: String,
}

impl RuntimeError {
    /// `States.Runtime`: the catch-all AWS uses for path and intrinsic failures.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: STATES_RUNTIME.to_owned(),
            cause: cause.into(),
        }
    }

    /// `States.IntrinsicFailure`.
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self {
            error: STATES_INTRINSIC_FAILURE.to_owned(),
            cause: cause.into(),
        }
    }
}

/// Error name AWS uses for a path that selects nothing, bad intrinsic arguments, etc.
pub(crate) const STATES_RUNTIME: &str = "States.Runtime";
/// Error name the ASL specification reserves for a failing intrinsic function.
pub(crate) const STATES_INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for RuntimeError {}

/// A path, template or intrinsic call that cannot be used at all: rejected when the
/// definition is loaded, before any execution starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// What is wrong, naming the offending text.
    pub message: String,
}

impl DefinitionError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DefinitionError {}
