//! Handler behaviour on AWS-shaped event fixtures, against recording in-memory ports: which
//! calls are made (or not), what Step Functions is told, and that no log line holds the token.

mod common;

use std::time::Duration;

use approvalc_runtime::duties::Rule;
use approvalc_runtime::event::Ignored;
use approvalc_runtime::item::AttrValue;
use approvalc_runtime::memory::{ServiceCall, SfnCall, StoreCall};
use approvalc_runtime::outcome::{Decision, FailureCode};
use approvalc_runtime::ports::{ActionStatus, AutomationStatus, TokenGone};
use approvalc_runtime::{
    HandlerError, Report, cleanup, codepipeline_callback, reconcile, ssm_callback,
};
use common::*;
use pretty_assertions::assert_eq;
use serde_json::json;

fn success_output(w: &World) -> serde_json::Value {
    match w.sfn.calls().as_slice() {
        [SfnCall::Success { token, output }] => {
            assert_eq!(token, TOKEN);
            output.clone()
        }
        other => panic!("expected one SendTaskSuccess, got {other:?}"),
    }
}

fn failure(w: &World) -> (String, String) {
    match w.sfn.calls().as_slice() {
        [
            SfnCall::Failure {
                token,
                error,
                cause,
            },
        ] => {
            assert_eq!(token, TOKEN);
            assert!(!cause.contains(TOKEN));
            (error.clone(), cause.clone())
        }
        other => panic!("expected one SendTaskFailure, got {other:?}"),
    }
}

fn decided(report: &Report, decision: Decision, rule: Option<Rule>) {
    assert_eq!(
        report,
        &Report::Decided {
            correlation_id: CID.into(),
            decision,
            rule
        }
    );
    let text = serde_json::to_string(report).unwrap();
    assert!(!text.contains(TOKEN));
}

async fn ssm_event(w: &World, fixture_name: &str) -> Result<Report, HandlerError> {
    ssm_callback(w.ctx(), &w.ssm, &fixture(fixture_name)).await
}

// ---------------------------------------------------------------- SSM callback

#[tokio::test]
async fn ssm_approval_sends_the_task_result() {
    let w = World::new();
    w.with_ssm_approved_by_bob("looks good");

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    decided(&report, Decision::Approved, None);
    assert_eq!(
        success_output(&w),
        json!({"decision": "approved", "approvers": [BOB], "comment": "looks good", "decided_at": DECIDED_AT, "rule": null})
    );
    let stored = w.tokens.item(CID).unwrap();
    assert_eq!(
        stored.0.get("decided_at"),
        Some(&AttrValue::S(DECIDED_AT.into()))
    );
    assert_eq!(
        stored.0.get("approvers"),
        Some(&AttrValue::L(vec![AttrValue::S(BOB.into())]))
    );
    assert_eq!(
        w.ssm.calls(),
        vec![ServiceCall::GetAutomation(AUTOMATION_ID.into())]
    );
    w.logs.assert_clean(&[]);
    assert!(
        w.logs.text().contains(AUTOMATION_ID),
        "logs name the execution"
    );
}

#[tokio::test]
async fn ssm_rejection_is_a_decision_not_a_failure() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm.insert(automation(
        AutomationStatus::Failed,
        Some("Rejected"),
        vec![decision_json(BOB, "Reject", "not today")],
    ));

    let report = ssm_event(&w, "ssm-execution-failed.json").await.unwrap();

    decided(&report, Decision::Rejected, None);
    let out = success_output(&w);
    assert_eq!(out["decision"], "rejected");
    assert_eq!(out["approvers"], json!([BOB]));
    assert_eq!(out["comment"], "not today");
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn requester_approving_own_run_is_rejected_naming_the_rule() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    // The approver record uses the bare user name; the requester is an ARN: same person.
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json("alice", "Approve", "")],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    decided(
        &report,
        Decision::Rejected,
        Some(Rule::RequesterCannotApprove),
    );
    let out = success_output(&w);
    assert_eq!(out["decision"], "rejected");
    assert_eq!(out["rule"], "requester_cannot_approve");
    assert_eq!(out["comment"], serde_json::Value::Null);
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn approver_of_an_earlier_stage_breaks_distinct_approvers() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    let carol = "arn:aws:iam::123456789012:user/carol";
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![format!(
            "[{}, {}]",
            decision_json(BOB, "Approve", "ok"),
            decision_json(carol, "Approve", "ok too")
        )],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    decided(&report, Decision::Rejected, Some(Rule::DistinctApprovers));
    assert_eq!(success_output(&w)["approvers"], json!([BOB, carol]));
}

#[tokio::test]
async fn ended_automations_without_a_decision_fail_the_task_with_a_code() {
    for (status, fixture_name, code) in [
        (
            AutomationStatus::TimedOut,
            "ssm-execution-timedout.json",
            FailureCode::TimedOut,
        ),
        (
            AutomationStatus::Cancelled,
            "ssm-execution-cancelled.json",
            FailureCode::Cancelled,
        ),
        (
            AutomationStatus::Failed,
            "ssm-execution-failed.json",
            FailureCode::AutomationFailed,
        ),
    ] {
        let w = World::new();
        w.tokens.put(item("ssm"));
        let mut execution = automation(status, None, vec![]);
        execution.failure_message = Some("Step fails when it is Executing.".into());
        w.ssm.insert(execution);

        let report = ssm_event(&w, fixture_name).await.unwrap();

        assert_eq!(
            report,
            Report::Failed {
                correlation_id: CID.into(),
                code
            }
        );
        let (error, cause) = failure(&w);
        assert_eq!(error, code.as_str());
        assert!(cause.contains(AUTOMATION_ID), "{cause}");
        w.logs.assert_clean(&[]);
    }
}

#[tokio::test]
async fn success_without_an_approval_status_fails_closed() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm
        .insert(automation(AutomationStatus::Success, None, vec![]));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert_eq!(
        report,
        Report::Failed {
            correlation_id: CID.into(),
            code: FailureCode::Malformed
        }
    );
    assert_eq!(failure(&w).0, "Approval.Malformed");
}

#[tokio::test]
async fn approval_without_named_approver_or_with_garbage_decisions_fails_closed() {
    for decisions in [
        vec![],
        vec!["{not json".to_owned()],
        vec![json!({"Decision": "Approve"}).to_string()],
    ] {
        let w = World::new();
        w.tokens.put(item("ssm"));
        w.ssm.insert(automation(
            AutomationStatus::Success,
            Some("Approved"),
            decisions.clone(),
        ));

        let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

        assert_eq!(
            report,
            Report::Failed {
                correlation_id: CID.into(),
                code: FailureCode::Malformed
            },
            "{decisions:?}"
        );
        assert!(
            w.sfn
                .calls()
                .iter()
                .all(|c| matches!(c, SfnCall::Failure { .. }))
        );
    }
}

#[tokio::test]
async fn duplicate_event_ends_quietly_after_one_delivery() {
    let w = World::new();
    w.with_ssm_approved_by_bob("");

    let first = ssm_event(&w, "ssm-execution-success.json").await.unwrap();
    let second = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    decided(&first, Decision::Approved, None);
    assert_eq!(
        second,
        Report::Duplicate {
            correlation_id: CID.into()
        }
    );
    assert_eq!(w.sfn.calls().len(), 1, "Step Functions is called once");
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn used_or_unknown_token_ends_cleanly() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.sfn.unknown.lock().unwrap().insert(TOKEN.to_owned());
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert_eq!(
        report,
        Report::TokenGone {
            correlation_id: CID.into(),
            reason: TokenGone::TaskDoesNotExist
        }
    );
    assert!(
        w.tokens.item(CID).unwrap().is_decided(),
        "the claim stays: nothing left to deliver"
    );
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn transient_sfn_failure_releases_the_claim_for_a_retry() {
    let w = World::new();
    w.with_ssm_approved_by_bob("");
    *w.sfn.outage.lock().unwrap() = Some("ThrottlingException: Rate exceeded".into());

    let err = ssm_event(&w, "ssm-execution-success.json")
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Sfn(_)), "{err}");
    assert!(!w.tokens.item(CID).unwrap().is_decided(), "claim released");
    assert!(w.tokens.calls().contains(&StoreCall::Release(CID.into())));

    *w.sfn.outage.lock().unwrap() = None;
    let retry = ssm_event(&w, "ssm-execution-success.json").await.unwrap();
    decided(&retry, Decision::Approved, None);
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn forged_and_malformed_events_touch_nothing() {
    for name in [
        "ssm-forged-source.json",
        "ssm-forged-account.json",
        "ssm-step-status-change.json",
        "ssm-malformed-no-execution-id.json",
        "ssm-malformed-injected-id.json",
        "ssm-execution-inprogress.json",
        "malformed-not-an-object.json",
        "codepipeline-approval-succeeded.json",
        "states-ssm-child-aborted.json",
    ] {
        let w = World::new();
        w.tokens.put(item("ssm"));
        w.tokens.calls.lock().unwrap().clear();
        w.ssm.insert(automation(
            AutomationStatus::Success,
            Some("Approved"),
            vec![decision_json(BOB, "Approve", "")],
        ));

        let report = ssm_event(&w, name).await.unwrap();

        assert!(
            matches!(report, Report::Ignored { .. }),
            "{name}: {report:?}"
        );
        w.assert_untouched();
        w.logs.assert_clean(&[]);
        assert!(
            !w.logs.text().contains("\n{\"level\":\"INFO\"}"),
            "no log injection"
        );
    }
}

#[tokio::test]
async fn automation_of_another_document_cannot_reach_an_approval_token() {
    // An attacker starts their own document with our correlation id as a parameter.
    let w = World::new();
    w.tokens.put(item("ssm"));
    let mut forged = automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    );
    forged.document_name = "Attacker-Approve".into();
    w.ssm.insert(forged);

    let report = ssm_event(&w, "ssm-forged-document.json").await.unwrap();

    assert!(
        matches!(
            report,
            Report::Ignored {
                why: Ignored::Mismatch(_)
            }
        ),
        "{report:?}"
    );
    assert!(w.sfn.calls().is_empty());
    assert!(!w.tokens.item(CID).unwrap().is_decided());
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn automation_other_than_the_recorded_one_is_a_mismatch() {
    let w = World::new();
    let mut stored = item("ssm");
    stored.0.insert(
        "automation_execution_id".into(),
        AttrValue::S("11111111-2222-3333-4444-555555555555".into()),
    );
    w.tokens.put(stored);
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert!(
        matches!(
            report,
            Report::Ignored {
                why: Ignored::Mismatch(_)
            }
        ),
        "{report:?}"
    );
    assert!(w.sfn.calls().is_empty());
}

#[tokio::test]
async fn unknown_execution_and_lookup_failure_never_approve() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();
    assert_eq!(
        report,
        Report::Ignored {
            why: Ignored::UnknownExecution
        }
    );

    *w.ssm.outage.lock().unwrap() = Some("InternalServerError".into());
    let err = ssm_event(&w, "ssm-execution-success.json")
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Lookup(_)));
    assert!(w.sfn.calls().is_empty());
    assert!(!w.tokens.item(CID).unwrap().is_decided());
}

#[tokio::test]
async fn api_says_still_running_although_the_event_says_ended() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm.insert(automation(
        AutomationStatus::Waiting,
        Some("Waiting"),
        vec![],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert_eq!(report, Report::NotFinished);
    assert!(w.sfn.calls().is_empty());
    assert!(!w.tokens.item(CID).unwrap().is_decided());
}

#[tokio::test]
async fn decision_before_the_token_is_stored_is_deferred_then_reconciled() {
    let w = World::new();
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert_eq!(
        report,
        Report::Deferred {
            correlation_id: CID.into()
        }
    );
    let waited: Duration = w.clock.sleeps().iter().sum();
    assert_eq!(waited, Duration::from_secs(2));
    assert_eq!(
        w.tokens
            .calls()
            .iter()
            .filter(|c| matches!(c, StoreCall::Get(_)))
            .count(),
        5
    );
    assert!(w.sfn.calls().is_empty());

    w.tokens.put(item("ssm"));
    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!(
        run.resolved,
        vec![Report::Decided {
            correlation_id: CID.into(),
            decision: Decision::Approved,
            rule: None
        }]
    );
    assert_eq!(success_output(&w)["decision"], "approved");
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn unusable_item_with_a_token_fails_the_task() {
    let w = World::new();
    let mut stored = item("ssm");
    stored
        .0
        .insert("kind".into(), AttrValue::S("mystery".into()));
    w.tokens.put(stored);
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    ));

    let report = ssm_event(&w, "ssm-execution-success.json").await.unwrap();

    assert_eq!(
        report,
        Report::Failed {
            correlation_id: CID.into(),
            code: FailureCode::Malformed
        }
    );
    assert_eq!(failure(&w).0, "Approval.Malformed");
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn action_stage_success_sends_step_outputs() {
    let w = World::new();
    w.tokens.put(item("action"));
    let mut execution = automation(AutomationStatus::Success, None, vec![]);
    execution.document_name = "Grant-Access".into();
    execution.steps[0].name = "Grant".into();
    execution.steps[0].action = "aws:executeScript".into();
    execution.steps[0]
        .outputs
        .insert("GrantId".into(), vec!["g-123".into()]);
    w.ssm.insert(execution);

    let mut event = fixture("ssm-execution-success.json");
    event["detail"]["Definition"] = json!("Grant-Access");
    let report = ssm_callback(w.ctx(), &w.ssm, &event).await.unwrap();

    assert_eq!(
        report,
        Report::ActionSucceeded {
            correlation_id: CID.into()
        }
    );
    let out = success_output(&w);
    assert_eq!(out["status"], "succeeded");
    assert_eq!(out["outputs"]["Grant.GrantId"], json!(["g-123"]));
}

// ---------------------------------------------------------------- CodePipeline callback

fn pipeline_world(action: approvalc_runtime::ports::ActionExecution) -> World {
    let w = World::new();
    w.tokens.put(item("codepipeline"));
    w.codepipeline.insert(pipeline_execution(), vec![action]);
    w
}

async fn cp_event(w: &World, fixture_name: &str) -> Result<Report, HandlerError> {
    codepipeline_callback(w.ctx(), &w.codepipeline, &fixture(fixture_name)).await
}

#[tokio::test]
async fn pipeline_approval_reads_reviewer_and_summary_from_the_action() {
    let w = pipeline_world(approval_action(
        ActionStatus::Succeeded,
        Some(BOB),
        Some("ship it"),
    ));

    let report = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();

    decided(&report, Decision::Approved, None);
    assert_eq!(
        success_output(&w),
        json!({"decision": "approved", "approvers": [BOB], "comment": "ship it", "decided_at": DECIDED_AT, "rule": null})
    );
    assert_eq!(
        w.codepipeline.calls(),
        vec![
            ServiceCall::GetPipelineExecution(PIPELINE.into(), PIPELINE_EXECUTION.into()),
            ServiceCall::ListActionExecutions(PIPELINE.into(), PIPELINE_EXECUTION.into()),
        ]
    );
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn pipeline_rejection_and_rule_breaking_approval() {
    let w = pipeline_world(approval_action(ActionStatus::Failed, Some(BOB), Some("no")));
    decided(
        &cp_event(&w, "codepipeline-approval-failed.json")
            .await
            .unwrap(),
        Decision::Rejected,
        None,
    );

    let w = pipeline_world(approval_action(
        ActionStatus::Succeeded,
        Some(REQUESTER),
        None,
    ));
    decided(
        &cp_event(&w, "codepipeline-approval-succeeded.json")
            .await
            .unwrap(),
        Decision::Rejected,
        Some(Rule::RequesterCannotApprove),
    );
    assert_eq!(success_output(&w)["rule"], "requester_cannot_approve");
}

#[tokio::test]
async fn pipeline_failures_map_to_codes() {
    let mut timed_out = approval_action(ActionStatus::Failed, None, None);
    timed_out.error_message = Some("Approval timed out".into());
    for (action, fixture_name, code) in [
        (
            approval_action(ActionStatus::Abandoned, None, None),
            "codepipeline-approval-abandoned.json",
            FailureCode::Cancelled,
        ),
        (
            timed_out,
            "codepipeline-approval-failed.json",
            FailureCode::TimedOut,
        ),
        (
            approval_action(ActionStatus::Succeeded, None, Some("who?")),
            "codepipeline-approval-succeeded.json",
            FailureCode::Malformed,
        ),
    ] {
        let w = pipeline_world(action);
        let report = cp_event(&w, fixture_name).await.unwrap();
        assert_eq!(
            report,
            Report::Failed {
                correlation_id: CID.into(),
                code
            },
            "{fixture_name}"
        );
        assert_eq!(failure(&w).0, code.as_str());
        w.logs.assert_clean(&[]);
    }
}

#[tokio::test]
async fn pipeline_lookup_failure_after_token_is_known_fails_the_task() {
    let w = pipeline_world(approval_action(ActionStatus::Succeeded, Some(BOB), None));
    *w.codepipeline.list_outage.lock().unwrap() = Some("ThrottlingException".into());

    let report = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();

    assert_eq!(
        report,
        Report::Failed {
            correlation_id: CID.into(),
            code: FailureCode::LookupFailed
        }
    );
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn forged_pipeline_events_touch_nothing() {
    for name in [
        "codepipeline-forged-pipeline.json",
        "codepipeline-forged-account.json",
        "codepipeline-deploy-action.json",
        "codepipeline-approval-started.json",
        "ssm-execution-success.json",
        "malformed-not-an-object.json",
    ] {
        let w = pipeline_world(approval_action(ActionStatus::Succeeded, Some(BOB), None));
        w.tokens.calls.lock().unwrap().clear();
        let report = cp_event(&w, name).await.unwrap();
        assert!(
            matches!(report, Report::Ignored { .. }),
            "{name}: {report:?}"
        );
        w.assert_untouched();
    }
}

#[tokio::test]
async fn pipeline_execution_other_than_the_recorded_one_is_a_mismatch() {
    let w = World::new();
    let mut stored = item("codepipeline");
    stored.0.insert(
        "pipeline_execution_id".into(),
        AttrValue::S("99999999-0123-0123-0123-012345678901".into()),
    );
    w.tokens.put(stored);
    w.codepipeline.insert(
        pipeline_execution(),
        vec![approval_action(ActionStatus::Succeeded, Some(BOB), None)],
    );

    let report = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();

    assert!(
        matches!(
            report,
            Report::Ignored {
                why: Ignored::Mismatch(_)
            }
        ),
        "{report:?}"
    );
    assert!(w.sfn.calls().is_empty());
}

// ---------------------------------------------------------------- cleanup

#[tokio::test]
async fn aborted_ssm_child_stops_its_automation_and_silences_the_callback() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm.insert(automation(
        AutomationStatus::Waiting,
        Some("Waiting"),
        vec![],
    ));

    let report = cleanup(
        w.ctx(),
        &w.ssm,
        &w.codepipeline,
        &fixture("states-ssm-child-aborted.json"),
    )
    .await
    .unwrap();

    assert_eq!(
        report,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "stopped_automation"
        }
    );
    assert_eq!(
        w.ssm.calls(),
        vec![
            ServiceCall::GetAutomation(AUTOMATION_ID.into()),
            ServiceCall::StopAutomation(AUTOMATION_ID.into())
        ]
    );
    assert!(
        w.sfn.calls().is_empty(),
        "the child is gone; nothing to tell Step Functions"
    );
    assert!(w.tokens.item(CID).unwrap().is_decided());

    // The cancellation we caused raises its own event: it must stay quiet.
    let later = ssm_event(&w, "ssm-execution-cancelled.json").await.unwrap();
    assert_eq!(
        later,
        Report::Duplicate {
            correlation_id: CID.into()
        }
    );
    assert!(w.sfn.calls().is_empty());
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn failed_pipeline_child_rejects_its_pending_approval() {
    let w = World::new();
    w.tokens.put(item("codepipeline"));
    let approval_token = "1a2b3c4d-0000-1111-2222-333344445555";
    w.codepipeline.pending.lock().unwrap().insert(
        (PIPELINE.into(), PIPELINE_EXECUTION.into()),
        approval_token.into(),
    );

    let report = cleanup(
        w.ctx(),
        &w.ssm,
        &w.codepipeline,
        &fixture("states-pipeline-child-failed.json"),
    )
    .await
    .unwrap();

    assert_eq!(
        report,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "rejected_approval"
        }
    );
    assert!(
        w.codepipeline
            .calls()
            .contains(&ServiceCall::RejectApproval {
                pipeline: PIPELINE.into(),
                approval_token: approval_token.into(),
                summary: "approvalc: the waiting child execution ended (FAILED)".into(),
            })
    );
    assert!(w.sfn.calls().is_empty());
    w.logs.assert_clean(&[approval_token]);
}

#[tokio::test]
async fn cleanup_ignores_what_it_does_not_own_and_repeats_quietly() {
    for name in [
        "states-ssm-child-succeeded.json",
        "states-other-machine-aborted.json",
        "ssm-execution-success.json",
    ] {
        let w = World::new();
        w.tokens.put(item("ssm"));
        w.tokens.calls.lock().unwrap().clear();
        let report = cleanup(w.ctx(), &w.ssm, &w.codepipeline, &fixture(name))
            .await
            .unwrap();
        assert!(
            matches!(report, Report::Ignored { .. }),
            "{name}: {report:?}"
        );
        w.assert_untouched();
    }

    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm
        .insert(automation(AutomationStatus::Waiting, None, vec![]));
    let event = fixture("states-ssm-child-timed-out.json");
    cleanup(w.ctx(), &w.ssm, &w.codepipeline, &event)
        .await
        .unwrap();
    let again = cleanup(w.ctx(), &w.ssm, &w.codepipeline, &event)
        .await
        .unwrap();
    assert_eq!(
        again,
        Report::Duplicate {
            correlation_id: CID.into()
        }
    );
    let stops = w
        .ssm
        .calls()
        .iter()
        .filter(|c| matches!(c, ServiceCall::StopAutomation(_)))
        .count();
    assert_eq!(stops, 1);
}

#[tokio::test]
async fn cleanup_of_a_finished_automation_stops_nothing() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm.insert(automation(
        AutomationStatus::Failed,
        Some("Rejected"),
        vec![],
    ));
    let report = cleanup(
        w.ctx(),
        &w.ssm,
        &w.codepipeline,
        &fixture("states-ssm-child-timed-out.json"),
    )
    .await
    .unwrap();
    assert_eq!(
        report,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "nothing_pending"
        }
    );
    assert!(
        !w.ssm
            .calls()
            .iter()
            .any(|c| matches!(c, ServiceCall::StopAutomation(_)))
    );
}

// ---------------------------------------------------------------- reconciler

#[tokio::test]
async fn reconciler_resolves_ended_tasks_and_leaves_running_ones() {
    let w = World::new();
    // 1: SSM approval that ended (event lost).
    w.with_ssm_approved_by_bob("");
    // 2: a pipeline approval still pending.
    let mut pending = item("codepipeline");
    pending
        .0
        .insert("correlation_id".into(), AttrValue::S("pending-1".into()));
    pending
        .0
        .insert("task_token".into(), AttrValue::S("OTHER-TOKEN".into()));
    w.tokens.put(pending);
    w.codepipeline.insert(
        pipeline_execution(),
        vec![approval_action(ActionStatus::InProgress, None, None)],
    );
    // 3: already decided.
    let mut done = item("ssm");
    done.0
        .insert("correlation_id".into(), AttrValue::S("done-1".into()));
    done.0
        .insert("decided_at".into(), AttrValue::S(DECIDED_AT.into()));
    w.tokens.put(done);

    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();

    assert_eq!(run.scanned, 2);
    assert_eq!(run.still_waiting, 1);
    assert_eq!(run.errors, 0);
    assert_eq!(
        run.resolved,
        vec![Report::Decided {
            correlation_id: CID.into(),
            decision: Decision::Approved,
            rule: None
        }]
    );
    assert_eq!(success_output(&w)["approvers"], json!([BOB]));

    let again = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!((again.scanned, again.resolved.len()), (1, 0));
    assert_eq!(w.sfn.calls().len(), 1);
    w.logs.assert_clean(&["OTHER-TOKEN"]);
}

#[tokio::test]
async fn reconciler_fails_tasks_whose_automation_vanished_and_counts_lookup_errors() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!(
        run.resolved,
        vec![Report::Failed {
            correlation_id: CID.into(),
            code: FailureCode::LookupFailed
        }]
    );

    let w = World::new();
    w.tokens.put(item("ssm"));
    *w.ssm.outage.lock().unwrap() = Some("InternalServerError".into());
    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!((run.errors, run.resolved.len()), (1, 0));
    assert!(w.sfn.calls().is_empty());
    assert!(!w.tokens.item(CID).unwrap().is_decided());
}

// ---------------------------------------------------------------- gaps found re-reading issue 6

#[tokio::test]
async fn every_forged_or_malformed_pipeline_envelope_touches_nothing() {
    for name in [
        "codepipeline-forged-source.json",
        "codepipeline-forged-detail-type.json",
        "codepipeline-forged-stage.json",
        "codepipeline-malformed-no-execution-id.json",
        "codepipeline-malformed-injected-id.json",
        "states-pipeline-child-failed.json",
    ] {
        let w = pipeline_world(approval_action(ActionStatus::Succeeded, Some(BOB), None));
        w.tokens.calls.lock().unwrap().clear();
        let report = cp_event(&w, name).await.unwrap();
        assert!(
            matches!(report, Report::Ignored { .. }),
            "{name}: {report:?}"
        );
        w.assert_untouched();
        w.logs.assert_clean(&[]);
        assert!(
            !w.logs.text().contains("\n{\"level\":\"INFO\"}"),
            "{name}: no log injection"
        );
    }
}

#[tokio::test]
async fn execution_event_under_the_step_detail_type_is_ignored() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.tokens.calls.lock().unwrap().clear();
    w.ssm.insert(automation(
        AutomationStatus::Success,
        Some("Approved"),
        vec![decision_json(BOB, "Approve", "")],
    ));
    let report = ssm_event(&w, "ssm-forged-detail-type.json").await.unwrap();
    assert_eq!(
        report,
        Report::Ignored {
            why: Ignored::WrongDetailType
        }
    );
    w.assert_untouched();
}

#[tokio::test]
async fn forged_or_malformed_child_events_clean_up_nothing() {
    for (name, why) in [
        ("states-forged-source.json", Ignored::WrongSource),
        ("states-forged-account.json", Ignored::OtherAccount),
        (
            "states-forged-execution-account.json",
            Ignored::Malformed("`executionArn` disagrees with the event".into()),
        ),
        (
            "states-malformed-name-mismatch.json",
            Ignored::Malformed("`executionArn` disagrees with the event".into()),
        ),
        (
            "states-malformed-machine-arn.json",
            Ignored::Malformed("`stateMachineArn` is not a state machine ARN".into()),
        ),
        ("codepipeline-approval-failed.json", Ignored::WrongSource),
    ] {
        let w = World::new();
        w.tokens.put(item("ssm"));
        w.tokens.calls.lock().unwrap().clear();
        w.ssm
            .insert(automation(AutomationStatus::Waiting, None, vec![]));
        let report = cleanup(w.ctx(), &w.ssm, &w.codepipeline, &fixture(name))
            .await
            .unwrap();
        assert_eq!(report, Report::Ignored { why }, "{name}");
        w.assert_untouched();
        assert!(!w.tokens.item(CID).unwrap().is_decided(), "{name}");
    }
}

#[tokio::test]
async fn duplicate_pipeline_event_delivers_once() {
    let w = pipeline_world(approval_action(
        ActionStatus::Succeeded,
        Some(BOB),
        Some("ok"),
    ));
    let first = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();
    let second = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();
    decided(&first, Decision::Approved, None);
    assert_eq!(
        second,
        Report::Duplicate {
            correlation_id: CID.into()
        }
    );
    assert_eq!(w.sfn.calls().len(), 1);
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn pipeline_decision_on_a_used_token_ends_cleanly() {
    let w = pipeline_world(approval_action(ActionStatus::Succeeded, Some(BOB), None));
    w.sfn.unknown.lock().unwrap().insert(TOKEN.to_owned());
    let report = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();
    assert_eq!(
        report,
        Report::TokenGone {
            correlation_id: CID.into(),
            reason: TokenGone::TaskDoesNotExist
        }
    );
    assert!(w.tokens.item(CID).unwrap().is_decided());
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn pipeline_approver_of_an_earlier_stage_breaks_distinct_approvers() {
    let carol = "arn:aws:iam::123456789012:user/carol";
    let w = pipeline_world(approval_action(ActionStatus::Succeeded, Some(carol), None));
    let report = cp_event(&w, "codepipeline-approval-succeeded.json")
        .await
        .unwrap();
    decided(&report, Decision::Rejected, Some(Rule::DistinctApprovers));
    assert_eq!(success_output(&w)["rule"], "distinct_approvers");
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn cleanup_lookup_failure_is_retried_and_the_retry_stops_the_automation() {
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm
        .insert(automation(AutomationStatus::Waiting, None, vec![]));
    *w.ssm.outage.lock().unwrap() = Some("InternalServerError".into());
    let event = fixture("states-ssm-child-aborted.json");

    let err = cleanup(w.ctx(), &w.ssm, &w.codepipeline, &event)
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Cleanup(_)), "{err}");
    assert!(
        !w.tokens.item(CID).unwrap().is_decided(),
        "not claimed: the retry must redo the cleanup"
    );

    *w.ssm.outage.lock().unwrap() = None;
    let retry = cleanup(w.ctx(), &w.ssm, &w.codepipeline, &event)
        .await
        .unwrap();
    assert_eq!(
        retry,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "stopped_automation"
        }
    );
    assert!(
        w.ssm
            .calls()
            .contains(&ServiceCall::StopAutomation(AUTOMATION_ID.into()))
    );
    w.logs.assert_clean(&[]);
}

#[tokio::test]
async fn aborted_action_child_stops_its_automation() {
    let w = World::new();
    w.tokens.put(item("action"));
    w.ssm
        .insert(automation(AutomationStatus::Waiting, None, vec![]));
    let report = cleanup(
        w.ctx(),
        &w.ssm,
        &w.codepipeline,
        &fixture("states-action-child-aborted.json"),
    )
    .await
    .unwrap();
    assert_eq!(
        report,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "stopped_automation"
        }
    );
    // The ssm-approval child's event does not match an action item's execution ARN.
    let w2 = World::new();
    w2.tokens.put(item("action"));
    let other = cleanup(
        w2.ctx(),
        &w2.ssm,
        &w2.codepipeline,
        &fixture("states-ssm-child-aborted.json"),
    )
    .await
    .unwrap();
    assert!(
        matches!(
            other,
            Report::Ignored {
                why: Ignored::Mismatch(_)
            }
        ),
        "{other:?}"
    );
    assert!(w2.ssm.calls().is_empty());
}

#[tokio::test]
async fn failed_pipeline_child_with_nothing_pending_rejects_nothing() {
    let w = World::new();
    w.tokens.put(item("codepipeline"));
    let report = cleanup(
        w.ctx(),
        &w.ssm,
        &w.codepipeline,
        &fixture("states-pipeline-child-failed.json"),
    )
    .await
    .unwrap();
    assert_eq!(
        report,
        Report::CleanedUp {
            correlation_id: CID.into(),
            action: "nothing_pending"
        }
    );
    assert!(
        !w.codepipeline
            .calls()
            .iter()
            .any(|c| matches!(c, ServiceCall::RejectApproval { .. }))
    );
}

#[tokio::test]
async fn reconciler_resolves_ended_pipeline_approvals_and_timed_out_automations() {
    // A pipeline approval rejected by bob whose event was lost.
    let w = pipeline_world(approval_action(ActionStatus::Failed, Some(BOB), Some("no")));
    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!(
        run.resolved,
        vec![Report::Decided {
            correlation_id: CID.into(),
            decision: Decision::Rejected,
            rule: None
        }]
    );
    assert_eq!(success_output(&w)["decision"], "rejected");
    w.logs.assert_clean(&[]);

    // An approval automation that timed out.
    let w = World::new();
    w.tokens.put(item("ssm"));
    w.ssm
        .insert(automation(AutomationStatus::TimedOut, None, vec![]));
    let run = reconcile(w.ctx(), &w.ssm, &w.codepipeline).await.unwrap();
    assert_eq!(
        run.resolved,
        vec![Report::Failed {
            correlation_id: CID.into(),
            code: FailureCode::TimedOut
        }]
    );
    assert_eq!(failure(&w).0, "Approval.TimedOut");
}

#[tokio::test]
async fn a_step_functions_error_quoting_the_token_is_scrubbed_before_logging() {
    let w = World::new();
    w.with_ssm_approved_by_bob("");
    // The shape of a real ValidationException: it quotes the value it refused.
    *w.sfn.outage.lock().unwrap() = Some(format!(
        "ValidationException: 1 validation error detected: Value '{TOKEN}' at 'taskToken' failed to satisfy constraint"
    ));

    let err = ssm_event(&w, "ssm-execution-success.json")
        .await
        .unwrap_err();

    let returned = err.to_string();
    assert!(returned.contains("ValidationException"), "{returned}");
    assert!(!returned.contains(TOKEN), "returned to Lambda: {returned}");
    assert!(!w.tokens.item(CID).unwrap().is_decided(), "claim released");
    w.logs.assert_clean(&[]);
}
