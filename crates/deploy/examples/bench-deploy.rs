//! Benchmark: time and SDK calls of `plan` and of a no-op `deploy` for a generated
//! 50-stage workflow over 3 accounts, against moto (docs/bench-deploy.md).
//!
//! `cargo run --release -p approvalc-deploy --example bench-deploy [-- STAGES ROUNDS]`
//!
//! Needs moto (`scripts/install-tools.sh`). Prints a Markdown table.

use std::time::{Duration, Instant};

use approvalc_deploy::model::Kind;
use approvalc_deploy::{Calls, Deployer, Session, SessionOptions, bootstrap};
use approvalc_moto_server::MotoServer;
use aws_config::BehaviorVersion;
use aws_sdk_sts::config::{Credentials, Region};

const ACCOUNTS: [(&str, &str); 3] = [
    ("operator", "111111111111"),
    ("staging", "222222222222"),
    ("prod", "333333333333"),
];

/// Layers of five parallel stages, each layer after the previous one; stage `i` runs in
/// account `i % 3`, every tenth stage is a CodePipeline approval in the home account.
fn workflow(stages: usize) -> String {
    let mut y = String::from(
        "apiVersion: approvalc/v1\nname: bench\nregion: ap-northeast-1\nhome: operator\naccounts:\n",
    );
    for (name, id) in ACCOUNTS {
        y.push_str(&format!("  {name}: {{ id: \"{id}\" }}\n"));
    }
    y.push_str("input:\n  change: { type: string, required: true }\ndefaults:\n  timeout: 1d\n  on_timeout: reject\nstages:\n");
    for i in 0..stages {
        y.push_str(&format!("  s{i:02}:\n"));
        let layer = i / 5;
        if layer > 0 {
            let needs: Vec<String> = (0..5)
                .map(|k| (layer - 1) * 5 + k)
                .filter(|&k| k < stages)
                .map(|k| format!("s{k:02}"))
                .collect();
            y.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
        }
        if i % 10 == 9 {
            y.push_str(&format!(
                "    codepipeline:\n      approvers: [arn:aws:iam::111111111111:role/Approver]\n      custom_data: \"stage {i} of {{{{ input.change }}}}\"\n"
            ));
            continue;
        }
        let (name, id) = ACCOUNTS[i % 3];
        if name != "operator" {
            y.push_str(&format!("    account: {name}\n"));
        }
        y.push_str(&format!(
            "    ssm:\n      approvers: [arn:aws:iam::{id}:role/Approver]\n      message: \"stage {i}: {{{{ input.change }}}}\"\n"
        ));
    }
    y
}

async fn credentials(endpoint: &str, account: &str) -> Credentials {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIABENCH", "secret", None, None, "bench"))
        .load()
        .await;
    let out = aws_sdk_sts::Client::new(&config)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/admin"))
        .role_session_name("bench")
        .send()
        .await
        .expect("assume role");
    let c = out.credentials().expect("credentials");
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "moto",
    )
}

async fn session(endpoint: &str, account: &str, calls: &Calls) -> Session {
    let options = SessionOptions {
        endpoint_url: Some(endpoint.to_owned()),
        credentials: Some(credentials(endpoint, account).await),
        calls: calls.clone(),
        ..SessionOptions::default()
    };
    Session::connect(options, "ap-northeast-1")
        .await
        .expect("connect")
}

/// Stub Lambda zips (moto never runs them).
fn stub_zips() -> Vec<approvalc_deploy::code::LambdaZip> {
    let dir = std::env::temp_dir().join(format!("approvalc-bench-zips-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for lambda in approvalc_compiler::lower::names::Lambda::ALL {
        let name = lambda.function_name();
        std::fs::write(
            dir.join(format!("{name}.zip")),
            format!("PK\x03\x04stub {name}"),
        )
        .expect("stub zip");
    }
    let zips = approvalc_deploy::code::read_zips(&dir, Default::default()).expect("zips");
    let _ = std::fs::remove_dir_all(&dir);
    zips
}

struct Sample {
    took: Duration,
    calls: u64,
}

fn median(mut v: Vec<Sample>) -> (Duration, u64, Duration, Duration) {
    v.sort_by_key(|s| s.took);
    let mid = &v[v.len() / 2];
    (mid.took, mid.calls, v[0].took, v[v.len() - 1].took)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stages: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let rounds: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let moto = MotoServer::start().expect("moto (run scripts/install-tools.sh)");
    // Execution off: with it on, moto keeps state machines where CloudFormation (the
    // bootstrap) does not write (docs/deploy.md).
    moto.post(
        "/moto-api/config",
        r#"{"stepfunctions": {"execute_state_machine": false}}"#,
    )
    .expect("moto config");
    let endpoint = moto.endpoint_url();
    let zips = stub_zips();

    let source = workflow(stages);
    let compiled = approvalc_compiler::lower::compile(&source);
    let artifacts = compiled
        .artifacts
        .filter(|_| !compiled.diagnostics.iter().any(|d| d.is_error()))
        .unwrap_or_else(|| panic!("{:?}", compiled.diagnostics));
    let desired = approvalc_deploy::desired(&artifacts).expect("desired");
    let resources = desired.resources.len();

    // Bootstrap every account and create the approvers the policies attach to.
    for account in &desired.accounts {
        let calls = Calls::new();
        let s = session(&endpoint, &account.id, &calls).await;
        let clients = s.account(account, "").await.expect("clients");
        let template = bootstrap::template(&artifacts, &account.name).expect("template");
        bootstrap::apply(&clients, &template, &zips, None, Default::default())
            .await
            .expect("bootstrap");
        let _ = clients
            .iam
            .create_role()
            .role_name("Approver")
            .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
            .send()
            .await;
    }

    let calls = Calls::new();
    let s = session(&endpoint, &desired.home.id, &calls).await;
    let deployer = Deployer::connect(&s, desired.clone())
        .await
        .expect("connect");

    calls.reset();
    let started = Instant::now();
    let plan = deployer.plan(false).await.expect("plan");
    deployer.check_bootstrap().await.expect("bootstrap check");
    deployer.apply(&plan, &|_| {}).await.expect("apply");
    deployer.verify_trust(&plan).await.expect("trust");
    let first = Sample {
        took: started.elapsed(),
        calls: calls.stats().calls,
    };

    let mut plans = Vec::new();
    let mut noops = Vec::new();
    let mut by_op = Default::default();
    for _ in 0..rounds {
        calls.reset();
        let t = Instant::now();
        let p = deployer.plan(true).await.expect("plan");
        assert!(p.is_noop());
        plans.push(Sample {
            took: t.elapsed(),
            calls: calls.stats().calls,
        });
        calls.reset();
        let t = Instant::now();
        let p = deployer.plan(false).await.expect("plan");
        assert!(p.is_noop());
        deployer.apply(&p, &|_| {}).await.expect("apply");
        deployer.verify_trust(&p).await.expect("trust");
        noops.push(Sample {
            took: t.elapsed(),
            calls: calls.stats().calls,
        });
        by_op = calls.stats().by_operation;
    }
    let lists = desired.accounts.len() * Kind::APPLY_ORDER.len();
    let (pt, pc, pmin, pmax) = median(plans);
    let (nt, nc, nmin, nmax) = median(noops);
    println!(
        "workflow: {stages} stages, {} accounts, {resources} per-workflow resources; moto at {endpoint}",
        desired.accounts.len()
    );
    println!();
    println!("| step | median | min–max | SDK calls |");
    println!("|---|---|---|---|");
    println!(
        "| first deploy (create all) | {:.0} ms | – | {} |",
        first.took.as_secs_f64() * 1e3,
        first.calls
    );
    println!(
        "| plan (no changes) | {:.0} ms | {:.0}–{:.0} ms | {pc} |",
        pt.as_secs_f64() * 1e3,
        pmin.as_secs_f64() * 1e3,
        pmax.as_secs_f64() * 1e3
    );
    println!(
        "| no-op deploy | {:.0} ms | {:.0}–{:.0} ms | {nc} |",
        nt.as_secs_f64() * 1e3,
        nmin.as_secs_f64() * 1e3,
        nmax.as_secs_f64() * 1e3
    );
    println!();
    println!(
        "no-op deploy calls = {lists} lists (accounts × kinds) + {} reads for {resources} resources",
        nc as usize - lists
    );
    println!("no-op deploy calls by operation: {by_op:?}");
}
