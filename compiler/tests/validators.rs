//! Every artifact compiled from `workflows/*.yaml` passes the external validators:
//! `tools/validators/check-asl.sh` (asl-validator, statelint, the AWS Toolkit ASL language
//! service and our extra checks) on every `*.asl.json`, and `check-cfn.sh` (cfn-lint with
//! warnings and informational findings as failures, plus the state machines embedded in the
//! templates) on every bootstrap template. The validators are installed by
//! `scripts/install-tools.sh`; when they are missing this test fails, it never skips.

mod common;
use common::is_workflow;

use std::path::{Path, PathBuf};
use std::process::Command;

use approvalc_compiler::lower;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tools/validators`, or the shared copy while the project has none.
fn validators() -> PathBuf {
    let local = root().join("tools/validators");
    if local.join("check-asl.sh").exists() {
        local
    } else {
        root().join("../shared/validators")
    }
}

/// Compiles every example into `out/<stem>/` and returns the directory.
fn compile_examples() -> PathBuf {
    let out = std::env::temp_dir().join(format!("approvalc-validators-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let mut count = 0;
    for entry in std::fs::read_dir(root().join("workflows")).expect("workflows/") {
        let path = entry.expect("entry").path();
        if !is_workflow(&path) {
            continue;
        }
        let compiled = lower::compile(&std::fs::read_to_string(&path).expect("readable"));
        assert!(
            !compiled.has_errors(),
            "{}: {:#?}",
            path.display(),
            compiled.diagnostics
        );
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("workflow");
        let artifacts = compiled.artifacts.expect("artifacts");
        for (file, contents) in artifacts.render().expect("serialises") {
            let target = out.join(stem).join(&file);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::write(&target, contents).expect("write");
        }
        std::fs::write(
            out.join(stem).join("per-workflow.template.json"),
            wrap_per_workflow(&artifacts),
        )
        .expect("write");
        count += 1;
    }
    assert!(count > 0, "no workflows compiled");
    out
}

/// The per-workflow roles, policies, pipelines and rules (API shapes, applied by deploy)
/// wrapped into one CloudFormation template, so that cfn-lint checks their IAM actions,
/// action/resource pairs and pipeline structure too.
fn wrap_per_workflow(artifacts: &lower::Artifacts) -> String {
    use lower::ArtifactKind;
    use serde_json::{Map, Value, json};
    let mut resources = Map::new();
    for (i, file) in artifacts.files.iter().enumerate() {
        let value: Value = serde_json::from_str(&file.contents).expect("JSON");
        let (kind, properties) = match file.kind {
            ArtifactKind::Role => ("AWS::IAM::Role", value),
            ArtifactKind::Policy => (
                "AWS::IAM::ManagedPolicy",
                json!({"ManagedPolicyName": value["PolicyName"], "PolicyDocument": value["PolicyDocument"]}),
            ),
            ArtifactKind::Rule => ("AWS::Events::Rule", value),
            ArtifactKind::Pipeline => (
                "AWS::CodePipeline::Pipeline",
                pascal(&value["pipeline"], false),
            ),
            _ => continue,
        };
        resources.insert(
            format!("R{i}"),
            json!({"Type": kind, "Properties": properties}),
        );
    }
    let template = json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources});
    serde_json::to_string_pretty(&template).expect("serialises")
}

/// camelCase API keys to the PascalCase CloudFormation uses (action `configuration` keys are
/// already PascalCase and are kept).
fn pascal(value: &serde_json::Value, keep: bool) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = if keep {
                        k.clone()
                    } else {
                        let mut chars = k.chars();
                        chars
                            .next()
                            .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                            .unwrap_or_default()
                    };
                    (key, pascal(v, k == "configuration"))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| pascal(v, false)).collect()),
        other => other.clone(),
    }
}

fn run(script: &str, dir: &Path) {
    let path = validators().join(script);
    assert!(path.exists(), "{} is missing", path.display());
    let output = Command::new("bash")
        .arg(&path)
        .arg(dir)
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(2) && stderr.contains("missing") {
        panic!("{script}: validators are not installed; run scripts/install-tools.sh\n{stderr}");
    }
    assert!(
        output.status.success(),
        "{script} found problems in the compiled examples ({}):\n{stdout}\n{stderr}",
        dir.display()
    );
}

#[test]
fn compiled_examples_pass_asl_and_cfn_validators() {
    let out = compile_examples();
    run("check-asl.sh", &out);
    run("check-cfn.sh", &out);
    let _ = std::fs::remove_dir_all(&out);
}

/// A generated 3,000-stage chain is too large for one state machine: its parent and every
/// part machine (`parts/*.asl.json`) pass the ASL validators, and its roles (the parent's
/// role now also starts the parts) and bootstrap templates pass cfn-lint.
#[test]
fn split_workflow_parts_pass_asl_and_cfn_validators() {
    let mut source = String::from(
        "apiVersion: approvalc/v1\nname: split\nregion: us-east-1\nhome: main\naccounts:\n  main: { id: \"111111111111\" }\n  other: { id: \"222222222222\" }\nstages:\n",
    );
    for i in 0..3000 {
        let needs = if i == 0 {
            String::new()
        } else {
            format!("    needs: [s{}]\n", i - 1)
        };
        let account = if i % 1000 == 500 {
            "    account: other\n"
        } else {
            ""
        };
        source.push_str(&format!(
            "  s{i}:\n{needs}{account}    timeout: 2h\n    ssm:\n      approvers: [arn:aws:iam::111111111111:role/A]\n"
        ));
    }
    let compiled = lower::compile(&source);
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    let artifacts = compiled.artifacts.expect("artifacts");
    assert!(
        artifacts.manifest.parts.len() >= 2,
        "the chain is split into parts"
    );
    let out =
        std::env::temp_dir().join(format!("approvalc-validators-split-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    for (file, contents) in artifacts.render().expect("serialises") {
        let target = out.join(&file);
        std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
        std::fs::write(&target, contents).expect("write");
    }
    // Only the roles: 3,000 approver policies would be over cfn-lint's template limits,
    // and they are the same as the examples' (which the test above lints).
    let roles = lower::Artifacts {
        manifest: artifacts.manifest.clone(),
        files: artifacts
            .files
            .iter()
            .filter(|f| f.kind == lower::ArtifactKind::Role)
            .cloned()
            .collect(),
    };
    std::fs::write(
        out.join("per-workflow.template.json"),
        wrap_per_workflow(&roles),
    )
    .expect("write");
    let parts = std::fs::read_dir(out.join("parts"))
        .expect("parts/")
        .count();
    assert_eq!(parts, artifacts.manifest.parts.len());
    run("check-asl.sh", &out);
    run("check-cfn.sh", &out);
    let _ = std::fs::remove_dir_all(&out);
}
