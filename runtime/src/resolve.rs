//! The path every handler ends on: find the token item, claim it, tell Step Functions.
//!
//! The conditional claim (`decided_at` absent → set) runs *before* the Step Functions call, so
//! of two deliveries for one task (duplicate event, reconciler, cleanup) only one talks to Step
//! Functions. A transient Step Functions failure releases the claim and returns an error, so the
//! Lambda retry (or the reconciler) can deliver later.

use serde::Serialize;
use tracing::{error, info, warn};

use crate::config::Config;
use crate::duties::Rule;
use crate::event::Ignored;
use crate::item::TaskRecord;
use crate::outcome::{Decision, FailureCode, Outcome};
use crate::ports::{Claim, Clock, ServiceError, Sfn, SfnError, TokenGone, TokenStore};
use crate::secret::{CorrelationId, TaskToken};

/// The services every handler needs.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub sfn: &'a dyn Sfn,
    pub tokens: &'a dyn TokenStore,
    pub clock: &'a dyn Clock,
}

/// What a handler did with one event (returned by the Lambda, never holds a token).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "result")]
pub enum Report {
    /// Nothing to do, and nothing was called on Step Functions.
    Ignored { why: Ignored },
    /// The execution has not ended yet.
    NotFinished,
    /// No token item yet (the decision beat the child's `putItem`): the reconciler resolves it.
    Deferred { correlation_id: String },
    /// Someone else already delivered this task's result.
    Duplicate { correlation_id: String },
    /// `SendTaskSuccess` with an approval decision.
    Decided {
        correlation_id: String,
        decision: Decision,
        rule: Option<Rule>,
    },
    /// `SendTaskSuccess` for an action stage.
    ActionSucceeded { correlation_id: String },
    /// `SendTaskFailure`.
    Failed {
        correlation_id: String,
        code: FailureCode,
    },
    /// Step Functions no longer accepts the token (used, timed out, unknown): ends cleanly.
    TokenGone {
        correlation_id: String,
        reason: TokenGone,
    },
    /// Cleanup stopped the automation / rejected the approval of an ended child.
    CleanedUp {
        correlation_id: String,
        action: &'static str,
    },
}

/// An error worth a retry (the Lambda fails the invocation; EventBridge retries it).
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("lookup failed: {0}")]
    Lookup(ServiceError),
    #[error("token store failed: {0}")]
    Store(ServiceError),
    #[error("Step Functions failed: {0}")]
    Sfn(String),
    #[error("cleanup failed: {0}")]
    Cleanup(ServiceError),
}

/// The result of looking up a token item.
pub enum Lookup {
    Found(Box<TaskRecord>),
    /// Unusable item; a readable token has already been failed with `Approval.Malformed`.
    Handled(Report),
    Missing,
}

/// Reads the item, waiting out the race with the child's `putItem` when `retry` is set.
pub async fn load_record(
    ctx: Ctx<'_>,
    id: &CorrelationId,
    retry: bool,
) -> Result<Lookup, HandlerError> {
    let waits = if retry {
        ctx.config.lookup_backoff.as_slice()
    } else {
        &[]
    };
    let mut waits = waits.iter();
    loop {
        if let Some(item) = ctx.tokens.get(id).await.map_err(HandlerError::Store)? {
            return match TaskRecord::from_item(&item) {
                Ok(record) => Ok(Lookup::Found(Box::new(record))),
                Err(corrupt) => corrupt_item(ctx, id, corrupt.token, corrupt.reason)
                    .await
                    .map(Lookup::Handled),
            };
        }
        match waits.next() {
            Some(wait) => ctx.clock.sleep(*wait).await,
            None => return Ok(Lookup::Missing),
        }
    }
}

pub(crate) async fn corrupt_item(
    ctx: Ctx<'_>,
    id: &CorrelationId,
    token: Option<TaskToken>,
    reason: String,
) -> Result<Report, HandlerError> {
    error!(correlation_id = %id, reason = %reason, "token item is unusable");
    let Some(token) = token else {
        return Ok(Report::Ignored {
            why: Ignored::CorruptItem(reason),
        });
    };
    let cause = format!("token item {id} is unusable: {reason}");
    send(
        ctx,
        id,
        &token,
        Outcome::failure(FailureCode::Malformed, cause),
    )
    .await
}

/// Claims the task and delivers `outcome` to Step Functions.
pub async fn deliver(
    ctx: Ctx<'_>,
    record: &TaskRecord,
    outcome: Outcome,
) -> Result<Report, HandlerError> {
    if record.decided {
        // Read as decided: no need to even try the claim.
        info!(correlation_id = %record.correlation_id, "already decided; duplicate ends here");
        return Ok(Report::Duplicate {
            correlation_id: record.correlation_id.to_string(),
        });
    }
    send(ctx, &record.correlation_id, &record.token, outcome).await
}

async fn send(
    ctx: Ctx<'_>,
    id: &CorrelationId,
    token: &TaskToken,
    outcome: Outcome,
) -> Result<Report, HandlerError> {
    let decided_at = ctx
        .clock
        .now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match ctx
        .tokens
        .claim(id, &decided_at, outcome.approvers())
        .await
        .map_err(HandlerError::Store)?
    {
        Claim::Claimed => {}
        Claim::AlreadyDecided => {
            info!(correlation_id = %id, "already decided; duplicate ends here");
            return Ok(Report::Duplicate {
                correlation_id: id.to_string(),
            });
        }
        Claim::Missing => {
            warn!(correlation_id = %id, "token item vanished before the claim");
            return Ok(Report::Deferred {
                correlation_id: id.to_string(),
            });
        }
    }
    let (call, report) = match &outcome {
        Outcome::Decision(result) => (
            ctx.sfn.send_task_success(token, &to_json(result)).await,
            Report::Decided {
                correlation_id: id.to_string(),
                decision: result.decision,
                rule: result.rule,
            },
        ),
        Outcome::ActionSucceeded(result) => (
            ctx.sfn.send_task_success(token, &to_json(result)).await,
            Report::ActionSucceeded {
                correlation_id: id.to_string(),
            },
        ),
        Outcome::Failure { code, cause } => {
            // A cause is built from ids and service messages; scrub the token all the same.
            let cause = cause.replace(token.expose(), "<redacted>");
            (
                ctx.sfn
                    .send_task_failure(token, code.as_str(), &cause)
                    .await,
                Report::Failed {
                    correlation_id: id.to_string(),
                    code: *code,
                },
            )
        }
    };
    match call {
        Ok(()) => {
            info!(correlation_id = %id, report = ?report, "delivered to Step Functions");
            Ok(report)
        }
        Err(SfnError::TokenGone(reason)) => {
            info!(correlation_id = %id, reason = ?reason, "task no longer waits; nothing to do");
            Ok(Report::TokenGone {
                correlation_id: id.to_string(),
                reason,
            })
        }
        Err(SfnError::Other(message)) => {
            // AWS validation errors quote the offending value ("Value '…' at 'taskToken'"):
            // the message goes to the log and back to Lambda, so the token comes out first.
            let message = message.replace(token.expose(), "<redacted>");
            error!(correlation_id = %id, error = %message, "Step Functions call failed; releasing the claim");
            if let Err(e) = ctx.tokens.release(id).await {
                error!(correlation_id = %id, error = %e, "could not release the claim");
            }
            Err(HandlerError::Sfn(message))
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    // Serialising these plain structs cannot fail; an empty object would still fail closed
    // downstream (the child's Choice needs `decision`).
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}
