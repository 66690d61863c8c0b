//! The handlers on the runtime's own AWS client (`aws::JsonClient`) against moto: real Step
//! Functions executions waiting on `aws-sdk:dynamodb:putItem.waitForTaskToken` (the child's
//! own token write, as in docs/token-handling.md) and DynamoDB as the token store. The set-up
//! and the checks go through the AWS SDK, an independent client, so what the runtime signs,
//! sends and reads is checked against moto from both sides. moto has no SSM Automation
//! execution nor CodePipeline approval API, so those come from the in-memory ports.
//!
//! Needs moto (`scripts/install-tools.sh`); fails, never skips, without it.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use approvalc_moto_server::MotoServer;
use approvalc_runtime::aws::{AwsSfn, DynamoTokenStore, JsonClient, Settings};
use approvalc_runtime::memory::{ManualClock, MemoryCodePipeline, MemorySsm};
use approvalc_runtime::outcome::{Decision, FailureCode};
use approvalc_runtime::ports::{AutomationExecution, AutomationStatus, Sfn, SfnError};
use approvalc_runtime::{Config, Ctx, Report, cleanup, reconcile, ssm_callback};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use common::{ACCOUNT, BOB, Logs, decision_json, fixture};
use serde_json::json;

struct Moto {
    /// The runtime's client, as the Lambdas build it (static test credentials, moto's URL).
    client: JsonClient,
    sfn: aws_sdk_sfn::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    machine_arn: String,
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let h = format!(
        "{:032x}",
        nanos ^ ((n as u128) << 96) ^ (std::process::id() as u128) << 64
    );
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A child-like machine: the token goes straight into the table, then the task result is the
/// machine's output.
fn child_definition(table: &str) -> String {
    json!({
        "StartAt": "WaitForDecision",
        "States": {
            "WaitForDecision": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                "Parameters": {
                    "TableName": table,
                    "Item": {
                        "correlation_id": {"S.$": "$$.Execution.Name"},
                        "task_token": {"S.$": "$$.Task.Token"},
                        "kind": {"S": "ssm"},
                        "automation_execution_id": {"S.$": "$.automation_execution_id"},
                        "run_id": {"S.$": "$.run.id"},
                        "workflow": {"S.$": "$.run.workflow"},
                        "stage_id": {"S.$": "$.stage.id"},
                        "account": {"S.$": "$.stage.account"},
                        "child_execution_arn": {"S.$": "$$.Execution.Id"},
                        "requester": {"S.$": "$.run.requester"},
                        "distinct_approvers": {"BOOL": true},
                        "requester_cannot_approve": {"BOOL": true},
                        "prior_approvers": {"L": []},
                        "expires_at": {"N": "4102444800"}
                    }
                },
                "End": true
            }
        }
    })
    .to_string()
}

async fn moto() -> Moto {
    let server = MotoServer::shared().unwrap_or_else(|e| panic!("moto: {e}"));
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static");
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint_url())
        .credentials_provider(creds)
        .load()
        .await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let id = unique();
    let table = format!("approvalc-tokens-{}", &id[..8]);
    dynamodb
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("correlation_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("correlation_id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let machine = sfn
        .create_state_machine()
        .name(format!("approvalc-ssm-approval-{}", &id[..8]))
        .definition(child_definition(&table))
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/approvalc-child"))
        .send()
        .await
        .unwrap();
    let client = JsonClient::new(Settings::fixed(
        "us-east-1",
        "test",
        "test",
        Some(&server.endpoint_url()),
    ))
    .unwrap();
    Moto {
        client,
        sfn,
        dynamodb,
        table,
        machine_arn: machine.state_machine_arn().to_owned(),
    }
}

impl Moto {
    /// Starts a child named by a fresh correlation id and waits until its token is stored.
    async fn start_child(&self, automation_id: &str) -> (String, String) {
        let cid = unique();
        let input = json!({
            "automation_execution_id": automation_id,
            "run": {"id": "run-1", "workflow": "deploy", "requester": "arn:aws:iam::123456789012:user/alice"},
            "stage": {"id": "prod-owner", "account": "prod", "attempt": "primary"}
        });
        let started = self
            .sfn
            .start_execution()
            .state_machine_arn(&self.machine_arn)
            .name(&cid)
            .input(input.to_string())
            .send()
            .await
            .unwrap();
        for _ in 0..100 {
            let got = self
                .dynamodb
                .get_item()
                .table_name(&self.table)
                .key(
                    "correlation_id",
                    aws_sdk_dynamodb::types::AttributeValue::S(cid.clone()),
                )
                .send()
                .await
                .unwrap();
            if got.item().is_some() {
                return (cid, started.execution_arn().to_owned());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the child never stored its token");
    }

    async fn execution(
        &self,
        arn: &str,
    ) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
        for _ in 0..100 {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .unwrap();
            if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {arn} still running");
    }

    fn store(&self) -> DynamoTokenStore {
        DynamoTokenStore {
            client: self.client.clone(),
            table: self.table.clone(),
        }
    }
}

fn automation_for(
    cid: &str,
    id: &str,
    status: AutomationStatus,
    approval: Option<&str>,
) -> AutomationExecution {
    let mut a = common::automation(
        status,
        approval,
        vec![decision_json(BOB, "Approve", "fine")],
    );
    a.id = id.into();
    a.parameters
        .insert("CorrelationId".into(), vec![cid.into()]);
    a
}

fn ssm_event_for(id: &str, status: &str) -> serde_json::Value {
    let mut e = fixture("ssm-execution-success.json");
    e["detail"]["ExecutionId"] = json!(id);
    e["detail"]["Status"] = json!(status);
    e
}

/// The Lambda's own log layer at the most verbose setting a user could choose.
fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    use tracing_subscriber::prelude::*;
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::registry().with(
        approvalc_runtime::aws::lambda::log_layer(move || writer.clone(), "trace"),
    );
    (logs, tracing::subscriber::set_default(subscriber))
}

fn assert_no_token(logs: &Logs, token: &str) {
    let text = logs.text();
    assert!(!text.is_empty());
    assert!(!text.contains(token), "token leaked into logs:\n{text}");
}

async fn stored_token(m: &Moto, cid: &str) -> String {
    let got = m
        .dynamodb
        .get_item()
        .table_name(&m.table)
        .key(
            "correlation_id",
            aws_sdk_dynamodb::types::AttributeValue::S(cid.into()),
        )
        .send()
        .await
        .unwrap();
    got.item()
        .and_then(|i| i.get("task_token"))
        .and_then(|t| t.as_s().ok())
        .cloned()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_resumes_a_real_waiting_execution_once() {
    let (logs, _guard) = capture();
    let m = moto().await;
    let automation_id = unique();
    let (cid, arn) = m.start_child(&automation_id).await;
    let token = stored_token(&m, &cid).await;

    let config = Config::for_account(ACCOUNT);
    let sfn = AwsSfn(m.client.clone());
    let store = m.store();
    let clock = ManualClock::at(chrono::Utc::now());
    let ctx = Ctx {
        config: &config,
        sfn: &sfn,
        tokens: &store,
        clock: &clock,
    };
    let ssm = MemorySsm::default();
    ssm.insert(automation_for(
        &cid,
        &automation_id,
        AutomationStatus::Success,
        Some("Approved"),
    ));

    let event = ssm_event_for(&automation_id, "Success");
    let report = ssm_callback(ctx, &ssm, &event).await.unwrap();
    assert_eq!(
        report,
        Report::Decided {
            correlation_id: cid.clone(),
            decision: Decision::Approved,
            rule: None
        }
    );

    let done = m.execution(&arn).await;
    assert_eq!(
        done.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    let output: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["decision"], "approved");
    assert_eq!(output["approvers"], json!([BOB]));

    // The duplicate event stops at the DynamoDB claim.
    let again = ssm_callback(ctx, &ssm, &event).await.unwrap();
    assert_eq!(
        again,
        Report::Duplicate {
            correlation_id: cid.clone()
        }
    );

    // A used token is refused by Step Functions and maps to TokenGone.
    let used = approvalc_runtime::secret::TaskToken::new(token.clone()).unwrap();
    let refused = sfn.send_task_success(&used, "{}").await.unwrap_err();
    assert!(matches!(refused, SfnError::TokenGone(_)), "{refused:?}");
    assert_no_token(&logs, &token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timed_out_automation_fails_the_execution_with_the_code() {
    let (logs, _guard) = capture();
    let m = moto().await;
    let automation_id = unique();
    let (cid, arn) = m.start_child(&automation_id).await;
    let token = stored_token(&m, &cid).await;

    let config = Config::for_account(ACCOUNT);
    let sfn = AwsSfn(m.client.clone());
    let store = m.store();
    let clock = ManualClock::at(chrono::Utc::now());
    let ctx = Ctx {
        config: &config,
        sfn: &sfn,
        tokens: &store,
        clock: &clock,
    };
    let ssm = MemorySsm::default();
    ssm.insert(automation_for(
        &cid,
        &automation_id,
        AutomationStatus::TimedOut,
        None,
    ));

    let report = ssm_callback(ctx, &ssm, &ssm_event_for(&automation_id, "TimedOut"))
        .await
        .unwrap();
    assert_eq!(
        report,
        Report::Failed {
            correlation_id: cid,
            code: FailureCode::TimedOut
        }
    );

    let done = m.execution(&arn).await;
    assert_eq!(done.status(), &aws_sdk_sfn::types::ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("Approval.TimedOut"));
    assert_no_token(&logs, &token);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciler_scans_dynamodb_and_resolves_only_ended_runs() {
    let (logs, _guard) = capture();
    let m = moto().await;
    let ended_id = unique();
    let running_id = unique();
    let (ended_cid, ended_arn) = m.start_child(&ended_id).await;
    let (running_cid, running_arn) = m.start_child(&running_id).await;

    let config = Config::for_account(ACCOUNT);
    let sfn = AwsSfn(m.client.clone());
    let store = m.store();
    let clock = ManualClock::at(chrono::Utc::now());
    let ctx = Ctx {
        config: &config,
        sfn: &sfn,
        tokens: &store,
        clock: &clock,
    };
    let ssm = MemorySsm::default();
    ssm.insert(automation_for(
        &ended_cid,
        &ended_id,
        AutomationStatus::Failed,
        Some("Rejected"),
    ));
    let mut waiting = automation_for(
        &running_cid,
        &running_id,
        AutomationStatus::Waiting,
        Some("Waiting"),
    );
    waiting.steps[0].outputs.remove("ApproverDecisions");
    ssm.insert(waiting);

    let run = reconcile(ctx, &ssm, &MemoryCodePipeline::default())
        .await
        .unwrap();
    assert_eq!(run.scanned, 2);
    assert_eq!(run.still_waiting, 1);
    assert_eq!(run.errors, 0);
    assert_eq!(run.resolved.len(), 1);

    let done = m.execution(&ended_arn).await;
    assert_eq!(
        done.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Succeeded
    );
    let output: serde_json::Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["decision"], "rejected");
    let running = m
        .sfn
        .describe_execution()
        .execution_arn(&running_arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        running.status(),
        &aws_sdk_sfn::types::ExecutionStatus::Running
    );

    // Cleanup after the still-running child is aborted: automation stopped, item claimed.
    m.sfn
        .stop_execution()
        .execution_arn(&running_arn)
        .send()
        .await
        .unwrap();
    let mut event = fixture("states-ssm-child-aborted.json");
    event["detail"]["executionArn"] = json!(running_arn);
    event["detail"]["name"] = json!(running_cid);
    event["detail"]["stateMachineArn"] = json!(format!(
        "arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:approvalc-ssm-approval"
    ));
    let cleaned = cleanup(ctx, &ssm, &MemoryCodePipeline::default(), &event)
        .await
        .unwrap();
    assert_eq!(
        cleaned,
        Report::CleanedUp {
            correlation_id: running_cid.clone(),
            action: "stopped_automation"
        }
    );
    let after = reconcile(ctx, &ssm, &MemoryCodePipeline::default())
        .await
        .unwrap();
    assert_eq!(after.scanned, 0, "both items are decided now");
    assert_no_token(&logs, &stored_token(&m, &ended_cid).await);
}
