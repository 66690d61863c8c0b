//! Structural checks of a definition: the subset of what the external validators check that
//! the compiler can assert cheaply in its own tests (targets exist, names unique and short,
//! every state reachable, every scope can end).

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;

use super::{State, StateMachine};

/// A structural defect, naming the state concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    MissingStartAt(String),
    UnknownTarget { state: String, target: String },
    DuplicateName(String),
    NameTooLong(String),
    Unreachable(String),
    NoTerminalState { start_at: String },
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GraphError::MissingStartAt(name) => {
                write!(f, "StartAt `{name}` is not a state of its scope")
            }
            GraphError::UnknownTarget { state, target } => {
                write!(
                    f,
                    "state `{state}` moves to `{target}`, which is not in its scope"
                )
            }
            GraphError::DuplicateName(name) => write!(f, "state name `{name}` is used twice"),
            GraphError::NameTooLong(name) => {
                write!(f, "state name `{name}` is longer than 80 characters")
            }
            GraphError::Unreachable(name) => write!(f, "state `{name}` cannot be reached"),
            GraphError::NoTerminalState { start_at } => {
                write!(
                    f,
                    "the scope starting at `{start_at}` has no terminal state"
                )
            }
        }
    }
}

impl StateMachine {
    /// Every structural defect found, in definition order (empty when the graph is sound).
    pub fn check_graph(&self) -> Vec<GraphError> {
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        check_scope(&self.start_at, &self.states, &mut seen, &mut errors);
        errors
    }

    /// Number of states, counting those inside branches.
    pub fn state_count(&self) -> usize {
        count(&self.states)
    }
}

fn count(states: &IndexMap<String, State>) -> usize {
    states
        .values()
        .map(|s| 1 + s.branches().iter().map(|b| count(&b.states)).sum::<usize>())
        .sum()
}

fn check_scope(
    start_at: &str,
    states: &IndexMap<String, State>,
    seen: &mut HashSet<String>,
    errors: &mut Vec<GraphError>,
) {
    if !states.contains_key(start_at) {
        errors.push(GraphError::MissingStartAt(start_at.to_owned()));
    }
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut has_terminal = false;
    for (name, state) in states {
        if !seen.insert(name.clone()) {
            errors.push(GraphError::DuplicateName(name.clone()));
        }
        if name.chars().count() > 80 {
            errors.push(GraphError::NameTooLong(name.clone()));
        }
        let targets = state.targets();
        for target in &targets {
            if !states.contains_key(*target) {
                errors.push(GraphError::UnknownTarget {
                    state: name.clone(),
                    target: (*target).to_owned(),
                });
            }
        }
        has_terminal |= is_terminal(state);
        edges.insert(name.as_str(), targets);
        for branch in state.branches() {
            check_scope(&branch.start_at, &branch.states, seen, errors);
        }
    }
    if !has_terminal {
        errors.push(GraphError::NoTerminalState {
            start_at: start_at.to_owned(),
        });
    }
    let mut reached = HashSet::new();
    let mut stack = vec![start_at];
    while let Some(name) = stack.pop() {
        if reached.insert(name) {
            stack.extend(edges.get(name).into_iter().flatten().copied());
        }
    }
    for name in states.keys() {
        if !reached.contains(name.as_str()) {
            errors.push(GraphError::Unreachable(name.clone()));
        }
    }
}

fn is_terminal(state: &State) -> bool {
    use super::Transition::End;
    match state {
        State::Succeed(_) | State::Fail(_) => true,
        State::Pass(s) => s.transition == End,
        State::Wait(s) => s.transition == End,
        State::Task(s) => s.transition == End,
        State::Parallel(s) => s.transition == End,
        State::Map(s) => s.transition == End,
        State::Choice(_) => false,
    }
}
