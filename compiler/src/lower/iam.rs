//! IAM policy documents and roles as typed values.
//!
//! Every statement names its resources; the only wildcards are inside ARNs whose
//! resource part is not known at compile time (execution ids, automation execution ids).
//! Tests in `compiler/tests/lower_iam.rs` assert that no statement uses `Resource: "*"`
//! and that every cross-account trust carries an `sts:ExternalId` condition.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A policy document (`Version` 2012-10-17).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDocument {
    #[serde(rename = "Version")]
    pub version: String,
    #[serde(rename = "Statement")]
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statements: Vec<Statement>) -> Self {
        Self {
            version: "2012-10-17".to_owned(),
            statements,
        }
    }
}

/// Condition operator → key → value(s).
pub type Conditions = IndexMap<String, IndexMap<String, serde_json::Value>>;

/// One `Allow` statement. approvalc never emits `Deny`, so `Effect` is fixed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "Sid")]
    pub sid: String,
    #[serde(rename = "Effect")]
    pub effect: String,
    #[serde(rename = "Principal", default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    #[serde(rename = "Action")]
    pub actions: Vec<String>,
    #[serde(rename = "Resource", default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource>,
    #[serde(
        rename = "Condition",
        default,
        skip_serializing_if = "IndexMap::is_empty"
    )]
    pub conditions: Conditions,
}

/// A resource ARN: literal, or a CloudFormation `Fn::Sub` string (bootstrap templates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Resource {
    Arn(String),
    Sub {
        #[serde(rename = "Fn::Sub")]
        sub: String,
    },
}

impl Resource {
    /// Picks the representation from the text: `${…}` placeholders mean `Fn::Sub`.
    pub fn from_arn(arn: String) -> Self {
        if arn.contains("${") {
            Resource::Sub { sub: arn }
        } else {
            Resource::Arn(arn)
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Resource::Arn(arn) | Resource::Sub { sub: arn } => arn,
        }
    }
}

/// The principal of a trust statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Principal {
    #[serde(rename = "Service")]
    Service(String),
    #[serde(rename = "AWS")]
    Aws(Resource),
}

impl Statement {
    /// An Allow statement of `actions` on `resources`.
    pub fn allow(sid: &str, actions: &[&str], resources: Vec<String>) -> Self {
        Self {
            sid: sid.to_owned(),
            effect: "Allow".to_owned(),
            principal: None,
            actions: actions.iter().map(|a| (*a).to_owned()).collect(),
            resources: resources.into_iter().map(Resource::from_arn).collect(),
            conditions: Conditions::new(),
        }
    }

    /// A trust statement letting `principal` call `sts:AssumeRole`.
    pub fn trust(sid: &str, principal: Principal) -> Self {
        Self {
            sid: sid.to_owned(),
            effect: "Allow".to_owned(),
            principal: Some(principal),
            actions: vec!["sts:AssumeRole".to_owned()],
            resources: Vec::new(),
            conditions: Conditions::new(),
        }
    }

    pub fn with_condition(mut self, operator: &str, key: &str, value: serde_json::Value) -> Self {
        self.conditions
            .entry(operator.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        self
    }
}

/// An inline policy of a role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlinePolicy {
    #[serde(rename = "PolicyName")]
    pub name: String,
    #[serde(rename = "PolicyDocument")]
    pub document: PolicyDocument,
}

/// A role in the shape of `iam:CreateRole` + `iam:PutRolePolicy` (and of the
/// `AWS::IAM::Role` properties, which use the same keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    #[serde(rename = "RoleName")]
    pub name: String,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "AssumeRolePolicyDocument")]
    pub trust: PolicyDocument,
    #[serde(rename = "Policies")]
    pub policies: Vec<InlinePolicy>,
}

/// A trust policy for a service principal, limited to calls made on behalf of `account`
/// (and, when given, of one source ARN) so that the role cannot be used as a confused deputy.
/// Values are JSON so that templates can pass `{"Ref": "AWS::AccountId"}`.
pub fn service_trust(
    service: &str,
    account: serde_json::Value,
    source_arn: Option<serde_json::Value>,
) -> PolicyDocument {
    let mut statement = Statement::trust("TrustService", Principal::Service(service.to_owned()))
        .with_condition("StringEquals", "aws:SourceAccount", account);
    if let Some(arn) = source_arn {
        statement = statement.with_condition("ArnLike", "aws:SourceArn", arn);
    }
    PolicyDocument::new(vec![statement])
}
