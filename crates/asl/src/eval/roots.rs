//! What a path can start from: the state input (`$`), the context object (`$$`) and
//! workflow variables (`$name`, set by `Assign`).

use serde_json::{Map, Value};

/// Workflow variables visible to a state. The engine implements this for its scope
/// chain (a Map iteration or Parallel branch sees the variables of the states around
/// it); a plain JSON object works for tests.
pub trait Variables {
    /// The value of variable `name`, if it is set.
    fn variable(&self, name: &str) -> Option<&Value>;
}

impl Variables for Map<String, Value> {
    fn variable(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

/// No variables at all.
impl Variables for () {
    fn variable(&self, _name: &str) -> Option<&Value> {
        None
    }
}

/// The documents one evaluation reads: the state input, the context object and the
/// variables in scope.
#[derive(Clone, Copy)]
pub struct Roots<'a> {
    /// `$`: the (effective) state input, or the result where AWS evaluates against it
    /// (`ResultSelector`, `Assign` after a Task or Pass).
    pub input: &'a Value,
    /// `$$`: the context object.
    pub context: &'a Value,
    /// `$name`: variables set by `Assign`.
    pub variables: &'a dyn Variables,
}

impl<'a> Roots<'a> {
    /// Input and context, no variables.
    pub fn new(input: &'a Value, context: &'a Value) -> Self {
        Self {
            input,
            context,
            variables: &(),
        }
    }

    /// The same roots with these variables in scope.
    pub fn with_variables(self, variables: &'a dyn Variables) -> Self {
        Self { variables, ..self }
    }
}

impl std::fmt::Debug for Roots<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Roots")
            .field("input", self.input)
            .field("context", self.context)
            .finish_non_exhaustive()
    }
}
