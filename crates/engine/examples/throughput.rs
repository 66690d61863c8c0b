//! Transitions per second on the shared workloads, in wall time (median run) and in CPU
//! time (mean over the batch), printed as one JSON object per workload — the same shape as
//! `scripts/bench-moto-sfn.py`, so the two can be compared on a busy host where wall time
//! mostly measures the neighbours.
//!
//! CPU time is read two ways: the thread's scheduler count (`/proc/thread-self/schedstat`,
//! nanoseconds) and the process's user + system time (`/proc/self/stat`, what
//! `getrusage(RUSAGE_SELF)` reports, in 10 ms ticks; moto's figure is the same kind).
//! The engine runs `Parallel` branches and `Map` iterations as logical threads on the
//! caller's thread, so the two agree up to the tick.
//!
//! `cargo run --release -p approvalc-engine --example throughput [BENCH_DIR] [RUNS]`
//! (defaults: `tests/bench` in the repository, 200 runs per workload; use 2,000 or more so the
//! process CPU time, counted in 10 ms ticks, is measured to a few percent).

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

/// User + system CPU time of the whole process in seconds (Linux `/proc/self/stat` fields
/// 14 and 15, in USER_HZ = 100 ticks per second, fixed by the kernel ABI), `None` elsewhere.
fn process_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let rest = text.get(text.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
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
        let process_before = process_cpu_s();
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
        let process_cpu = match (process_before, process_cpu_s()) {
            (Some(a), Some(b)) => (b - a) / runs as f64,
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
                "mean_process_cpu_s": process_cpu,
                "transitions_per_process_cpu_s": (transitions as f64 / process_cpu).round(),
                "runs": runs,
            })
        );
    }
}
