//! IAM roles with inline policies, and customer-managed policies with their attachments.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use aws_sdk_iam::Client;
use aws_sdk_iam::types::Tag;

use crate::error::{CallError, CallErrorKind, call_error};
use crate::model::{Kind, PolicySpec, Principal, RoleSpec, Spec};
use crate::provider::{Ownership, Provider, Tags, policy_json, wrong_kind};

fn iam_tags(tags: &Tags, with_hash: bool) -> Result<Vec<Tag>, CallError> {
    tags.pairs(with_hash)
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| CallError::other("iam:TagResource", e.to_string()))
        })
        .collect()
}

fn not_found_is_none<T>(result: Result<T, CallError>) -> Result<Option<T>, CallError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

fn ignore_not_found(result: Result<(), CallError>) -> Result<(), CallError> {
    not_found_is_none(result).map(|_| ())
}

/// Roles (`iam:CreateRole`, `iam:PutRolePolicy`, …).
#[derive(Debug, Clone)]
pub struct Roles {
    pub client: Client,
}

impl Roles {
    async fn inline_names(&self, name: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .list_role_policies()
                .role_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("iam:ListRolePolicies", e))?;
            names.extend(out.policy_names().iter().cloned());
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn put_policies(&self, role: &RoleSpec) -> Result<(), CallError> {
        for (policy, document) in &role.policies {
            self.client
                .put_role_policy()
                .role_name(&role.name)
                .policy_name(policy)
                .policy_document(document.to_string())
                .send()
                .await
                .map_err(|e| call_error("iam:PutRolePolicy", e))?;
        }
        Ok(())
    }

    async fn tag(&self, name: &str, tags: &Tags) -> Result<(), CallError> {
        self.client
            .tag_role()
            .role_name(name)
            .set_tags(Some(iam_tags(tags, true)?))
            .send()
            .await
            .map_err(|e| call_error("iam:TagRole", e))?;
        Ok(())
    }
}

#[async_trait]
impl Provider for Roles {
    fn kind(&self) -> Kind {
        Kind::Role
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .list_roles()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("iam:ListRoles", e))?;
            names.extend(
                out.roles()
                    .iter()
                    .map(|r| r.role_name().to_owned())
                    .filter(|n| crate::provider::owned_name(prefix, n)),
            );
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError> {
        let out = not_found_is_none(
            self.client
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| call_error("iam:GetRole", e)),
        )?;
        Ok(out.and_then(|o| {
            o.role().map(|r| Ownership {
                trust: r.assume_role_policy_document().map(policy_json),
                ..Ownership::from_pairs(r.tags().iter().map(|t| (t.key(), t.value())))
            })
        }))
    }

    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError> {
        let Some(out) = not_found_is_none(
            self.client
                .get_role()
                .role_name(name)
                .send()
                .await
                .map_err(|e| call_error("iam:GetRole", e)),
        )?
        else {
            return Ok(None);
        };
        let Some(role) = out.role() else {
            return Ok(None);
        };
        let mut policies = BTreeMap::new();
        for policy in self.inline_names(name).await? {
            let doc = self
                .client
                .get_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
                .map_err(|e| call_error("iam:GetRolePolicy", e))?;
            policies.insert(policy, policy_json(doc.policy_document()));
        }
        Ok(Some(Spec::Role(RoleSpec {
            name: name.to_owned(),
            description: role.description().unwrap_or_default().to_owned(),
            trust: policy_json(role.assume_role_policy_document().unwrap_or("{}")),
            policies,
        })))
    }

    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Role(role) = spec else {
            return Err(wrong_kind("iam:CreateRole", spec));
        };
        self.client
            .create_role()
            .role_name(&role.name)
            .description(&role.description)
            .assume_role_policy_document(role.trust.to_string())
            .set_tags(Some(iam_tags(tags, false)?))
            .send()
            .await
            .map_err(|e| call_error("iam:CreateRole", e))?;
        self.put_policies(role).await?;
        self.tag(&role.name, tags).await
    }

    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Role(role) = spec else {
            return Err(wrong_kind("iam:UpdateRole", spec));
        };
        self.client
            .update_role()
            .role_name(&role.name)
            .description(&role.description)
            .send()
            .await
            .map_err(|e| call_error("iam:UpdateRole", e))?;
        self.client
            .update_assume_role_policy()
            .role_name(&role.name)
            .policy_document(role.trust.to_string())
            .send()
            .await
            .map_err(|e| call_error("iam:UpdateAssumeRolePolicy", e))?;
        self.put_policies(role).await?;
        for extra in self.inline_names(&role.name).await? {
            if !role.policies.contains_key(&extra) {
                ignore_not_found(
                    self.client
                        .delete_role_policy()
                        .role_name(&role.name)
                        .policy_name(&extra)
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| call_error("iam:DeleteRolePolicy", e)),
                )?;
            }
        }
        self.tag(&role.name, tags).await
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        let names = match self.inline_names(name).await {
            Err(e) if e.is(CallErrorKind::NotFound) => return Ok(()),
            other => other?,
        };
        for policy in names {
            ignore_not_found(
                self.client
                    .delete_role_policy()
                    .role_name(name)
                    .policy_name(&policy)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| call_error("iam:DeleteRolePolicy", e)),
            )?;
        }
        ignore_not_found(
            self.client
                .delete_role()
                .role_name(name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:DeleteRole", e)),
        )
    }
}

/// Customer-managed policies (`iam:CreatePolicy`, `iam:AttachRolePolicy`, …).
#[derive(Debug, Clone)]
pub struct Policies {
    pub client: Client,
    pub account_id: String,
}

/// IAM keeps at most five versions of a managed policy.
const MAX_POLICY_VERSIONS: usize = 5;

impl Policies {
    fn arn(&self, name: &str) -> String {
        format!("arn:aws:iam::{}:policy/{name}", self.account_id)
    }

    async fn attached(&self, arn: &str) -> Result<BTreeSet<Principal>, CallError> {
        let mut out = BTreeSet::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .list_entities_for_policy()
                .policy_arn(arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("iam:ListEntitiesForPolicy", e))?;
            out.extend(
                page.policy_roles()
                    .iter()
                    .filter_map(|r| r.role_name())
                    .map(|n| Principal::Role(n.to_owned())),
            );
            out.extend(
                page.policy_users()
                    .iter()
                    .filter_map(|u| u.user_name())
                    .map(|n| Principal::User(n.to_owned())),
            );
            match page.marker() {
                Some(m) if page.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(out),
            }
        }
    }

    async fn attach(&self, arn: &str, principal: &Principal) -> Result<(), CallError> {
        match principal {
            Principal::Role(name) => self
                .client
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:AttachRolePolicy", e)),
            Principal::User(name) => self
                .client
                .attach_user_policy()
                .user_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:AttachUserPolicy", e)),
        }
        .map_err(|e| missing_principal(e, principal))
    }

    async fn detach(&self, arn: &str, principal: &Principal) -> Result<(), CallError> {
        ignore_not_found(match principal {
            Principal::Role(name) => self
                .client
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:DetachRolePolicy", e)),
            Principal::User(name) => self
                .client
                .detach_user_policy()
                .user_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:DetachUserPolicy", e)),
        })
    }

    async fn sync_attachments(&self, arn: &str, policy: &PolicySpec) -> Result<(), CallError> {
        let live = self.attached(arn).await?;
        for p in &policy.attach_to {
            if !live.contains(p) {
                self.attach(arn, p).await?;
            }
        }
        for p in &live {
            if !policy.attach_to.contains(p) {
                self.detach(arn, p).await?;
            }
        }
        Ok(())
    }

    async fn default_document(&self, arn: &str) -> Result<Option<serde_json::Value>, CallError> {
        let Some(policy) = not_found_is_none(
            self.client
                .get_policy()
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| call_error("iam:GetPolicy", e)),
        )?
        else {
            return Ok(None);
        };
        let Some(version) = policy.policy().and_then(|p| p.default_version_id()) else {
            return Ok(None);
        };
        let out = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| call_error("iam:GetPolicyVersion", e))?;
        Ok(out
            .policy_version()
            .and_then(|v| v.document())
            .map(policy_json))
    }

    /// Non-default versions, oldest first.
    async fn old_versions(&self, arn: &str) -> Result<Vec<String>, CallError> {
        let out = self
            .client
            .list_policy_versions()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| call_error("iam:ListPolicyVersions", e))?;
        let mut versions: Vec<(Option<aws_sdk_iam::primitives::DateTime>, String)> = out
            .versions()
            .iter()
            .filter(|v| !v.is_default_version())
            .filter_map(|v| Some((v.create_date().copied(), v.version_id()?.to_owned())))
            .collect();
        versions.sort_by_key(|(date, _)| date.map(|d| d.as_secs_f64() as i64));
        Ok(versions.into_iter().map(|(_, id)| id).collect())
    }

    async fn delete_version(&self, arn: &str, version: &str) -> Result<(), CallError> {
        ignore_not_found(
            self.client
                .delete_policy_version()
                .policy_arn(arn)
                .version_id(version)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:DeletePolicyVersion", e)),
        )
    }

    async fn tag(&self, arn: &str, tags: &Tags) -> Result<(), CallError> {
        self.client
            .tag_policy()
            .policy_arn(arn)
            .set_tags(Some(iam_tags(tags, true)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("iam:TagPolicy", e))
    }
}

fn missing_principal(err: CallError, principal: &Principal) -> CallError {
    if err.is(CallErrorKind::NotFound) {
        CallError {
            message: format!(
                "approver {principal} does not exist in this account (create it, or fix the \
                 workflow's approvers): {}",
                err.message
            ),
            ..err
        }
    } else {
        err
    }
}

#[async_trait]
impl Provider for Policies {
    fn kind(&self) -> Kind {
        Kind::Policy
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut marker = None;
        loop {
            let out = self
                .client
                .list_policies()
                .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| call_error("iam:ListPolicies", e))?;
            names.extend(
                out.policies()
                    .iter()
                    .filter_map(|p| p.policy_name())
                    .filter(|n| crate::provider::owned_name(prefix, n))
                    .map(ToOwned::to_owned),
            );
            match out.marker() {
                Some(m) if out.is_truncated() => marker = Some(m.to_owned()),
                _ => return Ok(names),
            }
        }
    }

    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError> {
        let out = not_found_is_none(
            self.client
                .get_policy()
                .policy_arn(self.arn(name))
                .send()
                .await
                .map_err(|e| call_error("iam:GetPolicy", e)),
        )?;
        Ok(out.and_then(|o| {
            o.policy()
                .map(|p| Ownership::from_pairs(p.tags().iter().map(|t| (t.key(), t.value()))))
        }))
    }

    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError> {
        let arn = self.arn(name);
        let Some(document) = self.default_document(&arn).await? else {
            return Ok(None);
        };
        let attach_to = self.attached(&arn).await?.into_iter().collect();
        Ok(Some(Spec::Policy(PolicySpec {
            name: name.to_owned(),
            document,
            attach_to,
        })))
    }

    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Policy(policy) = spec else {
            return Err(wrong_kind("iam:CreatePolicy", spec));
        };
        let arn = self.arn(&policy.name);
        self.client
            .create_policy()
            .policy_name(&policy.name)
            .policy_document(policy.document.to_string())
            .description("approvalc (generated; do not edit)")
            .set_tags(Some(iam_tags(tags, false)?))
            .send()
            .await
            .map_err(|e| call_error("iam:CreatePolicy", e))?;
        for p in &policy.attach_to {
            self.attach(&arn, p).await?;
        }
        self.tag(&arn, tags).await
    }

    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Policy(policy) = spec else {
            return Err(wrong_kind("iam:CreatePolicyVersion", spec));
        };
        let arn = self.arn(&policy.name);
        if self.default_document(&arn).await?.as_ref() != Some(&policy.document) {
            let old = self.old_versions(&arn).await?;
            // Make room for the new version: drop the oldest non-default ones.
            let excess = (old.len() + 2).saturating_sub(MAX_POLICY_VERSIONS);
            for version in old.iter().take(excess) {
                self.delete_version(&arn, version).await?;
            }
            self.client
                .create_policy_version()
                .policy_arn(&arn)
                .policy_document(policy.document.to_string())
                .set_as_default(true)
                .send()
                .await
                .map_err(|e| call_error("iam:CreatePolicyVersion", e))?;
        }
        self.sync_attachments(&arn, policy).await?;
        self.tag(&arn, tags).await
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        let arn = self.arn(name);
        let attached = match self.attached(&arn).await {
            Err(e) if e.is(CallErrorKind::NotFound) => return Ok(()),
            other => other?,
        };
        for p in &attached {
            self.detach(&arn, p).await?;
        }
        for version in self.old_versions(&arn).await? {
            self.delete_version(&arn, &version).await?;
        }
        ignore_not_found(
            self.client
                .delete_policy()
                .policy_arn(&arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("iam:DeletePolicy", e)),
        )
    }
}
