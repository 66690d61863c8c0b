//! Fixed resource names from docs/token-handling.md and the ARNs built from them.
//!
//! Per-workflow names (parent machine, its role, per-stage roles, pipelines) come from
//! [`crate::model::names`], whose lengths the checks guarantee.

use serde::{Deserialize, Serialize};

/// The token table every child writes to (per account, from bootstrap).
pub const TOKEN_TABLE: &str = "approvalc-tokens";
/// Its global secondary index on `run_id`.
pub const TOKEN_TABLE_RUN_INDEX: &str = "run_id-index";
/// The bootstrapped SSM approval document.
pub const APPROVE_DOCUMENT: &str = "approvalc-Approve";
/// The one step of [`APPROVE_DOCUMENT`].
pub const APPROVE_STEP: &str = "Approve";
/// Stage and action names inside a dedicated approval pipeline.
pub const PIPELINE_STAGE: &str = "Approval";
pub const PIPELINE_ACTION: &str = "Approve";
/// The pipeline variable carrying the correlation id.
pub const PIPELINE_CORRELATION_VARIABLE: &str = "correlation_id";
/// Grace the child adds to an approval timeout before it gives up waiting for the callback,
/// so the service's own timeout (and its event) comes first.
pub const CALLBACK_GRACE_SECONDS: u64 = 300;
/// Extra time the parent gives a child on top of the child's own wait.
pub const PARENT_GRACE_SECONDS: u64 = 600;

/// The three generic child machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChildKind {
    Ssm,
    Codepipeline,
    Action,
}

impl ChildKind {
    pub const ALL: [ChildKind; 3] = [ChildKind::Ssm, ChildKind::Codepipeline, ChildKind::Action];

    /// State machine name (docs/token-handling.md).
    pub const fn machine_name(self) -> &'static str {
        match self {
            ChildKind::Ssm => "approvalc-ssm-approval",
            ChildKind::Codepipeline => "approvalc-codepipeline-approval",
            ChildKind::Action => "approvalc-ssm-action",
        }
    }

    /// The `kind` attribute of the token item.
    pub const fn as_str(self) -> &'static str {
        match self {
            ChildKind::Ssm => "ssm",
            ChildKind::Codepipeline => "codepipeline",
            ChildKind::Action => "action",
        }
    }

    /// File stem under `children/`.
    pub const fn file_stem(self) -> &'static str {
        match self {
            ChildKind::Ssm => "ssm-approval",
            ChildKind::Codepipeline => "codepipeline-approval",
            ChildKind::Action => "ssm-action",
        }
    }

    /// The execution role of the child machine (bootstrap, one per account and kind).
    pub const fn role_name(self) -> &'static str {
        match self {
            ChildKind::Ssm => "approvalc-ssm-approval-machine",
            ChildKind::Codepipeline => "approvalc-codepipeline-approval-machine",
            ChildKind::Action => "approvalc-ssm-action-machine",
        }
    }
}

/// The runtime Lambdas (docs/token-handling.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lambda {
    SsmCallback,
    CodepipelineCallback,
    Cleanup,
    Reconciler,
}

impl Lambda {
    pub const ALL: [Lambda; 4] = [
        Lambda::SsmCallback,
        Lambda::CodepipelineCallback,
        Lambda::Cleanup,
        Lambda::Reconciler,
    ];

    pub const fn function_name(self) -> &'static str {
        match self {
            Lambda::SsmCallback => "approvalc-ssm-callback",
            Lambda::CodepipelineCallback => "approvalc-codepipeline-callback",
            Lambda::Cleanup => "approvalc-cleanup",
            Lambda::Reconciler => "approvalc-reconciler",
        }
    }

    /// CloudFormation logical id prefix.
    pub const fn logical(self) -> &'static str {
        match self {
            Lambda::SsmCallback => "SsmCallback",
            Lambda::CodepipelineCallback => "CodepipelineCallback",
            Lambda::Cleanup => "Cleanup",
            Lambda::Reconciler => "Reconciler",
        }
    }
}

/// Builds ARNs for one account in the workflow's region, either as literal strings (for
/// artifacts deploy applies through the SDK) or as `Fn::Sub` strings over pseudo parameters
/// (for CloudFormation templates, where cfn-lint wants `${AWS::Partition}` and friends).
#[derive(Debug, Clone)]
pub struct ArnBuilder {
    pub region: String,
    pub account: String,
    pub templated: bool,
}

impl ArnBuilder {
    pub fn literal(region: &str, account: &str) -> Self {
        Self {
            region: region.to_owned(),
            account: account.to_owned(),
            templated: false,
        }
    }

    pub fn templated(region: &str, account: &str) -> Self {
        Self {
            templated: true,
            ..Self::literal(region, account)
        }
    }

    /// A regional ARN in this account: `arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE`.
    pub fn regional(&self, service: &str, resource: &str) -> String {
        if self.templated {
            format!(
                "arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"
            )
        } else {
            format!(
                "arn:aws:{service}:{}:{}:{resource}",
                self.region, self.account
            )
        }
    }

    /// A global ARN in this account (IAM): `arn:aws:SERVICE::ACCOUNT:RESOURCE`.
    pub fn global(&self, service: &str, resource: &str) -> String {
        if self.templated {
            format!("arn:${{AWS::Partition}}:{service}::${{AWS::AccountId}}:{resource}")
        } else {
            format!("arn:aws:{service}::{}:{resource}", self.account)
        }
    }

    pub fn state_machine(&self, name: &str) -> String {
        self.regional("states", &format!("stateMachine:{name}"))
    }

    /// Executions of a state machine (`…:execution:NAME:*`).
    pub fn executions(&self, machine: &str) -> String {
        self.regional("states", &format!("execution:{machine}:*"))
    }

    pub fn role(&self, name: &str) -> String {
        self.global("iam", &format!("role/{name}"))
    }

    pub fn token_table(&self) -> String {
        self.regional("dynamodb", &format!("table/{TOKEN_TABLE}"))
    }

    pub fn token_table_index(&self) -> String {
        self.regional(
            "dynamodb",
            &format!("table/{TOKEN_TABLE}/index/{TOKEN_TABLE_RUN_INDEX}"),
        )
    }

    pub fn automation_definition(&self, document: &str) -> String {
        self.regional("ssm", &format!("automation-definition/{document}:*"))
    }

    pub fn automation_executions(&self) -> String {
        self.regional("ssm", "automation-execution/*")
    }

    pub fn pipeline(&self, name: &str) -> String {
        self.regional("codepipeline", name)
    }

    pub fn lambda(&self, name: &str) -> String {
        self.regional("lambda", &format!("function:{name}"))
    }

    pub fn log_group(&self, name: &str) -> String {
        self.regional("logs", &format!("log-group:{name}:*"))
    }

    pub fn rule(&self, name: &str) -> String {
        self.regional("events", &format!("rule/{name}"))
    }
}

/// The key of a stage's record under `$.stages` in the parent: the stage id with `-`
/// replaced by `_`, so that it can be written as a plain JSONPath member name. Stage ids
/// are `[a-z0-9-]`, so the mapping is one-to-one.
pub fn stage_key(stage_id: &str) -> String {
    stage_id.replace('-', "_")
}
