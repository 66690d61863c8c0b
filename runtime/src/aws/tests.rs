//! The ports on the JSON client against a scripted local endpoint: the request each call
//! sends (target, content type, signature header shape, body fields), how recorded AWS
//! answers and errors map onto the ports, and retries. moto (`tests/moto.rs`) checks the
//! protocol end to end; this covers what moto lacks (SSM Automation, CodePipeline, throttling).

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// One request as the endpoint saw it.
#[derive(Debug)]
struct Seen {
    headers: Vec<(String, String)>,
    body: Value,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Answers each request with the next `(status, body)`; records what it got.
struct Endpoint {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn endpoint(answers: Vec<(u16, &'static str)>) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, log.clone(), answers.clone()));
        }
    });
    Endpoint { url, seen }
}

type Answers = Arc<Mutex<std::vec::IntoIter<(u16, &'static str)>>>;

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Seen>>>, answers: Answers) {
    let mut buf = Vec::new();
    loop {
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let headers: Vec<(String, String)> = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        while buf.len() < end + 4 + len {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or(Value::Null);
        buf.drain(..end + 4 + len);
        seen.lock().unwrap().push(Seen { headers, body });
        let (status, answer) = answers.lock().unwrap().next().unwrap_or((500, "{}"));
        let reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

fn client(url: &str) -> JsonClient {
    let mut settings = Settings::fixed("us-east-1", "AKIDEXAMPLE", "not-a-real-secret", Some(url));
    settings.credentials = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "not-a-real-secret",
        Some("session-token-value".into()),
        None,
        "test",
    );
    JsonClient::new(settings).unwrap()
}

const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAfake-task-token-for-tests";

fn token() -> TaskToken {
    TaskToken::new(TOKEN.into()).unwrap()
}

#[tokio::test]
async fn send_task_success_request_shape() {
    let ep = endpoint(vec![(200, "{}")]).await;
    let sfn = AwsSfn(client(&ep.url));
    sfn.send_task_success(&token(), r#"{"decision":"approved"}"#)
        .await
        .unwrap();
    let seen = ep.seen.lock().unwrap();
    let [req] = seen.as_slice() else {
        panic!("{seen:?}")
    };
    assert_eq!(
        req.header("x-amz-target"),
        Some("AWSStepFunctions.SendTaskSuccess")
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(
        req.header("x-amz-security-token"),
        Some("session-token-value")
    );
    let auth = req.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
        "{auth}"
    );
    assert!(auth.contains("/us-east-1/states/aws4_request"), "{auth}");
    for signed in ["content-type", "host", "x-amz-date", "x-amz-target"] {
        assert!(auth.contains(signed), "{signed} not signed: {auth}");
    }
    assert!(!auth.contains("not-a-real-secret"));
    assert_eq!(
        req.body,
        json!({"taskToken": TOKEN, "output": "{\"decision\":\"approved\"}"})
    );
}

#[tokio::test]
async fn token_errors_end_cleanly_and_others_are_scrubbed() {
    let ep = endpoint(vec![
        (
            400,
            r#"{"__type":"com.amazonaws.swf.service.v2.model#TaskTimedOut","message":"Task Timed Out"}"#,
        ),
        (400, r#"{"__type":"InvalidToken","message":"Invalid Token"}"#),
        (
            400,
            r#"{"__type":"TaskDoesNotExist","message":"Task does not exist"}"#,
        ),
        (
            400,
            r#"{"__type":"ValidationException","message":"Value 'AAAAKgAAAAIAAAAAAAAAAfake-task-token-for-tests' at 'taskToken' failed to satisfy constraint"}"#,
        ),
    ])
    .await;
    let sfn = AwsSfn(client(&ep.url));
    let t = token();
    assert_eq!(
        sfn.send_task_success(&t, "{}").await,
        Err(SfnError::TokenGone(TokenGone::TaskTimedOut))
    );
    assert_eq!(
        sfn.send_task_failure(&t, "E", "c").await,
        Err(SfnError::TokenGone(TokenGone::InvalidToken))
    );
    assert_eq!(
        sfn.send_task_success(&t, "{}").await,
        Err(SfnError::TokenGone(TokenGone::TaskDoesNotExist))
    );
    let Err(SfnError::Other(message)) = sfn.send_task_failure(&t, "E", "c").await else {
        panic!("validation error is not a token error")
    };
    assert!(!message.contains(TOKEN), "{message}");
    assert!(
        message.starts_with("SendTaskFailure: ValidationException: Value '<redacted>'"),
        "{message}"
    );
    assert_eq!(
        ep.seen.lock().unwrap()[1].body,
        json!({"taskToken": TOKEN, "error": "E", "cause": "c"})
    );
}

#[tokio::test]
async fn throttling_is_retried_then_answered() {
    let ep = endpoint(vec![
        (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        (503, ""),
        (200, "{}"),
    ])
    .await;
    AwsSfn(client(&ep.url))
        .send_task_success(&token(), "{}")
        .await
        .unwrap();
    assert_eq!(ep.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn retries_stop_after_three_attempts_and_answers_are_not_retried() {
    let throttled = (
        400,
        r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
    );
    let ep = endpoint(vec![throttled; 5]).await;
    let err = AwsSsm(client(&ep.url))
        .stop_automation_execution("abc")
        .await
        .unwrap_err();
    assert_eq!(
        err.0,
        "StopAutomationExecution: ThrottlingException: Rate exceeded (HTTP 400)"
    );
    assert_eq!(ep.seen.lock().unwrap().len(), 3);

    let ep = endpoint(vec![
        (
            400,
            r#"{"__type":"AccessDeniedException","Message":"not allowed"}"#,
        ),
        (200, "{}"),
    ])
    .await;
    assert!(
        AwsSsm(client(&ep.url))
            .stop_automation_execution("abc")
            .await
            .is_err()
    );
    let seen = ep.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body,
        json!({"AutomationExecutionId": "abc", "Type": "Cancel"})
    );
    assert_eq!(
        seen[0].header("content-type"),
        Some("application/x-amz-json-1.1")
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_a_service_error() {
    // A port nothing listens on (bound, then dropped).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = AwsSsm(client(&url))
        .get_automation_execution("abc")
        .await
        .unwrap_err();
    assert!(
        err.0.starts_with("GetAutomationExecution: no answer"),
        "{}",
        err.0
    );
}

/// Shape of a `GetAutomationExecution` answer (AWS API reference), trimmed to what is read.
const AUTOMATION: &str = r#"{"AutomationExecution":{
  "AutomationExecutionId":"4105a4fc-f944-11e6-9d32-0123456789ab",
  "DocumentName":"approvalc-Approve","AutomationExecutionStatus":"Success",
  "ExecutionStartTime":1.48795566E9,
  "Parameters":{"CorrelationId":["cid-1"]},
  "StepExecutions":[{"StepName":"Approve","Action":"aws:approve","StepStatus":"Success",
    "Outputs":{"ApprovalStatus":["Approved"]},"ExecutionEndTime":1.48795567E9}],
  "StepExecutionsTruncated":false}}"#;

#[tokio::test]
async fn automation_answers_map_onto_the_port() {
    let ep = endpoint(vec![
        (200, AUTOMATION),
        (
            400,
            r#"{"__type":"AutomationExecutionNotFoundException","Message":"not found"}"#,
        ),
    ])
    .await;
    let ssm = AwsSsm(client(&ep.url));
    let a = ssm
        .get_automation_execution("4105a4fc-f944-11e6-9d32-0123456789ab")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.document_name, "approvalc-Approve");
    assert_eq!(a.status, AutomationStatus::Success);
    assert_eq!(a.parameters["CorrelationId"], vec!["cid-1".to_owned()]);
    assert_eq!(a.steps[0].action, "aws:approve");
    assert_eq!(
        a.steps[0].outputs["ApprovalStatus"],
        vec!["Approved".to_owned()]
    );
    assert_eq!(ssm.get_automation_execution("gone").await, Ok(None));
    assert_eq!(
        ep.seen.lock().unwrap()[0].header("x-amz-target"),
        Some("AmazonSSM.GetAutomationExecution")
    );
}

#[tokio::test]
async fn truncated_steps_are_paged() {
    let ep = endpoint(vec![
        (
            200,
            r#"{"AutomationExecution":{"AutomationExecutionId":"a1","AutomationExecutionStatus":"Failed","StepExecutionsTruncated":true,"StepExecutions":[]}}"#,
        ),
        (
            200,
            r#"{"StepExecutions":[{"StepName":"One"}],"NextToken":"n1"}"#,
        ),
        (200, r#"{"StepExecutions":[{"StepName":"Two"}]}"#),
    ])
    .await;
    let a = AwsSsm(client(&ep.url))
        .get_automation_execution("a1")
        .await
        .unwrap()
        .unwrap();
    let names: Vec<_> = a.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["One", "Two"]);
    assert_eq!(
        ep.seen.lock().unwrap()[2].body,
        json!({"AutomationExecutionId": "a1", "NextToken": "n1"})
    );
}

#[tokio::test]
async fn pipeline_answers_map_onto_the_port() {
    let ep = endpoint(vec![
        (
            200,
            r#"{"pipelineExecution":{"pipelineName":"approvalc-p","pipelineExecutionId":"e1","status":"InProgress","variables":[{"name":"correlation_id","resolvedValue":"cid-1"}]}}"#,
        ),
        (
            200,
            r#"{"actionExecutionDetails":[{"pipelineExecutionId":"e1","stageName":"Approval","actionName":"Approve","status":"Succeeded","updatedBy":"arn:aws:iam::123456789012:user/bob","lastUpdateTime":1.7000000005E9,"output":{"executionResult":{"externalExecutionSummary":"ok"}}}]}"#,
        ),
        (
            200,
            r#"{"pipelineName":"approvalc-p","stageStates":[{"stageName":"Approval","latestExecution":{"pipelineExecutionId":"e1","status":"InProgress"},"actionStates":[{"actionName":"Approve","latestExecution":{"status":"InProgress","token":"approval-token-1"}}]}]}"#,
        ),
        (
            400,
            r#"{"__type":"PipelineExecutionNotFoundException","message":"no"}"#,
        ),
    ])
    .await;
    let cp = AwsCodePipeline(client(&ep.url));
    let p = cp
        .get_pipeline_execution("approvalc-p", "e1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.variables["correlation_id"], "cid-1");
    let actions = cp
        .list_action_executions("approvalc-p", "e1")
        .await
        .unwrap();
    assert_eq!(actions[0].status, ActionStatus::Succeeded);
    assert_eq!(actions[0].summary.as_deref(), Some("ok"));
    assert_eq!(
        actions[0].last_update_time.map(|t| t.timestamp_millis()),
        Some(1_700_000_000_500)
    );
    let at = ApprovalAction {
        pipeline: "approvalc-p",
        stage: "Approval",
        action: "Approve",
        execution_id: "e1",
    };
    assert_eq!(
        cp.pending_approval_token(&at).await.unwrap().as_deref(),
        Some("approval-token-1")
    );
    assert_eq!(
        cp.get_pipeline_execution("approvalc-p", "e2").await,
        Ok(None)
    );
    let seen = ep.seen.lock().unwrap();
    assert_eq!(
        seen[1].body,
        json!({"pipelineName": "approvalc-p", "filter": {"pipelineExecutionId": "e1"}})
    );
    assert_eq!(
        seen[2].header("x-amz-target"),
        Some("CodePipeline_20150709.GetPipelineState")
    );
}

#[tokio::test]
async fn conditional_claim_failure_reads_the_item_again() {
    let conditional = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#;
    let ep = endpoint(vec![
        (200, "{}"),
        (400, conditional),
        (
            200,
            r#"{"Item":{"correlation_id":{"S":"cid-1"},"decided_at":{"S":"t"},"blob":{"B":"AAEC"}}}"#,
        ),
        (400, conditional),
        (200, "{}"),
    ])
    .await;
    let store = DynamoTokenStore {
        client: client(&ep.url),
        table: "approvalc-tokens".into(),
    };
    let id = CorrelationId::parse("cid-1").unwrap();
    assert_eq!(
        store.claim(&id, "t", &["bob".into()]).await,
        Ok(Claim::Claimed)
    );
    assert_eq!(
        store.claim(&id, "t", &["bob".into()]).await,
        Ok(Claim::AlreadyDecided)
    );
    assert_eq!(
        store.claim(&id, "t", &["bob".into()]).await,
        Ok(Claim::Missing)
    );
    let seen = ep.seen.lock().unwrap();
    assert_eq!(
        seen[0].body["ExpressionAttributeValues"],
        json!({":d": {"S": "t"}, ":a": {"L": [{"S": "bob"}]}})
    );
    assert_eq!(seen[2].body["ConsistentRead"], json!(true));
}

#[tokio::test]
async fn scan_follows_last_evaluated_key() {
    let ep = endpoint(vec![
        (
            200,
            r#"{"Items":[{"correlation_id":{"S":"a"}}],"LastEvaluatedKey":{"correlation_id":{"S":"a"}}}"#,
        ),
        (200, r#"{"Items":[{"correlation_id":{"S":"b"}}],"Count":1}"#),
    ])
    .await;
    let store = DynamoTokenStore {
        client: client(&ep.url),
        table: "t".into(),
    };
    let items = store.list_undecided().await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(
        ep.seen.lock().unwrap()[1].body["ExclusiveStartKey"],
        json!({"correlation_id": {"S": "a"}})
    );
}

#[tokio::test]
async fn unreadable_answers_do_not_quote_content() {
    let ep = endpoint(vec![(200, r#"{"Item": "secret-looking-value"}"#)]).await;
    let store = DynamoTokenStore {
        client: client(&ep.url),
        table: "t".into(),
    };
    let err = store
        .get(&CorrelationId::parse("a").unwrap())
        .await
        .unwrap_err();
    assert!(err.0.starts_with("GetItem: unreadable answer"), "{}", err.0);
    assert!(!err.0.contains("secret-looking"), "{}", err.0);
}
