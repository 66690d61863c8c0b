//! Stable codes of the check diagnostics, `approvalc::E030`..`E079`.
//!
//! A code never changes meaning once released; `docs/diagnostics.md` ("Check errors") has one
//! line per code and `docs/checks.md` explains each check. Parse codes (`E001`..`E029`) live
//! in `approvalc_dsl::codes`; lowering owns `E080` and up.

/// A `needs` entry names no stage (did-you-mean).
pub const UNKNOWN_NEED: &str = "approvalc::E030";
/// A stage needs itself.
pub const SELF_NEED: &str = "approvalc::E031";
/// The `needs` graph has a cycle (the path is printed, each edge labelled).
pub const CYCLE: &str = "approvalc::E032";
/// Warning: a `needs` entry already implied by another one (`a needs b and c, but c already needs b`).
pub const REDUNDANT_NEED: &str = "approvalc::E033";
/// Warning: the same stage listed twice in one `needs`.
pub const DUPLICATE_NEED: &str = "approvalc::E034";
/// `home` or a stage's `account` names no entry of `accounts` (did-you-mean).
pub const UNKNOWN_ACCOUNT: &str = "approvalc::E035";
/// Fewer than 1 or more than 10 approvers.
pub const APPROVER_COUNT: &str = "approvalc::E036";
/// The same approver twice in one list.
pub const DUPLICATE_APPROVER: &str = "approvalc::E037";
/// `min_approvals` outside 1..=number of approvers.
pub const MIN_APPROVALS: &str = "approvalc::E038";
/// A stage timeout outside the binding's limits (SSM ≤ 30d, CodePipeline 5m..60d).
pub const TIMEOUT_LIMIT: &str = "approvalc::E039";
/// An `escalate.timeout` outside the binding's limits.
pub const ESCALATE_TIMEOUT_LIMIT: &str = "approvalc::E040";
/// An SSM `message` longer than 4,096 characters.
pub const MESSAGE_TOO_LONG: &str = "approvalc::E041";
/// A CodePipeline `custom_data` longer than 500 characters.
pub const CUSTOM_DATA_TOO_LONG: &str = "approvalc::E042";
/// A CodePipeline `external_link` longer than 2,048 characters or not an http(s) URL.
pub const EXTERNAL_LINK: &str = "approvalc::E043";
/// An SSM stage notifies an SNS topic whose name does not start with `Automation`.
pub const NOTIFY_TOPIC_NAME: &str = "approvalc::E044";
/// Warning: a `notify` topic in another region than the workflow or another account than
/// the stage.
pub const NOTIFY_TOPIC_PLACE: &str = "approvalc::E045";
/// An input `default` that is not one of its `enum` values.
pub const DEFAULT_NOT_IN_ENUM: &str = "approvalc::E046";
/// An input `default` that does not match its `pattern`.
pub const DEFAULT_PATTERN: &str = "approvalc::E047";
/// An input `enum` value that does not match its `pattern`.
pub const ENUM_PATTERN: &str = "approvalc::E048";
/// `escalate:` on a stage whose `on_timeout` is not `escalate`.
pub const ESCALATE_WITHOUT_ON_TIMEOUT: &str = "approvalc::E049";
/// `on_timeout: escalate` on a stage without `escalate:`.
pub const ON_TIMEOUT_WITHOUT_ESCALATE: &str = "approvalc::E050";
/// `escalate` or `on_timeout: escalate` on an action stage, which has no approvers.
pub const ESCALATE_ON_ACTION: &str = "approvalc::E051";
/// A malformed `{{ }}` template.
pub const TEMPLATE_SYNTAX: &str = "approvalc::E052";
/// A reference that is none of `input.NAME`, `run.id`, `stage.ID.decision`.
pub const UNKNOWN_REFERENCE: &str = "approvalc::E053";
/// `input.NAME` where `NAME` is not declared under `input:` (did-you-mean).
pub const UNKNOWN_INPUT: &str = "approvalc::E054";
/// `stage.ID.decision` where `ID` is no stage (did-you-mean).
pub const UNKNOWN_STAGE_REF: &str = "approvalc::E055";
/// `stage.ID.decision` of a stage that does not always end before this one.
pub const STAGE_NOT_BEFORE: &str = "approvalc::E056";
/// A malformed `when:` condition.
pub const WHEN_SYNTAX: &str = "approvalc::E057";
/// A `when:` type error: operands of different types, a non-boolean condition, a list item
/// of another type.
pub const WHEN_TYPE: &str = "approvalc::E058";
/// `<`, `<=`, `>`, `>=` on something other than numbers.
pub const WHEN_ORDERING: &str = "approvalc::E059";
/// An AWS resource name built from the workflow and stage names would be too long.
pub const NAME_TOO_LONG: &str = "approvalc::E060";
/// The longest chain of timeouts exceeds a Standard execution's one year.
pub const RUN_TOO_LONG: &str = "approvalc::E061";
/// An action parameter value longer than SSM's 512 characters.
pub const PARAMETER_TOO_LONG: &str = "approvalc::E062";
/// Warning: an account no stage (nor `home`) uses.
pub const UNUSED_ACCOUNT: &str = "approvalc::E063";
/// A comparison that can never be true: a value outside the input's `enum`, or a decision
/// other than `approved` / `skipped` (did-you-mean).
pub const IMPOSSIBLE_VALUE: &str = "approvalc::E064";
/// Two stages use the same existing pipeline action.
pub const SHARED_PIPELINE_ACTION: &str = "approvalc::E065";
/// Warning: a `required` input with a `default` (the default is never used).
pub const REQUIRED_WITH_DEFAULT: &str = "approvalc::E066";
/// `pipeline`, `stage` and `action` of a CodePipeline stage not given together.
pub const PIPELINE_TARGET: &str = "approvalc::E067";

/// Every check code, in order.
pub const ALL: &[&str] = &[
    UNKNOWN_NEED,
    SELF_NEED,
    CYCLE,
    REDUNDANT_NEED,
    DUPLICATE_NEED,
    UNKNOWN_ACCOUNT,
    APPROVER_COUNT,
    DUPLICATE_APPROVER,
    MIN_APPROVALS,
    TIMEOUT_LIMIT,
    ESCALATE_TIMEOUT_LIMIT,
    MESSAGE_TOO_LONG,
    CUSTOM_DATA_TOO_LONG,
    EXTERNAL_LINK,
    NOTIFY_TOPIC_NAME,
    NOTIFY_TOPIC_PLACE,
    DEFAULT_NOT_IN_ENUM,
    DEFAULT_PATTERN,
    ENUM_PATTERN,
    ESCALATE_WITHOUT_ON_TIMEOUT,
    ON_TIMEOUT_WITHOUT_ESCALATE,
    ESCALATE_ON_ACTION,
    TEMPLATE_SYNTAX,
    UNKNOWN_REFERENCE,
    UNKNOWN_INPUT,
    UNKNOWN_STAGE_REF,
    STAGE_NOT_BEFORE,
    WHEN_SYNTAX,
    WHEN_TYPE,
    WHEN_ORDERING,
    NAME_TOO_LONG,
    RUN_TOO_LONG,
    PARAMETER_TOO_LONG,
    UNUSED_ACCOUNT,
    IMPOSSIBLE_VALUE,
    SHARED_PIPELINE_ACTION,
    REQUIRED_WITH_DEFAULT,
    PIPELINE_TARGET,
];
