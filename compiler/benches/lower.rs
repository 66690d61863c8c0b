//! Criterion timing of parse + check + lower + serialise (`compile` + `render`) for generated
//! workflows of 10 to 10,000 stages (chain, wide fan, random DAG, layers; `common/mod.rs`).
//! `compile/<shape>/<n>` starts from YAML text (10 to 1,000 stages: at 10,000 the YAML is
//! over the reader's cap of 100,000 values, E022); `lower/<shape>/<n>` starts from an AST
//! built in memory (check + lower + render), 10 to 10,000 stages (random DAGs to 1,000).
//! Prints the parent definition size against the 1 MB quota. The scaling table with
//! baselines is `benches/scaling.rs`; figures are in docs/bench-compile.md.
//!
//! Run: `cargo bench -p approvalc-compiler --bench lower`.

mod common;

use std::hint::black_box;

use approvalc_compiler::lower;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn compile_and_render(text: &str) -> Option<usize> {
    let files = lower::compile(text).artifacts?.render().ok()?;
    Some(files.len())
}

fn lower_and_render(workflow: &approvalc_dsl::ast::Workflow) -> Option<usize> {
    let model = approvalc_compiler::check_workflow(workflow).model?;
    let files = lower::lower(&model).artifacts?.render().ok()?;
    Some(files.len())
}

fn report(shape: &str, n: usize, workflow: &approvalc_dsl::ast::Workflow) {
    let Some(model) = approvalc_compiler::check_workflow(workflow).model else {
        panic!("{shape} {n}: does not check");
    };
    let lowered = lower::lower(&model);
    let errors: Vec<&str> = lowered
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    if let Some(artifacts) = &lowered.artifacts {
        let parent = &artifacts.manifest.parent;
        eprintln!(
            "{shape} {n}: parent {} bytes ({:.1}% of 1 MiB), {} states, worst-case history {} events, errors {errors:?}",
            parent.definition_bytes,
            parent.definition_bytes as f64 * 100.0 / 1_048_576.0,
            parent.state_count,
            parent.worst_case_history_events,
        );
    }
}

fn bench(c: &mut Criterion) {
    for (shape, generate) in common::SHAPES {
        let mut group = c.benchmark_group(format!("compile/{shape}"));
        group.sample_size(10);
        for n in common::SIZES.into_iter().filter(|&n| n <= 1_000) {
            let text = common::text(&generate(n));
            assert!(compile_and_render(&text).is_some(), "{shape} {n}");
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
                b.iter(|| compile_and_render(black_box(text)));
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("lower/{shape}"));
        group.sample_size(10);
        for n in common::SIZES {
            // A 10,000-stage random DAG takes minutes per run (the greedy knot split in
            // `lower::sp` is superlinear); `benches/scaling.rs` times it once instead.
            if shape == "random" && n > 1_000 {
                continue;
            }
            let workflow = common::tree(&generate(n));
            report(shape, n, &workflow);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &workflow, |b, workflow| {
                b.iter(|| lower_and_render(black_box(workflow)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
