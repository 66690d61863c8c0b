//! `status`, `approve`, `reject` and `runs` for runs on AWS, next to the local ones.
//!
//! The local commands (`status.rs`, `approve.rs`, `runs.rs`, backed by the sqlite store)
//! keep their arguments and behaviour. Each wrapper here adds the AWS flags and decides by
//! the RUN argument: a Step Functions execution ARN (`arn:aws:states:…:execution:…`) is a
//! run on AWS, anything else a local run id. `runs` lists AWS runs with `--aws FILE`. A
//! local run id never looks like an ARN, so nothing that worked before changes meaning.

use std::path::PathBuf;

use approvalc_deploy::DeployError;
use approvalc_deploy::runs::{self, RunStatus, Verdict};
use clap::{ArgMatches, FromArgMatches};

use crate::Exit;
use crate::commands::aws::{self, ConnectArgs};

const STATUS_HELP: &str = "\
RUN is a local run id, or the execution ARN of a run on AWS (printed by `approvalc start`,
listed by `approvalc runs --aws FILE`). For an AWS run, --file names its workflow (or
compiled directory): the stage tree comes from the execution's history, and each waiting
stage shows the command (and console link) to decide it.

Example:
  approvalc status arn:aws:states:ap-northeast-1:111111111111:execution:approvalc-release-prod:RUN --file release.yaml";

const APPROVE_HELP: &str = "\
For a run on AWS (RUN is an execution ARN) the decision is taken as you, with your AWS
credentials, through the service the stage waits on: ssm:SendAutomationSignal for SSM stages,
codepipeline:PutApprovalResult for CodePipeline stages. --as is ignored there: AWS knows who
you are, and the callbacks check the workflow's rules. Task tokens are never shown or sent.
A CodePipeline approval is decided only when the pipeline offers this run's pipeline
execution (pipelines run in PARALLEL mode, so it may offer another run's); otherwise nothing
is decided and the message says why. --automation-execution-id / --pipeline-execution-id
(printed by `approvalc status`) save reading the run's history.

Example:
  approvalc approve arn:aws:states:…:execution:approvalc-release-prod:RUN qa --file release.yaml --profile staging-qa";

const RUNS_HELP: &str = "\
Without --aws: the local runs in the store. With --aws FILE: the executions of that
workflow's parent state machine on AWS, newest first.";

/// Flags only the AWS side uses.
#[derive(Debug, Clone, clap::Args)]
pub struct AwsRunArgs {
    /// The workflow of an AWS run (file or compiled directory); needed when RUN is an ARN.
    #[arg(long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `approvalc approve|reject` only: what the stage waits on, as `approvalc status` printed
/// it (saves reading the run's history, which approvers may not be allowed to).
#[derive(Debug, Clone, clap::Args)]
pub struct AutomationArg {
    /// SSM automation execution id of the waiting stage (AWS runs, SSM stages).
    #[arg(long, value_name = "ID", conflicts_with = "pipeline_execution_id")]
    pub automation_execution_id: Option<String>,
    /// Pipeline execution id of the waiting stage (AWS runs, CodePipeline stages): only
    /// that execution's approval is decided, never another run's.
    #[arg(long, value_name = "ID")]
    pub pipeline_execution_id: Option<String>,
}

/// Keeps the local command's own after-help (exit statuses, examples) and adds ours.
fn append_help(cmd: clap::Command, text: &'static str) -> clap::Command {
    let combined = match cmd.get_after_help() {
        Some(existing) => format!("{existing}\n\nRuns on AWS:\n{text}"),
        None => text.to_owned(),
    };
    cmd.after_help(combined)
}

fn flag(m: &ArgMatches, id: &str) -> bool {
    m.try_get_one::<bool>(id)
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

fn text(m: &ArgMatches, id: &str) -> Option<String> {
    m.try_get_one::<String>(id).ok().flatten().cloned()
}

/// Which side RUN is on: an execution ARN is a run on AWS, anything else a local run id.
fn by_run<T>(
    m: &ArgMatches,
    aws: impl FnOnce(String) -> Result<T, clap::Error>,
    local: impl FnOnce() -> Result<T, clap::Error>,
) -> Result<T, clap::Error> {
    let run = text(m, "run").unwrap_or_default();
    if runs::is_execution_arn(&run) {
        aws(run)
    } else {
        local()
    }
}

/// The clap impls every local-or-AWS command shares: it parses from the matches of the
/// local command's arguments plus `$extra` (flattened `clap::Args`), with `$help` added to
/// the local command's after-help; an update parses again.
macro_rules! local_or_aws {
    ($ty:ty, $local:ty, [$($extra:ty),*], $help:expr) => {
        impl clap::Args for $ty {
            fn augment_args(cmd: clap::Command) -> clap::Command {
                let cmd = <$local as clap::Args>::augment_args(cmd);
                $(let cmd = <$extra as clap::Args>::augment_args(cmd);)*
                append_help(cmd, $help)
            }

            fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
                Self::augment_args(cmd)
            }
        }

        impl $ty {
            fn reparse(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
                *self = <Self as FromArgMatches>::from_arg_matches(m)?;
                Ok(())
            }
        }
    };
}

/// `approvalc status RUN`.
#[derive(Debug)]
pub enum Status {
    Local(crate::commands::status::Args),
    Aws {
        run: String,
        json: bool,
        aws: AwsRunArgs,
    },
}

impl FromArgMatches for Status {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        by_run(
            m,
            |run| {
                Ok(Status::Aws {
                    run,
                    json: flag(m, "json"),
                    aws: AwsRunArgs::from_arg_matches(m)?,
                })
            },
            || crate::commands::status::Args::from_arg_matches(m).map(Status::Local),
        )
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.reparse(m)
    }
}

local_or_aws!(
    Status,
    crate::commands::status::Args,
    [AwsRunArgs],
    STATUS_HELP
);

/// `approvalc approve|reject RUN STAGE`.
#[derive(Debug)]
pub enum Decide {
    Local(crate::commands::approve::Args),
    Aws {
        run: String,
        stage: String,
        comment: Option<String>,
        json: bool,
        automation: AutomationArg,
        aws: AwsRunArgs,
    },
}

impl FromArgMatches for Decide {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        by_run(
            m,
            |run| {
                Ok(Decide::Aws {
                    run,
                    stage: text(m, "stage").unwrap_or_default(),
                    comment: text(m, "comment"),
                    json: flag(m, "json"),
                    automation: AutomationArg::from_arg_matches(m)?,
                    aws: AwsRunArgs::from_arg_matches(m)?,
                })
            },
            || crate::commands::approve::Args::from_arg_matches(m).map(Decide::Local),
        )
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.reparse(m)
    }
}

local_or_aws!(
    Decide,
    crate::commands::approve::Args,
    [AutomationArg, AwsRunArgs],
    APPROVE_HELP
);

/// `approvalc runs [--aws FILE]`.
#[derive(Debug)]
pub enum Runs {
    Local(crate::commands::runs::Args),
    Aws {
        file: PathBuf,
        json: bool,
        connect: ConnectArgs,
    },
}

/// `--aws FILE` for `approvalc runs`.
#[derive(Debug, Clone, clap::Args)]
struct RunsAws {
    /// List the runs of this workflow on AWS instead of local runs.
    #[arg(long = "aws", value_name = "FILE")]
    aws: Option<PathBuf>,
    #[command(flatten)]
    connect: ConnectArgs,
}

impl FromArgMatches for Runs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let aws = RunsAws::from_arg_matches(m)?;
        match aws.aws {
            Some(file) => Ok(Runs::Aws {
                file,
                json: flag(m, "json"),
                connect: aws.connect,
            }),
            None => crate::commands::runs::Args::from_arg_matches(m).map(Runs::Local),
        }
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.reparse(m)
    }
}

local_or_aws!(Runs, crate::commands::runs::Args, [RunsAws], RUNS_HELP);

pub fn status(args: Status) -> miette::Result<Exit> {
    let (run, json, aws_args) = match args {
        Status::Local(local) => return crate::commands::status::run(local),
        Status::Aws { run, json, aws } => (run, json, aws),
    };
    let Some(file) = &aws_args.file else {
        return Ok(need_file("status"));
    };
    let loaded = match aws::load(file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let result = aws::with_session(&loaded, &aws_args.connect, false, async |session| {
        let home = aws::home(session, &loaded).await?;
        runs::status(
            session,
            &home,
            &loaded.desired,
            &loaded.artifacts.manifest,
            &run,
        )
        .await
    });
    let status = match result {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    if json {
        aws::print_json(&status);
    } else {
        print_status(&status);
    }
    Ok(Exit::Success)
}

fn print_status(s: &RunStatus) {
    let state = match s.status.as_str() {
        "RUNNING" if s.stages.iter().any(|st| st.state == "waiting") => {
            "running (waiting for approvals)".to_owned()
        }
        "RUNNING" if s.note.is_some() => "running, no stage started yet".to_owned(),
        "RUNNING" => "running".to_owned(),
        other => other.to_ascii_lowercase(),
    };
    println!("run {} of {}: {state}", s.run, s.workflow);
    println!(
        "  started {}{}",
        s.started,
        s.stopped
            .as_ref()
            .map(|t| format!(", stopped {t}"))
            .unwrap_or_default()
    );
    if let Some(r) = &s.requester {
        println!("  requested by {r}");
    }
    if let Some(d) = &s.decision {
        println!("  decision: {d}");
    }
    if let Some(e) = &s.error {
        println!("  error: {e}: {}", s.cause.as_deref().unwrap_or(""));
    }
    if let Some(note) = &s.note {
        println!("  note: {note}");
    }
    for stage in &s.stages {
        let who = if stage.approvers.is_empty() {
            String::new()
        } else {
            format!(" by {}", stage.approvers.join(", "))
        };
        let when = stage
            .decided_at
            .as_ref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default();
        println!(
            "  {:<20} {:<13} {:<12} {}{who}{when}",
            stage.id, stage.account, stage.kind, stage.state
        );
        if let Some(c) = &stage.comment {
            println!("      comment: {c}");
        }
        for act in &stage.act {
            println!("      -> {act}");
        }
    }
}

pub fn decide(args: Decide, local: approvalc_local::Verdict) -> miette::Result<Exit> {
    let (run, stage, comment, json, automation, aws_args) = match args {
        Decide::Local(a) => return crate::commands::approve::run(a, local),
        Decide::Aws {
            run,
            stage,
            comment,
            json,
            automation,
            aws,
        } => (run, stage, comment, json, automation, aws),
    };
    let verdict = match local {
        approvalc_local::Verdict::Approve => Verdict::Approve,
        approvalc_local::Verdict::Reject => Verdict::Reject,
    };
    let Some(file) = &aws_args.file else {
        return Ok(need_file(match verdict {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }));
    };
    let loaded = match aws::load(file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let result = aws::with_session(&loaded, &aws_args.connect, false, async |session| {
        let request = runs::DecideRequest {
            run: &run,
            stage: &stage,
            automation_execution_id: automation.automation_execution_id.as_deref(),
            pipeline_execution_id: automation.pipeline_execution_id.as_deref(),
            verdict,
            comment: comment.as_deref(),
        };
        runs::decide(
            session,
            &loaded.desired,
            &loaded.artifacts.manifest,
            request,
        )
        .await
    });
    let decided = match result {
        Ok(d) => d,
        Err(exit) => return Ok(exit),
    };
    if json {
        aws::print_json(&decided);
    } else {
        eprintln!(
            "{}: {} of run {} by {} ({})",
            match decided.verdict {
                Verdict::Approve => "approve",
                Verdict::Reject => "reject",
            },
            decided.stage,
            decided.run,
            decided.by,
            decided.via
        );
    }
    Ok(Exit::Success)
}

pub fn runs(args: Runs) -> miette::Result<Exit> {
    let (file, json, connect) = match args {
        Runs::Local(local) => return crate::commands::runs::run(local),
        Runs::Aws {
            file,
            json,
            connect,
        } => (file, json, connect),
    };
    let loaded = match aws::load(&file) {
        Ok(l) => l,
        Err(exit) => return Ok(exit),
    };
    let result = aws::with_session(&loaded, &connect, false, async |session| {
        let home = aws::home(session, &loaded).await?;
        runs::list(&home, &loaded.desired).await
    });
    let rows = match result {
        Ok(r) => r,
        Err(exit) => return Ok(exit),
    };
    if json {
        aws::print_json(&rows);
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        eprintln!("no runs of {} on AWS", loaded.desired.workflow);
    }
    for r in rows {
        println!("{:<10} {:<32} {}", r.status, r.started, r.execution_arn);
    }
    Ok(Exit::Success)
}

fn need_file(command: &str) -> Exit {
    aws::report(
        &DeployError::new(format!("{command} of a run on AWS needs its workflow")).with_help(
            "add --file FILE (the workflow file or the directory `approvalc compile` wrote)",
        ),
    )
}
