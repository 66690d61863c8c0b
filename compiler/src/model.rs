//! The resolved, checked workflow: what lowering consumes.
//!
//! A [`Model`] exists only for a workflow with no errors ([`crate::check`]). Every name is
//! resolved (a stage's `needs` are stage ids that exist, its account is an entry of
//! `accounts` with its id), every default is applied (timeout, `on_timeout`, `notify`,
//! SSM message), templates and conditions are typed trees over names that exist, and the
//! stages are in a deterministic topological order. It is plain data: no YAML and no AST,
//! but it keeps the [`Span`]s a later phase may report at (quota errors from lowering).
//!
//! Stability contract: lowering builds on these types, so they grow by addition only.

use std::time::Duration;

use approvalc_dsl::Span;
pub use approvalc_dsl::expr::CmpOp;
pub use approvalc_dsl::values::{
    AccountId, AccountName, Arn, InputType, Principal, Region, StageId, WorkflowName,
};
use petgraph::graph::{DiGraph, NodeIndex};

/// A checked workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: WorkflowName,
    pub name_span: Span,
    pub description: Option<String>,
    /// Where every state machine of the run lives; every account is used in this region.
    pub region: Region,
    /// The account that runs the parent state machine.
    pub home: Account,
    /// Every entry of `accounts:`, in file order.
    pub accounts: Vec<Account>,
    /// The run's input contract, in file order.
    pub input: Vec<InputField>,
    pub rules: Rules,
    /// In topological order (every stage after all of its `needs`); ties keep file order.
    /// [`StageIndex`] values index this vector.
    pub stages: Vec<Stage>,
}

/// The position of a stage in [`Model::stages`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StageIndex(pub usize);

/// A named account and its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: AccountName,
    pub id: AccountId,
    /// The entry's key under `accounts:`.
    pub span: Span,
}

/// One field of the run's input contract.
#[derive(Debug, Clone, PartialEq)]
pub struct InputField {
    pub name: String,
    pub ty: InputType,
    pub required: bool,
    /// A regular expression (Rust `regex` syntax) a string value must match anywhere; write
    /// `^…$` to match the whole value.
    pub pattern: Option<String>,
    /// Allowed values; empty means any value of the type.
    pub allowed: Vec<Value>,
    /// Used when the run's input leaves the field out; already checked against `allowed`
    /// and `pattern`.
    pub default: Option<Value>,
    pub span: Span,
}

/// A literal value: an input default, an `enum` entry, a condition operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Number(f64),
    Boolean(bool),
}

impl Value {
    pub const fn ty(&self) -> InputType {
        match self {
            Value::String(_) => InputType::String,
            Value::Number(_) => InputType::Number,
            Value::Boolean(_) => InputType::Boolean,
        }
    }
}

/// Separation-of-duties rules, enforced at every decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rules {
    /// One principal approves at most one stage of a run.
    pub distinct_approvers: bool,
    /// Whoever started the run cannot approve any stage.
    pub requester_cannot_approve: bool,
}

/// One stage, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub id: StageId,
    /// The stage's key under `stages:`.
    pub span: Span,
    /// The stages this one waits for, in the order written, without duplicates.
    pub needs: Vec<StageIndex>,
    /// Where the stage runs (`home` when the stage names no account).
    pub account: Account,
    /// `false` makes the stage `skipped`; absent means always run.
    pub when: Option<When>,
    /// The effective timeout of the first attempt (stage, else `defaults`, else
    /// [`DEFAULT_TIMEOUT`]).
    pub timeout: Timeout,
    pub on_timeout: OnTimeout,
    pub binding: Binding,
}

/// A timeout and where it was written (`None` when the built-in default applies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout {
    pub duration: Duration,
    pub span: Option<Span>,
}

/// The timeout when neither the stage nor `defaults` sets one: AWS's own default for both
/// `aws:approve` and CodePipeline manual approvals.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(7 * 86_400);

/// What a timeout does. A timeout never approves.
#[derive(Debug, Clone, PartialEq)]
pub enum OnTimeout {
    /// The stage ends `timed_out` and the run is rejected.
    Reject,
    /// Ask other approvers once more; a second timeout rejects.
    Escalate(Escalation),
}

/// The second attempt after a timeout, with the same binding kind as the stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    pub approvers: Vec<Principal>,
    /// Defaults to the stage's timeout.
    pub timeout: Timeout,
    /// The `escalate:` key.
    pub span: Span,
}

/// A `when:` condition, type-checked: it evaluates to a boolean.
#[derive(Debug, Clone, PartialEq)]
pub struct When {
    pub condition: Condition,
    /// The condition text as written, for notes in graphs and state comments.
    pub text: String,
    pub span: Span,
}

/// A boolean expression over input fields and earlier stages' decisions.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// A boolean operand on its own (`input.urgent`, `true`).
    Operand(Operand),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    /// Both sides have the same type; ordering operators only compare numbers.
    Compare {
        op: CmpOp,
        lhs: Operand,
        rhs: Operand,
    },
    /// `operand in [..]`; every value has the operand's type.
    In {
        operand: Operand,
        values: Vec<Value>,
    },
}

/// A value a condition reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Input(String),
    /// The decision of a stage that always ends before this one (a transitive `needs`):
    /// `approved` or `skipped` (a rejected or timed-out stage ends the run).
    StageDecision(StageIndex),
    Literal(Value),
}

/// A string with `{{ }}` references, compiled to `States.Format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplatePart {
    Text(String),
    Ref(Reference),
}

/// A name a template refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// `{{ input.NAME }}`; the index is into [`Model::input`].
    Input(usize),
    /// `{{ run.id }}`: the parent execution's name.
    RunId,
    /// `{{ stage.ID.decision }}` of a stage that always ends before this one.
    StageDecision(StageIndex),
}

impl Template {
    /// A template without references.
    pub fn literal(text: impl Into<String>, span: Span) -> Self {
        Self {
            parts: vec![TemplatePart::Text(text.into())],
            span,
        }
    }

    /// The literal text when the template has no references.
    pub fn as_literal(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Ref(_) => return None,
            }
        }
        Some(out)
    }
}

/// What a stage does.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    Ssm(SsmApproval),
    CodePipeline(CodePipelineApproval),
    Action(ActionStage),
}

impl Binding {
    /// The key as written: `ssm`, `codepipeline`, `action`.
    pub const fn keyword(&self) -> &'static str {
        match self {
            Binding::Ssm(_) => "ssm",
            Binding::CodePipeline(_) => "codepipeline",
            Binding::Action(_) => "action",
        }
    }
}

/// An SSM Automation `aws:approve` step.
#[derive(Debug, Clone, PartialEq)]
pub struct SsmApproval {
    /// 1–10 distinct principals.
    pub approvers: Vec<Principal>,
    /// 1..=approvers.len().
    pub min_approvals: u32,
    /// Defaults to [`default_message`].
    pub message: Template,
    /// An existing Automation document; `None` means the one approvalc bootstraps.
    pub document: Option<String>,
    /// An SNS topic whose name starts with `Automation` (stage, else `defaults.notify`).
    pub notify: Option<Arn>,
    /// The `ssm:` key.
    pub span: Span,
}

/// A CodePipeline Manual approval action.
#[derive(Debug, Clone, PartialEq)]
pub struct CodePipelineApproval {
    /// Granted `codepipeline:PutApprovalResult` on this one action.
    pub approvers: Vec<Principal>,
    pub pipeline: PipelineTarget,
    pub custom_data: Option<Template>,
    pub external_link: Option<Template>,
    /// Stage, else `defaults.notify`.
    pub notify: Option<Arn>,
    /// The `codepipeline:` key.
    pub span: Span,
}

/// Which pipeline holds the manual approval action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineTarget {
    /// approvalc creates a V2 pipeline [`names::pipeline`] with stage `Approval`, action
    /// `Approve`.
    Dedicated { name: String },
    /// An existing pipeline with a Manual approval action.
    Existing {
        name: String,
        stage: String,
        action: String,
    },
}

/// An action stage: run an SSM Automation document; approved when it succeeds.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionStage {
    pub document: String,
    /// Document parameters in file order; each value is a list of templates (SSM
    /// parameters are string lists; a single string is a list of one).
    pub parameters: Vec<(String, Vec<Template>)>,
    /// The `action:` key.
    pub span: Span,
}

/// The SSM message when a stage sets none.
pub fn default_message(workflow: &WorkflowName, stage: &StageId, span: Span) -> Template {
    Template {
        parts: vec![
            TemplatePart::Text(format!(
                "approvalc: approve stage {} of workflow {} (run ",
                stage.as_str(),
                workflow.as_str()
            )),
            TemplatePart::Ref(Reference::RunId),
            TemplatePart::Text(")".to_owned()),
        ],
        span,
    }
}

/// The graph of stages: node `i` is [`StageIndex`]`(i)`; an edge `a → b` means `b` needs `a`.
pub type StageGraph = DiGraph<StageIndex, ()>;

impl Model {
    pub fn stage(&self, index: StageIndex) -> Option<&Stage> {
        self.stages.get(index.0)
    }

    pub fn stage_by_id(&self, id: &str) -> Option<(StageIndex, &Stage)> {
        self.stages
            .iter()
            .enumerate()
            .find(|(_, s)| s.id.as_str() == id)
            .map(|(i, s)| (StageIndex(i), s))
    }

    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name.as_str() == name)
    }

    /// The stage DAG (see [`StageGraph`]).
    pub fn graph(&self) -> StageGraph {
        let mut graph = StageGraph::with_capacity(self.stages.len(), self.stages.len());
        for i in 0..self.stages.len() {
            graph.add_node(StageIndex(i));
        }
        for (i, stage) in self.stages.iter().enumerate() {
            for need in &stage.needs {
                graph.add_edge(NodeIndex::new(need.0), NodeIndex::new(i), ());
            }
        }
        graph
    }

    /// Stages that need `index` directly, in order.
    pub fn dependants(&self, index: StageIndex) -> Vec<StageIndex> {
        (0..self.stages.len())
            .filter(|&i| self.stages[i].needs.contains(&index))
            .map(StageIndex)
            .collect()
    }

    /// Stages with no `needs`: they start when the run starts.
    pub fn roots(&self) -> impl Iterator<Item = StageIndex> + '_ {
        self.stages
            .iter()
            .enumerate()
            .filter(|(_, s)| s.needs.is_empty())
            .map(|(i, _)| StageIndex(i))
    }

    /// Stages no other stage needs: the run ends when they have.
    pub fn sinks(&self) -> Vec<StageIndex> {
        let mut needed = vec![false; self.stages.len()];
        for stage in &self.stages {
            for need in &stage.needs {
                if let Some(flag) = needed.get_mut(need.0) {
                    *flag = true;
                }
            }
        }
        (0..self.stages.len())
            .filter(|&i| !needed[i])
            .map(StageIndex)
            .collect()
    }

    /// Whether a stage runs in another account than `home` (its child needs `Credentials`).
    pub fn is_cross_account(&self, stage: &Stage) -> bool {
        stage.account.id != self.home.id
    }
}

/// AWS resource names derived from the workflow and stage names, and their limits. The
/// checks (`E058`) guarantee every name built here fits; docs/checks.md gives the formulas.
pub mod names {
    use super::{StageId, WorkflowName};

    /// Every per-workflow resource name starts with this and a `-`.
    pub const PREFIX: &str = "approvalc";
    /// Step Functions state machine names: 1–80 chars.
    pub const STATE_MACHINE_MAX: usize = 80;
    /// IAM role names: 1–64 chars.
    pub const ROLE_MAX: usize = 64;
    /// CodePipeline pipeline names: 1–100 chars.
    pub const PIPELINE_MAX: usize = 100;

    /// The parent state machine: `approvalc-<workflow>`.
    pub fn state_machine(workflow: &WorkflowName) -> String {
        format!("{PREFIX}-{}", workflow.as_str())
    }

    /// The parent state machine's execution role: `approvalc-<workflow>`.
    pub fn workflow_role(workflow: &WorkflowName) -> String {
        format!("{PREFIX}-{}", workflow.as_str())
    }

    /// A per-stage role (cross-account execute role in the stage's account, pipeline
    /// service role): `approvalc-<workflow>-<stage>`.
    pub fn stage_role(workflow: &WorkflowName, stage: &StageId) -> String {
        format!("{PREFIX}-{}-{}", workflow.as_str(), stage.as_str())
    }

    /// EventBridge rule names: 1–64 chars.
    pub const EVENT_RULE_MAX: usize = 64;

    /// The per-workflow EventBridge rule and IAM policy for the workflow's own SSM documents
    /// (action stages, `ssm.document`): `approvalc-<workflow>-documents`.
    pub fn documents(workflow: &WorkflowName) -> String {
        format!("{PREFIX}-{}-documents", workflow.as_str())
    }

    /// A dedicated approval pipeline: `approvalc-<workflow>-<stage>` (docs/token-handling.md).
    pub fn pipeline(workflow: &WorkflowName, stage: &StageId) -> String {
        format!("{PREFIX}-{}-{}", workflow.as_str(), stage.as_str())
    }
}

/// AWS limits the checks enforce, shared with lowering.
pub mod limits {
    use std::time::Duration;

    pub const SSM_MAX_APPROVERS: usize = 10;
    pub const SSM_MAX_TIMEOUT: Duration = Duration::from_secs(30 * 86_400);
    pub const SSM_MAX_MESSAGE_CHARS: usize = 4_096;
    pub const CODEPIPELINE_MIN_TIMEOUT: Duration = Duration::from_secs(5 * 60);
    pub const CODEPIPELINE_MAX_TIMEOUT: Duration = Duration::from_secs(60 * 86_400);
    pub const CODEPIPELINE_MAX_CUSTOM_DATA_CHARS: usize = 500;
    /// `ExternalEntityLink` of a manual approval action.
    pub const CODEPIPELINE_MAX_EXTERNAL_LINK_CHARS: usize = 2_048;
    /// Approver ARNs granted `PutApprovalResult`: same bound as SSM, so one list works for
    /// both bindings and the IAM policy stays small.
    pub const CODEPIPELINE_MAX_APPROVERS: usize = 10;
    /// SSM Automation parameter values.
    pub const SSM_MAX_PARAMETER_CHARS: usize = 512;
    /// A Standard workflow execution runs at most one year.
    pub const MAX_RUN: Duration = Duration::from_secs(365 * 86_400);
}
