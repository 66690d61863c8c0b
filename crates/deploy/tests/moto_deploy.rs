//! Deploy against moto (one server for this binary, tests isolated by their own workflow
//! names and account ids): every example deploys, re-deploys as a no-op with one read per
//! resource, changes one stage as one update, survives a kill after any SDK call, and
//! destroys exactly what it created.

mod common;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_creates_the_stack_once_and_a_second_run_changes_nothing() {
    upload_code();
    let source = isolate(&example("temporary-privilege"), "t70-bs", 70);
    let artifacts = compile(&source);
    let desired = desired(&artifacts);
    let account = desired.accounts[1].clone();
    let calls = Calls::new();
    let session = session(&account.id, &desired.region, &calls).await;
    let clients = session.account(&account, "").await.unwrap();
    let template = bootstrap::template(&artifacts, &account.name).unwrap();
    assert!(template.contains("\"DeployRole\""));
    let first = bootstrap::deploy(&clients, &template, CODE_BUCKET)
        .await
        .unwrap();
    assert_eq!(first, bootstrap::Outcome::Created);
    let second = bootstrap::deploy(&clients, &template, CODE_BUCKET)
        .await
        .unwrap();
    assert_ne!(second, bootstrap::Outcome::Created);
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
