//! Diagnostics as plain data.
//!
//! Every phase (parse, check, lower) reports problems as [`Diagnostic`] values collected in a
//! list, never by stopping at the first one. Spans are byte ranges into one source file; line
//! and column are computed only when a diagnostic is rendered (the CLI converts to `miette`
//! at its edge). Codes are stable (`approvalc::E0xx`) and listed in `docs/diagnostics.md`.

use std::fmt;

/// A byte range `start..end` in the source text of one workflow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub const fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    pub const fn len(&self) -> usize {
        self.end - self.start
    }

    pub const fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }

    /// A span `offset` bytes further into the file, for sub-languages (templates, `when`
    /// expressions) parsed from a string whose value starts at `offset`.
    pub const fn shift(self, offset: usize) -> Span {
        Span::new(self.start + offset, self.end + offset)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A secondary label: another place in the file that explains the primary one (for example
/// each edge of a dependency cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in a workflow file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `approvalc::E001`; see `docs/diagnostics.md`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The exact place the problem is, with the text shown under it.
    pub span: Span,
    pub label: String,
    /// More places that explain the problem.
    pub related: Vec<Label>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(code, Severity::Error, message.into(), span)
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Self {
        Self::new(code, Severity::Warning, message.into(), span)
    }

    fn new(code: &'static str, severity: Severity, message: String, span: Span) -> Self {
        Self {
            code,
            severity,
            message,
            span,
            label: String::new(),
            related: Vec::new(),
            help: None,
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Line and column (both 1-based, column counted in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_and_in_characters() {
        let src = "a: 1\nbé: x\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 5), (2, 1));
        // "é" is two bytes; the ':' after it is the 3rd character of line 2.
        assert_eq!(line_col(src, 8), (2, 3));
        // Past the end and inside a multi-byte character do not panic.
        assert_eq!(line_col(src, 7), (2, 2));
        assert_eq!(line_col(src, 999), (3, 1));
    }
}
