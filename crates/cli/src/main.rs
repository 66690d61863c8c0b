//! `approvalc`: the command-line front end.
//!
//! Thin by design: parse arguments, call the library crates, render results and decide the
//! exit code in one place ([`Exit`]). Each subcommand lives in its own module under
//! `commands/` with an `Args` struct (clap derive) and a `run` function.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod commands;
mod render;

/// mimalloc instead of the system allocator: lowering builds and drops many small values, and
/// the measured compile time of a 1,000-stage workflow fell 17-40 % (docs/bench-compile.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, decided only here: 0 success (warnings allowed), 1 a user error was reported
/// as a diagnostic, 2 usage or internal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    UserError,
    Internal,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        match exit {
            Exit::Success => ExitCode::SUCCESS,
            Exit::UserError => ExitCode::from(1),
            Exit::Internal => ExitCode::from(2),
        }
    }
}

const AFTER_HELP: &str = "\
Examples:
  approvalc check workflows/*.yaml             check workflows, report every problem
  approvalc graph workflows/multi-level-cross-account.yaml --format mermaid
  approvalc compile workflows/ssm-single.yaml -o out/
  approvalc asl exec out/ssm-single/parent.asl.json --input '{}'
  approvalc schema > approvalc.schema.json     JSON Schema for editor completion

Docs: README.md, docs/ (language: docs/language.md, diagnostics: docs/diagnostics.md)";

/// Human sign-off workflows on AWS: write a YAML workflow of approval stages, check it,
/// compile it to Step Functions state machines and their surroundings, run it locally.
#[derive(Debug, Parser)]
#[command(name = "approvalc", version, about, long_about = None, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check workflow files and report every problem found (exit 1 on errors).
    Check(commands::check::Args),
    /// Print the stage graph of a workflow as Mermaid or Graphviz dot.
    Graph(commands::graph::Args),
    /// Print the JSON Schema of the workflow language (for yaml-language-server).
    Schema(commands::schema::Args),
    /// Compile a workflow to Step Functions state machines and the AWS artifacts around them.
    Compile(commands::compile::Args),
    /// Work with Amazon States Language definitions directly.
    #[command(subcommand)]
    Asl(commands::asl::Command),
    /// Run a workflow locally to its end with scripted decisions (no AWS account).
    Simulate(commands::simulate::Args),
    /// Run scenario files (*.test.yaml) in the local simulation.
    Test(commands::test::Args),
    /// Start a local run (stored; decide it with approve/reject).
    Run(commands::run::Args),
    /// Approve a pending stage of a local run (or, given an execution ARN, of a run on AWS).
    Approve(commands::aws_runs::Decide),
    /// Reject a pending stage of a local run (or, given an execution ARN, of a run on AWS).
    Reject(commands::aws_runs::Decide),
    /// Show a run (local, or on AWS given its execution ARN): stages, decisions, who may act.
    Status(commands::aws_runs::Status),
    /// List local runs (or a workflow's runs on AWS with --aws FILE).
    Runs(commands::aws_runs::Runs),
    /// Create or update an account's bootstrap stack on AWS (or print its template).
    Bootstrap(commands::bootstrap::Args),
    /// Show what `deploy` would create, update or delete on AWS, with diffs.
    Plan(commands::plan::Args),
    /// Deploy a workflow to AWS: idempotent, tagged, resumes after interruption.
    Deploy(commands::deploy::Args),
    /// Delete what `deploy` created for a workflow on AWS, and nothing else.
    Destroy(commands::destroy::Args),
    /// Start a run of a deployed workflow on AWS.
    Start(commands::start::Args),
    /// Print a shell completion script.
    Completions(commands::completions::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout with exit 0 and usage errors to stderr.
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Internal.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    match run(cli.command) {
        Ok(exit) => exit.into(),
        Err(report) => {
            eprintln!("{report:?}");
            Exit::Internal.into()
        }
    }
}

fn run(command: Command) -> miette::Result<Exit> {
    match command {
        Command::Check(args) => commands::check::run(args),
        Command::Graph(args) => commands::graph::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Compile(args) => commands::compile::run(args),
        Command::Asl(command) => commands::asl::run(command),
        Command::Simulate(args) => commands::simulate::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Approve(args) => {
            commands::aws_runs::decide(args, approvalc_local::Verdict::Approve)
        }
        Command::Reject(args) => commands::aws_runs::decide(args, approvalc_local::Verdict::Reject),
        Command::Status(args) => commands::aws_runs::status(args),
        Command::Runs(args) => commands::aws_runs::runs(args),
        Command::Bootstrap(args) => commands::bootstrap::run(args),
        Command::Plan(args) => commands::plan::run(args),
        Command::Deploy(args) => commands::deploy::run(args),
        Command::Destroy(args) => commands::destroy::run(args),
        Command::Start(args) => commands::start::run(args),
        Command::Completions(args) => {
            commands::completions::run(args, <Cli as clap::CommandFactory>::command())
        }
    }
}
