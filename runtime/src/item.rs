//! Token-store items: the DynamoDB-JSON map the child machine writes with
//! `putItem.waitForTaskToken`, and its checked form [`TaskRecord`].

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::duties::Rules;
use crate::secret::{CorrelationId, TaskToken};

/// A DynamoDB attribute value in DynamoDB JSON (`{"S": "…"}`, `{"BOOL": true}`, …).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    S(String),
    N(String),
    #[serde(rename = "BOOL")]
    Bool(bool),
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    #[serde(rename = "SS")]
    Ss(Vec<String>),
    #[serde(rename = "NULL")]
    Null(bool),
}

/// One item of the token table. Its `Debug` hides `task_token`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoredItem(pub BTreeMap<String, AttrValue>);

impl fmt::Debug for StoredItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.0 {
            if k == "task_token" {
                map.entry(k, &"<redacted>");
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

impl StoredItem {
    fn s(&self, key: &str) -> Option<&str> {
        match self.0.get(key) {
            Some(AttrValue::S(s)) => Some(s),
            _ => None,
        }
    }

    fn required(&self, key: &str) -> Result<&str, String> {
        self.s(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("item has no string attribute `{key}`"))
    }

    /// A missing rule flag counts as `true`: a broken item enforces more, never less.
    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.0.get(key) {
            None => Ok(true),
            Some(AttrValue::Bool(b)) => Ok(*b),
            Some(_) => Err(format!("attribute `{key}` is not a BOOL")),
        }
    }

    fn string_list(&self, key: &str) -> Result<Vec<String>, String> {
        match self.0.get(key) {
            None | Some(AttrValue::Null(_)) => Ok(Vec::new()),
            Some(AttrValue::Ss(v)) => Ok(v.clone()),
            Some(AttrValue::L(v)) => v
                .iter()
                .map(|a| match a {
                    AttrValue::S(s) => Ok(s.clone()),
                    _ => Err(format!("attribute `{key}` holds a non-string")),
                })
                .collect(),
            Some(_) => Err(format!("attribute `{key}` is not a list of strings")),
        }
    }

    /// `true` once a callback, the reconciler or cleanup has claimed the item.
    pub fn is_decided(&self) -> bool {
        self.0.contains_key("decided_at")
    }
}

/// The kind-specific part of a waiting task: what it waits on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Waiting {
    /// An `aws:approve` automation of the approval document.
    SsmApproval { automation_execution_id: String },
    /// A CodePipeline manual approval.
    PipelineApproval {
        pipeline_name: String,
        pipeline_execution_id: String,
    },
    /// An action stage: the user's automation document, run after approval.
    Action { automation_execution_id: String },
}

impl Waiting {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SsmApproval { .. } => "ssm",
            Self::PipelineApproval { .. } => "codepipeline",
            Self::Action { .. } => "action",
        }
    }

    pub fn automation_execution_id(&self) -> Option<&str> {
        match self {
            Self::SsmApproval {
                automation_execution_id,
            }
            | Self::Action {
                automation_execution_id,
            } => Some(automation_execution_id),
            Self::PipelineApproval { .. } => None,
        }
    }
}

/// A checked token item: everything a handler needs to resolve one waiting task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    pub correlation_id: CorrelationId,
    pub token: TaskToken,
    pub waiting: Waiting,
    pub run_id: String,
    pub workflow: String,
    pub stage_id: String,
    pub account: String,
    pub child_execution_arn: String,
    pub requester: String,
    pub rules: Rules,
    pub prior_approvers: Vec<String>,
    pub decided: bool,
}

/// An item that cannot be used. `token` is kept when it could be read, so Step Functions can
/// still be told (`Approval.Malformed`) instead of waiting until its timeout.
#[derive(Debug)]
pub struct CorruptItem {
    pub token: Option<TaskToken>,
    pub reason: String,
}

impl TaskRecord {
    pub fn from_item(item: &StoredItem) -> Result<Self, CorruptItem> {
        let token = item
            .s("task_token")
            .and_then(|t| TaskToken::new(t.to_owned()).ok());
        Self::parse(item, token.clone()).map_err(|reason| CorruptItem { token, reason })
    }

    fn parse(item: &StoredItem, token: Option<TaskToken>) -> Result<Self, String> {
        let token = token.ok_or("item has no usable `task_token`")?;
        let correlation_id = CorrelationId::parse(item.required("correlation_id")?)
            .map_err(|e| format!("`correlation_id`: {e}"))?;
        let waiting = match item.required("kind")? {
            "ssm" => Waiting::SsmApproval {
                automation_execution_id: item.required("automation_execution_id")?.to_owned(),
            },
            "action" => Waiting::Action {
                automation_execution_id: item.required("automation_execution_id")?.to_owned(),
            },
            "codepipeline" => Waiting::PipelineApproval {
                pipeline_name: item.required("pipeline_name")?.to_owned(),
                pipeline_execution_id: item.required("pipeline_execution_id")?.to_owned(),
            },
            other => return Err(format!("unknown kind `{}`", other.escape_debug())),
        };
        let rules = Rules {
            distinct_approvers: item.flag("distinct_approvers")?,
            requester_cannot_approve: item.flag("requester_cannot_approve")?,
        };
        let requester = item.s("requester").unwrap_or_default().to_owned();
        if rules.requester_cannot_approve && requester.is_empty() {
            return Err("`requester_cannot_approve` is set but the item names no requester".into());
        }
        Ok(Self {
            correlation_id,
            token,
            waiting,
            run_id: item.s("run_id").unwrap_or_default().to_owned(),
            workflow: item.s("workflow").unwrap_or_default().to_owned(),
            stage_id: item.s("stage_id").unwrap_or_default().to_owned(),
            account: item.s("account").unwrap_or_default().to_owned(),
            child_execution_arn: item.required("child_execution_arn")?.to_owned(),
            requester,
            rules,
            prior_approvers: item.string_list("prior_approvers")?,
            decided: item.is_decided(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> StoredItem {
        serde_json::from_str(json).unwrap()
    }

    const OK: &str = r#"{
        "correlation_id": {"S": "0b0a7c1e-3f7e-4c55-9d57-2f3c2b1a0e99"},
        "task_token": {"S": "SECRET-TOKEN"},
        "kind": {"S": "ssm"},
        "automation_execution_id": {"S": "333ba70b-2333-48db-b17e-a5e69c6f4d1c"},
        "run_id": {"S": "run-1"},
        "child_execution_arn": {"S": "arn:aws:states:us-east-1:123456789012:execution:approvalc-ssm-approval:0b0a7c1e-3f7e-4c55-9d57-2f3c2b1a0e99"},
        "requester": {"S": "arn:aws:iam::123456789012:user/alice"},
        "distinct_approvers": {"BOOL": false},
        "prior_approvers": {"L": [{"S": "bob"}]},
        "expires_at": {"N": "1790000000"}
    }"#;

    #[test]
    fn parses_a_complete_item() {
        let r = TaskRecord::from_item(&item(OK)).unwrap();
        assert_eq!(r.token.expose(), "SECRET-TOKEN");
        assert_eq!(r.waiting.kind(), "ssm");
        assert!(!r.rules.distinct_approvers);
        assert!(r.rules.requester_cannot_approve, "missing flag enforces");
        assert_eq!(r.prior_approvers, vec!["bob".to_string()]);
        assert!(!r.decided);
    }

    #[test]
    fn debug_hides_the_token() {
        let s = format!("{:?}", item(OK));
        assert!(!s.contains("SECRET-TOKEN"), "{s}");
        let r = TaskRecord::from_item(&item(OK)).unwrap();
        assert!(!format!("{r:?}").contains("SECRET-TOKEN"));
    }

    #[test]
    fn corrupt_item_keeps_the_token_for_a_failure() {
        let mut i = item(OK);
        i.0.insert("kind".into(), AttrValue::S("bogus".into()));
        let e = TaskRecord::from_item(&i).unwrap_err();
        assert!(e.token.is_some());
        assert!(e.reason.contains("unknown kind"));
        i.0.remove("task_token");
        assert!(TaskRecord::from_item(&i).unwrap_err().token.is_none());
    }

    #[test]
    fn codepipeline_item_needs_its_execution() {
        let mut i = item(OK);
        i.0.insert("kind".into(), AttrValue::S("codepipeline".into()));
        i.0.insert(
            "pipeline_name".into(),
            AttrValue::S("approvalc-wf-prod".into()),
        );
        assert!(
            TaskRecord::from_item(&i)
                .unwrap_err()
                .reason
                .contains("pipeline_execution_id")
        );
    }
}
