//! Scaling table for docs/bench-compile.md: CPU time of parse + check and of parse + check +
//! lower + serialise for generated workflows of 10 to 10,000 stages (chain, wide fan, random
//! DAG; `common/mod.rs`), side by side with two baselines run on the same text in the same
//! process: the YAML event scan alone (`granit-parser`, the parser `approvalc-dsl` reads
//! with) and a generic YAML load into a JSON value (`serde-saphyr`). Prints Markdown.
//!
//! Times are CPU time of this thread (`/proc/thread-self/schedstat`, the scheduler's own
//! count, so neighbours on a shared host do not inflate them): each cell runs batches of at
//! least 0.2 s CPU and reports the median batch's time per run; wall time is printed too.
//! At 10,000 stages the YAML has more than the reader's cap of 100,000 values (E022), so
//! that row checks and lowers the same workflow built as an AST instead.
//!
//! Run: `cargo bench -p approvalc-compiler --bench scaling` (release build).

mod common;

use std::hint::black_box;
use std::time::Instant;

use approvalc_compiler::lower;

/// CPU time of the calling thread, in seconds; `None` off Linux.
fn thread_cpu() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// One measured cell: seconds per run, CPU and wall.
#[derive(Clone, Copy)]
struct Time {
    cpu: f64,
    wall: f64,
}

const BATCHES: usize = 5;
/// A batch lasts at least this much CPU time, so the scheduler's tick-granular count is
/// off by a few percent at most.
const BATCH_CPU: f64 = 0.2;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(f64::NAN)
}

fn measure<R>(mut run: impl FnMut() -> R) -> Time {
    // One warm-up run also sizes the batches.
    let start = Instant::now();
    black_box(run());
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let per_batch = ((BATCH_CPU / once).ceil() as usize).max(1);
    let (mut cpus, mut walls) = (Vec::new(), Vec::new());
    for _ in 0..BATCHES {
        let (cpu0, wall0) = (thread_cpu(), Instant::now());
        for _ in 0..per_batch {
            black_box(run());
        }
        let wall = wall0.elapsed().as_secs_f64();
        let cpu = match (cpu0, thread_cpu()) {
            (Some(a), Some(b)) => b - a,
            _ => f64::NAN,
        };
        cpus.push(cpu / per_batch as f64);
        walls.push(wall / per_batch as f64);
    }
    Time {
        cpu: median(cpus),
        wall: median(walls),
    }
}

/// Everything measured for one shape and size.
struct Row {
    n: usize,
    yaml_bytes: usize,
    scan: Time,
    /// `None` (this and the next two) when the YAML is over the reader's cap (E022).
    saphyr: Option<Time>,
    parse_check: Option<Time>,
    compile: Option<Time>,
    check_ast: Time,
    lower_ast: Time,
    parent_bytes: usize,
    quota_codes: Vec<&'static str>,
}

fn scan(text: &str) -> usize {
    let mut parser = granit_parser::Parser::new_from_str(text);
    let mut events = 0;
    while let Some(Ok(_)) = parser.next_event() {
        events += 1;
    }
    events
}

fn saphyr(text: &str) -> Option<serde_json::Value> {
    serde_saphyr::from_str(text).ok()
}

/// Check + lower + render from an AST: what `compile` does after the parser.
fn lower_ast(workflow: &approvalc_dsl::ast::Workflow) -> Option<usize> {
    let checked = approvalc_compiler::check_workflow(workflow);
    let lowered = lower::lower(checked.model.as_ref()?);
    let files = lowered.artifacts?.render().ok()?;
    Some(files.iter().map(|(_, body)| body.len()).sum())
}

fn compile_and_render(text: &str) -> Option<usize> {
    let compiled = lower::compile(text);
    let files = compiled.artifacts?.render().ok()?;
    Some(files.iter().map(|(_, body)| body.len()).sum())
}

fn row(shape: &str, generate: common::Shape, n: usize) -> Row {
    let needs = generate(n);
    let text = common::text(&needs);
    let workflow = common::tree(&needs);
    let parsed = approvalc_compiler::check(&text);
    let over_cap = parsed
        .diagnostics
        .iter()
        .any(|d| d.code == approvalc_dsl::codes::LIMIT);
    let checked = approvalc_compiler::check_workflow(&workflow);
    let Some(model) = checked.model.as_ref() else {
        panic!("{shape} {n}: {:#?}", checked.diagnostics.first());
    };
    if !over_cap {
        assert!(
            !parsed.has_errors(),
            "{shape} {n}: {:#?}",
            parsed.diagnostics
        );
        assert!(
            saphyr(&text).is_some(),
            "{shape} {n}: serde-saphyr refused it"
        );
    }
    let lowered = lower::lower(model);
    let parent_bytes = lowered
        .artifacts
        .as_ref()
        .map_or(0, |a| a.manifest.parent.definition_bytes);
    let quota_codes = lowered
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.code)
        .collect();
    Row {
        n,
        yaml_bytes: text.len(),
        scan: measure(|| scan(&text)),
        saphyr: (!over_cap).then(|| measure(|| saphyr(&text))),
        parse_check: (!over_cap).then(|| measure(|| approvalc_compiler::check(&text))),
        compile: (!over_cap).then(|| measure(|| compile_and_render(&text))),
        check_ast: measure(|| approvalc_compiler::check_workflow(&workflow)),
        lower_ast: measure(|| lower_ast(&workflow)),
        parent_bytes,
        quota_codes,
    }
}

fn ms(t: Option<Time>) -> String {
    t.map_or("E022".to_owned(), |t| format!("{:.3}", t.cpu * 1e3))
}

fn ratio(a: Option<Time>, b: Option<Time>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}×", a.cpu / b.cpu),
        _ => "—".to_owned(),
    }
}

/// Growth from the previous size (10× fewer stages): 10× is linear.
fn growth(now: Option<Time>, before: Option<Time>) -> String {
    ratio(now, before)
}

fn print_shape(shape: &str, rows: &[Row]) {
    println!("\n### {shape}\n");
    println!(
        "| stages | YAML bytes | YAML scan | serde-saphyr → Value | **parse+check** | ×saphyr | growth | **parse+check+lower+render** | ×saphyr | growth | check (AST) | growth | check+lower+render (AST) | growth | wall parse+check / compile | parent bytes | % of 1 MiB | quota errors |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut before: Option<&Row> = None;
    for r in rows {
        let grow =
            |f: fn(&Row) -> Option<Time>| before.map_or("—".to_owned(), |b| growth(f(r), f(b)));
        let wall = match (r.parse_check, r.compile) {
            (Some(a), Some(b)) => format!("{:.3} / {:.3}", a.wall * 1e3, b.wall * 1e3),
            _ => "—".to_owned(),
        };
        println!(
            "| {} | {} | {:.3} | {} | **{}** | {} | {} | **{}** | {} | {} | {:.3} | {} | {:.3} | {} | {} | {} | {:.1} | {} |",
            r.n,
            r.yaml_bytes,
            r.scan.cpu * 1e3,
            ms(r.saphyr),
            ms(r.parse_check),
            ratio(r.parse_check, r.saphyr),
            grow(|r| r.parse_check),
            ms(r.compile),
            ratio(r.compile, r.saphyr),
            grow(|r| r.compile),
            r.check_ast.cpu * 1e3,
            grow(|r| Some(r.check_ast)),
            r.lower_ast.cpu * 1e3,
            grow(|r| Some(r.lower_ast)),
            wall,
            r.parent_bytes,
            r.parent_bytes as f64 * 100.0 / 1_048_576.0,
            if r.quota_codes.is_empty() {
                "none".to_owned()
            } else {
                r.quota_codes.join(", ")
            },
        );
        before = Some(r);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a name filter picks shapes.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    println!(
        "CPU milliseconds per run (median of {BATCHES} batches of ≥ {BATCH_CPU} s CPU); growth = time ÷ time at 10× fewer stages (linear = 10×)."
    );
    for (shape, generate) in common::SHAPES {
        if !filter.is_empty() && !filter.iter().any(|f| shape.contains(f.as_str())) {
            continue;
        }
        let rows: Vec<Row> = common::SIZES
            .iter()
            .map(|&n| {
                eprintln!("{shape} {n}…");
                row(shape, generate, n)
            })
            .collect();
        print_shape(shape, &rows);
    }
}
