//! EventBridge rules on the default bus with their targets (`events:PutRule`,
//! `events:PutTargets`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::{RuleState, Tag, Target};

use crate::error::{CallError, CallErrorKind, call_error};
use crate::model::{Kind, RuleSpec, Spec};
use crate::provider::{Ownership, Provider, Tags, policy_json, wrong_kind};

#[derive(Debug, Clone)]
pub struct Rules {
    pub client: Client,
    pub region: String,
    pub account_id: String,
}

impl Rules {
    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:events:{}:{}:rule/{name}",
            self.region, self.account_id
        )
    }

    fn tags(tags: &Tags, with_hash: bool) -> Result<Vec<Tag>, CallError> {
        tags.pairs(with_hash)
            .into_iter()
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| CallError::other("events:TagResource", e.to_string()))
            })
            .collect()
    }

    async fn targets(&self, name: &str) -> Result<BTreeMap<String, String>, CallError> {
        let mut out = BTreeMap::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_targets_by_rule()
                .rule(name)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("events:ListTargetsByRule", e))?;
            out.extend(
                page.targets()
                    .iter()
                    .map(|t| (t.id().to_owned(), t.arn().to_owned())),
            );
            match page.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(out),
            }
        }
    }

    async fn put(&self, rule: &RuleSpec, tags: Option<&Tags>) -> Result<(), CallError> {
        let mut request = self
            .client
            .put_rule()
            .name(&rule.name)
            .description(&rule.description)
            .event_bus_name(&rule.event_bus)
            .event_pattern(rule.pattern.to_string())
            .state(RuleState::from(rule.state.as_str()));
        if let Some(tags) = tags {
            request = request.set_tags(Some(Self::tags(tags, false)?));
        }
        request
            .send()
            .await
            .map_err(|e| call_error("events:PutRule", e))?;
        let targets = rule
            .targets
            .iter()
            .map(|(id, arn)| {
                Target::builder()
                    .id(id)
                    .arn(arn)
                    .build()
                    .map_err(|e| CallError::other("events:PutTargets", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !targets.is_empty() {
            let out = self
                .client
                .put_targets()
                .rule(&rule.name)
                .event_bus_name(&rule.event_bus)
                .set_targets(Some(targets))
                .send()
                .await
                .map_err(|e| call_error("events:PutTargets", e))?;
            if out.failed_entry_count() > 0 {
                let reasons: Vec<String> = out
                    .failed_entries()
                    .iter()
                    .map(|f| {
                        format!(
                            "{}: {}",
                            f.target_id().unwrap_or("?"),
                            f.error_message().unwrap_or("failed")
                        )
                    })
                    .collect();
                return Err(CallError::other("events:PutTargets", reasons.join("; ")));
            }
        }
        Ok(())
    }

    async fn remove_targets(&self, name: &str, ids: Vec<String>) -> Result<(), CallError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.client
            .remove_targets()
            .rule(name)
            .set_ids(Some(ids))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("events:RemoveTargets", e))
    }

    async fn tag(&self, name: &str, tags: &Tags) -> Result<(), CallError> {
        self.client
            .tag_resource()
            .resource_arn(self.arn(name))
            .set_tags(Some(Self::tags(tags, true)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("events:TagResource", e))
    }
}

#[async_trait]
impl Provider for Rules {
    fn kind(&self) -> Kind {
        Kind::Rule
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_rules()
                .name_prefix(prefix)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("events:ListRules", e))?;
            names.extend(
                out.rules()
                    .iter()
                    .filter_map(|r| r.name())
                    .filter(|n| crate::provider::owned_name(prefix, n))
                    .map(ToOwned::to_owned),
            );
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(names),
            }
        }
    }

    /// One call: `ListTagsForResource` answers `ResourceNotFoundException` for a rule that
    /// does not exist.
    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError> {
        match self
            .client
            .list_tags_for_resource()
            .resource_arn(self.arn(name))
            .send()
            .await
            .map_err(|e| call_error("events:ListTagsForResource", e))
        {
            Ok(out) => Ok(Some(Ownership::from_pairs(
                out.tags().iter().map(|t| (t.key(), t.value())),
            ))),
            Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError> {
        let rule = match self
            .client
            .describe_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| call_error("events:DescribeRule", e))
        {
            Err(e) if e.is(CallErrorKind::NotFound) => return Ok(None),
            other => other?,
        };
        Ok(Some(Spec::Rule(RuleSpec {
            name: name.to_owned(),
            description: rule.description().unwrap_or_default().to_owned(),
            event_bus: rule.event_bus_name().unwrap_or("default").to_owned(),
            state: rule
                .state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            pattern: policy_json(rule.event_pattern().unwrap_or("null")),
            targets: self.targets(name).await?,
        })))
    }

    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Rule(rule) = spec else {
            return Err(wrong_kind("events:PutRule", spec));
        };
        // PutRule creates or updates: an existing rule of someone else's would be taken
        // over, so check first (the plan did, but a rule may have appeared since).
        if self.read(&rule.name).await?.is_some() {
            return Err(CallError {
                action: "events:PutRule".to_owned(),
                kind: CallErrorKind::AlreadyExists,
                code: Some("ResourceAlreadyExistsException".to_owned()),
                message: format!("rule {} already exists", rule.name),
            });
        }
        self.put(rule, Some(tags)).await?;
        self.tag(&rule.name, tags).await
    }

    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Rule(rule) = spec else {
            return Err(wrong_kind("events:PutRule", spec));
        };
        self.put(rule, None).await?;
        let extra: Vec<String> = self
            .targets(&rule.name)
            .await?
            .into_keys()
            .filter(|id| !rule.targets.contains_key(id))
            .collect();
        self.remove_targets(&rule.name, extra).await?;
        self.tag(&rule.name, tags).await
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        let targets = match self.targets(name).await {
            Err(e) if e.is(CallErrorKind::NotFound) => return Ok(()),
            other => other?,
        };
        self.remove_targets(name, targets.into_keys().collect())
            .await?;
        match self
            .client
            .delete_rule()
            .name(name)
            .send()
            .await
            .map_err(|e| call_error("events:DeleteRule", e))
        {
            Err(e) if !e.is(CallErrorKind::NotFound) => Err(e),
            _ => Ok(()),
        }
    }
}
