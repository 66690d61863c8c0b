//! The harness against a real `moto_server` (installed by `scripts/install-tools.sh`).
//! Without moto these tests fail with the install hint; they never skip.
//! Linux only: process liveness is read from `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use approvalc_moto_server::{Error, LambdaInvoke, MotoServer, Options, Request};

/// Set in the environment of the child process that `moto_stops_when_test_process_is_killed`
/// spawns from this same test binary.
const CHILD_ENV: &str = "APPROVALC_MOTO_TEST_CHILD";

fn start() -> MotoServer {
    MotoServer::start().unwrap_or_else(|err| panic!("{err}"))
}

/// A zombie counts as dead: it no longer serves anything, and PID 1 in a container may
/// never reap it.
fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            !matches!(state, Some(Some('Z' | 'X')))
        }
        Err(_) => false,
    }
}

fn wait_dead(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !is_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    !is_alive(pid)
}

#[test]
fn starts_and_answers_on_loopback() {
    let moto = start();
    assert!(
        moto.endpoint_url()
            .starts_with(&format!("http://127.0.0.1:{}", moto.port()))
    );
    assert!(is_alive(moto.pid()));
    let response = moto.get("/moto-api/").unwrap();
    assert_eq!(response.status, 200);
}

#[test]
fn echo_lambda_option_is_applied() {
    let options = Options {
        lambda: LambdaInvoke::Echo,
        ..Options::default()
    };
    let moto = MotoServer::start_with(&options).unwrap_or_else(|err| panic!("{err}"));
    let config: serde_json::Value =
        serde_json::from_str(&moto.get("/moto-api/config").unwrap().body).unwrap();
    assert_eq!(config["lambda"]["use_docker"], serde_json::json!(false));
}

#[test]
fn reset_deletes_resources_and_keeps_config() {
    let options = Options {
        lambda: LambdaInvoke::Echo,
        ..Options::default()
    };
    let moto = MotoServer::start_with(&options).unwrap_or_else(|err| panic!("{err}"));
    // S3 is moto's fallback service for unsigned path-style requests: the cheapest way to
    // create a resource without an AWS SDK.
    let created = moto.request("PUT", "/harness-probe", None).unwrap();
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(moto.get("/").unwrap().body.contains("harness-probe"));

    moto.reset().unwrap();

    assert!(!moto.get("/").unwrap().body.contains("harness-probe"));
    let config: serde_json::Value =
        serde_json::from_str(&moto.get("/moto-api/config").unwrap().body).unwrap();
    assert_eq!(config["lambda"]["use_docker"], serde_json::json!(false));
}

/// A Step Functions JSON-protocol call without an SDK: moto routes on the credential scope
/// of the `Authorization` header and does not check the signature.
fn sfn(moto: &MotoServer, action: &str, body: &serde_json::Value) -> serde_json::Value {
    let target = format!("AWSStepFunctions.{action}");
    let body = body.to_string();
    let response = moto
        .send(&Request {
            method: "POST",
            path: "/",
            headers: &[
                ("Content-Type", "application/x-amz-json-1.0"),
                ("X-Amz-Target", &target),
                (
                    "Authorization",
                    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/states/aws4_request, \
                     SignedHeaders=host, Signature=00",
                ),
            ],
            body: Some(&body),
        })
        .unwrap();
    assert_eq!(response.status, 200, "{action}: {}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

/// The point of the config call at start: moto really runs the ASL (a Pass state's result
/// becomes the output) instead of reporting success without running anything.
#[test]
fn step_functions_executions_really_run() {
    let moto = start();
    let definition = serde_json::json!({
        "StartAt": "P",
        "States": {"P": {"Type": "Pass", "Result": {"ran": true}, "End": true}}
    });
    let machine = sfn(
        &moto,
        "CreateStateMachine",
        &serde_json::json!({
            "name": "harness-smoke",
            "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/harness",
        }),
    );
    let execution = sfn(
        &moto,
        "StartExecution",
        &serde_json::json!({"stateMachineArn": machine["stateMachineArn"], "input": "{}"}),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let described = loop {
        let described = sfn(
            &moto,
            "DescribeExecution",
            &serde_json::json!({"executionArn": execution["executionArn"]}),
        );
        if described["status"] != "RUNNING" || Instant::now() > deadline {
            break described;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(described["status"], "SUCCEEDED", "{described}");
    let output: serde_json::Value =
        serde_json::from_str(described["output"].as_str().unwrap_or("null")).unwrap();
    assert_eq!(output, serde_json::json!({"ran": true}));
}

#[test]
fn rejected_control_request_is_an_error() {
    let moto = start();
    let err = moto.post("/moto-api/config", "{not json").unwrap_err();
    assert!(matches!(err, Error::Status { status: 500, .. }), "{err}");
}

#[test]
fn drop_stops_the_process_and_frees_the_port() {
    let moto = start();
    let (pid, port) = (moto.pid(), moto.port());
    drop(moto);
    assert!(
        wait_dead(pid, Duration::from_secs(1)),
        "moto {pid} still alive"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn servers_are_independent() {
    let (a, b) = (start(), start());
    assert_ne!(a.port(), b.port());
    assert_eq!(a.request("PUT", "/only-in-a", None).unwrap().status, 200);
    assert!(!b.get("/").unwrap().body.contains("only-in-a"));
}

#[test]
fn shared_server_is_started_once() {
    let first = MotoServer::shared().unwrap_or_else(|err| panic!("{err}"));
    let second = MotoServer::shared().unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(first.pid(), second.pid());
    assert_eq!(first.get("/moto-api/").unwrap().status, 200);
}

#[test]
fn missing_moto_is_an_error_naming_the_install_script() {
    let options = Options {
        moto_server: Some("/nonexistent/moto_server".into()),
        ..Options::default()
    };
    let err = MotoServer::start_with(&options).unwrap_err();
    assert!(matches!(err, Error::NotInstalled { .. }));
    assert!(
        err.to_string().contains("scripts/install-tools.sh"),
        "{err}"
    );
}

#[test]
fn moto_that_exits_at_once_is_reported_with_its_log() {
    // A closed file in a temp dir: executing a file still open for writing fails (ETXTBSY).
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("moto_server");
    std::fs::write(
        &script,
        "#!/bin/sh\necho 'cannot start: boom' >&2\nexit 3\n",
    )
    .unwrap();
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
    let options = Options {
        moto_server: Some(script),
        ..Options::default()
    };
    let err = MotoServer::start_with(&options).unwrap_err();
    assert!(matches!(err, Error::Exited { .. }), "{err}");
    assert!(err.to_string().contains("cannot start: boom"), "{err}");
    assert!(err.to_string().contains("exit status: 3"), "{err}");
}

/// A test run that is killed outright (no destructors run) must not leave moto behind.
/// The test re-runs this binary as a child that starts moto, prints its pid and sleeps;
/// then kills the child with SIGKILL.
#[test]
fn moto_stops_when_test_process_is_killed() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let moto = start();
        println!("moto-pid {}", moto.pid());
        std::thread::sleep(Duration::from_secs(120));
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "moto_stops_when_test_process_is_killed",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints `test NAME ... ` before the test runs, on the same line.
        .find_map(|line| line.split("moto-pid ").nth(1)?.trim().parse::<u32>().ok());
    child.kill().unwrap();
    child.wait().unwrap();
    let pid = pid.expect("child test process did not report moto's pid");
    assert!(
        wait_dead(pid, Duration::from_secs(10)),
        "moto {pid} outlived the killed test process"
    );
}
