//! `approvalc graph FILE`: the stage DAG as Mermaid or Graphviz dot.

use std::fmt::Write as _;
use std::path::PathBuf;

use approvalc_compiler::model::{Binding, Model, OnTimeout, Stage};

use crate::Exit;
use crate::render::{self, Style};

const AFTER_HELP: &str = "\
Each box is a stage: its id, binding (ssm, codepipeline, action), account and timeout. A
stage with `when:` is drawn dashed with its condition, because it may be skipped. Arrows
go from a stage to the stages that need it. The workflow is checked first; errors are
reported instead of a graph (exit 1).

Examples:
  approvalc graph workflows/release.yaml                          Mermaid (default)
  approvalc graph workflows/release.yaml --format dot | dot -Tsvg > release.svg
  approvalc graph workflows/release.yaml > graph.mmd              paste into a Markdown ```mermaid block";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Graphviz dot.
    Dot,
}

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// The workflow file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
}

pub fn run(args: Args) -> miette::Result<Exit> {
    let file = args.file.display().to_string();
    let source = std::fs::read_to_string(&args.file)
        .map_err(|e| miette::miette!("cannot read {file}: {e}"))?;
    let checked = approvalc_compiler::check(&source);
    let style = Style::for_stderr();
    for d in &checked.diagnostics {
        eprint!("{}", render::human(&file, &source, d, style));
    }
    let Some(model) = checked.model else {
        return Ok(Exit::UserError);
    };
    print!(
        "{}",
        match args.format {
            Format::Mermaid => mermaid(&model),
            Format::Dot => dot(&model),
        }
    );
    Ok(Exit::Success)
}

/// The lines shown in a stage's box.
fn note_lines(model: &Model, stage: &Stage) -> Vec<String> {
    let mut lines = vec![stage.id.as_str().to_owned()];
    let timeout = approvalc_dsl::values::Duration::from_secs(stage.timeout.duration.as_secs())
        .map_or_else(
            || format!("{}s", stage.timeout.duration.as_secs()),
            |d| d.to_string(),
        );
    let mut kind = format!(
        "{} · {} · {timeout}",
        stage.binding.keyword(),
        stage.account.name.as_str()
    );
    if let OnTimeout::Escalate(_) = stage.on_timeout {
        kind.push_str(" → escalate");
    }
    lines.push(kind);
    match &stage.binding {
        Binding::Ssm(ssm) if ssm.min_approvals > 1 => {
            lines.push(format!(
                "{} of {} approvers",
                ssm.min_approvals,
                ssm.approvers.len()
            ));
        }
        Binding::Action(action) => lines.push(format!("runs {}", action.document)),
        _ => {}
    }
    if let Some(when) = &stage.when {
        lines.push(format!("when: {}", when.text));
    }
    if model.is_cross_account(stage) {
        lines.push(format!("cross-account {}", stage.account.id.as_str()));
    }
    lines
}

/// A Mermaid flowchart; node ids are `s<N>` in topological order because stage ids may
/// contain characters Mermaid reads as syntax.
pub fn mermaid(model: &Model) -> String {
    let mut out = format!(
        "%% approvalc workflow {}\nflowchart TD\n",
        model.name.as_str()
    );
    for (i, stage) in model.stages.iter().enumerate() {
        let label = note_lines(model, stage)
            .iter()
            .map(|l| mermaid_escape(l))
            .collect::<Vec<_>>()
            .join("<br/>");
        let class = if stage.when.is_some() {
            ":::conditional"
        } else {
            ""
        };
        let _ = writeln!(out, "  s{i}[\"{label}\"]{class}");
    }
    for (i, stage) in model.stages.iter().enumerate() {
        for need in &stage.needs {
            let _ = writeln!(out, "  s{} --> s{i}", need.0);
        }
    }
    if model.stages.iter().any(|s| s.when.is_some()) {
        out.push_str("  classDef conditional stroke-dasharray: 5 5\n");
    }
    out
}

fn mermaid_escape(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

/// Graphviz dot, stage ids as node names.
pub fn dot(model: &Model) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, style=rounded];\n",
        dot_escape(model.name.as_str())
    );
    for stage in &model.stages {
        let label = note_lines(model, stage)
            .iter()
            .map(|l| dot_escape(l))
            .collect::<Vec<_>>()
            .join("\\n");
        let style = if stage.when.is_some() {
            ", style=\"rounded,dashed\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{label}\"{style}];",
            stage.id.as_str()
        );
    }
    for stage in &model.stages {
        for need in &stage.needs {
            if let Some(from) = model.stage(*need) {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{}\";",
                    from.id.as_str(),
                    stage.id.as_str()
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn dot_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKFLOW: &str = "\
apiVersion: approvalc/v1
name: demo
region: ap-northeast-1
home: ops
accounts:
  ops: { id: \"111111111111\" }
  prod: { id: \"222222222222\" }
input:
  risk: { type: string, enum: [low, high], default: low }
stages:
  lead:
    ssm: { approvers: [alice, bob], min_approvals: 2 }
  security:
    needs: [lead]
    when: input.risk == \"high\"
    codepipeline: { approvers: [arn:aws:iam::111111111111:role/Sec] }
  owner:
    needs: [lead]
    account: prod
    ssm: { approvers: [carol] }
";

    fn model() -> Model {
        let checked = approvalc_compiler::check(WORKFLOW);
        checked
            .model
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics))
    }

    #[test]
    fn mermaid_has_nodes_edges_and_conditional_style() {
        let text = mermaid(&model());
        assert!(
            text.contains("s0[\"lead<br/>ssm · ops · 7d<br/>2 of 2 approvers\"]"),
            "{text}"
        );
        assert!(
            text.contains("when: input.risk == #quot;high#quot;\"]:::conditional"),
            "{text}"
        );
        assert!(
            text.contains("s0 --> s1") && text.contains("s0 --> s2"),
            "{text}"
        );
        assert!(text.contains("cross-account 222222222222"), "{text}");
    }

    #[test]
    fn dot_quotes_labels_and_dashes_conditional_stages() {
        let text = dot(&model());
        assert!(text.contains("\"lead\" -> \"security\";"), "{text}");
        assert!(
            text.contains("when: input.risk == \\\"high\\\"\", style=\"rounded,dashed\"]"),
            "{text}"
        );
        assert!(text.ends_with("}\n"));
    }
}
