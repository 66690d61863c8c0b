//! Transitions per second on the shared workloads, in wall time (median run) and in CPU
//! time of this thread (mean over the batch), printed as one JSON object per workload — the same shape as
//! `scripts/bench-moto-sfn.py`, so the two can be compared on a busy host where wall time
//! mostly measures the neighbours.
//!
//! `cargo run --release -p approvalc-engine --example throughput [BENCH_DIR] [RUNS]`
//! (defaults: `tests/bench` in the repository, 200 runs per workload).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use approvalc_engine::{Execution, ExecutionConfig, Machine, ScriptedTaskHandler, Status};

const WORKLOADS: &[&str] = &[
    "a_pass_chain_1000",
    "b_parallel_50x10",
    "c_map_200x3",
    "d_choice_loop_1000",
];

/// CPU time of the calling thread in nanoseconds (Linux `/proc/thread-self/schedstat`),
/// `None` where that file does not exist.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bench"),
        PathBuf::from,
    );
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(200);
    for name in WORKLOADS {
        let path = dir.join(format!("{name}.asl.json"));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                std::process::exit(1);
            }
        };
        let definition: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let machine = match Machine::load(&definition) {
            Ok(m) => Arc::new(m),
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::exit(1);
            }
        };
        let (mut walls, mut transitions) = (Vec::new(), 0);
        // The scheduler updates a thread's CPU time at ticks, so it is read around the
        // whole batch and averaged, not per run.
        let cpu_before = thread_cpu_ns();
        for _ in 0..runs {
            let wall = Instant::now();
            let mut exec = Execution::start(
                Arc::clone(&machine),
                serde_json::json!({}),
                ExecutionConfig::default(),
            );
            exec.run_to_completion(&mut ScriptedTaskHandler::default());
            walls.push(wall.elapsed().as_secs_f64());
            if !matches!(exec.status(), Status::Succeeded { .. }) {
                eprintln!("{name}: ended {:?}", exec.status());
                std::process::exit(1);
            }
            transitions = exec.transitions();
        }
        let cpu = match (cpu_before, thread_cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9 / runs as f64,
            _ => f64::NAN,
        };
        let wall = median(walls);
        println!(
            "{}",
            serde_json::json!({
                "workload": name,
                "median_s": wall,
                "mean_cpu_s": cpu,
                "transitions": transitions,
                "transitions_per_s": (transitions as f64 / wall).round(),
                "transitions_per_cpu_s": (transitions as f64 / cpu).round(),
                "runs": runs,
            })
        );
    }
}
