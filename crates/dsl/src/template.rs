//! `{{ ... }}` string templates: syntax only.
//!
//! A template is literal text with references in double braces: `{{ input.NAME }}`,
//! `{{ run.id }}`, `{{ stage.ID.decision }}`. Whitespace inside the braces is ignored. A
//! lone `}}` is literal text; an opening `{{` without its `}}` is an error. Which names exist
//! is the compiler's business (it resolves each [`Path`]). Spans are relative to the start
//! of the string's content; callers shift them with [`crate::Span::shift`].

use crate::Span;
use crate::expr::{Path, SyntaxError, parse_path};

/// A parsed template: literal text and references, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    /// `{{ path }}`; the span of the path is inside [`Part::Ref::braces`].
    Ref {
        path: Path,
        braces: Span,
    },
}

impl Template {
    /// True when the template has no references.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Text(_)))
    }

    /// The references in order.
    pub fn refs(&self) -> impl Iterator<Item = &Path> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref { path, .. } => Some(path),
            Part::Text(_) => None,
        })
    }
}

/// Parses template text. Every error is returned, not only the first.
pub fn parse(text: &str) -> Result<Template, Vec<SyntaxError>> {
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    let mut rest_start = 0;
    while let Some(found) = text[rest_start..].find("{{") {
        let open = rest_start + found;
        push_text(&mut parts, &text[rest_start..open]);
        let inner_start = open + 2;
        let Some(close_rel) = text[inner_start..].find("}}") else {
            errors.push(SyntaxError {
                message: "`{{` is not closed".to_owned(),
                span: Span::new(open, text.len()),
                label: "opened here".to_owned(),
                help: Some("close the reference with `}}`".to_owned()),
            });
            rest_start = text.len();
            break;
        };
        let inner_end = inner_start + close_rel;
        let braces = Span::new(open, inner_end + 2);
        match parse_path(&text[inner_start..inner_end]) {
            Ok(mut path) => {
                shift_path(&mut path, inner_start);
                parts.push(Part::Ref { path, braces });
            }
            Err(mut e) => {
                e.span = if text[inner_start..inner_end].trim().is_empty() {
                    braces
                } else {
                    e.span.shift(inner_start)
                };
                errors.push(e);
            }
        }
        rest_start = inner_end + 2;
    }
    push_text(&mut parts, &text[rest_start..]);
    if errors.is_empty() {
        Ok(Template { parts })
    } else {
        Err(errors)
    }
}

fn push_text(parts: &mut Vec<Part>, text: &str) {
    if !text.is_empty() {
        parts.push(Part::Text(text.to_owned()));
    }
}

fn shift_path(path: &mut Path, offset: usize) {
    path.span = path.span.shift(offset);
    for segment in &mut path.segments {
        segment.span = segment.span.shift(offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_references_with_spans() {
        let t = parse("Release {{ input.version }} ({{run.id}})").unwrap();
        assert_eq!(t.parts.len(), 5);
        let refs: Vec<_> = t.refs().map(|p| (p.dotted(), p.span)).collect();
        assert_eq!(
            refs,
            vec![
                ("input.version".to_owned(), Span::new(11, 24)),
                ("run.id".to_owned(), Span::new(31, 37)),
            ]
        );
        assert!(!t.is_literal());
        assert!(parse("plain }} text").unwrap().is_literal());
        assert_eq!(parse("").unwrap().parts, vec![]);
    }

    #[test]
    fn reports_every_error() {
        let errors = parse("{{ }} and {{ input. }} and {{ open").unwrap_err();
        let spans: Vec<_> = errors.iter().map(|e| e.span).collect();
        assert_eq!(
            spans,
            vec![Span::new(0, 5), Span::new(20, 20), Span::new(27, 34)]
        );
    }
}
