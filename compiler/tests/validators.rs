//! Every artifact compiled from `workflows/*.yaml` passes the external validators:
//! `tools/validators/check-asl.sh` (asl-validator, statelint, the AWS Toolkit ASL language
//! service and our extra checks) on every `*.asl.json`, and `check-cfn.sh` (cfn-lint with
//! warnings and informational findings as failures, plus the state machines embedded in the
//! templates) on every bootstrap template. The validators are installed by
//! `scripts/install-tools.sh`; when they are missing this test fails, it never skips.

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
        if path.extension().is_none_or(|x| x != "yaml") {
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
        for (file, contents) in compiled
            .artifacts
            .expect("artifacts")
            .render()
            .expect("serialises")
        {
            let target = out.join(stem).join(&file);
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir");
            std::fs::write(&target, contents).expect("write");
        }
        count += 1;
    }
    assert!(count > 0, "no workflows compiled");
    out
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
