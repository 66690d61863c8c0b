//! Property tests: `check` never panics, on random stage graphs, random conditions and
//! templates, and on mutated example workflows; and whatever it returns is consistent (a
//! model only without errors, stages in topological order).

use std::path::Path;

use approvalc_compiler::check;
use proptest::prelude::*;

const HEAD: &str = "apiVersion: approvalc/v1\nname: prop\nregion: ap-northeast-1\nhome: ops\ndefaults:\n  timeout: 10m\naccounts:\n  ops: { id: \"111111111111\" }\ninput:\n  a: { type: string, enum: [x, y] }\n  n: { type: number }\n  b: { type: boolean }\n";

/// A workflow with `n` stages whose `needs` come from `edges` (indices may point past the
/// end, at the stage itself, or repeat: all must be handled).
fn graph_yaml(n: usize, edges: &[(usize, usize)], whens: &[String]) -> String {
    let mut out = format!("{HEAD}stages:\n");
    for i in 0..n {
        out.push_str(&format!("  s{i}:\n"));
        let needs: Vec<String> = edges
            .iter()
            .filter(|(from, _)| *from == i)
            .map(|(_, to)| format!("s{to}"))
            .collect();
        if !needs.is_empty() {
            out.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
        }
        if let Some(w) = whens.get(i).filter(|w| !w.is_empty()) {
            out.push_str(&format!("    when: '{}'\n", w.replace('\'', "''")));
        }
        // Read the decision of the first need: valid whenever that need exists.
        let reads = needs
            .first()
            .map_or(String::new(), |n| format!("{{{{ stage.{n}.decision }}}} "));
        out.push_str(&format!(
            "    ssm: {{ approvers: [alice], message: \"{reads}{{{{ input.a }}}}\" }}\n"
        ));
    }
    out
}

/// How many random graphs produced a model, so the ordering property is not vacuous.
static BUILT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn token() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "input.a",
        "input.n",
        "input.b",
        "input.zz",
        "stage.s0.decision",
        "stage.s1.decision",
        "run.id",
        "==",
        "!=",
        "<",
        ">=",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "in",
        "[",
        "]",
        ",",
        "\"x\"",
        "'y'",
        "3",
        "-1.5",
        "true",
        "false",
        ".",
        "=",
        "&",
        "\"",
        "stage",
        "input",
    ])
    .prop_map(str::to_owned)
}

/// Stage graph edges: half the time anything (out of range, self loops, cycles,
/// repeats), half the time distinct backward edges, which always make a valid graph. Without
/// the second half nearly every case is an error and the ordering property ran on no model
/// at all in about one run in three.
fn edges() -> impl Strategy<Value = Vec<(usize, usize)>> {
    let any = prop::collection::vec((0usize..26, 0usize..26), 0..60);
    let backward = prop::collection::vec((0usize..26, 0usize..26), 0..60).prop_map(|edges| {
        let mut edges: Vec<_> = edges.into_iter().filter(|(from, to)| from > to).collect();
        edges.sort_unstable();
        edges.dedup();
        edges
    });
    prop_oneof![any, backward]
}

fn condition() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..12).prop_map(|t| t.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_graphs_never_panic_and_models_are_ordered(
        n in 1usize..25,
        edges in edges(),
        whens in prop_oneof![Just(Vec::new()), prop::collection::vec(condition(), 0..25)],
    ) {
        let checked = check(&graph_yaml(n, &edges, &whens));
        prop_assert_eq!(checked.model.is_some(), !checked.has_errors());
        if let Some(model) = checked.model {
            BUILT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            prop_assert_eq!(model.stages.len(), n);
            for (i, stage) in model.stages.iter().enumerate() {
                for need in &stage.needs {
                    prop_assert!(need.0 < i, "need {} after stage {}", need.0, i);
                }
            }
        }
    }

    #[test]
    fn random_templates_never_panic(text in "[a-z{} .|]{0,40}") {
        let yaml = format!("{HEAD}stages:\n  s0:\n    ssm: {{ approvers: [alice], message: '{}' }}\n", text.replace('\'', "''"));
        let checked = check(&yaml);
        prop_assert_eq!(checked.model.is_some(), !checked.has_errors());
    }

    #[test]
    fn mutated_examples_never_panic(
        which in 0usize..16,
        cuts in prop::collection::vec((any::<prop::sample::Index>(), 0usize..40, "[ -~\n]{0,12}"), 1..6),
    ) {
        let examples = examples();
        prop_assume!(!examples.is_empty());
        let mut text = examples[which % examples.len()].clone().into_bytes();
        for (at, len, insert) in cuts {
            let start = at.index(text.len() + 1);
            let end = (start + len).min(text.len());
            text.splice(start..end, insert.into_bytes());
        }
        let text = String::from_utf8_lossy(&text);
        let checked = check(&text);
        prop_assert_eq!(checked.model.is_some(), !checked.has_errors());
    }
}

fn examples() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["workflows", "tests/broken"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        out.extend(
            paths
                .iter()
                .filter_map(|p| std::fs::read_to_string(p).ok())
                .filter(|s| s.len() < 20_000),
        );
    }
    out
}

#[test]
fn some_random_graphs_build_models() {
    // Acyclic by construction (edges point backwards), no conditions.
    let edges: Vec<(usize, usize)> = (1..20).map(|i| (i, i / 2)).collect();
    assert!(check(&graph_yaml(20, &edges, &[])).model.is_some());
    random_graphs_never_panic_and_models_are_ordered();
    assert!(
        BUILT.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "no random graph was valid"
    );
}

#[test]
fn a_long_chain_and_a_wide_fan_check_quickly() {
    let n = 2_000;
    let chain: Vec<(usize, usize)> = (1..n).map(|i| (i, i - 1)).collect();
    let checked = check(&graph_yaml(n, &chain, &[]));
    assert!(checked.model.is_some(), "{:?}", checked.diagnostics.first());
    let fan: Vec<(usize, usize)> = (1..n).map(|i| (n - 1, i - 1)).collect();
    let checked = check(&graph_yaml(n, &fan, &[]));
    assert!(checked.model.is_some(), "{:?}", checked.diagnostics.first());
}
