//! Transitions per second on the four shared workloads (`tests/bench`, or
//! `APPROVALC_BENCH_DIR`): (a) 1,000 Pass states, (b) Parallel 50×10, (c) Map 200×3,
//! (d) a 1,000-iteration Choice loop with `States.MathAdd`. Each iteration loads nothing:
//! the machine is compiled once, as a long-lived service would; history is recorded.

use std::path::PathBuf;
use std::sync::Arc;

use approvalc_engine::{Execution, ExecutionConfig, Machine, ScriptedTaskHandler, Status};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_dir() -> PathBuf {
    std::env::var_os("APPROVALC_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bench"),
        PathBuf::from,
    )
}

const WORKLOADS: &[&str] = &[
    "a_pass_chain_1000",
    "b_parallel_50x10",
    "c_map_200x3",
    "d_choice_loop_1000",
];

fn run_once(machine: &Arc<Machine>) -> u64 {
    let mut handler = ScriptedTaskHandler::default();
    let mut exec = Execution::start(
        Arc::clone(machine),
        serde_json::json!({}),
        ExecutionConfig::default(),
    );
    exec.run_to_completion(&mut handler);
    assert!(
        matches!(exec.status(), Status::Succeeded { .. }),
        "{:?}",
        exec.status()
    );
    exec.transitions()
}

fn workloads(c: &mut Criterion) {
    let mut group = c.benchmark_group("workloads");
    for name in WORKLOADS {
        let path = bench_dir().join(format!("{name}.asl.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let definition: serde_json::Value = serde_json::from_str(&text).unwrap();
        let machine = Arc::new(Machine::load(&definition).unwrap());
        let transitions = run_once(&machine);
        group.throughput(Throughput::Elements(transitions));
        group.bench_function(*name, |b| b.iter(|| run_once(&machine)));
    }
    group.finish();
}

criterion_group!(benches, workloads);
criterion_main!(benches);
