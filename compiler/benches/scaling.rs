//! Scaling table for docs/bench-compile.md: CPU time of parse + check and of parse + check +
//! lower + serialise for generated workflows of 10 to 10,000 stages (chain, wide fan, random
//! DAG; `common/mod.rs`), side by side with two baselines run on the same text in the same
//! process: the YAML event scan alone (`granit-parser`, the parser `approvalc-dsl` reads
//! with) and a generic YAML load into a JSON value (`serde-saphyr`). Prints Markdown.
//!
//! Times are CPU time of this thread (`/proc/thread-self/schedstat`, the scheduler's own
//! count, so neighbours on a shared host do not inflate them): each cell runs batches of at
//! least 0.2 s CPU and reports the median batch's time per run (a run over 2 s CPU is timed
//! once, marked "1 run"); wall time is printed too.
//! At 10,000 stages the YAML is over the reader's caps (100,000 values, 1 MiB: E022), so
//! that row checks and lowers the same workflow built as an AST instead.
//!
//! Run: `cargo bench -p approvalc-compiler --bench scaling -- [SHAPE...] [max=N]
//! [sizes=A,B,…] [lower-max=N]` (release build; rows are printed as they are measured).

mod common;

/// The approvalc binary's allocator (crates/cli/src/main.rs): the bench measures what users run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Measured once only, because one run took longer than [`SLOW`].
    once: bool,
}

/// A run slower than this (CPU seconds) is not repeated: its one time is reported.
const SLOW: f64 = 2.0;

/// Times one run.
fn time_once<R>(run: impl FnOnce() -> R) -> (Time, R) {
    let (cpu0, wall0) = (thread_cpu(), Instant::now());
    let out = run();
    let wall = wall0.elapsed().as_secs_f64();
    let cpu = match (cpu0, thread_cpu()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    (
        Time {
            cpu,
            wall,
            once: true,
        },
        out,
    )
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
    let (first, out) = time_once(&mut run);
    black_box(out);
    if first.cpu > SLOW {
        return first;
    }
    let per_run = if first.cpu > 0.0 {
        first.cpu
    } else {
        first.wall
    };
    let per_batch = ((BATCH_CPU / per_run.max(1e-7)).ceil() as usize).max(1);
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
        once: false,
    }
}

/// Everything measured for one shape and size.
struct Row {
    n: usize,
    yaml_bytes: usize,
    scan: Time,
    /// `None` when serde-saphyr refuses the text.
    saphyr: Option<Time>,
    /// `None` (this and the next) when the YAML is over the reader's cap (E022).
    parse_check: Option<Time>,
    compile: Option<Time>,
    check_ast: Time,
    /// This and the rest are `None` above `lower-max=N` stages.
    lower_ast: Option<Time>,
    parent_bytes: Option<usize>,
    /// Part machines the parent was split into, and the largest one's definition bytes.
    parts: Option<(usize, usize)>,
    /// Ordering edges added to make the graph series-parallel (`manifest.extra_edges`).
    extra_edges: Option<usize>,
    quota_codes: Option<Vec<&'static str>>,
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

fn row(shape: &str, generate: common::Shape, n: usize, lower: bool) -> Row {
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
    // The first lowering gives the sizes and, for very slow shapes, the only time.
    let first = lower.then(|| time_once(|| lower::lower(model)));
    let parent_bytes = first.as_ref().map(|(_, lowered)| {
        lowered
            .artifacts
            .as_ref()
            .map_or(0, |a| a.manifest.parent.definition_bytes)
    });
    let parts = first.as_ref().and_then(|(_, lowered)| {
        let parts = &lowered.artifacts.as_ref()?.manifest.parts;
        let largest = parts.iter().map(|p| p.definition_bytes).max().unwrap_or(0);
        Some((parts.len(), largest))
    });
    let extra_edges = first
        .as_ref()
        .and_then(|(_, lowered)| Some(lowered.artifacts.as_ref()?.manifest.extra_edges.len()));
    let quota_codes = first.as_ref().map(|(_, lowered)| {
        lowered
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code)
            .collect()
    });
    let lower_ast = first.map(|(first, _)| {
        if first.cpu > SLOW {
            time_once(|| lower_ast(&workflow)).0
        } else {
            measure(|| lower_ast(&workflow))
        }
    });
    Row {
        n,
        yaml_bytes: text.len(),
        scan: measure(|| scan(&text)),
        saphyr: saphyr(&text).map(|_| measure(|| saphyr(&text))),
        parse_check: (!over_cap).then(|| measure(|| approvalc_compiler::check(&text))),
        compile: (lower && !over_cap).then(|| measure(|| compile_and_render(&text))),
        check_ast: measure(|| approvalc_compiler::check_workflow(&workflow)),
        lower_ast,
        parent_bytes,
        parts,
        extra_edges,
        quota_codes,
    }
}

/// CPU milliseconds; a missing time is the reader's cap (E022), serde-saphyr's refusal, or
/// a lowering column skipped by `lower-max`.
fn ms(t: Option<Time>) -> String {
    t.map_or("—".to_owned(), show)
}

/// CPU milliseconds, marked when measured once.
fn show(t: Time) -> String {
    let mark = if t.once { " (1 run)" } else { "" };
    format!("{:.3}{mark}", t.cpu * 1e3)
}

fn ratio(a: Option<Time>, b: Option<Time>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.1}×", a.cpu / b.cpu),
        _ => "—".to_owned(),
    }
}

fn print_header(shape: &str) {
    println!("\n### {shape}\n");
    println!(
        "| stages | YAML bytes | YAML scan | serde-saphyr → Value | **parse+check** | ×saphyr | growth | **parse+check+lower+render** | ×saphyr | growth | check (AST) | growth | check+lower+render (AST) | growth | wall parse+check / compile | parent bytes | % of 1 MiB | parts | largest part bytes | extra edges | quota errors |"
    );
    println!(
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
}

fn print_row(r: &Row, before: Option<&Row>) {
    let grow = |f: fn(&Row) -> Option<Time>| before.map_or("—".to_owned(), |b| ratio(f(r), f(b)));
    let wall = match (r.parse_check, r.compile) {
        (Some(a), Some(b)) => format!("{:.3} / {:.3}", a.wall * 1e3, b.wall * 1e3),
        _ => "—".to_owned(),
    };
    println!(
        "| {} | {} | {} | {} | **{}** | {} | {} | **{}** | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        r.n,
        r.yaml_bytes,
        show(r.scan),
        ms(r.saphyr),
        ms(r.parse_check),
        ratio(r.parse_check, r.saphyr),
        grow(|r| r.parse_check),
        ms(r.compile),
        ratio(r.compile, r.saphyr),
        grow(|r| r.compile),
        show(r.check_ast),
        grow(|r| Some(r.check_ast)),
        ms(r.lower_ast),
        grow(|r| r.lower_ast),
        wall,
        r.parent_bytes.map_or("—".to_owned(), |b| b.to_string()),
        r.parent_bytes.map_or("—".to_owned(), |b| format!(
            "{:.1}",
            b as f64 * 100.0 / 1_048_576.0
        )),
        r.parts.map_or("—".to_owned(), |(n, _)| n.to_string()),
        r.parts.map_or("—".to_owned(), |(_, b)| b.to_string()),
        r.extra_edges.map_or("—".to_owned(), |e| e.to_string()),
        match &r.quota_codes {
            None => "—".to_owned(),
            Some(codes) if codes.is_empty() => "none".to_owned(),
            Some(codes) => codes.join(", "),
        },
    );
}

/// The value of a `name=` argument, parsed.
fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments are shape names, `max=N` (stop at N
    // stages), `sizes=A,B,…` (instead of 10,100,1000,10000) and `lower-max=N` (skip the
    // lowering columns above N stages).
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let max = option(&args, "max").unwrap_or(usize::MAX);
    let lower_max = option(&args, "lower-max").unwrap_or(usize::MAX);
    let sizes: Vec<usize> = option::<String>(&args, "sizes").map_or(common::SIZES.to_vec(), |s| {
        s.split(',').filter_map(|n| n.parse().ok()).collect()
    });
    let shapes: Vec<&String> = args.iter().filter(|a| !a.contains('=')).collect();
    println!(
        "CPU milliseconds per run (median of {BATCHES} batches of ≥ {BATCH_CPU} s CPU); growth = time ÷ time in the row above (linear = the ratio of stage counts, 10× for the default sizes); — = not run (E022 or `lower-max`)."
    );
    for (shape, generate) in common::SHAPES {
        if !shapes.is_empty() && !shapes.iter().any(|f| shape.contains(f.as_str())) {
            continue;
        }
        print_header(shape);
        let mut before = None;
        for n in sizes.iter().copied().filter(|&n| n <= max) {
            let row = row(shape, generate, n, n <= lower_max);
            print_row(&row, before.as_ref());
            before = Some(row);
        }
    }
}
