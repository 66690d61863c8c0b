//! The spanned syntax tree of a workflow file.
//!
//! Every key and value the user wrote keeps its byte [`Span`], so later phases can point at
//! it. Values are already typed ([`Duration`], [`Principal`], ...). Strings that may hold
//! `{{ }}` templates or a `when:` expression are kept raw as [`Text`].
//!
//! Required fields are `Option` here only so that one mistake does not hide the rest of the
//! file: a `None` in a required field always comes with an error diagnostic from
//! [`crate::parse`], so later phases may skip it silently.

use indexmap::IndexMap;

use crate::diagnostic::Span;
use crate::values::{
    AccountId, AccountName, Arn, Duration, InputName, InputType, OnTimeout, Principal, Region,
    StageId, WorkflowName,
};

/// A value and the span of the text it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub const fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Spanned<U> {
        Spanned::new(f(self.value), self.span)
    }
}

/// A string as written, for text that may contain templates or expressions.
///
/// `span` covers the string's content (inside the quotes, if any). When `exact` is true the
/// content is byte-for-byte the source text, so an offset `i` into `value` is at
/// `span.start + i` in the file ([`Text::sub_span`]); when escapes or line folding changed
/// the text, sub-spans fall back to the whole string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub value: String,
    pub span: Span,
    pub exact: bool,
}

impl Text {
    /// The file span of the byte range `start..end` of [`Text::value`].
    pub fn sub_span(&self, start: usize, end: usize) -> Span {
        if self.exact && start <= end && end <= self.value.len() {
            Span::new(self.span.start + start, self.span.start + end)
        } else {
            self.span
        }
    }
}

/// The only `apiVersion` this release reads.
pub const API_VERSION: &str = "approvalc/v1";

/// A whole workflow file.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Always [`API_VERSION`] when present.
    pub api_version: Option<Spanned<String>>,
    pub name: Option<Spanned<WorkflowName>>,
    pub description: Option<Spanned<String>>,
    pub region: Option<Spanned<Region>>,
    /// The account (a key of `accounts`) that runs the parent state machine; unresolved.
    pub home: Option<Spanned<String>>,
    pub accounts: IndexMap<String, Account>,
    pub input: IndexMap<String, InputParam>,
    pub defaults: Defaults,
    pub rules: Rules,
    /// Stages in file order, keyed by id.
    pub stages: IndexMap<String, Stage>,
    /// The span of the whole document.
    pub span: Span,
}

/// An entry of `accounts:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub name: Spanned<AccountName>,
    pub id: Option<Spanned<AccountId>>,
    /// Only allowed when equal to the workflow's region (checked by the parser).
    pub region: Option<Spanned<Region>>,
}

/// An entry of `input:`: one parameter of the run's input contract.
#[derive(Debug, Clone, PartialEq)]
pub struct InputParam {
    pub name: Spanned<InputName>,
    pub ty: Option<Spanned<InputType>>,
    /// Absent means not required.
    pub required: Option<Spanned<bool>>,
    /// A regular expression (Rust `regex` syntax, already checked to compile) the value must
    /// match; only for `type: string`.
    pub pattern: Option<Spanned<String>>,
    /// Allowed values, each of the parameter's type.
    pub allowed: Option<Spanned<Vec<Spanned<Literal>>>>,
    /// Of the parameter's type; whether it is in `allowed` / matches `pattern` is a check.
    pub default: Option<Spanned<Literal>>,
}

/// A literal input value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    String(String),
    Number(f64),
    Boolean(bool),
}

impl Literal {
    pub const fn input_type(&self) -> InputType {
        match self {
            Self::String(_) => InputType::String,
            Self::Number(_) => InputType::Number,
            Self::Boolean(_) => InputType::Boolean,
        }
    }
}

/// `defaults:`, applied to every stage that does not set its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Defaults {
    pub timeout: Option<Spanned<Duration>>,
    pub on_timeout: Option<Spanned<OnTimeout>>,
    /// An SNS topic ARN.
    pub notify: Option<Spanned<Arn>>,
}

/// `rules:`, separation-of-duties rules; an absent rule is off.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub distinct_approvers: Option<Spanned<bool>>,
    pub requester_cannot_approve: Option<Spanned<bool>>,
}

/// One stage under `stages:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The key as written, with its span. A malformed id is reported (E011) and the stage
    /// is still kept under its raw key, so references to it resolve and its other errors
    /// are found.
    pub id: Spanned<String>,
    /// Whether `id` is a valid [`StageId`] (an error was reported otherwise).
    pub valid_id: Option<StageId>,
    /// Stage ids this stage waits for; unresolved.
    pub needs: Vec<Spanned<String>>,
    /// The raw condition; parsed by [`crate::expr`].
    pub when: Option<Text>,
    /// An account name (key of `accounts`); unresolved.
    pub account: Option<Spanned<String>>,
    pub timeout: Option<Spanned<Duration>>,
    pub on_timeout: Option<Spanned<OnTimeout>>,
    pub escalate: Option<Spanned<Escalate>>,
    /// Exactly one binding; `None` only after an error (none or several were given).
    pub binding: Option<Binding>,
    /// The span of the stage's mapping.
    pub span: Span,
}

/// `escalate:`, the second attempt after a timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalate {
    pub approvers: Option<Spanned<Vec<Spanned<Principal>>>>,
    pub timeout: Option<Spanned<Duration>>,
}

/// What a stage does: wait for an SSM or CodePipeline approval, or run an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    Ssm(Spanned<SsmApproval>),
    CodePipeline(Spanned<CodePipelineApproval>),
    Action(Spanned<Action>),
}

impl Binding {
    /// The key as written (`ssm`, `codepipeline`, `action`).
    pub const fn keyword(&self) -> &'static str {
        match self {
            Self::Ssm(_) => "ssm",
            Self::CodePipeline(_) => "codepipeline",
            Self::Action(_) => "action",
        }
    }
}

/// `ssm:`, an SSM Automation `aws:approve` step.
#[derive(Debug, Clone, PartialEq)]
pub struct SsmApproval {
    pub approvers: Option<Spanned<Vec<Spanned<Principal>>>>,
    pub min_approvals: Option<Spanned<u32>>,
    pub message: Option<Text>,
    /// An existing Automation document; default: the one approvalc bootstraps.
    pub document: Option<Spanned<String>>,
    /// An SNS topic ARN (overrides `defaults.notify`).
    pub notify: Option<Spanned<Arn>>,
}

/// `codepipeline:`, a CodePipeline Manual approval action.
#[derive(Debug, Clone, PartialEq)]
pub struct CodePipelineApproval {
    pub approvers: Option<Spanned<Vec<Spanned<Principal>>>>,
    /// An existing pipeline; absent means approvalc creates a dedicated one.
    pub pipeline: Option<Spanned<String>>,
    /// The stage of `pipeline` that holds the manual approval action.
    pub stage: Option<Spanned<String>>,
    /// The name of the existing pipeline's manual approval action.
    pub action: Option<Spanned<String>>,
    pub custom_data: Option<Text>,
    pub external_link: Option<Text>,
    pub notify: Option<Spanned<Arn>>,
}

/// `action:`, work done by the stage itself (seed 004: grant a role after approval).
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub ssm_automation: Option<Spanned<SsmAutomation>>,
}

/// `action.ssm_automation:`, run an SSM Automation document and wait for it.
#[derive(Debug, Clone, PartialEq)]
pub struct SsmAutomation {
    pub document: Option<Spanned<String>>,
    /// Document parameters by name, in file order.
    pub parameters: IndexMap<String, Parameter>,
}

/// One automation parameter: a string or a list of strings, each may hold templates.
#[derive(Debug, Clone, PartialEq)]
pub struct Parameter {
    pub name: Spanned<String>,
    pub value: ParameterValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ParameterValue {
    Text(Text),
    List(Spanned<Vec<Text>>),
}
