//! `approvalc schema`: print the JSON Schema of the workflow language.
//!
//! The schema comes from `approvalc_dsl::schema()`, built from the same key table the parser
//! uses. Editors pick it up through a first line such as
//! `# yaml-language-server: $schema=../approvalc.schema.json`.

use std::path::PathBuf;

use miette::{IntoDiagnostic, WrapErr};

use crate::Exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let text = schema_text()?;
    match args.output {
        None => print!("{text}"),
        Some(path) => std::fs::write(&path, text)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot write {}", path.display()))?,
    }
    Ok(Exit::Success)
}

/// Pretty JSON with a final newline, byte-identical to the committed `approvalc.schema.json`.
fn schema_text() -> miette::Result<String> {
    let mut text = serde_json::to_string_pretty(&approvalc_dsl::schema())
        .into_diagnostic()
        .wrap_err("cannot serialise the schema")?;
    text.push('\n');
    Ok(text)
}
