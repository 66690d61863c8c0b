//! Every artifact of every example workflow as an insta snapshot, and determinism: compiling
//! twice gives the same bytes.
//!
//! Accept changes with `cargo insta review` (or `INSTA_UPDATE=always cargo test -p
//! approvalc-compiler --test lower_snapshots`) after reading the diff.

mod common;
use common::is_workflow;

use std::path::{Path, PathBuf};

use approvalc_compiler::lower;

pub fn workflows() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("workflows/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_workflow(p))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no workflows in {}", dir.display());
    files
}

fn render(path: &Path) -> Vec<(String, String)> {
    let source = std::fs::read_to_string(path).expect("readable");
    let compiled = lower::compile(&source);
    let errors: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
    compiled
        .artifacts
        .expect("artifacts")
        .render()
        .expect("serialises")
}

#[test]
fn every_artifact_of_every_example() {
    for path in workflows() {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("workflow")
            .to_owned();
        for (file, contents) in render(&path) {
            let name = format!("{stem}__{}", file.replace('/', "__"));
            // The parent definition is written compactly; show every JSON file pretty in
            // the snapshot so that a review reads a diff per field.
            let value: serde_json::Value = serde_json::from_str(&contents).expect("JSON");
            let contents = serde_json::to_string_pretty(&value).expect("serialises");
            insta::with_settings!({snapshot_path => "snapshots/lower", prepend_module_to_snapshot => false, omit_expression => true}, {
                insta::assert_snapshot!(name, contents);
            });
        }
    }
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    for path in workflows() {
        assert_eq!(render(&path), render(&path), "{}", path.display());
    }
}
