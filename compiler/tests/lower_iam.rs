//! IAM in the emitted artifacts: no `Resource: "*"` anywhere, every role that trusts an AWS
//! principal (cross-account) requires `sts:ExternalId` = the parent state machine ARN, and
//! every service trust is scoped to its account.

mod common;
use common::is_workflow;

use std::path::Path;

use approvalc_compiler::lower::{self, ArtifactKind};
use serde_json::Value;

fn all_artifacts() -> Vec<(String, lower::Artifacts)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| is_workflow(p)) {
        let compiled = lower::compile(&std::fs::read_to_string(&path).unwrap());
        out.push((
            path.display().to_string(),
            compiled.artifacts.expect("compiles"),
        ));
    }
    out
}

/// Every statement object anywhere in a JSON document.
fn statements(value: &Value, out: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(list)) = map.get("Statement") {
                out.extend(list.iter().cloned());
            }
            map.values().for_each(|v| statements(v, out));
        }
        Value::Array(list) => list.iter().for_each(|v| statements(v, out)),
        _ => {}
    }
}

fn as_list(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(list)) => list.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

#[test]
fn no_statement_allows_every_resource() {
    for (name, artifacts) in all_artifacts() {
        for file in &artifacts.files {
            let json: Value = serde_json::from_str(&file.contents).unwrap();
            let mut found = Vec::new();
            statements(&json, &mut found);
            for s in found {
                for resource in as_list(s.get("Resource")) {
                    assert_ne!(
                        resource,
                        Value::String("*".into()),
                        "{name} {}: {s}",
                        file.path
                    );
                }
                for action in as_list(s.get("Action")) {
                    let action = action.as_str().unwrap_or_default();
                    assert!(
                        !action.ends_with(":*") && action != "*",
                        "{name} {}: wildcard action {action}",
                        file.path
                    );
                }
            }
        }
    }
}

#[test]
fn every_cross_account_trust_has_the_parent_arn_as_external_id() {
    let mut cross_account_roles = 0;
    for (name, artifacts) in all_artifacts() {
        let parent_arn = artifacts.manifest.parent.arn.clone();
        for file in &artifacts.files {
            let json: Value = serde_json::from_str(&file.contents).unwrap();
            let mut found = Vec::new();
            statements(&json, &mut found);
            for s in found
                .iter()
                .filter(|s| s.get("Principal").and_then(|p| p.get("AWS")).is_some())
            {
                cross_account_roles += 1;
                assert_eq!(
                    s.pointer("/Condition/StringEquals/sts:ExternalId"),
                    Some(&Value::String(parent_arn.clone())),
                    "{name} {}: {s}",
                    file.path
                );
                assert_eq!(
                    s.pointer("/Principal/AWS").and_then(Value::as_str),
                    Some(artifacts.manifest.parent.role_arn.as_str()),
                    "{name} {}: trusts someone else than the parent role",
                    file.path
                );
            }
            for s in found
                .iter()
                .filter(|s| s.get("Principal").and_then(|p| p.get("Service")).is_some())
            {
                assert!(
                    s.pointer("/Condition/StringEquals/aws:SourceAccount")
                        .is_some(),
                    "{name} {}: service trust without aws:SourceAccount: {s}",
                    file.path
                );
            }
        }
    }
    assert!(
        cross_account_roles >= 3,
        "the examples have cross-account stages"
    );
}

#[test]
fn cross_account_stages_assume_their_execute_role() {
    for (name, artifacts) in all_artifacts() {
        let parent: Value =
            serde_json::from_str(&artifacts.file("parent.asl.json").unwrap().contents).unwrap();
        let text = parent.to_string();
        for stage in &artifacts.manifest.stages {
            match &stage.execute_role_arn {
                Some(role) => {
                    assert!(
                        text.contains(&format!("\"RoleArn\":\"{role}\"")),
                        "{name}: {} has no Credentials",
                        stage.id
                    );
                    let role_file = artifacts.files.iter().find(|f| {
                        f.kind == ArtifactKind::Role
                            && f.contents
                                .contains(&format!("\"{}\"", role.rsplit('/').next().unwrap()))
                    });
                    assert!(role_file.is_some(), "{name}: no role file for {role}");
                }
                None => assert_eq!(
                    stage.account, artifacts.manifest.home.name,
                    "{name}: {}",
                    stage.id
                ),
            }
        }
    }
}
