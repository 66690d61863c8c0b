//! The four handlers: SSM callback, CodePipeline callback, cleanup and reconciler. Each takes
//! the raw event (`serde_json::Value`) so a malformed one is ours to reject, and the ports it
//! needs; the Lambda binaries only build the ports and call these.

use serde::Serialize;
use tracing::{Instrument, error, info, info_span, warn};

use crate::decide::{automation_outcome, find_approval_action, pipeline_outcome};
use crate::event::{self, Ignored};
use crate::item::{TaskRecord, Waiting};
use crate::outcome::{FailureCode, Outcome};
use crate::ports::{ApprovalAction, AutomationExecution, CodePipeline, Ssm};
use crate::resolve::{Ctx, HandlerError, Lookup, Report, corrupt_item, deliver, load_record};
use crate::secret::CorrelationId;

fn ignored(why: Ignored) -> Result<Report, HandlerError> {
    warn!(reason = ?why, "event ignored");
    Ok(Report::Ignored { why })
}

fn now(ctx: Ctx<'_>) -> String {
    ctx.clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// SSM callback: an automation of the approval document (or an action document) ended.
pub async fn ssm_callback(
    ctx: Ctx<'_>,
    ssm: &dyn Ssm,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let ended = match event::automation_ended(event, ctx.config) {
        Ok(ended) => ended,
        Err(why) => return ignored(why),
    };
    let span = info_span!(
        "ssm_callback",
        event_id = %ended.event_id.escape_debug(),
        automation_execution_id = %ended.execution_id
    );
    async move {
        let execution = match ssm.get_automation_execution(&ended.execution_id).await {
            Ok(Some(execution)) if execution.id == ended.execution_id => execution,
            Ok(Some(_)) => {
                return ignored(Ignored::Mismatch(
                    "SSM answered for another execution".into(),
                ));
            }
            Ok(None) => return ignored(Ignored::UnknownExecution),
            Err(e) => {
                error!(error = %e, "GetAutomationExecution failed");
                return Err(HandlerError::Lookup(e));
            }
        };
        let correlation_id = execution
            .parameters
            .get(&ctx.config.automation_parameter)
            .and_then(|values| values.first())
            .and_then(|value| CorrelationId::parse(value).ok());
        let Some(correlation_id) = correlation_id else {
            return ignored(Ignored::NoCorrelationId);
        };
        let record = match load_record(ctx, &correlation_id, true).await? {
            Lookup::Found(record) => record,
            Lookup::Handled(report) => return Ok(report),
            Lookup::Missing => return deferred(&correlation_id),
        };
        resolve_automation(ctx, &record, &execution).await
    }
    .instrument(span)
    .await
}

fn deferred(id: &CorrelationId) -> Result<Report, HandlerError> {
    info!(correlation_id = %id, "no token item yet; the reconciler will resolve it");
    Ok(Report::Deferred {
        correlation_id: id.to_string(),
    })
}

/// Resolves a task waiting on an automation, as the callback and the reconciler both do.
pub async fn resolve_automation(
    ctx: Ctx<'_>,
    record: &TaskRecord,
    execution: &AutomationExecution,
) -> Result<Report, HandlerError> {
    if record.waiting.automation_execution_id() != Some(execution.id.as_str()) {
        return ignored(Ignored::Mismatch(format!(
            "token item {} waits on another execution",
            record.correlation_id
        )));
    }
    if matches!(record.waiting, Waiting::SsmApproval { .. })
        && execution.document_name != ctx.config.approval_document
    {
        return ignored(Ignored::Mismatch(format!(
            "automation {} runs {}, not the approval document",
            execution.id,
            execution.document_name.escape_debug()
        )));
    }
    match automation_outcome(ctx.config, record, execution, &now(ctx)) {
        Some(outcome) => deliver(ctx, record, outcome).await,
        None => Ok(Report::NotFinished),
    }
}

/// CodePipeline callback: the manual approval action of an approvalc pipeline ended.
pub async fn codepipeline_callback(
    ctx: Ctx<'_>,
    codepipeline: &dyn CodePipeline,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let ended = match event::approval_ended(event, ctx.config) {
        Ok(ended) => ended,
        Err(why) => return ignored(why),
    };
    let span = info_span!(
        "codepipeline_callback",
        event_id = %ended.event_id.escape_debug(),
        pipeline = %ended.pipeline,
        pipeline_execution_id = %ended.execution_id
    );
    async move {
        let execution = match codepipeline
            .get_pipeline_execution(&ended.pipeline, &ended.execution_id)
            .await
        {
            Ok(Some(execution)) => execution,
            Ok(None) => return ignored(Ignored::UnknownExecution),
            Err(e) => {
                error!(error = %e, "GetPipelineExecution failed");
                return Err(HandlerError::Lookup(e));
            }
        };
        let correlation_id = execution
            .variables
            .get(&ctx.config.pipeline_variable)
            .and_then(|value| CorrelationId::parse(value).ok());
        let Some(correlation_id) = correlation_id else {
            return ignored(Ignored::NoCorrelationId);
        };
        let record = match load_record(ctx, &correlation_id, true).await? {
            Lookup::Found(record) => record,
            Lookup::Handled(report) => return Ok(report),
            Lookup::Missing => return deferred(&correlation_id),
        };
        let same = matches!(&record.waiting, Waiting::PipelineApproval { pipeline_name, pipeline_execution_id }
            if *pipeline_name == ended.pipeline && *pipeline_execution_id == ended.execution_id);
        if !same {
            return ignored(Ignored::Mismatch(format!(
                "token item {correlation_id} waits on another pipeline execution"
            )));
        }
        resolve_pipeline(ctx, codepipeline, &record, true).await
    }
    .instrument(span)
    .await
}

/// Resolves a task waiting on a manual approval. `event_said_ended`: the approval action must
/// exist (callback); the reconciler passes `false` and waits when it does not exist yet.
pub async fn resolve_pipeline(
    ctx: Ctx<'_>,
    codepipeline: &dyn CodePipeline,
    record: &TaskRecord,
    event_said_ended: bool,
) -> Result<Report, HandlerError> {
    let Waiting::PipelineApproval {
        pipeline_name,
        pipeline_execution_id,
    } = &record.waiting
    else {
        return ignored(Ignored::Mismatch("not a pipeline approval".into()));
    };
    let actions = match codepipeline
        .list_action_executions(pipeline_name, pipeline_execution_id)
        .await
    {
        Ok(actions) => actions,
        Err(e) => {
            let cause = format!(
                "ListActionExecutions for {pipeline_name} {pipeline_execution_id} failed: {e}"
            );
            return deliver(
                ctx,
                record,
                Outcome::failure(FailureCode::LookupFailed, cause),
            )
            .await;
        }
    };
    let Some(action) = find_approval_action(ctx.config, pipeline_execution_id, &actions) else {
        if !event_said_ended {
            return Ok(Report::NotFinished);
        }
        let cause = format!(
            "pipeline execution {pipeline_execution_id} of {pipeline_name} has no {}/{} action",
            ctx.config.pipeline_stage, ctx.config.pipeline_action
        );
        return deliver(
            ctx,
            record,
            Outcome::failure(FailureCode::LookupFailed, cause),
        )
        .await;
    };
    match pipeline_outcome(record, action, &now(ctx)) {
        Some(outcome) => deliver(ctx, record, outcome).await,
        None => Ok(Report::NotFinished),
    }
}

/// Cleanup: a child execution ended without a decision (ABORTED / TIMED_OUT / FAILED), so
/// stop its automation or reject its pending approval: no approval is left orphaned.
pub async fn cleanup(
    ctx: Ctx<'_>,
    ssm: &dyn Ssm,
    codepipeline: &dyn CodePipeline,
    event: &serde_json::Value,
) -> Result<Report, HandlerError> {
    let ended = match event::child_ended(event, ctx.config) {
        Ok(ended) => ended,
        Err(why) => return ignored(why),
    };
    let span = info_span!(
        "cleanup",
        event_id = %ended.event_id.escape_debug(),
        correlation_id = %ended.correlation_id,
        status = %ended.status
    );
    async move {
        let record = match load_record(ctx, &ended.correlation_id, false).await? {
            Lookup::Found(record) => record,
            Lookup::Handled(report) => return Ok(report),
            Lookup::Missing => return ignored(Ignored::NoTokenItem),
        };
        if record.child_execution_arn != ended.execution_arn {
            return ignored(Ignored::Mismatch(
                "the token item belongs to another execution".into(),
            ));
        }
        if record.decided {
            return Ok(Report::Duplicate {
                correlation_id: record.correlation_id.to_string(),
            });
        }
        let action = stop_pending(ssm, codepipeline, &record, &ended.status, ctx).await?;
        // Mark the item decided so the callback for the cancellation we caused stays quiet.
        ctx.tokens
            .claim(&record.correlation_id, &now(ctx), &[])
            .await
            .map_err(HandlerError::Store)?;
        info!(action, "cleaned up after the child execution");
        Ok(Report::CleanedUp {
            correlation_id: record.correlation_id.to_string(),
            action,
        })
    }
    .instrument(span)
    .await
}

async fn stop_pending(
    ssm: &dyn Ssm,
    codepipeline: &dyn CodePipeline,
    record: &TaskRecord,
    status: &str,
    ctx: Ctx<'_>,
) -> Result<&'static str, HandlerError> {
    match &record.waiting {
        Waiting::SsmApproval {
            automation_execution_id: id,
        }
        | Waiting::Action {
            automation_execution_id: id,
        } => match ssm.get_automation_execution(id).await {
            Ok(Some(execution)) if !execution.status.is_terminal() => {
                ssm.stop_automation_execution(id)
                    .await
                    .map_err(HandlerError::Cleanup)?;
                Ok("stopped_automation")
            }
            Ok(_) => Ok("nothing_pending"),
            Err(e) => Err(HandlerError::Cleanup(e)),
        },
        Waiting::PipelineApproval {
            pipeline_name,
            pipeline_execution_id,
        } => {
            let at = ApprovalAction {
                pipeline: pipeline_name,
                stage: &ctx.config.pipeline_stage,
                action: &ctx.config.pipeline_action,
                execution_id: pipeline_execution_id,
            };
            match codepipeline
                .pending_approval_token(&at)
                .await
                .map_err(HandlerError::Cleanup)?
            {
                Some(approval_token) => {
                    let summary =
                        format!("approvalc: the waiting child execution ended ({status})");
                    codepipeline
                        .reject_approval(&at, &approval_token, &summary)
                        .await
                        .map_err(HandlerError::Cleanup)?;
                    Ok("rejected_approval")
                }
                None => Ok("nothing_pending"),
            }
        }
    }
}

/// What one reconciler run did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub scanned: usize,
    pub still_waiting: usize,
    pub errors: usize,
    pub resolved: Vec<Report>,
}

/// Reconciler (scheduled): resolves every undecided task whose automation or approval has
/// already ended, exactly as the callback would; covers lost events and the token race.
pub async fn reconcile(
    ctx: Ctx<'_>,
    ssm: &dyn Ssm,
    codepipeline: &dyn CodePipeline,
) -> Result<ReconcileReport, HandlerError> {
    let items = ctx
        .tokens
        .list_undecided()
        .await
        .map_err(HandlerError::Store)?;
    let mut report = ReconcileReport {
        scanned: items.len(),
        ..ReconcileReport::default()
    };
    for item in items {
        let record = match TaskRecord::from_item(&item) {
            Ok(record) => record,
            Err(corrupt) => {
                let id = match item.0.get("correlation_id") {
                    Some(crate::item::AttrValue::S(s)) => CorrelationId::parse(s).ok(),
                    _ => None,
                };
                match id {
                    Some(id) => tally(
                        &mut report,
                        corrupt_item(ctx, &id, corrupt.token, corrupt.reason).await,
                    ),
                    None => {
                        error!("token item without a valid correlation id");
                        report.errors += 1;
                    }
                }
                continue;
            }
        };
        let span = info_span!("reconcile", correlation_id = %record.correlation_id);
        let result = reconcile_one(ctx, ssm, codepipeline, &record)
            .instrument(span)
            .await;
        tally(&mut report, result);
    }
    info!(
        scanned = report.scanned,
        resolved = report.resolved.len(),
        still_waiting = report.still_waiting,
        errors = report.errors,
        "reconciler run finished"
    );
    Ok(report)
}

fn tally(report: &mut ReconcileReport, result: Result<Report, HandlerError>) {
    match result {
        Ok(Report::NotFinished) => report.still_waiting += 1,
        Ok(r) => report.resolved.push(r),
        Err(e) => {
            error!(error = %e, "could not reconcile a task");
            report.errors += 1;
        }
    }
}

async fn reconcile_one(
    ctx: Ctx<'_>,
    ssm: &dyn Ssm,
    codepipeline: &dyn CodePipeline,
    record: &TaskRecord,
) -> Result<Report, HandlerError> {
    let Some(id) = record.waiting.automation_execution_id() else {
        return resolve_pipeline(ctx, codepipeline, record, false).await;
    };
    match ssm.get_automation_execution(id).await {
        Ok(Some(execution)) => resolve_automation(ctx, record, &execution).await,
        Ok(None) => {
            let cause = format!("automation {id} does not exist");
            deliver(
                ctx,
                record,
                Outcome::failure(FailureCode::LookupFailed, cause),
            )
            .await
        }
        Err(e) => Err(HandlerError::Lookup(e)),
    }
}
