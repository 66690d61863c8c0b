//! `approvalc check FILE...`: parse and check workflows, report every problem.

use std::path::PathBuf;

use approvalc_dsl::Diagnostic;

use crate::Exit;
use crate::render::{self, Style};

const AFTER_HELP: &str = "\
Every problem in every file is reported in one run, each with the file, line, column, what
is wrong and how to fix it. Codes (approvalc::E0NN) are listed in docs/diagnostics.md.

Exit status: 0 no errors (warnings allowed), 1 errors (or warnings with --deny-warnings),
2 a file could not be read or the arguments were wrong.

Examples:
  approvalc check workflows/release.yaml
  approvalc check workflows/*.yaml --deny-warnings        fail CI on warnings too
  approvalc check release.yaml --format json | jq '.[] | select(.severity == \"error\")'

JSON output is one array of {code, severity, message, file, line, column, end_line,
end_column, label, help, related}; lines and columns start at 1.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphical reports with the source line (stderr), and a summary line.
    Human,
    /// One JSON array on stdout, for editors and CI.
    Json,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Workflow files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat warnings as errors (exit 1 when there is any).
    #[arg(long)]
    deny_warnings: bool,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let style = Style::for_stderr();
    let mut json = Vec::new();
    let (mut errors, mut warnings, mut unreadable) = (0, 0, 0);
    for path in &args.files {
        let file = path.display().to_string();
        let source = match std::fs::read_to_string(path) {
            Ok(source) => source,
            Err(err) => {
                eprintln!("error: cannot read {file}: {err}");
                unreadable += 1;
                continue;
            }
        };
        let checked = approvalc_compiler::check(&source);
        for d in &checked.diagnostics {
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
            emit(args.format, &file, &source, d, style, &mut json);
        }
    }
    match args.format {
        Format::Json => {
            let text = serde_json::to_string_pretty(&json)
                .map_err(|e| miette::miette!("cannot write JSON: {e}"))?;
            println!("{text}");
        }
        Format::Human => {
            let n = args.files.len();
            let files = if n == 1 {
                "1 file".to_owned()
            } else {
                format!("{n} files")
            };
            eprintln!("checked {files}: {}", render::counts(errors, warnings));
        }
    }
    Ok(if unreadable > 0 {
        Exit::Internal
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        Exit::UserError
    } else {
        Exit::Success
    })
}

fn emit(
    format: Format,
    file: &str,
    source: &str,
    d: &Diagnostic,
    style: Style,
    json: &mut Vec<render::JsonDiagnostic>,
) {
    match format {
        Format::Human => eprint!("{}", render::human(file, source, d, style)),
        Format::Json => json.push(render::json(file, source, d)),
    }
}
