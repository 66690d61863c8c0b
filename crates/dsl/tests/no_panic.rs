//! `parse` never panics: random bytes, YAML-flavoured noise, and the example workflows with
//! lines and bytes deleted, duplicated, swapped and inserted.
//!
//! Every case also checks two invariants a caller relies on: every diagnostic span lies
//! inside the source, and `workflow` is `None` only when an error was reported.

use std::fs;
use std::path::Path;

use proptest::prelude::*;

fn examples() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    let mut texts: Vec<String> = fs::read_dir(dir)
        .expect("workflows/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter_map(|p| fs::read_to_string(p).ok())
        .collect();
    texts.sort();
    texts.push(include_str!("data/dsl-reference.yaml").to_owned());
    texts
}

fn assert_sane(source: &str) {
    let parsed = approvalc_dsl::parse(source);
    for (i, d) in parsed.diagnostics.iter().enumerate() {
        assert!(
            d.span.start <= d.span.end && d.span.end <= source.len(),
            "{d:?} outside {} bytes",
            source.len()
        );
        for label in &d.related {
            assert!(label.span.end <= source.len(), "{label:?}");
        }
        // Rendering needs line/column of every span (`line_col` scans from the start of the
        // file, so only the first few here, to keep hostile cases fast).
        if i < 20 {
            let _ = approvalc_dsl::diagnostic::line_col(source, d.span.start);
        }
    }
    if parsed.workflow.is_none() {
        assert!(parsed.has_errors(), "no workflow and no error");
    }
}

#[derive(Debug, Clone)]
enum Edit {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    DeleteByte(usize),
    InsertByte(usize, u8),
    IndentLine(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::DeleteLine),
        any::<usize>().prop_map(Edit::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        any::<usize>().prop_map(Edit::DeleteByte),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]:,-&*!|>'\"# \n\tx0~?%@`".to_vec())
        )
            .prop_map(|(i, b)| Edit::InsertByte(i, b)),
        any::<usize>().prop_map(Edit::IndentLine),
    ]
}

fn apply(source: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = source.lines().map(str::to_owned).collect();
    let mut bytes_edits = Vec::new();
    for e in edits {
        let n = lines.len().max(1);
        match *e {
            Edit::DeleteLine(i) if !lines.is_empty() => {
                lines.remove(i % n);
            }
            Edit::DuplicateLine(i) if !lines.is_empty() => {
                let line = lines[i % n].clone();
                lines.insert(i % n, line);
            }
            Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
            Edit::IndentLine(i) if !lines.is_empty() => lines[i % n].insert(0, ' '),
            Edit::DeleteByte(_) | Edit::InsertByte(..) => bytes_edits.push(e.clone()),
            _ => {}
        }
    }
    let mut bytes = lines.join("\n").into_bytes();
    for e in bytes_edits {
        let n = bytes.len().max(1);
        match e {
            Edit::DeleteByte(i) if !bytes.is_empty() => {
                bytes.remove(i % n);
            }
            Edit::InsertByte(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    // 512 cases per test by default; `PROPTEST_CASES=50000` for a longer run.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        assert_sane(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn yaml_noise_never_panics(text in "[a-z0-9:{}\\[\\],\\- \n\"'&*!|>#?]{0,300}") {
        assert_sane(&text);
    }

    #[test]
    fn mutated_examples_never_panic(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let examples = examples();
        let source = which.get(&examples);
        assert_sane(&apply(source, &edits));
    }
}

#[test]
fn every_truncation_of_every_example_is_sane() {
    for example in examples() {
        for end in (0..=example.len()).filter(|i| example.is_char_boundary(*i)) {
            assert_sane(&example[..end]);
        }
    }
}

/// Hostile but well-formed inputs near the limits finish quickly (debug build: generous
/// bound; release is ~10x faster).
#[test]
fn large_inputs_are_bounded_in_time() {
    let many_stages: String = std::iter::once("stages:\n".to_owned())
        .chain((0..40_000).map(|i| format!("  s{i}: {{}}\n")))
        .collect();
    let many_unknown: String = (0..40_000).map(|i| format!("k{i}: v\n")).collect();
    let long_line = format!("name: \"{}\"\n", "x".repeat(900_000));
    let deep_flow = "[".repeat(200_000);
    let too_big = "#".repeat(2 * 1024 * 1024);
    for (what, source) in [
        ("many stages", many_stages),
        ("many unknown keys", many_unknown),
        ("a long line", long_line),
        ("deep flow nesting", deep_flow),
        ("a file over the size limit", too_big),
    ] {
        let start = std::time::Instant::now();
        assert_sane(&source);
        let took = start.elapsed();
        assert!(
            took < std::time::Duration::from_secs(10),
            "{what}: {took:?}"
        );
    }
}
