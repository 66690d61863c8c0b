//! The diagnostics table in `docs/diagnostics.md` lists every parse code, once.

use std::path::Path;

#[test]
fn every_parse_code_has_one_line_in_docs_diagnostics_md() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/diagnostics.md");
    let doc = std::fs::read_to_string(path).expect("docs/diagnostics.md exists");
    for code in approvalc_dsl::codes::ALL {
        let short = code.trim_start_matches("approvalc::");
        let rows = doc
            .lines()
            .filter(|l| l.starts_with(&format!("| {short} |")))
            .count();
        assert_eq!(rows, 1, "{short} has {rows} rows in docs/diagnostics.md");
    }
}

#[test]
fn codes_are_distinct_and_in_the_parse_range() {
    let codes = approvalc_dsl::codes::ALL;
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(
            *code,
            format!("approvalc::E{:03}", i + 1),
            "codes are numbered in order"
        );
        assert!(i < 29, "parse codes end at E029");
    }
}
