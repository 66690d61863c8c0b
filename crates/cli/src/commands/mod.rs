//! One module per subcommand; each owns its `Args` and its `run`.

pub mod approve;
pub mod asl;
pub mod aws;
pub mod aws_runs;
pub mod bootstrap;
pub mod check;
pub mod compile;
pub mod completions;
pub mod deploy;
pub mod destroy;
pub mod graph;
pub mod plan;
pub mod run;
pub mod runs;
pub mod schema;
pub mod simulate;
pub mod start;
pub mod status;
pub mod test;
