//! Shared harness for the moto tests: one moto server per test binary, emulated accounts
//! (moto picks the account from the credentials an `sts:AssumeRole` returned), example
//! workflows rewritten so that every test owns its own account ids and names, bootstrap
//! through CloudFormation, and readers for what lives in an account.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use approvalc_compiler::lower::Artifacts;
use approvalc_deploy::code::{self, Architecture, LambdaZip};
use approvalc_deploy::model::{Account, DesiredState, Principal, Spec};
use approvalc_deploy::{Calls, Deployer, Session, SessionOptions, bootstrap};
use approvalc_moto_server::MotoServer;
use aws_config::BehaviorVersion;
use aws_sdk_sts::config::{Credentials, Region};

/// One moto server for this test binary, with Step Functions execution turned off: with it
/// on, moto keeps state machines in a second backend that CloudFormation does not write
/// to, so the bootstrap's child machines would be invisible to the Step Functions API.
pub fn moto() -> &'static MotoServer {
    static SERVER: std::sync::OnceLock<MotoServer> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let m = MotoServer::start().unwrap_or_else(|e| panic!("moto: {e}"));
        m.post(
            "/moto-api/config",
            r#"{"stepfunctions": {"execute_state_machine": false}}"#,
        )
        .unwrap_or_else(|e| panic!("moto config: {e}"));
        m
    })
}

pub fn workspace() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn example(name: &str) -> String {
    let path = workspace().join("workflows").join(format!("{name}.yaml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every example workflow (not the scenario files).
pub fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace().join("workflows"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && !n.ends_with(".test.yaml"))
        .map(|n| n.trim_end_matches(".yaml").to_owned())
        .collect();
    names.sort();
    names
}

/// Gives a workflow its own name and account ids: `name:` becomes `name`, and every
/// 12-digit account id has its first two digits replaced by `tag` (so ARNs of approvers
/// move along with the accounts).
pub fn isolate(source: &str, name: &str, tag: u8) -> String {
    let re = regex::Regex::new(r"\b\d{12}\b").unwrap();
    let renamed = regex::Regex::new(r"(?m)^name: .*$")
        .unwrap()
        .replace(source, format!("name: {name}"))
        .into_owned();
    re.replace_all(&renamed, |c: &regex::Captures<'_>| {
        let id = &c[0];
        format!("{tag:02}{}", &id[2..])
    })
    .into_owned()
}

pub fn compile(source: &str) -> Artifacts {
    let compiled = approvalc_compiler::lower::compile(source);
    match compiled.artifacts {
        Some(a) => a,
        None => panic!("does not compile: {:?}", compiled.diagnostics),
    }
}

/// Static credentials of `account` (an assumed role in moto).
pub async fn credentials(account: &str) -> Credentials {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto().endpoint_url())
        .credentials_provider(Credentials::new(
            "AKIAMOTOTEST",
            "secret",
            None,
            None,
            "test",
        ))
        .load()
        .await;
    let sts = aws_sdk_sts::Client::new(&config);
    let out = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{account}:role/admin"))
        .role_session_name("approvalc-test")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "moto",
    )
}

/// A session signed in to `account` that counts its calls in `calls`.
pub async fn session(account: &str, region: &str, calls: &Calls) -> Session {
    let options = SessionOptions {
        endpoint_url: Some(moto().endpoint_url()),
        credentials: Some(credentials(account).await),
        calls: calls.clone(),
        ..SessionOptions::default()
    };
    match Session::connect(options, region).await {
        Ok(s) => s,
        Err(e) => panic!("connect: {e}"),
    }
}

pub fn desired(artifacts: &Artifacts) -> DesiredState {
    approvalc_deploy::desired(artifacts).unwrap()
}

/// Writes four stub Lambda zips into `dir` (zip magic, then `salt`: moto never runs them,
/// and a different salt is different code).
pub fn write_stub_zips(dir: &std::path::Path, salt: &str) {
    std::fs::create_dir_all(dir).unwrap();
    for lambda in approvalc_compiler::lower::names::Lambda::ALL {
        let name = lambda.function_name();
        std::fs::write(
            dir.join(format!("{name}.zip")),
            format!("PK\x03\x04stub {name} {salt}"),
        )
        .unwrap();
    }
}

/// The stub zips every test shares (written once per test binary).
pub fn stub_zips() -> &'static [LambdaZip] {
    static ZIPS: std::sync::OnceLock<Vec<LambdaZip>> = std::sync::OnceLock::new();
    ZIPS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("approvalc-stub-zips-{}", std::process::id()));
        write_stub_zips(&dir, "shared");
        let zips = code::read_zips(&dir, Architecture::X86_64).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        zips
    })
}

/// Bootstraps every account of the workflow through CloudFormation, as its own caller
/// (code uploaded to each account's default code bucket).
pub async fn bootstrap_all(artifacts: &Artifacts) {
    let desired = desired(artifacts);
    for account in &desired.accounts {
        let calls = Calls::new();
        let session = session(&account.id, &desired.region, &calls).await;
        let clients = session.account(account, "").await.unwrap();
        let template = bootstrap::template(artifacts, &account.name).unwrap();
        if let Err(e) =
            bootstrap::apply(&clients, &template, stub_zips(), None, Architecture::X86_64).await
        {
            panic!("bootstrap {account}: {e} ({:?})", e.help);
        }
    }
}

/// Creates the approvers the workflow's policies attach to (people's roles and users exist
/// before approvalc does; deploy must attach to them and never delete them).
pub async fn create_principals(artifacts: &Artifacts) {
    let desired = desired(artifacts);
    for account in &desired.accounts {
        let iam = iam(&account.id, &desired.region).await;
        let mut wanted = BTreeSet::new();
        for d in desired.resources.iter().filter(|d| &d.account == account) {
            if let Spec::Policy(p) = &d.spec {
                wanted.extend(p.attach_to.iter().cloned());
            }
        }
        for p in wanted {
            match p {
                Principal::Role(name) if !name.starts_with("approvalc-") => {
                    let _ = iam
                        .create_role()
                        .role_name(&name)
                        .assume_role_policy_document(
                            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#,
                        )
                        .send()
                        .await;
                }
                Principal::Role(_) => {}
                Principal::User(name) => {
                    let _ = iam.create_user().user_name(&name).send().await;
                }
            }
        }
    }
}

pub async fn config(account: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(moto().endpoint_url())
        .credentials_provider(credentials(account).await)
        .load()
        .await
}

pub async fn iam(account: &str, region: &str) -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&config(account, region).await)
}

/// Everything of the kinds deploy manages that lives in one account, with what matters for
/// "was it touched": role → trust + inline policy names + attached policies; policy →
/// attachments + version count; pipelines, rules (+ targets), state machines by name.
pub async fn inventory(account: &Account, region: &str) -> BTreeMap<String, String> {
    let cfg = config(&account.id, region).await;
    let iam = aws_sdk_iam::Client::new(&cfg);
    let mut out = BTreeMap::new();
    let roles = iam.list_roles().max_items(1000).send().await.unwrap();
    for r in roles.roles() {
        let name = r.role_name();
        // Tests running at the same time may delete what was just listed: skip it.
        let Ok(inline) = iam.list_role_policies().role_name(name).send().await else {
            continue;
        };
        let Ok(attached) = iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
        else {
            continue;
        };
        let attached: Vec<_> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect();
        out.insert(
            format!("role/{name}"),
            format!(
                "{} inline={:?} attached={:?}",
                r.assume_role_policy_document().unwrap_or(""),
                inline.policy_names(),
                attached
            ),
        );
    }
    let users = iam.list_users().send().await.unwrap();
    for u in users.users() {
        let Ok(attached) = iam
            .list_attached_user_policies()
            .user_name(u.user_name())
            .send()
            .await
        else {
            continue;
        };
        let attached: Vec<_> = attached
            .attached_policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .collect();
        out.insert(
            format!("user/{}", u.user_name()),
            format!("attached={attached:?}"),
        );
    }
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .max_items(1000)
        .send()
        .await
        .unwrap();
    for p in policies.policies() {
        let arn = p.arn().unwrap_or_default();
        let Ok(versions) = iam.list_policy_versions().policy_arn(arn).send().await else {
            continue;
        };
        out.insert(
            format!("policy/{}", p.policy_name().unwrap_or_default()),
            format!(
                "versions={} attachments={}",
                versions.versions().len(),
                p.attachment_count().unwrap_or(0)
            ),
        );
    }
    let cp = aws_sdk_codepipeline::Client::new(&cfg);
    for p in cp.list_pipelines().send().await.unwrap().pipelines() {
        out.insert(
            format!("pipeline/{}", p.name().unwrap_or_default()),
            String::new(),
        );
    }
    let ev = aws_sdk_eventbridge::Client::new(&cfg);
    for r in ev.list_rules().limit(100).send().await.unwrap().rules() {
        let name = r.name().unwrap_or_default();
        let Ok(targets) = ev.list_targets_by_rule().rule(name).send().await else {
            continue;
        };
        let ids: Vec<_> = targets
            .targets()
            .iter()
            .map(|t| t.id().to_owned())
            .collect();
        out.insert(
            format!("rule/{name}"),
            format!("{} targets={ids:?}", r.event_pattern().unwrap_or("")),
        );
    }
    let sfn = aws_sdk_sfn::Client::new(&cfg);
    for m in sfn
        .list_state_machines()
        .send()
        .await
        .unwrap()
        .state_machines()
    {
        out.insert(format!("machine/{}", m.name()), String::new());
    }
    out
}

/// Inventories of every account of the workflow.
pub async fn inventories(desired: &DesiredState) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for account in &desired.accounts {
        out.insert(
            account.id.clone(),
            inventory(account, &desired.region).await,
        );
    }
    out
}

/// Compares every desired resource with what lives (via the providers' own `describe`).
pub async fn assert_live_matches(deployer: &Deployer) {
    for d in &deployer.desired.resources {
        let clients = deployer.clients(&d.account).unwrap();
        let provider = approvalc_deploy::providers::for_kind(clients, d.kind());
        let live = provider.describe(d.name()).await.unwrap();
        let Some(live) = live else {
            panic!("{} {} is missing in {}", d.kind(), d.name(), d.account);
        };
        match (&live, &d.spec) {
            (Spec::StateMachine(l), Spec::StateMachine(w)) => {
                assert_eq!(l.role_arn, w.role_arn);
                let lv: serde_json::Value = serde_json::from_str(&l.definition).unwrap();
                let wv: serde_json::Value = serde_json::from_str(&w.definition).unwrap();
                assert_eq!(lv, wv, "definition of {}", d.name());
            }
            (Spec::Pipeline(l), Spec::Pipeline(w)) => {
                let mut w = w.declaration.clone();
                if let Some(o) = w.as_object_mut() {
                    o.remove("version");
                }
                assert_eq!(l.declaration, w, "pipeline {}", d.name());
            }
            _ => assert_eq!(&live, &d.spec, "{} {}", d.kind(), d.name()),
        }
    }
}

/// Mutating operations among the counted calls (anything not a read).
pub fn mutating(stats: &approvalc_deploy::CallStats) -> BTreeMap<String, u64> {
    stats
        .by_operation
        .iter()
        .filter(|(op, _)| {
            let name = op.rsplit('.').next().unwrap_or(op);
            !(name.starts_with("Get") || name.starts_with("List") || name.starts_with("Describe"))
                && name != "AssumeRole"
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}
