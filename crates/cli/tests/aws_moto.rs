//! `approvalc bootstrap / plan / deploy / start / status / runs / destroy` end to end against
//! moto, as a new user would run them from the README: three emulated accounts bootstrapped,
//! the multi-level cross-account example deployed, a run started and seen waiting, then
//! destroyed. moto runs with Step Functions execution off: it cannot run the parent's
//! `startExecution.sync:2` stages (they fail at once), so a run there stays RUNNING with no
//! stage started, and `status` says exactly that. Deciding stages is covered by
//! the engine's simulation (crates/local), since moto implements neither
//! SendAutomationSignal nor PutApprovalResult.

use std::path::{Path, PathBuf};

use approvalc_moto_server::{MotoServer, Request};
use assert_cmd::Command;

const REGION: &str = "ap-northeast-1";
const OPERATOR: &str = "111111111111";
const STAGING: &str = "222222222222";
const PROD: &str = "333333333333";

fn workflow() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows/multi-level-cross-account.yaml")
}

/// A query-protocol call to moto (STS, IAM), signed well enough for moto to route it.
fn query(moto: &MotoServer, service: &str, access_key: &str, body: &str) -> String {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={access_key}/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    );
    let r = moto
        .send(&Request {
            method: "POST",
            path: "/",
            headers: &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Authorization", &auth),
            ],
            body: Some(body),
        })
        .unwrap();
    assert_eq!(r.status, 200, "{service} {body}: {}", r.body);
    r.body
}

fn xml<'a>(text: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = text.find(&open).unwrap() + open.len();
    let end = start + text[start..].find(&format!("</{tag}>")).unwrap();
    &text[start..end]
}

/// Credentials of `account` (an assumed role; moto takes the account from them).
struct Creds {
    key: String,
    secret: String,
    token: String,
}

fn creds(moto: &MotoServer, account: &str) -> Creds {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleSessionName=cli-test&RoleArn=arn%3Aaws%3Aiam%3A%3A{account}%3Arole%2Fadmin"
    );
    let out = query(moto, "sts", "AKIACLITEST", &body);
    Creds {
        key: xml(&out, "AccessKeyId").to_owned(),
        secret: xml(&out, "SecretAccessKey").to_owned(),
        token: xml(&out, "SessionToken").to_owned(),
    }
}

/// The approvers the workflow attaches policies to exist before approvalc does.
fn create_principals(moto: &MotoServer, c: &Creds, roles: &[&str], users: &[&str]) {
    let trust = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
    for role in roles {
        query(
            moto,
            "iam",
            &c.key,
            &format!(
                "Action=CreateRole&Version=2010-05-08&RoleName={role}&AssumeRolePolicyDocument={trust}"
            ),
        );
    }
    for user in users {
        query(
            moto,
            "iam",
            &c.key,
            &format!("Action=CreateUser&Version=2010-05-08&UserName={user}"),
        );
    }
}

fn approvalc(moto: &MotoServer, c: &Creds) -> Command {
    let mut cmd = Command::cargo_bin("approvalc").unwrap();
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_ACCESS_KEY_ID", &c.key)
        .env("AWS_SECRET_ACCESS_KEY", &c.secret)
        .env("AWS_SESSION_TOKEN", &c.token)
        .env("AWS_CONFIG_FILE", "/nonexistent/approvalc-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/approvalc-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", moto.endpoint_url())
        .env("NO_COLOR", "1");
    cmd
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stub Lambda zips, as docs/deploy.md makes them for moto (which never runs them): the
/// zip magic bytes and a name.
fn stub_zips(dir: &Path) {
    for f in [
        "ssm-callback",
        "codepipeline-callback",
        "cleanup",
        "reconciler",
    ] {
        std::fs::write(
            dir.join(format!("approvalc-{f}.zip")),
            format!("PK\x03\x04stub {f}"),
        )
        .unwrap();
    }
}

#[test]
fn bootstrap_deploy_start_status_destroy_the_cross_account_example_on_moto() {
    let moto = MotoServer::start().unwrap();
    // Execution off: CloudFormation's state machines live where the API sees them, and a
    // started run stays RUNNING (moto cannot run `.sync:2` stages).
    moto.post(
        "/moto-api/config",
        r#"{"stepfunctions": {"execute_state_machine": false}}"#,
    )
    .unwrap();
    let zips = tempfile::tempdir().unwrap();
    stub_zips(zips.path());
    let lambda_dir = zips.path().to_str().unwrap();
    let file = workflow();
    let file = file.to_str().unwrap();
    let operator = creds(&moto, OPERATOR);
    let staging = creds(&moto, STAGING);
    let prod = creds(&moto, PROD);
    create_principals(&moto, &operator, &["TeamLead", "ReleaseManager"], &[]);
    create_principals(&moto, &staging, &["QaLead"], &["qa-oncall"]);
    create_principals(&moto, &prod, &["ProdOwner", "ProdDeputy"], &[]);

    // The template alone needs no AWS at all.
    let out = approvalc(&moto, &operator)
        .args(["bootstrap", "prod", file, "--template-only"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("\"approvalc-deploy\""));

    // Deploying before bootstrap says which command fixes it.
    let out = approvalc(&moto, &operator)
        .args(["deploy", file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("approvalc bootstrap"),
        "{}",
        stderr(&out)
    );

    // Without zips, bootstrap names the script that builds them, before any AWS call.
    let out = approvalc(&moto, &operator)
        .current_dir(zips.path())
        .args(["bootstrap", "operator", file])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("dist/lambda/x86_64 does not exist")
            && stderr(&out).contains("scripts/package-lambdas.sh --arch x86_64"),
        "{}",
        stderr(&out)
    );

    // Bootstrap each account with its own credentials (--endpoint-url this time): the
    // zips go to the account's own code bucket, created on the way.
    for (name, c, id) in [
        ("operator", &operator, OPERATOR),
        ("staging", &staging, STAGING),
        ("prod", &prod, PROD),
    ] {
        let out = approvalc(&moto, c)
            .env_remove("AWS_ENDPOINT_URL")
            .args(["bootstrap", name, file, "--lambda-dir", lambda_dir])
            .args(["--endpoint-url", &moto.endpoint_url()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let log = stderr(&out);
        assert!(
            log.contains(&format!(
                "code bucket approvalc-code-{id}-{REGION} (created): 4 of 4 zips uploaded"
            )),
            "{log}"
        );
        assert!(log.contains("stack approvalc-bootstrap created"), "{log}");
    }
    // Again: nothing uploaded, the stack unchanged.
    let out = approvalc(&moto, &prod)
        .args([
            "bootstrap",
            "prod",
            file,
            "--lambda-dir",
            lambda_dir,
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["outcome"], "unchanged", "{again}");
    assert_eq!(again["uploaded"], serde_json::json!([]), "{again}");
    assert!(
        again["code_keys"]["CleanupCodeKey"]
            .as_str()
            .is_some_and(|k| k.starts_with("approvalc/lambda/approvalc-cleanup-")),
        "{again}"
    );
    // Bootstrapping an account with another account's credentials is refused with the fix.
    let out = approvalc(&moto, &operator)
        .args(["bootstrap", "prod", file, "--lambda-dir", lambda_dir])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--profile"), "{}", stderr(&out));

    let out = approvalc(&moto, &operator)
        .args(["plan", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let plan = stdout(&out);
    assert!(plan.contains("+ create"), "{plan}");
    assert!(
        plan.contains("9 to create, 0 to update, 0 unchanged"),
        "{plan}"
    );

    let out = approvalc(&moto, &operator)
        .args(["deploy", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(
        log.contains("creating  state machine approvalc-release-prod"),
        "{log}"
    );
    assert!(log.contains("trust verified for 2"), "{log}");

    let out = approvalc(&moto, &operator)
        .args(["deploy", file, "--stats"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("up to date (9 resources unchanged)"),
        "{}",
        stderr(&out)
    );

    // An input that breaks the contract never reaches Step Functions.
    let out = approvalc(&moto, &operator)
        .args([
            "start",
            file,
            "--input",
            r#"{"version": "1.2", "ticket": "REL-1"}"#,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("input.version must match"),
        "{}",
        stderr(&out)
    );

    let out = approvalc(&moto, &operator)
        .args([
            "start",
            file,
            "--input",
            r#"{"version": "v1.2.3", "ticket": "REL-42"}"#,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let arn = stdout(&out).trim().to_owned();
    assert!(
        arn.starts_with(&format!(
            "arn:aws:states:{REGION}:{OPERATOR}:execution:approvalc-release-prod:"
        )),
        "{arn}"
    );
    assert!(
        stderr(&out).contains(&format!("arn:aws:sts::{OPERATOR}:assumed-role/admin")),
        "{}",
        stderr(&out)
    );

    let out = approvalc(&moto, &operator)
        .args(["status", &arn, "--file", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let status = stdout(&out);
    // moto cannot run the `.sync:2` stages: the run is RUNNING with nothing started, and
    // status says so instead of claiming it waits for approvals.
    assert!(status.contains("running, no stage started yet"), "{status}");
    assert!(
        status.contains("note: no stage has started yet") && status.contains("moto"),
        "{status}"
    );
    assert!(!status.contains("waiting for approvals"), "{status}");
    assert!(
        status.contains("requested by arn:aws:sts::111111111111:assumed-role/admin"),
        "{status}"
    );
    for stage in ["team-lead", "qa", "prod-owner", "release-manager"] {
        assert!(status.contains(stage), "{stage}: {status}");
    }
    let out = approvalc(&moto, &operator)
        .args(["status", &arn, "--file", file, "--json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "RUNNING");
    assert_eq!(json["stages"].as_array().unwrap().len(), 4);
    assert!(json["note"].is_string(), "{json}");
    assert!(
        json["stages"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["state"] == "not started"),
        "{json}"
    );

    let out = approvalc(&moto, &operator)
        .args(["runs", "--aws", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&arn), "{}", stdout(&out));

    // A status of an AWS run needs its workflow; the error says how.
    let out = approvalc(&moto, &operator)
        .args(["status", &arn])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--file"), "{}", stderr(&out));

    let out = approvalc(&moto, &operator)
        .args(["destroy", file])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("destroyed 9 resource(s)"),
        "{}",
        stderr(&out)
    );
    let out = approvalc(&moto, &operator)
        .args(["plan", file, "--format", "json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "create"),
        "{plan}"
    );
}

#[test]
fn no_credentials_is_a_diagnostic_with_the_fix() {
    let mut cmd = Command::cargo_bin("approvalc").unwrap();
    let out = cmd
        .env_clear()
        .env("HOME", std::env::temp_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent/approvalc-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/approvalc-test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args(["plan", workflow().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("no AWS credentials"), "{err}");
    assert!(
        err.contains("aws configure") && err.contains("--profile"),
        "{err}"
    );
}

#[test]
fn local_run_ids_still_go_to_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("approvalc")
        .unwrap()
        .args(["status", "no-such-run", "--state-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    // The local store answers (no AWS call, no --file needed).
    assert_ne!(out.status.code(), Some(0));
    assert!(!stderr(&out).contains("--file"), "{}", stderr(&out));
}

#[test]
fn a_region_other_than_the_workflows_and_a_broken_workflow_stop_before_any_aws_call() {
    let run = |args: &[&str]| {
        Command::cargo_bin("approvalc")
            .unwrap()
            .env("AWS_ACCESS_KEY_ID", "AKIAUNUSED")
            .env("AWS_SECRET_ACCESS_KEY", "unused")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            // Nothing listens here: reaching it would be a connection error, not these.
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .args(args)
            .output()
            .unwrap()
    };
    let file = workflow();
    let out = run(&["deploy", file.to_str().unwrap(), "--region", "us-east-1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("deploys to ap-northeast-1, but --region says us-east-1"),
        "{err}"
    );
    assert!(err.contains("help:"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.yaml");
    std::fs::write(&broken, "apiVersion: approvalc/v1\nname: x\nstages: {}\n").unwrap();
    let out = run(&["plan", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was sent to AWS"),
        "{}",
        stderr(&out)
    );
}
