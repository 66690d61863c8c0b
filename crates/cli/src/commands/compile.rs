//! `approvalc compile FILE -o DIR`: check a workflow, lower it, write the artifacts.
//!
//! Writing is all-or-nothing: every file goes into a fresh sibling directory of `DIR`,
//! which then replaces `DIR` by rename, so a reader never sees half an output and a failed
//! compile leaves the previous output untouched.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use approvalc_compiler::lower::{self, Artifacts};
use serde::Serialize;

use crate::Exit;
use crate::render::{self, Style};

const AFTER_HELP: &str = "\
Writes manifest.json, parent.asl.json, children/*.asl.json, ssm/, pipelines/, iam/, rules/
and bootstrap/<account>.template.json under DIR (docs/compiler.md lists them). Nothing is
written when there is an error. Compiling the same file twice gives identical bytes.

Exit status: 0 written (warnings allowed), 1 errors in the workflow, 2 unreadable file or
output directory.

Examples:
  approvalc compile workflows/ssm-single.yaml -o out/ssm-single
  approvalc compile release.yaml -o out --format json | jq .parent";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Diagnostics and a one-line summary on stderr.
    Human,
    /// The manifest summary and diagnostics as one JSON object on stdout.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Workflow file to compile.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Output directory; replaced as a whole.
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    out: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Serialize)]
struct Summary<'a> {
    file: String,
    out: String,
    written: bool,
    manifest: Option<&'a lower::Manifest>,
    diagnostics: Vec<render::JsonDiagnostic>,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let file = args.file.display().to_string();
    let source = match std::fs::read_to_string(&args.file) {
        Ok(source) => source,
        Err(err) => {
            eprintln!("error: cannot read {file}: {err}");
            return Ok(Exit::Internal);
        }
    };
    let compiled = lower::compile(&source);
    let style = Style::for_stderr();
    if args.format == Format::Human {
        for d in &compiled.diagnostics {
            eprint!("{}", render::human(&file, &source, d, style));
        }
    }
    let artifacts = compiled
        .artifacts
        .as_ref()
        .filter(|_| !compiled.has_errors());
    let mut written = false;
    if let Some(artifacts) = artifacts {
        if let Err(err) = write_atomically(artifacts, &args.out) {
            eprintln!("error: cannot write {}: {err}", args.out.display());
            return Ok(Exit::Internal);
        }
        written = true;
    }
    match args.format {
        Format::Json => {
            let summary = Summary {
                file: file.clone(),
                out: args.out.display().to_string(),
                written,
                manifest: artifacts.map(|a| &a.manifest),
                diagnostics: compiled
                    .diagnostics
                    .iter()
                    .map(|d| render::json(&file, &source, d))
                    .collect(),
            };
            let text = serde_json::to_string_pretty(&summary)
                .map_err(|e| miette::miette!("cannot write JSON: {e}"))?;
            println!("{text}");
        }
        Format::Human => match artifacts {
            Some(a) => eprintln!(
                "compiled {file} -> {}: {} files, parent {} bytes, {} states, worst-case history {} events",
                args.out.display(),
                a.files.len() + 1,
                a.manifest.parent.definition_bytes,
                a.manifest.parent.state_count,
                a.manifest.parent.worst_case_history_events
            ),
            None => eprintln!("not compiled: {file} has errors; nothing written"),
        },
    }
    Ok(if written {
        Exit::Success
    } else {
        Exit::UserError
    })
}

/// Writes every file into a new sibling directory, then swaps it in for `out`.
fn write_atomically(artifacts: &Artifacts, out: &Path) -> std::io::Result<()> {
    let rendered = artifacts
        .render()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)?;
    let name = out
        .file_name()
        .map_or_else(|| "out".to_owned(), |n| n.to_string_lossy().into_owned());
    let pid = std::process::id();
    let staging = parent.join(format!(".{name}.approvalc-new-{pid}"));
    let retired = parent.join(format!(".{name}.approvalc-old-{pid}"));
    let _ = std::fs::remove_dir_all(&staging);
    let result = (|| {
        for (path, contents) in &rendered {
            let target = safe_join(&staging, path)?;
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = std::fs::File::create(&target)?;
            f.write_all(contents.as_bytes())?;
            f.sync_all()?;
        }
        if out.exists() {
            std::fs::rename(out, &retired)?;
        }
        std::fs::rename(&staging, out)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        if retired.exists() && !out.exists() {
            let _ = std::fs::rename(&retired, out);
        }
    }
    let _ = std::fs::remove_dir_all(&retired);
    result
}

/// Joins an artifact path below `root`, refusing anything that could escape it.
fn safe_join(root: &Path, relative: &str) -> std::io::Result<PathBuf> {
    let mut path = root.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return Err(std::io::Error::other(format!(
                "bad artifact path {relative}"
            )));
        }
        path.push(part);
    }
    Ok(path)
}
