//! One module per subcommand; each owns its `Args` and its `run`.

pub mod approve;
pub mod asl;
pub mod check;
pub mod compile;
pub mod completions;
pub mod graph;
pub mod run;
pub mod runs;
pub mod schema;
pub mod simulate;
pub mod status;
pub mod test;
