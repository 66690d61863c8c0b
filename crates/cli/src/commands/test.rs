//! `approvalc test [PATH...]`: runs scenario files (`*.test.yaml`: input, decisions, the
//! expected run and stage decisions) in the local simulation, with a summary like
//! `cargo test`'s and exit status 1 when a scenario fails.

use std::path::{Path, PathBuf};
use std::time::Instant;

use approvalc_local::scenario::{self, Outcome};

use crate::Exit;
use crate::commands::simulate::{DEFAULT_START_MS, load};

const AFTER_HELP: &str = "\
PATH is a scenario file or a directory searched for *.test.yaml (default: workflows/).
A scenario file names its workflow with `workflow:`, or tests the workflow next to it
(release.test.yaml tests release.yaml). docs/local.md describes the format.

Exit status: 0 every scenario passed, 1 a scenario failed or a file is invalid.

Examples:
  approvalc test
  approvalc test workflows/multi-level-cross-account.test.yaml";

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Scenario files or directories.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Only scenarios whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let started = Instant::now();
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("workflows")]
    } else {
        args.paths
    };
    let mut files = Vec::new();
    for path in &paths {
        collect(path, &mut files);
    }
    if files.is_empty() {
        eprintln!(
            "error: no *.test.yaml files under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(Exit::UserError);
    }
    let mut failures: Vec<(String, Outcome)> = Vec::new();
    let (mut passed, mut broken_files) = (0usize, 0usize);
    for file in &files {
        let display = file.display().to_string();
        let parsed = match scenario::load(file) {
            Ok(p) => p,
            Err(e) => {
                println!("error: {e}");
                broken_files += 1;
                continue;
            }
        };
        let workflow = scenario::workflow_path(file, &parsed);
        let Ok((artifacts, _)) = load(&workflow, Default::default()) else {
            println!("error: {display}: cannot load {}", workflow.display());
            broken_files += 1;
            continue;
        };
        let selected: Vec<_> = parsed
            .scenarios
            .iter()
            .filter(|s| args.filter.as_deref().is_none_or(|f| s.name.contains(f)))
            .collect();
        println!("\nrunning {} scenarios from {display}", selected.len());
        for s in selected {
            let outcome = scenario::run(&artifacts, s, DEFAULT_START_MS);
            if outcome.passed() {
                println!("scenario {} ... ok", s.name);
                passed += 1;
            } else {
                println!("scenario {} ... FAILED", s.name);
                failures.push((display.clone(), outcome));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for (file, outcome) in &failures {
            println!("\n---- {file}: {} ----", outcome.name);
            for f in &outcome.failures {
                println!("  {f}");
            }
        }
        println!("\nfailures:");
        for (file, outcome) in &failures {
            println!("    {file}: {}", outcome.name);
        }
    }
    let ok = failures.is_empty() && broken_files == 0;
    println!(
        "\ntest result: {}. {passed} passed; {} failed; {broken_files} invalid files; finished in {:.2}s",
        if ok { "ok" } else { "FAILED" },
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if ok { Exit::Success } else { Exit::UserError })
}

fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_owned());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.to_str()
                .is_some_and(|s| s.ends_with(".test.yaml") || s.ends_with(".test.yml"))
        })
        .collect();
    found.sort();
    out.extend(found);
}
