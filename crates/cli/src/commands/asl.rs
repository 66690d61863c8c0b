//! `approvalc asl …` (placeholder until its owner lands it).

use crate::Exit;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Execute a state machine definition locally.
    Exec {},
}

pub fn run(_command: Command) -> miette::Result<Exit> {
    Err(miette::miette!("`approvalc asl` is not built yet"))
}
