//! `approvalc completions SHELL`: print a completion script for bash, zsh, fish, elvish or
//! PowerShell.

use clap_complete::Shell;

use crate::Exit;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Example:\n  approvalc completions bash > ~/.local/share/bash-completion/completions/approvalc"
)]
pub struct Args {
    /// The shell to generate the script for.
    shell: Shell,
}

pub fn run(args: Args, mut command: clap::Command) -> miette::Result<Exit> {
    clap_complete::generate(
        args.shell,
        &mut command,
        "approvalc",
        &mut std::io::stdout(),
    );
    Ok(Exit::Success)
}
