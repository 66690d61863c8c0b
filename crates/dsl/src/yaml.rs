//! YAML text to a small spanned node tree, with resource limits.
//!
//! Built on the event API of `granit-parser` (the parser under `serde-saphyr`): every event
//! carries byte offsets, so each node keeps the exact span of its text. Mapping entries are
//! kept as a list, so duplicate keys survive to be reported (with both places) by the reader.
//!
//! Limits, so that no input can exhaust memory or time: the file size, the nesting depth and
//! the total number of nodes after alias expansion ("billion laughs") are capped; hitting one
//! is a diagnostic, never a panic or an abort.

// A syntax error ends loading, so the error path runs at most once per file: its size does
// not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Parser, ScalarStyle, ScanError};

use crate::codes;
use crate::diagnostic::{Diagnostic, Span};

/// Largest workflow file read, in bytes. Real workflows are a few KiB; a generated
/// 10,000-stage workflow is about 1.1 MiB, and the compiler splits large workflows into
/// nested machines, so the cap only guards memory.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of mappings and sequences. The language itself needs 6.
pub const MAX_DEPTH: usize = 64;
/// Most nodes in the document after expanding aliases: room for 10,000+ stages (about 15
/// values each), small enough that an alias bomb stops after a few hundred MB at most.
pub const MAX_NODES: usize = 1_000_000;

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub value: String,
    /// Plain (unquoted, not a block scalar): subject to YAML's typing of `true`, `12`, `~`.
    pub plain: bool,
    /// The content span, inside quotes when quoted.
    pub content: Span,
    /// `value` is byte-for-byte the source text at `content`.
    pub exact: bool,
    /// An explicit `!!str` tag: always a string.
    pub forced_str: bool,
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Typed<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    pub fn typed(&self) -> Typed<'_> {
        if !self.plain || self.forced_str {
            return Typed::Str(&self.value);
        }
        let v = self.value.as_str();
        match v {
            "" | "~" | "null" | "Null" | "NULL" => Typed::Null,
            "true" | "True" | "TRUE" => Typed::Bool(true),
            "false" | "False" | "FALSE" => Typed::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Typed::Float(f64::INFINITY),
            "-.inf" | "-.Inf" | "-.INF" => Typed::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => Typed::Float(f64::NAN),
            _ => typed_number(v).unwrap_or(Typed::Str(v)),
        }
    }
}

fn typed_number(v: &str) -> Option<Typed<'_>> {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if digits.is_empty() {
        return None;
    }
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        // Integers too large for i64 are still numbers, just not exact ones.
        return Some(
            v.parse::<i64>()
                .map(Typed::Int)
                .unwrap_or_else(|_| Typed::Float(v.parse::<f64>().unwrap_or(f64::NAN))),
        );
    }
    if let Some(hex) = v.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Typed::Int);
    }
    if let Some(oct) = v.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Typed::Int);
    }
    let float_chars = digits
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    let has_digit = digits.bytes().any(|b| b.is_ascii_digit());
    if float_chars && has_digit && digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return v.parse::<f64>().ok().map(Typed::Float);
    }
    None
}

impl Node {
    /// The type name used in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
            Kind::Scalar(s) => match s.typed() {
                Typed::Null => "nothing (null)",
                Typed::Bool(_) => "a boolean",
                Typed::Int(_) | Typed::Float(_) => "a number",
                Typed::Str(_) => "a string",
            },
        }
    }

    fn count(&self) -> usize {
        match &self.kind {
            Kind::Scalar(_) => 1,
            Kind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            Kind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.count() + v.count())
                    .sum::<usize>()
            }
        }
    }
}

/// Reads the single YAML document in `source`. `Ok(None)` for an empty file.
pub(crate) fn load(source: &str) -> Result<Option<Node>, Diagnostic> {
    if source.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(
            codes::LIMIT,
            format!(
                "the file is {} bytes; workflow files are limited to {MAX_FILE_BYTES}",
                source.len()
            ),
            Span::new(0, 0),
        )
        .with_help("split the workflow into smaller ones"));
    }
    let options = granit_parser::options! {
        flow_nesting_limit: MAX_DEPTH,
        block_nesting_limit: MAX_DEPTH,
        emit_comments: false,
    };
    let mut loader = Loader {
        source,
        parser: Parser::new_from_str_with_options(source, options),
        anchors: HashMap::new(),
        nodes: 0,
    };
    loader.document()
}

struct Loader<'a> {
    source: &'a str,
    parser: Parser<'a, granit_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

/// An event, its span, and the span of its tag (`!name`) if it has one.
type Ev<'a> = (Event<'a>, Span, Option<Span>);

impl<'a> Loader<'a> {
    fn next(&mut self) -> Result<Ev<'a>, Diagnostic> {
        match self.parser.next_event() {
            Some(Ok((event, span))) => {
                let range = span.byte_range().unwrap_or(0..0);
                let tag = span
                    .tag_span()
                    .and_then(|t| t.byte_range())
                    .map(|r| Span::new(r.start, r.end));
                Ok((event, Span::new(range.start, range.end), tag))
            }
            Some(Err(err)) => Err(self.scan_error(&err)),
            None => Err(Diagnostic::error(
                codes::YAML_SYNTAX,
                "unexpected end of the YAML stream",
                self.end(),
            )),
        }
    }

    fn end(&self) -> Span {
        Span::new(self.source.len(), self.source.len())
    }

    fn scan_error(&self, err: &ScanError) -> Diagnostic {
        let at = err
            .marker()
            .byte_offset()
            .unwrap_or(self.source.len())
            .min(self.source.len());
        // Underline one character, so the error has something to point at.
        let width = self
            .source
            .get(at..)
            .and_then(|s| s.chars().next())
            .map_or(0, char::len_utf8);
        let span = Span::new(at, at + width);
        if matches!(err.kind(), ErrorKind::RecursionLimitExceeded) {
            return nesting_error(span);
        }
        Diagnostic::error(
            codes::YAML_SYNTAX,
            format!("YAML syntax error: {}", err.kind()),
            span,
        )
        .with_label("here")
        .with_help(syntax_help(err.kind()))
    }

    fn document(&mut self) -> Result<Option<Node>, Diagnostic> {
        // StreamStart, then DocumentStart or StreamEnd.
        loop {
            match self.next()? {
                (Event::StreamStart, _, _) => {}
                (Event::StreamEnd, _, _) => return Ok(None),
                (Event::DocumentStart(..), _, _) => break,
                (_, span, _) => {
                    return Err(Diagnostic::error(
                        codes::YAML_SYNTAX,
                        "YAML syntax error: expected a document",
                        span,
                    ));
                }
            }
        }
        let first = self.next()?;
        let root = self.node(first, 0)?;
        match self.next()? {
            (Event::DocumentEnd, _, _) => {}
            (_, span, _) => {
                return Err(Diagnostic::error(
                    codes::YAML_SYNTAX,
                    "YAML syntax error: expected the end of the document",
                    span,
                ));
            }
        }
        match self.next()? {
            (Event::StreamEnd, _, _) => Ok(Some(root)),
            (_, span, _) => Err(Diagnostic::error(
                codes::NOT_A_WORKFLOW,
                "a workflow file holds exactly one YAML document",
                span,
            )
            .with_label("a second document starts here")
            .with_help("put each workflow in its own file and remove the `---` separator")),
        }
    }

    fn node(&mut self, (event, span, tag_span): Ev<'a>, depth: usize) -> Result<Node, Diagnostic> {
        if depth > MAX_DEPTH {
            return Err(nesting_error(span));
        }
        self.count(1, span)?;
        let tag_at = tag_span.unwrap_or(span);
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = match tag.as_deref() {
                    None => false,
                    Some(tag) if tag.is_yaml_core_schema_tag("str") => true,
                    Some(tag) => return Err(tag_error(tag_at, &tag.original())),
                };
                (
                    self.scalar(value.into_owned(), style, span, forced_str),
                    anchor,
                )
            }
            Event::SequenceStart(_, anchor, tag) => {
                if let Some(tag) = tag.filter(|t| !t.is_yaml_core_schema_tag("seq")) {
                    return Err(tag_error(tag_at, &tag.original()));
                }
                (self.sequence(span, depth)?, anchor)
            }
            Event::MappingStart(_, anchor, tag) => {
                if let Some(tag) = tag.filter(|t| !t.is_yaml_core_schema_tag("map")) {
                    return Err(tag_error(tag_at, &tag.original()));
                }
                (self.mapping(span, depth)?, anchor)
            }
            Event::Alias(id) => (self.alias(id, span)?, 0),
            _ => {
                return Err(Diagnostic::error(
                    codes::YAML_SYNTAX,
                    "YAML syntax error: expected a value",
                    span,
                ));
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn scalar(&self, value: String, style: ScalarStyle, span: Span, forced_str: bool) -> Node {
        let quoted = matches!(style, ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted);
        let content = if quoted && span.len() >= 2 {
            Span::new(span.start + 1, span.end - 1)
        } else {
            span
        };
        let exact = self.source.get(content.start..content.end) == Some(value.as_str());
        Node {
            kind: Kind::Scalar(Scalar {
                value,
                plain: matches!(style, ScalarStyle::Plain),
                content,
                exact,
                forced_str,
            }),
            span,
        }
    }

    fn sequence(&mut self, start: Span, depth: usize) -> Result<Node, Diagnostic> {
        let mut items = Vec::new();
        loop {
            let event = self.next()?;
            if let (Event::SequenceEnd, end, _) = event {
                return Ok(Node {
                    span: container_span(start, end, items.last().map(|n: &Node| n.span)),
                    kind: Kind::Seq(items),
                });
            }
            items.push(self.node(event, depth + 1)?);
        }
    }

    fn mapping(&mut self, start: Span, depth: usize) -> Result<Node, Diagnostic> {
        let mut entries: Vec<(Node, Node)> = Vec::new();
        loop {
            let event = self.next()?;
            if let (Event::MappingEnd, end, _) = event {
                return Ok(Node {
                    span: container_span(start, end, entries.last().map(|(_, v)| v.span)),
                    kind: Kind::Map(entries),
                });
            }
            let key = self.node(event, depth + 1)?;
            let value_event = self.next()?;
            let value = self.node(value_event, depth + 1)?;
            entries.push((key, value));
        }
    }

    fn alias(&mut self, id: usize, span: Span) -> Result<Node, Diagnostic> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(Diagnostic::error(
                codes::YAML_SYNTAX,
                "YAML syntax error: alias to an unknown anchor",
                span,
            ));
        };
        let target = target.clone();
        self.count(target.count(), span)?;
        Ok(target)
    }

    fn count(&mut self, n: usize, span: Span) -> Result<(), Diagnostic> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(Diagnostic::error(
                codes::LIMIT,
                format!("the document has more than {MAX_NODES} values once aliases are expanded"),
                span,
            )
            .with_label("limit reached here")
            .with_help("workflows are small; use fewer or smaller `*alias` references"));
        }
        Ok(())
    }
}

/// A block collection's start event is empty and its end event sits where the next key
/// begins, so the span runs from the start to the end of the last child instead.
fn container_span(start: Span, end: Span, last_child: Option<Span>) -> Span {
    match last_child {
        Some(last) if end.is_empty() || end.start > last.end + 1 => {
            Span::new(start.start, last.end.max(start.end))
        }
        _ => Span::new(start.start, end.end.max(start.end)),
    }
}

/// A fix for the syntax errors people make in workflow files; a generic line otherwise.
fn syntax_help(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::UnclosedFlowCollection { .. }
        | ErrorKind::MismatchedFlowCollectionEnd { .. } => {
            "close the `[` or `{` that starts here with the matching `]` or `}`"
        }
        ErrorKind::UnclosedQuotedScalar => "close the quote that starts here",
        ErrorKind::MappingValueNotAllowed | ErrorKind::InvalidColonPlacement => {
            "put text containing `: ` in quotes, or check the indentation of this line"
        }
        ErrorKind::TabNotAllowed
        | ErrorKind::TabInBlockIndentation
        | ErrorKind::TabInIndentation => {
            "indent with spaces; YAML does not allow tabs for indentation"
        }
        ErrorKind::UnknownAnchor => "define the anchor (`&name`) before using the alias (`*name`)",
        _ => "fix the YAML syntax here; indent with spaces, consistently",
    }
}

fn nesting_error(span: Span) -> Diagnostic {
    Diagnostic::error(
        codes::LIMIT,
        format!("values are nested more than {MAX_DEPTH} levels deep"),
        span,
    )
    .with_help("a workflow needs at most 6 levels; remove the extra nesting")
}

fn tag_error(span: Span, tag: &str) -> Diagnostic {
    Diagnostic::error(
        codes::UNSUPPORTED_YAML,
        format!("YAML tag `{tag}` is not supported"),
        span,
    )
    .with_help(
        "remove the tag; workflow values are plain strings, numbers, booleans, lists and mappings",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(src: &str) -> Node {
        load(src).unwrap().unwrap()
    }

    #[test]
    fn quoted_scalars_span_their_content() {
        let src = "a: \"hi {{ x }}\"\n";
        let Kind::Map(entries) = root(src).kind else {
            panic!()
        };
        let Kind::Scalar(s) = &entries[0].1.kind else {
            panic!()
        };
        assert_eq!(&src[s.content.start..s.content.end], "hi {{ x }}");
        assert!(s.exact);
    }

    #[test]
    fn escapes_make_a_scalar_inexact() {
        let Kind::Map(entries) = root("a: \"x\\ty\"\n").kind else {
            panic!()
        };
        let Kind::Scalar(s) = &entries[0].1.kind else {
            panic!()
        };
        assert!(!s.exact);
    }

    #[test]
    fn plain_scalars_are_typed_by_the_core_schema() {
        let typed = |v: &str| {
            let Kind::Map(entries) = root(&format!("a: {v}\n")).kind else {
                panic!()
            };
            let Kind::Scalar(s) = &entries[0].1.kind else {
                panic!()
            };
            format!("{:?}", s.typed())
        };
        assert_eq!(typed("12"), "Int(12)");
        assert_eq!(typed("\"12\""), "Str(\"12\")");
        assert_eq!(typed("1.5"), "Float(1.5)");
        assert_eq!(typed("true"), "Bool(true)");
        assert_eq!(typed("~"), "Null");
        assert_eq!(typed("!!str 12"), "Str(\"12\")");
        assert_eq!(typed("3d"), "Str(\"3d\")");
        assert_eq!(typed("-x"), "Str(\"-x\")");
    }

    #[test]
    fn billion_laughs_hits_the_node_limit() {
        let mut src = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            src.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let err = load(&src).unwrap_err();
        assert_eq!(err.code, codes::LIMIT);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let src = "[".repeat(10_000);
        assert_eq!(load(&src).unwrap_err().code, codes::LIMIT);
        let block: String = (0..200).map(|i| format!("{}k:\n", " ".repeat(i))).collect();
        assert_eq!(load(&block).unwrap_err().code, codes::LIMIT);
    }

    #[test]
    fn a_second_document_is_reported() {
        let err = load("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.code, codes::NOT_A_WORKFLOW);
    }
}
