//! The keys of every mapping in the language, in one table.
//!
//! This table is the single source of truth for which keys exist, which are required and
//! what shape their values have: the reader ([`crate::parse`]) uses it to report unknown,
//! duplicate and missing keys, and [`crate::schema`] turns it into the JSON Schema. Adding a
//! key here without reading it in `parse.rs` is caught by a test.

/// The shape of a value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shape {
    /// Plain text.
    Str,
    /// Text that may hold `{{ }}` templates.
    Template,
    /// A `when:` expression.
    Expr,
    Bool,
    /// A whole number, at least 1.
    Count,
    ApiVersion,
    WorkflowName,
    Region,
    AccountId,
    Duration,
    OnTimeout,
    InputType,
    /// A regular expression.
    Pattern,
    /// An SNS topic ARN.
    SnsTopicArn,
    /// A list of approvers.
    Principals,
    /// A list of stage ids.
    StageRefs,
    /// An account name (key of `accounts`).
    AccountRef,
    /// A string, number or boolean.
    Literal,
    /// A list of literals.
    Literals,
    /// An SSM document name.
    DocumentName,
    /// A CodePipeline pipeline, stage or action name.
    PipelineName,
    /// A fixed-key mapping.
    Object(&'static Object),
    /// A mapping with user-chosen keys, each value of the given object.
    Dict(Key, &'static Object),
    /// Automation parameters: user keys, values a template string or a list of them.
    Params,
}

/// The kind of user-chosen keys of a [`Shape::Dict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    AccountName,
    InputName,
    StageId,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub name: &'static str,
    pub required: bool,
    pub shape: Shape,
    pub doc: &'static str,
}

/// A mapping with a fixed set of keys.
#[derive(Debug)]
pub(crate) struct Object {
    /// Used in the JSON Schema `$defs` and in messages ("in a stage").
    pub name: &'static str,
    /// How messages refer to it: "missing required key `id` in this account".
    pub noun: &'static str,
    pub doc: &'static str,
    pub fields: &'static [Field],
    /// Exactly one of these keys must be present.
    pub one_of: &'static [&'static str],
}

impl Object {
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields.iter().map(|f| f.name)
    }
}

const fn req(name: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field {
        name,
        required: true,
        shape,
        doc,
    }
}

const fn opt(name: &'static str, shape: Shape, doc: &'static str) -> Field {
    Field {
        name,
        required: false,
        shape,
        doc,
    }
}

pub(crate) static WORKFLOW: Object = Object {
    name: "workflow",
    noun: "the workflow",
    doc: "An approvalc workflow: stages of human approval compiled to AWS Step Functions.",
    one_of: &[],
    fields: &[
        req(
            "apiVersion",
            Shape::ApiVersion,
            "Language version; `approvalc/v1`.",
        ),
        req(
            "name",
            Shape::WorkflowName,
            "Workflow name, [A-Za-z0-9-_]{1,64}; prefixes every AWS resource name.",
        ),
        opt("description", Shape::Str, "What this workflow approves."),
        req(
            "region",
            Shape::Region,
            "The AWS region every state machine of the run lives in.",
        ),
        req(
            "home",
            Shape::AccountRef,
            "The account (a key of `accounts`) that runs the parent state machine.",
        ),
        req(
            "accounts",
            Shape::Dict(Key::AccountName, &ACCOUNT),
            "Named AWS accounts; stages refer to them by name.",
        ),
        opt(
            "input",
            Shape::Dict(Key::InputName, &INPUT),
            "The run's input contract, checked when a run starts.",
        ),
        opt(
            "defaults",
            Shape::Object(&DEFAULTS),
            "Settings applied to every stage that does not set its own.",
        ),
        opt(
            "rules",
            Shape::Object(&RULES),
            "Separation-of-duties rules, checked at every decision.",
        ),
        req(
            "stages",
            Shape::Dict(Key::StageId, &STAGE),
            "The stages, keyed by id [a-z0-9-]{1,40}.",
        ),
    ],
};

pub(crate) static ACCOUNT: Object = Object {
    name: "account",
    noun: "this account",
    doc: "An AWS account used by the workflow.",
    one_of: &[],
    fields: &[
        req("id", Shape::AccountId, "12-digit account id, quoted."),
        opt(
            "region",
            Shape::Region,
            "Must equal the workflow's `region` (Step Functions cannot work across regions).",
        ),
    ],
};

pub(crate) static INPUT: Object = Object {
    name: "input",
    noun: "this input",
    doc: "One input parameter of a run.",
    one_of: &[],
    fields: &[
        req("type", Shape::InputType, "string, number or boolean."),
        opt(
            "required",
            Shape::Bool,
            "Whether a run must provide it (default false).",
        ),
        opt(
            "pattern",
            Shape::Pattern,
            "Regular expression a string value must match.",
        ),
        opt("enum", Shape::Literals, "The allowed values."),
        opt(
            "default",
            Shape::Literal,
            "Value used when a run does not provide one.",
        ),
        opt("description", Shape::Str, "What the parameter means."),
    ],
};

pub(crate) static DEFAULTS: Object = Object {
    name: "defaults",
    noun: "`defaults`",
    doc: "Stage settings applied unless a stage overrides them.",
    one_of: &[],
    fields: &[
        opt(
            "timeout",
            Shape::Duration,
            "How long a stage waits: 90s, 15m, 12h, 3d.",
        ),
        opt(
            "on_timeout",
            Shape::OnTimeout,
            "reject or escalate; a timeout never approves.",
        ),
        opt(
            "notify",
            Shape::SnsTopicArn,
            "SNS topic ARN notified of pending approvals.",
        ),
    ],
};

pub(crate) static RULES: Object = Object {
    name: "rules",
    noun: "`rules`",
    doc: "Separation-of-duties rules (off unless set to true).",
    one_of: &[],
    fields: &[
        opt(
            "distinct_approvers",
            Shape::Bool,
            "One principal approves at most one stage of a run.",
        ),
        opt(
            "requester_cannot_approve",
            Shape::Bool,
            "Whoever started the run cannot approve any stage.",
        ),
    ],
};

pub(crate) static STAGE: Object = Object {
    name: "stage",
    noun: "this stage",
    doc: "One stage: an SSM or CodePipeline approval, or an action.",
    one_of: &["ssm", "codepipeline", "action"],
    fields: &[
        opt("description", Shape::Str, "What this stage is for."),
        opt(
            "needs",
            Shape::StageRefs,
            "Stage ids that must be approved or skipped first.",
        ),
        opt("when", Shape::Expr, "Condition; false skips the stage."),
        opt(
            "account",
            Shape::AccountRef,
            "Account (a key of `accounts`) the stage runs in; default `home`.",
        ),
        opt(
            "timeout",
            Shape::Duration,
            "How long the stage waits: 90s, 15m, 12h, 3d.",
        ),
        opt(
            "on_timeout",
            Shape::OnTimeout,
            "reject or escalate (needs `escalate`).",
        ),
        opt(
            "escalate",
            Shape::Object(&ESCALATE),
            "Second attempt with other approvers after a timeout.",
        ),
        opt(
            "ssm",
            Shape::Object(&SSM),
            "Wait for an SSM Automation aws:approve step.",
        ),
        opt(
            "codepipeline",
            Shape::Object(&CODEPIPELINE),
            "Wait for a CodePipeline Manual approval action.",
        ),
        opt(
            "action",
            Shape::Object(&ACTION),
            "Run an action (an SSM Automation document).",
        ),
    ],
};

pub(crate) static ESCALATE: Object = Object {
    name: "escalate",
    noun: "`escalate`",
    doc: "Who is asked after the stage times out.",
    one_of: &[],
    fields: &[
        req(
            "approvers",
            Shape::Principals,
            "IAM user names or user/role/assumed-role ARNs.",
        ),
        opt(
            "timeout",
            Shape::Duration,
            "How long the escalation waits (default: the stage's timeout).",
        ),
    ],
};

pub(crate) static SSM: Object = Object {
    name: "ssm",
    noun: "`ssm`",
    doc: "An SSM Automation aws:approve step.",
    one_of: &[],
    fields: &[
        req(
            "approvers",
            Shape::Principals,
            "IAM user names or user/role/assumed-role ARNs (1-10).",
        ),
        opt(
            "min_approvals",
            Shape::Count,
            "Approvals needed (default 1).",
        ),
        opt(
            "message",
            Shape::Template,
            "Message shown to approvers; may use {{ }} templates.",
        ),
        opt(
            "document",
            Shape::DocumentName,
            "An existing Automation document (default: approvalc's).",
        ),
        opt(
            "notify",
            Shape::SnsTopicArn,
            "SNS topic ARN; its name must start with `Automation`.",
        ),
    ],
};

pub(crate) static CODEPIPELINE: Object = Object {
    name: "codepipeline",
    noun: "`codepipeline`",
    doc: "A CodePipeline Manual approval action.",
    one_of: &[],
    fields: &[
        req(
            "approvers",
            Shape::Principals,
            "Principals granted PutApprovalResult on this action.",
        ),
        opt(
            "pipeline",
            Shape::PipelineName,
            "An existing pipeline (default: approvalc creates one).",
        ),
        opt(
            "stage",
            Shape::PipelineName,
            "The stage of `pipeline` holding the approval action.",
        ),
        opt(
            "action",
            Shape::PipelineName,
            "The existing pipeline's Manual approval action name.",
        ),
        opt(
            "custom_data",
            Shape::Template,
            "Text shown with the approval; may use {{ }} templates.",
        ),
        opt(
            "external_link",
            Shape::Template,
            "URL shown with the approval; may use {{ }} templates.",
        ),
        opt(
            "notify",
            Shape::SnsTopicArn,
            "SNS topic ARN notified of the pending approval.",
        ),
    ],
};

pub(crate) static ACTION: Object = Object {
    name: "action",
    noun: "`action`",
    doc: "Work done by the stage; approved when it succeeds.",
    one_of: &[],
    fields: &[req(
        "ssm_automation",
        Shape::Object(&SSM_AUTOMATION),
        "Run an SSM Automation document and wait for it.",
    )],
};

pub(crate) static SSM_AUTOMATION: Object = Object {
    name: "ssm_automation",
    noun: "`ssm_automation`",
    doc: "An SSM Automation document run by an action stage.",
    one_of: &[],
    fields: &[
        req(
            "document",
            Shape::DocumentName,
            "The Automation document name.",
        ),
        opt(
            "parameters",
            Shape::Params,
            "Document parameters; values may use {{ }} templates.",
        ),
    ],
};

/// Optional sections that may be written with no value (`input:` followed only by
/// comments); the parser reads them as absent.
pub(crate) const NULL_MEANS_ABSENT: &[&str] = &["input", "defaults", "rules", "parameters"];

/// Every fixed-key object, for the schema's `$defs`.
pub(crate) static OBJECTS: &[&Object] = &[
    &WORKFLOW,
    &ACCOUNT,
    &INPUT,
    &DEFAULTS,
    &RULES,
    &STAGE,
    &ESCALATE,
    &SSM,
    &CODEPIPELINE,
    &ACTION,
    &SSM_AUTOMATION,
];
