//! Deploy against moto (one server for this binary, tests isolated by their own workflow
//! names and account ids): every example deploys, re-deploys as a no-op with one read per
//! resource, changes one stage as one update, survives a kill after any SDK call, and
//! destroys exactly what it created.

mod common;

use approvalc_deploy::code::{self, Architecture};
use approvalc_deploy::model::Kind;
use approvalc_deploy::plan::Action;
use approvalc_deploy::{Calls, Deployer, Fault, bootstrap};
use common::*;

/// What `approvalc deploy` does, step by step.
async fn try_deploy(
    deployer: &Deployer,
) -> Result<approvalc_deploy::Plan, approvalc_deploy::DeployError> {
    let plan = deployer.plan(false).await?;
    if !plan.is_noop() {
        deployer.check_bootstrap().await?;
    }
    deployer.apply(&plan, &|_| {}).await?;
    deployer.verify_trust(&plan).await?;
    Ok(plan)
}

/// Deploys and fails the test with the diagnostic when it does not work.
async fn deploy(deployer: &Deployer) -> approvalc_deploy::Plan {
    try_deploy(deployer)
        .await
        .unwrap_or_else(|e| panic!("deploy: {e} {:?}", e.help))
}

async fn destroy(deployer: &Deployer) -> approvalc_deploy::Plan {
    let plan = deployer.plan_destroy().await.unwrap();
    deployer.apply(&plan, &|_| {}).await.unwrap();
    plan
}

/// Every managed policy of the workflow has exactly one version (a re-run after a kill
/// must not pile up versions).
async fn assert_single_policy_versions(deployer: &Deployer, n: u64) {
    for d in deployer
        .desired
        .resources
        .iter()
        .filter(|d| d.kind() == Kind::Policy)
    {
        let clients = deployer.clients(&d.account).unwrap();
        let arn = format!("arn:aws:iam::{}:policy/{}", d.account.id, d.name());
        let versions = clients
            .iam
            .list_policy_versions()
            .policy_arn(&arn)
            .send()
            .await
            .unwrap();
        assert_eq!(versions.versions().len(), 1, "n={n}: {arn}");
    }
}

/// The whole life of one example in its own accounts.
async fn lifecycle(example: &str, tag: u8) {
    let source = isolate(&common::example(example), &format!("t{tag}-{example}"), tag);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    bootstrap_all(&artifacts).await;
    create_principals(&artifacts).await;
    let before = inventories(&desired).await;

    let calls = Calls::new();
    let session = session(&desired.home.id, &desired.region, &calls).await;
    let deployer = Deployer::connect(&session, desired.clone()).await.unwrap();
    let first = deploy(&deployer).await;
    let counts = first.counts();
    assert_eq!(
        counts.create,
        desired.resources.len(),
        "{example}: {counts}"
    );
    assert_live_matches(&deployer).await;

    // Re-deploy: nothing to do, no mutating call, at most one read per resource beyond
    // one list per account and kind.
    calls.reset();
    let again = deploy(&deployer).await;
    assert!(again.is_noop(), "{example}: {}", again.counts());
    let stats = calls.stats();
    assert!(
        mutating(&stats).is_empty(),
        "{example}: {:?}",
        stats.by_operation
    );
    let lists = (desired.accounts.len() * Kind::APPLY_ORDER.len()) as u64;
    assert!(
        stats.calls <= lists + desired.resources.len() as u64,
        "{example}: {} calls for {} resources: {:?}",
        stats.calls,
        desired.resources.len(),
        stats.by_operation
    );

    // Destroy: everything deploy created is gone, everything else is as it was.
    let gone = destroy(&deployer).await;
    assert_eq!(gone.counts().delete, desired.resources.len(), "{example}");
    let after = inventories(&desired).await;
    assert_eq!(
        before, after,
        "{example}: destroy left or touched something"
    );
    let again = deployer.plan_destroy().await.unwrap();
    assert!(again.changes.is_empty(), "{example}: {:?}", again.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_deploys_redeploys_as_noop_and_destroys_exactly_what_it_created() {
    let examples = examples();
    assert!(examples.len() >= 5, "{examples:?}");
    assert!(examples.iter().any(|e| e == "multi-level-cross-account"));
    let runs = examples
        .iter()
        .enumerate()
        .map(|(i, e)| lifecycle(e, 10 + i as u8));
    futures_util::future::join_all(runs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_one_stage_is_exactly_one_update_with_a_readable_diff() {
    let source = isolate(&example("multi-level-cross-account"), "t30-change", 30);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    bootstrap_all(&artifacts).await;
    create_principals(&artifacts).await;
    let calls = Calls::new();
    let session = session(&desired.home.id, &desired.region, &calls).await;
    deploy(&Deployer::connect(&session, desired.clone()).await.unwrap()).await;

    let changed = source.replace(
        "Confirm {{ input.version }} passed acceptance tests in staging",
        "Confirm {{ input.version }} passed the soak test in staging",
    );
    assert_ne!(changed, source);
    let desired2 = common::desired(&compile(&changed));
    let deployer = Deployer::connect(&session, desired2).await.unwrap();
    let plan = deployer.plan(true).await.unwrap();
    let updates: Vec<_> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .collect();
    assert_eq!(updates.len(), 1, "{:?}", plan.counts());
    let Action::Update { diff } = &updates[0].action else {
        panic!("{:?}", updates[0].action);
    };
    assert_eq!(updates[0].kind, Kind::StateMachine);
    assert!(diff.contains("soak test"), "{diff}");
    assert!(
        diff.lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count()
            <= 3,
        "{diff}"
    );
    calls.reset();
    deployer.apply(&plan, &|_| {}).await.unwrap();
    let m = mutating(&calls.stats());
    assert_eq!(m.values().sum::<u64>(), 2, "update + tag: {m:?}");
    assert!(deployer.plan(false).await.unwrap().is_noop());
    assert_live_matches(&deployer).await;
    destroy(&deployer).await;
}

/// Kill the deploy after SDK call N (the service applied it, the caller never learned),
/// for every N of a full deploy; a re-run must converge to exactly the desired state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_killed_after_any_sdk_call_converges_on_rerun_without_duplicates() {
    // conditional-escalation has every kind: roles, policies, a pipeline, a rule and the
    // parent, in two accounts.
    let base = example("conditional-escalation");
    let artifacts = compile(&isolate(&base, "t40-k0", 40));
    bootstrap_all(&artifacts).await;
    create_principals(&artifacts).await;
    let desired0 = desired(&artifacts);

    let calls = Calls::new();
    let session0 = session(&desired0.home.id, &desired0.region, &calls).await;
    let deployer = Deployer::connect(&session0, desired0.clone())
        .await
        .unwrap();
    calls.reset();
    deploy(&deployer).await;
    let total = calls.stats().calls;
    assert!(total > 20, "{total}");
    destroy(&deployer).await;

    let mut seen_faults = 0;
    let base = &base;
    for batch in (1..=total + 1).collect::<Vec<_>>().chunks(6) {
        let runs = batch.iter().map(|&n| async move {
            let desired = common::desired(&compile(&isolate(base, &format!("t40-k{n}"), 40)));
            let calls = Calls::new();
            let session = session(&desired.home.id, &desired.region, &calls).await;
            let deployer = Deployer::connect(&session, desired.clone()).await.unwrap();
            calls.reset();
            calls.inject(Fault::After(n));
            let killed = match try_deploy(&deployer).await {
                Err(e) => {
                    assert!(e.injected(), "n={n}: {e}");
                    true
                }
                Ok(_) => false,
            };
            calls.disarm();
            deploy(&deployer).await;
            assert!(deployer.plan(false).await.unwrap().is_noop(), "n={n}");
            assert_live_matches(&deployer).await;
            // No duplicates: each managed policy has exactly one version.
            assert_single_policy_versions(&deployer, n).await;
            destroy(&deployer).await;
            killed
        });
        for killed in futures_util::future::join_all(runs).await {
            seen_faults += usize::from(killed);
        }
    }
    assert_eq!(
        seen_faults as u64, total,
        "every call of the deploy was a kill point once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_by_someone_else_is_a_conflict_and_left_alone() {
    let source = isolate(&example("ssm-single"), "t50-taken", 50);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    bootstrap_all(&artifacts).await;
    create_principals(&artifacts).await;
    let iam = iam(&desired.home.id, &desired.region).await;
    let role = desired
        .parent_role_arn
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    iam.create_role()
        .role_name(&role)
        .assume_role_policy_document(r#"{"Version":"2012-10-17","Statement":[]}"#)
        .send()
        .await
        .unwrap();
    let before = inventories(&desired).await;
    let calls = Calls::new();
    let session = session(&desired.home.id, &desired.region, &calls).await;
    let deployer = Deployer::connect(&session, desired.clone()).await.unwrap();
    let plan = deployer.plan(false).await.unwrap();
    assert_eq!(plan.counts().conflict, 1, "{}", plan.counts());
    let err = deployer.apply(&plan, &|_| {}).await.unwrap_err();
    assert!(err.message.contains("not created by approvalc"), "{err}");
    assert!(err.help.is_some());
    assert_eq!(before, inventories(&desired).await);
    // destroy does not take it either
    let gone = deployer.plan_destroy().await.unwrap();
    assert!(gone.changes.is_empty(), "{:?}", gone.changes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bootstrap_is_reported_with_the_command_that_fixes_it() {
    let source = isolate(&example("multi-level-cross-account"), "t60-nobs", 60);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    let calls = Calls::new();
    let session = session(&desired.home.id, &desired.region, &calls).await;
    let deployer = Deployer::connect(&session, desired.clone()).await.unwrap();
    let err = deployer.check_bootstrap().await.unwrap_err();
    assert!(err.message.contains("not bootstrapped"), "{err}");
    assert!(
        err.help
            .as_deref()
            .unwrap_or("")
            .contains("approvalc bootstrap"),
        "{err:?}"
    );
}

/// SDK calls per operation (`S3.PutObject` → 4).
fn ops(calls: &Calls, service: &str) -> std::collections::BTreeMap<String, u64> {
    calls
        .stats()
        .by_operation
        .into_iter()
        .filter(|(op, _)| op.starts_with(service))
        .collect()
}

/// The stack parameter `key` as it lives.
async fn stack_parameter(clients: &approvalc_deploy::session::AccountClients, key: &str) -> String {
    let out = clients
        .cloudformation
        .describe_stacks()
        .stack_name(bootstrap::STACK_NAME)
        .send()
        .await
        .unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_uploads_the_zips_once_and_a_changed_zip_updates_the_stack() {
    let source = isolate(&example("temporary-privilege"), "t70-bs", 70);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    let account = desired.accounts[1].clone();
    let calls = Calls::new();
    let session = session(&account.id, &desired.region, &calls).await;
    let clients = session.account(&account, "").await.unwrap();
    let template = bootstrap::template(&artifacts, &account.name).unwrap();
    assert!(template.contains("\"DeployRole\""));
    let dir = std::env::temp_dir().join(format!("approvalc-t70-zips-{}", std::process::id()));
    write_stub_zips(&dir, "v1");
    let zips = code::read_zips(&dir, Architecture::X86_64).unwrap();
    let bucket = code::default_bucket(&account.id, &desired.region);

    calls.reset();
    let first = bootstrap::apply(&clients, &template, &zips, None, Architecture::X86_64)
        .await
        .unwrap();
    assert_eq!(first.stack, bootstrap::Outcome::Created);
    assert_eq!(first.code.bucket, bucket);
    assert!(first.code.bucket_created);
    assert_eq!(first.code.sent.len(), 4, "{:?}", first.code);
    let s3 = ops(&calls, "S3.");
    assert_eq!(s3.get("S3.PutObject"), Some(&4), "{s3:?}");
    assert_eq!(s3.get("S3.CreateBucket"), Some(&1), "{s3:?}");
    for zip in &zips {
        let key = stack_parameter(
            &clients,
            &approvalc_compiler::lower::bootstrap::code_key_parameter(zip.lambda),
        )
        .await;
        assert_eq!(key, zip.key());
        assert!(key.contains(&zip.sha256));
    }
    // The bucket approvalc made is tagged as its own and blocks public access.
    let pab = clients
        .s3
        .get_public_access_block()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    let c = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            c.block_public_acls(),
            c.ignore_public_acls(),
            c.block_public_policy(),
            c.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );

    // Same zips, same template: nothing is uploaded, the stack is not touched.
    calls.reset();
    let second = bootstrap::apply(&clients, &template, &zips, None, Architecture::X86_64)
        .await
        .unwrap();
    assert_eq!(second.stack, bootstrap::Outcome::Unchanged);
    assert!(!second.code.bucket_created);
    assert!(second.code.sent.is_empty());
    let s3 = ops(&calls, "S3.");
    assert_eq!(
        s3,
        [
            ("S3.GetBucketTagging".to_owned(), 1),
            ("S3.GetPublicAccessBlock".to_owned(), 1),
            ("S3.HeadObject".to_owned(), 4),
        ]
        .into_iter()
        .collect(),
        "a second bootstrap reads, never writes"
    );
    let cfn = ops(&calls, "CloudFormation.");
    assert!(
        !cfn.contains_key("CloudFormation.UpdateStack")
            && !cfn.contains_key("CloudFormation.CreateStack"),
        "{cfn:?}"
    );
    let second_calls = calls.stats().calls;

    // One zip changes: one upload under a new key, and the stack is updated with it.
    std::fs::write(
        dir.join("approvalc-cleanup.zip"),
        "PK\x03\x04stub cleanup v2",
    )
    .unwrap();
    let changed = code::read_zips(&dir, Architecture::X86_64).unwrap();
    let new_key = changed
        .iter()
        .find(|z| z.lambda == approvalc_compiler::lower::names::Lambda::Cleanup)
        .map(|z| z.key())
        .unwrap();
    assert!(!zips.iter().any(|z| z.key() == new_key));
    calls.reset();
    let third = bootstrap::apply(&clients, &template, &changed, None, Architecture::X86_64)
        .await
        .unwrap();
    assert_eq!(third.stack, bootstrap::Outcome::Updated);
    assert_eq!(third.code.sent, vec![new_key.clone()]);
    assert_eq!(stack_parameter(&clients, "CleanupCodeKey").await, new_key);
    assert_eq!(
        stack_parameter(&clients, "ReconcilerCodeKey").await,
        zips.iter()
            .find(|z| z.lambda == approvalc_compiler::lower::names::Lambda::Reconciler)
            .map(|z| z.key())
            .unwrap()
    );
    eprintln!(
        "bootstrap: first {:?}, second {second_calls} calls",
        first.code.sent.len()
    );

    let inv = inventory(&account, &desired.region).await;
    for name in [
        "role/approvalc-deploy",
        "machine/approvalc-ssm-approval",
        "machine/approvalc-ssm-action",
    ] {
        assert!(inv.contains_key(name), "{name} missing: {:?}", inv.keys());
    }
    let err = bootstrap::template(&artifacts, "nope").unwrap_err();
    assert!(err.help.unwrap().contains("operator"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Killed after any SDK call of the upload (the service applied it, the caller never saw
/// the answer), the upload run again ends with every key in place and the bucket
/// complete; nothing is sent twice once it is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_killed_after_any_sdk_call_converges_on_rerun() {
    let account = approvalc_deploy::model::Account {
        name: "operator".to_owned(),
        id: "710000000001".to_owned(),
    };
    let region = "ap-northeast-1";
    let calls = Calls::new();
    let session = session(&account.id, region, &calls).await;
    let clients = session.account(&account, "").await.unwrap();
    let zips = stub_zips();
    // A clean run counts the calls: every one of them is a kill point.
    calls.reset();
    code::upload(&clients.s3, "approvalc-t71-count", region, zips)
        .await
        .unwrap();
    let total = calls.stats().calls;
    assert_eq!(total, 12, "{:?}", calls.stats().by_operation);
    for n in 1..=total {
        let bucket = format!("approvalc-t71-kill-{n}");
        calls.reset();
        calls.inject(Fault::After(n));
        let killed = code::upload(&clients.s3, &bucket, region, zips).await;
        calls.disarm();
        assert!(killed.is_err(), "n={n}: the fault did not strike");
        let rerun = code::upload(&clients.s3, &bucket, region, zips)
            .await
            .unwrap_or_else(|e| panic!("n={n}: {e} {:?}", e.help));
        assert_eq!(rerun.keys.len(), 4);
        for zip in zips {
            clients
                .s3
                .head_object()
                .bucket(&bucket)
                .key(zip.key())
                .send()
                .await
                .unwrap_or_else(|e| panic!("n={n}: {} missing: {e}", zip.key()));
        }
        let tags = clients.s3.get_bucket_tagging().bucket(&bucket).send().await;
        let pab = clients
            .s3
            .get_public_access_block()
            .bucket(&bucket)
            .send()
            .await;
        // Calls 1-4 are GetBucketTagging, CreateBucket, PutBucketTagging,
        // PutPublicAccessBlock. Killed right after CreateBucket (n = 2), the bucket has no
        // owner tag and is treated as someone else's (keys only); from the tag on, the
        // re-run completes it.
        if n == 2 {
            assert!(tags.is_err(), "n={n}: a bucket without our tag was tagged");
        } else {
            assert!(tags.is_ok(), "n={n}: owner tag missing");
            assert!(pab.is_ok(), "n={n}: public access not blocked");
        }
        let again = code::upload(&clients.s3, &bucket, region, zips)
            .await
            .unwrap();
        assert!(again.sent.is_empty(), "n={n}: {:?}", again.sent);
    }
}

/// A bucket approvalc did not create gets approvalc's keys and nothing else: no tag, no
/// public access block change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_own_code_bucket_only_gets_the_keys() {
    let account = approvalc_deploy::model::Account {
        name: "operator".to_owned(),
        id: "720000000001".to_owned(),
    };
    let region = "ap-northeast-1";
    let calls = Calls::new();
    let session = session(&account.id, region, &calls).await;
    let clients = session.account(&account, "").await.unwrap();
    let bucket = "t72-users-own-bucket";
    clients
        .s3
        .create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
    calls.reset();
    let up = code::upload(&clients.s3, bucket, region, stub_zips())
        .await
        .unwrap();
    assert!(!up.bucket_created);
    assert_eq!(up.sent.len(), 4);
    let writes: Vec<String> = calls
        .stats()
        .by_operation
        .into_keys()
        .filter(|op| op.starts_with("S3.Put") || op.starts_with("S3.Create"))
        .collect();
    assert_eq!(writes, vec!["S3.PutObject".to_owned()]);
    assert!(
        clients
            .s3
            .get_bucket_tagging()
            .bucket(bucket)
            .send()
            .await
            .is_err()
    );
}

/// Kill `destroy` after SDK call N for every N: a re-run removes the rest, and nothing
/// else in the accounts is touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destroy_killed_after_any_sdk_call_finishes_on_rerun() {
    let base = example("conditional-escalation");
    let artifacts = compile(&isolate(&base, "t80-d0", 80));
    bootstrap_all(&artifacts).await;
    create_principals(&artifacts).await;
    let desired0 = desired(&artifacts);
    let before = inventories(&desired0).await;

    let calls = Calls::new();
    let session0 = session(&desired0.home.id, &desired0.region, &calls).await;
    let deployer = Deployer::connect(&session0, desired0.clone())
        .await
        .unwrap();
    deploy(&deployer).await;
    calls.reset();
    destroy(&deployer).await;
    let total = calls.stats().calls;
    assert!(total > 10, "{total}");

    let base = &base;
    let mut kills = 0;
    for batch in (1..=total + 1).collect::<Vec<_>>().chunks(6) {
        let runs = batch.iter().map(|&n| async move {
            let desired = common::desired(&compile(&isolate(base, &format!("t80-d{n}"), 80)));
            let calls = Calls::new();
            let session = session(&desired.home.id, &desired.region, &calls).await;
            let deployer = Deployer::connect(&session, desired.clone()).await.unwrap();
            deploy(&deployer).await;
            calls.reset();
            calls.inject(Fault::After(n));
            let killed = match deployer.plan_destroy().await {
                Err(e) => Some(e),
                Ok(plan) => deployer.apply(&plan, &|_| {}).await.err(),
            };
            if let Some(e) = &killed {
                assert!(e.injected(), "n={n}: {e}");
            }
            calls.disarm();
            destroy(&deployer).await;
            let left = deployer.plan_destroy().await.unwrap();
            assert!(left.changes.is_empty(), "n={n}: {:?}", left.changes);
            killed.is_some()
        });
        for killed in futures_util::future::join_all(runs).await {
            kills += usize::from(killed);
        }
    }
    assert_eq!(kills as u64, total);
    assert_eq!(
        before,
        inventories(&desired0).await,
        "destroy touched something else"
    );
}
