//! One [`Provider`] per resource kind: list, read ownership, describe (for diffs), create,
//! update, delete, each a short sequence of SDK calls.
//!
//! The rules every provider follows so that a deploy killed between any two calls
//! converges when re-run:
//! * the `approvalc:workflow` tag is set by the creating call itself, so nothing approvalc
//!   creates is ever untagged (and so never mistaken for someone else's);
//! * the `approvalc:hash` tag is written last, after every other step of a create or
//!   update, so a resource whose steps did not all finish shows a stale hash and is updated;
//! * every step is idempotent (puts, not appends), and deletes remove sub-resources first
//!   while the tagged parent stays, so an interrupted delete is found and finished.

use async_trait::async_trait;
use serde_json::Value;

use crate::error::CallError;
use crate::model::{Kind, Spec};

/// The ownership tags of a live resource (plus, for roles, the trust policy that came with
/// the same read, so that checking trust costs no extra call).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ownership {
    pub workflow: Option<String>,
    pub hash: Option<String>,
    pub trust: Option<Value>,
}

impl Ownership {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut out = Ownership::default();
        for (key, value) in pairs {
            if key == crate::model::TAG_WORKFLOW {
                out.workflow = Some(value.to_owned());
            } else if key == crate::model::TAG_HASH {
                out.hash = Some(value.to_owned());
            }
        }
        out
    }
}

/// The tags deploy writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pub workflow: String,
    pub hash: String,
}

impl Tags {
    /// `(key, value)` pairs; `with_hash = false` for creates that are not finished yet.
    pub fn pairs(&self, with_hash: bool) -> Vec<(&'static str, String)> {
        let mut out = vec![(crate::model::TAG_WORKFLOW, self.workflow.clone())];
        if with_hash {
            out.push((crate::model::TAG_HASH, self.hash.clone()));
        }
        out
    }
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> Kind;
    /// Names of live resources of this kind that [`owned_name`] accepts for `prefix`.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError>;
    /// Ownership tags, or `None` when the resource does not exist.
    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError>;
    /// The live resource in the shape of a [`Spec`], for diffs.
    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError>;
    /// Creates the resource; fails with `AlreadyExists` when the name is taken.
    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError>;
    /// Brings an owned resource to `spec`, hash tag last.
    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError>;
    /// Deletes an owned resource and what hangs off it; absent is success.
    async fn delete(&self, name: &str) -> Result<(), CallError>;
}

/// Whether `name` is one deploy may own for the workflow whose names start with `prefix`
/// (`approvalc-<workflow>`): the prefix itself or the prefix and `-`, so that workflow `a`
/// does not read the resources of workflow `ab`.
pub fn owned_name(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
}

/// IAM returns policy documents URL-encoded; moto sometimes does not.
pub fn policy_json(text: &str) -> Value {
    if let Ok(v) = serde_json::from_str(text) {
        return v;
    }
    let decoded = percent_decode(text);
    serde_json::from_str(&decoded).unwrap_or(Value::String(text.to_owned()))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes.get(i).copied().unwrap_or_default();
        if b == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(v) = u8::from_str_radix(hex, 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b == b'+' { b' ' } else { b });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The spec of a kind the provider was not made for: a bug in the caller.
pub fn wrong_kind(action: &str, spec: &Spec) -> CallError {
    CallError::other(
        action,
        format!(
            "internal: a {} was given to the wrong provider",
            spec.kind()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_another_workflow_with_a_longer_name_are_not_ours() {
        assert!(owned_name("approvalc-a", "approvalc-a"));
        assert!(owned_name("approvalc-a", "approvalc-a-stage"));
        assert!(!owned_name("approvalc-a", "approvalc-ab"));
        assert!(!owned_name("approvalc-a", "other"));
    }

    #[test]
    fn policy_documents_are_decoded() {
        let doc = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(policy_json(doc)["Version"], "2012-10-17");
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(policy_json(encoded)["Version"], "2012-10-17");
        assert!(policy_json("%zz").is_string());
    }
}
