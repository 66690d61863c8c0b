//! The Lambda zip check (`runtime/packaging/check_zips.py`, run by
//! `scripts/package-lambdas.sh` after every build) rejects what it must. Building the zips
//! takes a fat-LTO build of the four binaries (minutes; docs/runtime.md, "Packaging"), so the
//! tests run the checker's self-test and feed the script's `--check-only` mode broken zips.
//! Needs python3.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Writes `dir/x86_64/NAME.zip` holding `entries` (name, Unix mode, content).
fn write_zip(dir: &Path, name: &str, entries: &[(&str, u32, &str)]) {
    let arch = dir.join("x86_64");
    std::fs::create_dir_all(&arch).unwrap();
    let script = r#"
import json, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for name, mode, content in json.loads(sys.argv[2]):
        info = zipfile.ZipInfo(name)
        info.external_attr = mode << 16
        z.writestr(info, content)
"#;
    let entries = serde_json::to_string(entries).unwrap();
    let out = run(Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(arch.join(format!("{name}.zip")))
        .arg(entries));
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn checker_self_test_passes() {
    let out = run(Command::new("python3")
        .arg(repo().join("runtime/packaging/check_zips.py"))
        .arg("--self-test"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("self-test ok"), "{}", text(&out));
}

#[test]
fn check_only_fails_on_each_kind_of_broken_zip() {
    let dir = std::env::temp_dir().join(format!("approvalc-zipcheck-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_zip(
        &dir,
        "script",
        &[("bootstrap", 0o755, "#!/bin/sh\necho hi\n")],
    );
    write_zip(
        &dir,
        "extra-entry",
        &[("bootstrap", 0o755, "\u{7f}ELF"), ("README", 0o644, "x")],
    );
    write_zip(&dir, "no-bootstrap", &[("main", 0o755, "\u{7f}ELF")]);
    write_zip(
        &dir,
        "truncated",
        &[("bootstrap", 0o755, "\u{7f}ELF\u{2}\u{1}")],
    );

    let out = run(Command::new("bash")
        .arg(repo().join("scripts/package-lambdas.sh"))
        .args(["--check-only", "--out"])
        .arg(&dir));
    let report = text(&out);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(out.status.code(), Some(1), "{report}");
    for (zip, why) in [
        ("x86_64/script.zip", "not an ELF file"),
        ("x86_64/extra-entry.zip", "expected only bootstrap"),
        ("x86_64/no-bootstrap.zip", "expected only bootstrap"),
        ("x86_64/truncated.zip", "truncated ELF header"),
    ] {
        let line = report
            .lines()
            .position(|l| l.contains(zip))
            .unwrap_or_else(|| panic!("{zip} not reported:\n{report}"));
        let block: String = report.lines().skip(line).take(2).collect();
        assert!(block.starts_with("FAIL"), "{zip}:\n{report}");
        assert!(block.contains(why), "{zip} should say {why:?}:\n{report}");
    }
}

#[test]
fn check_only_fails_when_there_is_nothing_to_check() {
    let dir = std::env::temp_dir().join(format!("approvalc-zipcheck-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(Command::new("bash")
        .arg(repo().join("scripts/package-lambdas.sh"))
        .args(["--check-only", "--out"])
        .arg(&dir));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no zips"), "{}", text(&out));
}
