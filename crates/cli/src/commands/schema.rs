//! `approvalc schema` (placeholder until its owner lands it).

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> miette::Result<Exit> {
    Err(miette::miette!("`approvalc schema` is not built yet"))
}
