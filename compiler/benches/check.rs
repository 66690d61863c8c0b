//! Criterion timing of parse + check for generated workflows of 10 to 10,000 stages in three
//! shapes (chain, wide fan, random DAG; `common/mod.rs`). The scaling table with baselines
//! and CPU times is `benches/scaling.rs`; figures are in docs/bench-compile.md.
//!
//! Two groups: `parse+check/<shape>/<n>` runs the whole pipeline on YAML text (10 to 1,000
//! stages; at 10,000 stages the YAML has more than the reader's cap of 100,000 values, E022),
//! and `check/<shape>/<n>` runs [`approvalc_compiler::check_workflow`] on an AST built in
//! memory, 10 to 10,000 stages.
//!
//! Run: `cargo bench -p approvalc-compiler --bench check`.

mod common;

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    for (shape, generate) in common::SHAPES {
        let mut group = c.benchmark_group(format!("parse+check/{shape}"));
        group.sample_size(10);
        for n in common::SIZES.into_iter().filter(|&n| n <= 1_000) {
            let text = common::text(&generate(n));
            let checked = approvalc_compiler::check(&text);
            assert!(
                !checked.has_errors(),
                "{shape} {n}: {:?}",
                checked.diagnostics.iter().find(|d| d.is_error())
            );
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &text, |b, text| {
                b.iter(|| approvalc_compiler::check(black_box(text)));
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("check/{shape}"));
        group.sample_size(10);
        for n in common::SIZES {
            let workflow = common::tree(&generate(n));
            let checked = approvalc_compiler::check_workflow(&workflow);
            assert!(
                checked.model.is_some(),
                "{shape} {n}: {:?}",
                checked.diagnostics.iter().find(|d| d.is_error())
            );
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::from_parameter(n), &workflow, |b, workflow| {
                b.iter(|| approvalc_compiler::check_workflow(black_box(workflow)));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
