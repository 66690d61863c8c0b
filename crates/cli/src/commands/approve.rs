//! `approvalc approve RUN STAGE [--as PRINCIPAL] [--comment TEXT]` and `approvalc reject …`:
//! the approver's side of a local run — `SendAutomationSignal` for SSM stages,
//! `PutApprovalResult` for CodePipeline stages. Only the principals the stage lists may
//! decide; the runtime's callback handlers then decide what the decision means (separation
//! of duties included), as on AWS. The decision and its audit line are one transaction.

use approvalc_local::store::{AuditLine, Store};
use approvalc_local::{LocalError, Verdict};

use crate::Exit;
use crate::commands::run::{StateArgs, now_ms};
use crate::commands::simulate::{local_error, print_report, user_error};

const AFTER_HELP: &str = "\
`approvalc status RUN` shows what is pending and who may act. Two commands deciding the same
run at once take turns; the second sees the first's decision.

Without --as, the decision is taken as the one principal who may act; when several may,
--as must say which (`approvalc status RUN` lists them).

Exit status: 0 the decision was taken, 1 it was refused (nothing pending, not an approver,
already decided), 2 a store error.

Examples:
  approvalc approve release-prod-20260101-120000-1a2b team-lead --as arn:aws:iam::111111111111:role/TeamLead
  approvalc reject RUN qa --as arn:aws:iam::222222222222:user/qa-oncall --comment \"tests fail\"";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The run id (`approvalc runs` lists them).
    #[arg(value_name = "RUN")]
    run: String,
    /// The stage to decide.
    #[arg(value_name = "STAGE")]
    stage: String,
    /// Who decides: one of the stage's approvers (default: the only one who may act).
    #[arg(long = "as", value_name = "PRINCIPAL")]
    principal: Option<String>,
    /// Comment recorded with the decision.
    #[arg(long)]
    comment: Option<String>,
    #[command(flatten)]
    state: StateArgs,
    /// Print the run as JSON afterwards.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, verdict: Verdict) -> miette::Result<Exit> {
    let mut store = match args.state.open() {
        Ok(s) => s,
        Err(exit) => return Ok(exit),
    };
    let principal = match &args.principal {
        Some(p) => p.clone(),
        None => match sole_principal(&store, &args.run, &args.stage) {
            Ok(p) => p,
            Err(exit) => return Ok(exit),
        },
    };
    let word = match verdict {
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    };
    let audit = AuditLine {
        stage: &args.stage,
        principal: &principal,
        verdict: word,
        comment: args.comment.as_deref(),
    };
    let result = store.update_audited(
        &args.run,
        now_ms(),
        |world| {
            world.decide(&args.stage, verdict, &principal, args.comment.clone())?;
            Ok(world.deployment().clone())
        },
        Some(audit),
    );
    let (deployment, report) = match result {
        Ok(done) => done,
        Err(e) => return Ok(local_error(&e)),
    };
    eprintln!("{word}: {} of run {} by {principal}", args.stage, args.run);
    print_report(&report, &deployment, args.json);
    Ok(Exit::Success)
}

/// The principal to act as when `--as` is missing: the only one who may decide the stage.
fn sole_principal(store: &Store, run: &str, stage: &str) -> Result<String, Exit> {
    let world = store.load(run).map_err(|e| local_error(&e))?;
    let pending = world.pending();
    let Some(p) = pending.iter().find(|p| p.stage == stage) else {
        return Err(local_error(&LocalError::NothingPending {
            stage: stage.to_owned(),
            known: pending.iter().map(|p| p.stage.clone()).collect(),
        }));
    };
    if p.kind == "action" {
        return Err(local_error(&LocalError::ActionStage {
            stage: stage.to_owned(),
        }));
    }
    match p.may_act.as_slice() {
        [] => Err(user_error(&format!("nobody may decide `{stage}` now"))),
        [only] => {
            eprintln!("acting as {only}, the only principal who may decide `{stage}`");
            Ok(only.clone())
        }
        many => Err(user_error(&format!(
            "several principals may decide `{stage}`; say which with --as: {}",
            many.join(", ")
        ))),
    }
}
