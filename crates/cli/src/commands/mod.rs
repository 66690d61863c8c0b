//! One module per subcommand; each owns its `Args` and its `run`.

pub mod asl;
pub mod check;
pub mod compile;
pub mod completions;
pub mod graph;
pub mod schema;
pub mod simulate;
pub mod test;
