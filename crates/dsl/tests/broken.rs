//! `tests/broken/parse-*.yaml`: each file holds one mistake and says on its first line which
//! diagnostic `parse` must report, and where:
//!
//! ```text
//! # expect: approvalc::E0NN at LINE:COL
//! ```
//!
//! (The compiler's harness runs every file in `tests/broken/` through parse and check with
//! the same header; this one runs only the parse files through `parse`, so a parse
//! regression shows up in this crate's tests.) Run with `UPDATE_BROKEN=1` to print the
//! diagnostics actually found, when adding a file.

use std::fs;
use std::path::{Path, PathBuf};

use approvalc_dsl::diagnostic::line_col;

fn broken_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/broken");
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("tests/broken exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("parse-") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    files
}

/// `(code, line, col)` from `# expect: approvalc::E0NN at LINE:COL`.
fn expectation(text: &str) -> Option<(String, usize, usize)> {
    let rest = text.lines().next()?.strip_prefix("# expect: ")?;
    let (code, at) = rest.split_once(" at ")?;
    let (line, col) = at.trim().split_once(':')?;
    Some((code.to_owned(), line.parse().ok()?, col.parse().ok()?))
}

#[test]
fn there_are_at_least_fifteen_parse_files() {
    assert!(broken_files().len() >= 15, "{}", broken_files().len());
}

#[test]
fn every_parse_file_reports_its_expected_diagnostic() {
    let mut failures = Vec::new();
    for path in broken_files() {
        let text = fs::read_to_string(&path).expect("readable");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        let Some((code, line, col)) = expectation(&text) else {
            failures.push(format!(
                "{name}: first line is not `# expect: approvalc::E0NN at LINE:COL`"
            ));
            continue;
        };
        let found: Vec<(String, usize, usize, String)> = approvalc_dsl::parse(&text)
            .diagnostics
            .iter()
            .map(|d| {
                let (l, c) = line_col(&text, d.span.start);
                (d.code.to_owned(), l, c, d.message.clone())
            })
            .collect();
        if std::env::var_os("UPDATE_BROKEN").is_some() {
            eprintln!("{name}: {found:?}");
        }
        if !found
            .iter()
            .any(|(fc, l, c, _)| *fc == code && *l == line && *c == col)
        {
            failures.push(format!(
                "{name}: expected {code} at {line}:{col}, found {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
