//! Structure of the parent machine: stage order follows `needs`, rejections fail fast with
//! `Approval.Rejected` and are caught once at the top, every stage's record is collected,
//! quotas are reported.

use approvalc_asl::model::{State, StateMachine};
use approvalc_compiler::lower::{self, codes};

const HEADER: &str = "apiVersion: approvalc/v1\nname: gen\nregion: us-east-1\nhome: main\naccounts:\n  main: { id: \"111111111111\" }\n  other: { id: \"222222222222\" }\nstages:\n";

fn stage(id: &str, needs: &[&str]) -> String {
    let needs = if needs.is_empty() {
        String::new()
    } else {
        format!("    needs: [{}]\n", needs.join(", "))
    };
    format!("  {id}:\n{needs}    ssm:\n      approvers: [arn:aws:iam::111111111111:role/A]\n")
}

fn compile(stages: &str) -> lower::Compiled {
    lower::compile(&format!("{HEADER}{stages}"))
}

fn parent(compiled: &lower::Compiled) -> StateMachine {
    let artifacts = compiled.artifacts.as_ref().expect("artifacts");
    serde_json::from_str(&artifacts.file("parent.asl.json").unwrap().contents).unwrap()
}

fn all_states(states: &indexmap::IndexMap<String, State>, out: &mut Vec<(String, State)>) {
    for (name, state) in states {
        out.push((name.clone(), state.clone()));
        for branch in state.branches() {
            all_states(&branch.states, out);
        }
    }
}

#[test]
fn n_shaped_graph_warns_and_names_the_edge() {
    let compiled = compile(
        &[
            stage("a", &[]),
            stage("b", &[]),
            stage("c", &["a", "b"]),
            stage("d", &["b"]),
        ]
        .concat(),
    );
    let warnings: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == codes::EXTRA_EDGES)
        .collect();
    assert_eq!(warnings.len(), 1, "{:#?}", compiled.diagnostics);
    assert!(!compiled.has_errors());
    let manifest = &compiled.artifacts.as_ref().unwrap().manifest;
    assert_eq!(manifest.extra_edges.len(), 1);
    assert!(parent(&compiled).check_graph().is_empty());
}

#[test]
fn one_warning_per_stage_names_every_edge_added_to_it() {
    // A random DAG (each stage needs up to three of the eight before it): not
    // series-parallel, and several stages get more than one extra edge.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = String::new();
    for i in 0..60usize {
        let mut needs: Vec<String> = Vec::new();
        for _ in 0..(if i == 0 { 0 } else { next() % 4 }) {
            let need = format!("s{}", i.saturating_sub(1 + (next() % 8) as usize));
            if !needs.contains(&need) {
                needs.push(need);
            }
        }
        let needs: Vec<&str> = needs.iter().map(String::as_str).collect();
        text.push_str(&stage(&format!("s{i}"), &needs));
    }
    let compiled = compile(&text);
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    let edges = &compiled.artifacts.as_ref().unwrap().manifest.extra_edges;
    let mut afters: Vec<&str> = edges.iter().map(|e| e.after.as_str()).collect();
    afters.sort_unstable();
    afters.dedup();
    assert!(
        edges.len() > afters.len(),
        "no stage got two edges: {edges:?}"
    );
    let warnings: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == codes::EXTRA_EDGES)
        .collect();
    assert_eq!(warnings.len(), afters.len());
    for after in afters {
        let warning = warnings
            .iter()
            .find(|w| w.message.starts_with(&format!("stage `{after}` ")))
            .unwrap_or_else(|| panic!("no warning for {after}"));
        let help = warning.help.as_deref().unwrap_or_default();
        for edge in edges.iter().filter(|e| e.after == after) {
            assert!(help.contains(&format!("`{}`", edge.before)), "{help}");
        }
        assert!(!warning.related.is_empty() && warning.related.len() <= 5);
    }
}

#[test]
fn every_rejection_fails_fast_and_is_caught_once() {
    let compiled = compile(
        &[
            stage("a", &[]),
            stage("b", &["a"]),
            stage("c", &["a"]),
            stage("d", &["b", "c"]),
        ]
        .concat(),
    );
    let machine = parent(&compiled);
    let mut states = Vec::new();
    all_states(&machine.states, &mut states);
    for id in ["a", "b", "c", "d"] {
        let fail = states
            .iter()
            .find(|(n, _)| n == &format!("{id}_Rejected"))
            .expect("fail state");
        let State::Fail(fail) = &fail.1 else {
            panic!("{id}_Rejected is not a Fail state")
        };
        assert_eq!(
            fail.error,
            Some(approvalc_asl::model::ErrorSource::Text(
                "Approval.Rejected".into()
            ))
        );
    }
    let State::Parallel(top) = &machine.states["Stages"] else {
        panic!("no Stages")
    };
    assert_eq!(top.catch.len(), 1);
    assert_eq!(
        top.catch[0].error_equals,
        vec!["Approval.Rejected".to_owned()]
    );
    // Inner Parallels do not catch: the error must reach the top so siblings stop.
    for (name, state) in &states {
        if let State::Parallel(p) = state
            && name != "Stages"
        {
            assert!(p.catch.is_empty(), "{name} catches");
        }
    }
}

#[test]
fn parallel_results_merge_every_branch() {
    let stages: String = (0..3).map(|i| stage(&format!("s{i}"), &[])).collect();
    let machine = parent(&compile(&stages));
    let mut states = Vec::new();
    all_states(&machine.states, &mut states);
    let merge = states
        .iter()
        .find_map(|(_, s)| match s {
            State::Parallel(p) if p.branches.len() == 3 => p.result_selector.clone(),
            _ => None,
        })
        .expect("a 3-branch Parallel");
    let text = serde_json::to_string(&merge).unwrap();
    for i in 0..3 {
        assert!(text.contains(&format!("$[{i}].stages")), "{text}");
    }
}

#[test]
fn wide_fan_out_nests_parallels_to_stay_within_ten_intrinsics() {
    let stages: String = (0..25).map(|i| stage(&format!("s{i}"), &[])).collect();
    let compiled = compile(&stages);
    let machine = parent(&compiled);
    let mut states = Vec::new();
    all_states(&machine.states, &mut states);
    for (name, state) in &states {
        if let State::Parallel(p) = state {
            assert!(
                p.branches.len() <= 10,
                "{name} has {} branches",
                p.branches.len()
            );
        }
    }
    let tasks = states
        .iter()
        .filter(|(_, s)| matches!(s, State::Task(_)))
        .count();
    assert_eq!(tasks, 25);
}

#[test]
fn a_workflow_too_large_for_one_machine_is_split_not_rejected() {
    let stages: String = (0..3000).map(|i| stage(&format!("s{i}"), &[])).collect();
    let compiled = compile(&stages);
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    let manifest = &compiled.artifacts.as_ref().unwrap().manifest;
    assert!(!manifest.parts.is_empty());
    assert!(manifest.parent.worst_case_history_events <= lower::quotas::HISTORY_EVENTS);
}

#[test]
fn quotas_that_splitting_cannot_fix_are_still_reported() {
    // `sink` reads every decision of a 1,000-stage fan: wherever the fan's stages run, all
    // their records must come back to the machine that runs `sink`.
    let n = 1000;
    let mut stages = stage("root", &[]);
    let fan: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
    for id in &fan {
        stages.push_str(&stage(id, &["root"]));
    }
    let needs: Vec<&str> = fan.iter().map(String::as_str).collect();
    let condition: Vec<String> = fan
        .iter()
        .map(|id| format!("stage.{id}.decision == \"approved\""))
        .collect();
    stages.push_str(&stage("sink", &needs));
    stages.push_str(&format!("    when: '{}'\n", condition.join(" && ")));
    // A 1,000-term condition nests 1,000 deep in the checks: more than a test thread's stack.
    let compiled = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || compile(&stages))
        .expect("thread")
        .join()
        .expect("compiles");
    let payload: Vec<_> = compiled
        .diagnostics
        .iter()
        .filter(|d| d.code == codes::PAYLOAD_TOO_LARGE)
        .collect();
    assert_eq!(payload.len(), 1, "{:#?}", compiled.diagnostics);
    assert!(
        payload[0].message.contains("after splitting"),
        "{}",
        payload[0].message
    );
    assert!(compiled.has_errors());
}

#[test]
fn small_workflow_is_within_every_quota() {
    let compiled = compile(&[stage("a", &[]), stage("b", &["a"])].concat());
    assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
    let parent = &compiled.artifacts.unwrap().manifest.parent;
    assert!(parent.definition_bytes < 20_000);
    // Fixed part 14, Task + Choice per stage, the last stage's Succeed.
    assert_eq!(parent.worst_case_history_events, 14 + 2 * 8 + 2);
}
