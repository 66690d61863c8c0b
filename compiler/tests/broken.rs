//! Runs every `tests/broken/*.yaml` through `check` and asserts that the code named on its
//! first line (`# expect: approvalc::E0NN at LINE:COL`) is reported at that position.
//! Fails once, listing every file that does not match.

use std::path::{Path, PathBuf};

use approvalc_dsl::diagnostic::line_col;

fn broken_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/broken")
}

/// `(code, line, column)` from `# expect: approvalc::E030 at 12:5`.
fn expectation(first_line: &str) -> Option<(&str, usize, usize)> {
    let rest = first_line.strip_prefix("# expect: ")?;
    let (code, at) = rest.trim().split_once(" at ")?;
    let (line, col) = at.split_once(':')?;
    Some((code, line.parse().ok()?, col.parse().ok()?))
}

#[test]
fn every_broken_file_reports_its_expected_code_at_its_position() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(broken_dir())
        .expect("tests/broken exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 30,
        "only {} files in tests/broken",
        files.len()
    );
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let Ok(source) = std::fs::read_to_string(path) else {
            failures.push(format!("{name}: unreadable"));
            continue;
        };
        let Some((code, line, col)) = source.lines().next().and_then(expectation) else {
            failures.push(format!(
                "{name}: first line is not `# expect: CODE at LINE:COL`"
            ));
            continue;
        };
        let checked = approvalc_compiler::check(&source);
        let found = checked
            .diagnostics
            .iter()
            .any(|d| d.code == code && line_col(&source, d.span.start) == (line, col));
        if !found {
            let got: Vec<String> = checked
                .diagnostics
                .iter()
                .map(|d| {
                    let (l, c) = line_col(&source, d.span.start);
                    format!("{} at {l}:{c} ({})", d.code, d.message)
                })
                .collect();
            failures.push(format!(
                "{name}: expected {code} at {line}:{col}, got [{}]",
                got.join("; ")
            ));
        }
        if checked.model.is_some() && checked.diagnostics.iter().any(|d| d.is_error()) {
            failures.push(format!("{name}: a model was built despite errors"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} files failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn expectation_lines_parse() {
    assert_eq!(
        expectation("# expect: approvalc::E030 at 12:5"),
        Some(("approvalc::E030", 12, 5))
    );
    assert_eq!(expectation("# nothing"), None);
}
