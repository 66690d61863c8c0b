//! Stable codes of the parse diagnostics, `approvalc::E001`..`E029`.
//!
//! A code never changes meaning once released; `docs/diagnostics.md` has one line per code
//! (meaning, fix) and a test keeps that table and [`ALL`] in step.

/// The YAML is not well-formed (one diagnostic at the first syntax error).
pub const YAML_SYNTAX: &str = "approvalc::E001";
/// The file is not one YAML mapping (empty, a list, a scalar, or several documents).
pub const NOT_A_WORKFLOW: &str = "approvalc::E002";
/// A key the language does not know here.
pub const UNKNOWN_KEY: &str = "approvalc::E003";
/// The same key twice in one mapping.
pub const DUPLICATE_KEY: &str = "approvalc::E004";
/// A required key is missing.
pub const MISSING_KEY: &str = "approvalc::E005";
/// A value of the wrong type (a list where a string is expected, ...).
pub const WRONG_TYPE: &str = "approvalc::E006";
/// A stage with none of `ssm`, `codepipeline`, `action`.
pub const NO_BINDING: &str = "approvalc::E007";
/// A stage with more than one of `ssm`, `codepipeline`, `action`.
pub const SEVERAL_BINDINGS: &str = "approvalc::E008";
/// `apiVersion` is not `approvalc/v1`.
pub const API_VERSION: &str = "approvalc::E009";
/// A malformed workflow name.
pub const BAD_WORKFLOW_NAME: &str = "approvalc::E010";
/// A malformed stage id.
pub const BAD_STAGE_ID: &str = "approvalc::E011";
/// A malformed duration.
pub const BAD_DURATION: &str = "approvalc::E012";
/// A malformed account id.
pub const BAD_ACCOUNT_ID: &str = "approvalc::E013";
/// A malformed region.
pub const BAD_REGION: &str = "approvalc::E014";
/// A malformed ARN (or an ARN of the wrong service, e.g. `notify` not an SNS topic).
pub const BAD_ARN: &str = "approvalc::E015";
/// A malformed approver (IAM user name or user/role/assumed-role ARN).
pub const BAD_PRINCIPAL: &str = "approvalc::E016";
/// A word outside its closed set (`on_timeout`, input `type`).
pub const UNKNOWN_WORD: &str = "approvalc::E017";
/// An account whose `region` differs from the workflow's.
pub const ACCOUNT_REGION: &str = "approvalc::E018";
/// An input `pattern` that is not a valid regular expression.
pub const BAD_PATTERN: &str = "approvalc::E019";
/// An input `default`/`enum` value whose type differs from the input's `type`.
pub const INPUT_VALUE_TYPE: &str = "approvalc::E020";
/// A malformed input or account name (a key of `input:` / `accounts:`).
pub const BAD_NAME: &str = "approvalc::E021";
/// A resource limit: file too large, nesting too deep, too many values after aliases.
pub const LIMIT: &str = "approvalc::E022";
/// A number out of range or not a whole number (`min_approvals`).
pub const BAD_NUMBER: &str = "approvalc::E023";
/// A YAML feature the language does not accept (tags, complex keys, merge keys).
pub const UNSUPPORTED_YAML: &str = "approvalc::E024";
/// A malformed AWS resource name (SSM document, pipeline, stage or action name).
pub const BAD_RESOURCE_NAME: &str = "approvalc::E025";
/// An empty string or list where content is required.
pub const EMPTY: &str = "approvalc::E026";

/// Every parse code, in order.
pub const ALL: &[&str] = &[
    YAML_SYNTAX,
    NOT_A_WORKFLOW,
    UNKNOWN_KEY,
    DUPLICATE_KEY,
    MISSING_KEY,
    WRONG_TYPE,
    NO_BINDING,
    SEVERAL_BINDINGS,
    API_VERSION,
    BAD_WORKFLOW_NAME,
    BAD_STAGE_ID,
    BAD_DURATION,
    BAD_ACCOUNT_ID,
    BAD_REGION,
    BAD_ARN,
    BAD_PRINCIPAL,
    UNKNOWN_WORD,
    ACCOUNT_REGION,
    BAD_PATTERN,
    INPUT_VALUE_TYPE,
    BAD_NAME,
    LIMIT,
    BAD_NUMBER,
    UNSUPPORTED_YAML,
    BAD_RESOURCE_NAME,
    EMPTY,
];
