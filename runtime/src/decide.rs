//! Reading the truth: turns what SSM / CodePipeline report about a finished run into an
//! [`Outcome`]. Pure functions; `None` means "not finished yet".
//!
//! Fail closed: an approval is only ever produced from an explicit `Approved` status with at
//! least one named approver who breaks no rule. Anything missing or unexpected becomes a
//! rejection or a failure.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::config::Config;
use crate::duties::broken_rule;
use crate::item::{TaskRecord, Waiting};
use crate::outcome::{ActionResult, Decision, FailureCode, Outcome, TaskResult};
use crate::ports::{
    ActionExecution, ActionStatus, AutomationExecution, AutomationStatus, StepExecution,
};

/// One entry of the `aws:approve` output `ApproverDecisions`.
#[derive(Debug, Deserialize)]
struct ApproverDecision {
    #[serde(rename = "Approver")]
    approver: String,
    #[serde(rename = "Decision")]
    decision: String,
    #[serde(rename = "Comment", default)]
    comment: Option<String>,
}

/// `ApproverDecisions` arrives as a list of strings; each may hold one JSON object or an array.
fn approver_decisions(step: &StepExecution) -> Result<Vec<ApproverDecision>, String> {
    let mut out = Vec::new();
    for raw in step.outputs.get("ApproverDecisions").into_iter().flatten() {
        let value: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| format!("ApproverDecisions is not JSON: {e}"))?;
        let items = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for item in items {
            out.push(
                serde_json::from_value(item)
                    .map_err(|e| format!("ApproverDecisions entry: {e}"))?,
            );
        }
    }
    Ok(out)
}

fn approve_step<'a>(cfg: &Config, execution: &'a AutomationExecution) -> Option<&'a StepExecution> {
    let approves = || execution.steps.iter().filter(|s| s.action == "aws:approve");
    approves()
        .find(|s| s.name == cfg.approve_step)
        .or_else(|| approves().next())
}

fn join_comments<'a>(comments: impl Iterator<Item = &'a str>) -> Option<String> {
    let all: Vec<&str> = comments.map(str::trim).filter(|c| !c.is_empty()).collect();
    (!all.is_empty()).then(|| all.join("\n"))
}

/// A named decision; approvals pass through the separation-of-duties rules.
fn decision(
    record: &TaskRecord,
    decision: Decision,
    approvers: Vec<String>,
    comment: Option<String>,
    decided_at: &str,
) -> Outcome {
    if decision == Decision::Approved && approvers.is_empty() {
        return Outcome::failure(
            FailureCode::Malformed,
            "the approval names no approver, so the separation-of-duties rules cannot be checked",
        );
    }
    let rule = match decision {
        Decision::Approved => broken_rule(
            record.rules,
            &record.requester,
            &record.prior_approvers,
            &approvers,
        ),
        Decision::Rejected => None,
    };
    Outcome::Decision(TaskResult {
        decision: if rule.is_some() {
            Decision::Rejected
        } else {
            decision
        },
        approvers,
        comment,
        decided_at: decided_at.to_owned(),
        rule,
    })
}

fn approval_from_step(
    cfg: &Config,
    record: &TaskRecord,
    execution: &AutomationExecution,
    decided_at: &str,
) -> Option<Outcome> {
    let step = approve_step(cfg, execution)?;
    let status = step.outputs.get("ApprovalStatus")?.first()?;
    let wanted = match status.as_str() {
        "Approved" => ("Approve", Decision::Approved),
        "Rejected" => ("Reject", Decision::Rejected),
        _ => return None,
    };
    let decisions = match approver_decisions(step) {
        Ok(d) => d,
        Err(e) => return Some(Outcome::failure(FailureCode::Malformed, e)),
    };
    let deciding: Vec<&ApproverDecision> = decisions
        .iter()
        .filter(|d| d.decision == wanted.0)
        .collect();
    let approvers = deciding.iter().map(|d| d.approver.clone()).collect();
    let comment = join_comments(deciding.iter().filter_map(|d| d.comment.as_deref()));
    Some(decision(record, wanted.1, approvers, comment, decided_at))
}

fn action_outputs(execution: &AutomationExecution) -> BTreeMap<String, Vec<String>> {
    execution
        .steps
        .iter()
        .flat_map(|s| {
            s.outputs
                .iter()
                .map(move |(k, v)| (format!("{}.{}", s.name, k), v.clone()))
        })
        .collect()
}

fn failure_cause(execution: &AutomationExecution) -> String {
    let detail = execution
        .failure_message
        .as_deref()
        .or_else(|| {
            execution
                .steps
                .iter()
                .find_map(|s| s.failure_message.as_deref())
        })
        .unwrap_or("no failure message");
    format!(
        "automation {} of {} failed: {detail}",
        execution.id, execution.document_name
    )
}

/// The outcome of a finished automation for the task waiting on it.
pub fn automation_outcome(
    cfg: &Config,
    record: &TaskRecord,
    execution: &AutomationExecution,
    decided_at: &str,
) -> Option<Outcome> {
    let id = &execution.id;
    match execution.status {
        AutomationStatus::TimedOut => {
            return Some(Outcome::failure(
                FailureCode::TimedOut,
                format!("automation {id} timed out"),
            ));
        }
        AutomationStatus::Cancelled => {
            return Some(Outcome::failure(
                FailureCode::Cancelled,
                format!("automation {id} was cancelled"),
            ));
        }
        AutomationStatus::Success | AutomationStatus::Failed => {}
        _ => return None,
    }
    let succeeded = execution.status == AutomationStatus::Success;
    match &record.waiting {
        Waiting::Action { .. } if succeeded => Some(Outcome::ActionSucceeded(ActionResult {
            status: "succeeded",
            automation_execution_id: id.clone(),
            outputs: action_outputs(execution),
            finished_at: decided_at.to_owned(),
        })),
        Waiting::Action { .. } => Some(Outcome::failure(
            FailureCode::AutomationFailed,
            failure_cause(execution),
        )),
        _ => Some(
            approval_from_step(cfg, record, execution, decided_at).unwrap_or_else(|| {
                if succeeded {
                    Outcome::failure(
                        FailureCode::Malformed,
                        format!(
                            "automation {id} succeeded but its aws:approve step reports no decision"
                        ),
                    )
                } else {
                    Outcome::failure(FailureCode::AutomationFailed, failure_cause(execution))
                }
            }),
        ),
    }
}

/// The outcome of the manual approval action, `None` while it is pending.
pub fn pipeline_outcome(
    record: &TaskRecord,
    action: &ActionExecution,
    decided_at: &str,
) -> Option<Outcome> {
    let summary = action.summary.clone().filter(|s| !s.trim().is_empty());
    let reviewer = action.updated_by.clone().filter(|s| !s.trim().is_empty());
    match (&action.status, reviewer) {
        (ActionStatus::Succeeded, Some(who)) => Some(decision(
            record,
            Decision::Approved,
            vec![who],
            summary,
            decided_at,
        )),
        (ActionStatus::Succeeded, None) => Some(decision(
            record,
            Decision::Approved,
            Vec::new(),
            summary,
            decided_at,
        )),
        (ActionStatus::Failed, Some(who)) => Some(decision(
            record,
            Decision::Rejected,
            vec![who],
            summary,
            decided_at,
        )),
        (ActionStatus::Failed, None) => {
            let message = action
                .error_message
                .as_deref()
                .unwrap_or("no error message");
            let lower = message.to_lowercase();
            let code = if lower.contains("time") || lower.contains("expired") {
                FailureCode::TimedOut
            } else {
                FailureCode::AutomationFailed
            };
            Some(Outcome::failure(
                code,
                format!("manual approval failed without a reviewer: {message}"),
            ))
        }
        (ActionStatus::Abandoned, _) => Some(Outcome::failure(
            FailureCode::Cancelled,
            format!(
                "the approval of pipeline execution {} was abandoned",
                action.pipeline_execution_id
            ),
        )),
        (ActionStatus::InProgress | ActionStatus::Other(_), _) => None,
    }
}

/// The approval action of `execution_id` among `ListActionExecutions` rows (latest update wins).
pub fn find_approval_action<'a>(
    cfg: &Config,
    execution_id: &str,
    actions: &'a [ActionExecution],
) -> Option<&'a ActionExecution> {
    actions
        .iter()
        .filter(|a| {
            a.pipeline_execution_id == execution_id
                && a.stage_name == cfg.pipeline_stage
                && a.action_name == cfg.pipeline_action
        })
        .max_by_key(|a| a.last_update_time)
}
