//! The approvalc workflow language: YAML text to a spanned, typed AST.
//!
//! [`parse`] reads one workflow file and returns [`Parsed`]: the [`ast::Workflow`] (whenever
//! the document was structurally usable) and every [`Diagnostic`] found, never stopping at
//! the first one. Every key and value keeps its byte [`Span`]; values are parsed into the
//! types of [`values`] ([`values::Duration`], [`values::Principal`], [`values::Region`], ...),
//! and strings that may hold `{{ }}` templates or `when:` expressions are kept raw as
//! [`ast::Text`] for [`template`] and [`expr`].
//!
//! Main items: [`parse`], [`Parsed`], [`ast`], [`values`], [`schema()`] (the JSON Schema of
//! the language, generated from the same key table the parser uses), [`codes`] (the stable
//! diagnostic codes `approvalc::E001`..`E029`), [`suggest`] (did-you-mean).
//!
//! Left out on purpose: anything about AWS services beyond the shape of values (this crate
//! knows nothing of Step Functions), and cross-reference checks (unknown `needs`, cycles,
//! unknown accounts, template names, limits of each binding): those are the compiler's.
//!
//! The YAML library is `granit-parser` (the event parser under `serde-saphyr`), used
//! directly; `docs/yaml-library.md` says why. Parsing never panics and caps the file size,
//! nesting depth and alias expansion.
//!
//! Tests: unit tests next to the code (one line per diagnostic in `tests.rs`),
//! `crates/dsl/tests/` (examples in `workflows/` parse cleanly and match the JSON Schema;
//! property tests that no input panics), and `tests/broken/parse-*.yaml` (one file per
//! error, with the expected code and position in its first line).

pub mod ast;
pub mod codes;
pub mod diagnostic;
pub mod expr;
pub mod suggest;
pub mod template;
pub mod values;

mod fields;
mod parse;
mod schema;
mod yaml;

pub use schema::{SCHEMA_ID, schema};

pub use diagnostic::{Diagnostic, Label, Severity, Span};

/// The result of [`parse`]: the workflow, if the file was structurally usable, and every
/// problem found.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// `None` when the YAML is malformed or is not a mapping; otherwise `Some`, even when
    /// parts of it had errors (those parts are `None`/absent in the tree).
    pub workflow: Option<ast::Workflow>,
    /// In source order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses one workflow file. Never panics; every problem is a diagnostic.
pub fn parse(source: &str) -> Parsed {
    let root = match yaml::load(source) {
        Ok(Some(root)) => root,
        Ok(None) => {
            let empty =
                Diagnostic::error(codes::NOT_A_WORKFLOW, "the file is empty", Span::new(0, 0))
                    .with_help("start with `apiVersion: approvalc/v1` (see docs/language.md)");
            return Parsed {
                workflow: None,
                diagnostics: vec![empty],
            };
        }
        Err(diagnostic) => {
            return Parsed {
                workflow: None,
                diagnostics: vec![diagnostic],
            };
        }
    };
    let mut reader = parse::Reader::new();
    let workflow = reader.workflow(&root);
    let diagnostics = reader.finish();
    Parsed {
        workflow,
        diagnostics,
    }
}

#[cfg(test)]
mod tests;
