//! The approvalc workflow language: YAML text to a spanned AST.
//!
//! (Crate doc to be completed by the dsl owner.)

pub mod diagnostic;
pub mod expr;
pub mod template;

pub use diagnostic::{Diagnostic, Label, Severity, Span};
