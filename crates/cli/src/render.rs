//! Diagnostics at the edge: plain [`Diagnostic`] data to a miette report for people, or to
//! JSON for editors and CI. Nothing else in the workspace knows about terminals.

use std::fmt;

use approvalc_dsl::diagnostic::line_col;
use approvalc_dsl::{Diagnostic, Severity, Span};
use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

/// How to draw human output.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
    pub width: usize,
}

impl Style {
    /// Colour when stderr is a terminal and `NO_COLOR` is unset; the terminal's width.
    pub fn for_stderr() -> Self {
        use std::io::IsTerminal;
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        Style { color, width }
    }
}

/// One diagnostic as a miette graphical report naming `file`.
pub fn human(file: &str, source: &str, diagnostic: &Diagnostic, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let report = Report {
        diagnostic,
        source: NamedSource::new(file, source.to_owned()),
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String cannot fail short of a bug in miette; fall back to text.
        out = format!(
            "{}[{}]: {}\n",
            diagnostic.severity, diagnostic.code, diagnostic.message
        );
    }
    out
}

/// One diagnostic in the stable JSON shape (`docs/diagnostics.md`).
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic {
    pub code: &'static str,
    pub severity: &'static str,
    pub message: String,
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
    pub label: String,
    pub help: Option<String>,
    pub related: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel {
    pub message: String,
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

pub fn json(file: &str, source: &str, d: &Diagnostic) -> JsonDiagnostic {
    let (line, column) = line_col(source, d.span.start);
    let (end_line, end_column) = line_col(source, d.span.end);
    JsonDiagnostic {
        code: d.code,
        severity: match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        message: d.message.clone(),
        file: file.to_owned(),
        line,
        column,
        end_line,
        end_column,
        label: d.label.clone(),
        help: d.help.clone(),
        related: d
            .related
            .iter()
            .map(|l| {
                let (line, column) = line_col(source, l.span.start);
                let (end_line, end_column) = line_col(source, l.span.end);
                JsonLabel {
                    message: l.message.clone(),
                    line,
                    column,
                    end_line,
                    end_column,
                }
            })
            .collect(),
    }
}

/// `2 errors, 1 warning` (or `no problems`).
pub fn counts(errors: usize, warnings: usize) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => "no problems".to_owned(),
        (e, 0) => plural(e, "error"),
        (0, w) => plural(w, "warning"),
        (e, w) => format!("{}, {}", plural(e, "error"), plural(w, "warning")),
    }
}

/// The adapter miette renders.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    source: NamedSource<String>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diagnostic.message)
    }
}

impl std::error::Error for Report<'_> {}

fn source_span(span: Span, len: usize) -> SourceSpan {
    let start = span.start.min(len);
    let end = span.end.clamp(start, len);
    SourceSpan::new(start.into(), end - start)
}

impl miette::Diagnostic for Report<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.diagnostic.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let len = self.source.inner().len();
        let d = self.diagnostic;
        let label = (!d.label.is_empty()).then(|| d.label.clone());
        let primary = LabeledSpan::new_primary_with_span(label, source_span(d.span, len));
        let related = d.related.iter().map(move |l| {
            LabeledSpan::new_with_span(Some(l.message.clone()), source_span(l.span, len))
        });
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_well() {
        assert_eq!(counts(0, 0), "no problems");
        assert_eq!(counts(2, 1), "2 errors, 1 warning");
        assert_eq!(counts(1, 0), "1 error");
        assert_eq!(counts(0, 3), "3 warnings");
    }

    #[test]
    fn json_positions_are_one_based_and_spans_past_the_end_do_not_panic() {
        let d = Diagnostic::error("approvalc::E030", "m", Span::new(5, 999))
            .with_related(Span::new(0, 1), "r");
        let j = json("f.yaml", "abc\nde", &d);
        assert_eq!((j.line, j.column, j.end_line, j.end_column), (2, 2, 2, 3));
        assert_eq!(j.related[0].column, 1);
        let text = human(
            "f.yaml",
            "abc\nde",
            &d,
            Style {
                color: false,
                width: 80,
            },
        );
        assert!(text.contains("f.yaml"), "{text}");
    }
}
