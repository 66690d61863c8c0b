//! The parent state machine (`states:CreateStateMachine`, one atomic call with its tags).

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{StateMachineType, Tag};

use crate::error::{CallError, CallErrorKind, call_error};
use crate::model::{Kind, MachineSpec, Spec};
use crate::provider::{Ownership, Provider, Tags, wrong_kind};

#[derive(Debug, Clone)]
pub struct StateMachines {
    pub client: Client,
    pub region: String,
    pub account_id: String,
}

/// A role created seconds ago is not yet usable by Step Functions (IAM is eventually
/// consistent); these are the errors that say so, retried for up to ~30 s.
fn role_not_ready(err: &CallError) -> bool {
    let m = err.message.to_ascii_lowercase();
    err.code.as_deref() == Some("InvalidArn")
        || err.code.as_deref() == Some("AccessDeniedException") && m.contains("assume")
}

async fn retry_role<T, F, Fut>(mut call: F) -> Result<T, CallError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CallError>>,
{
    let mut delay = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        match call().await {
            Err(e) if role_not_ready(&e) && tries < 6 => {
                tries += 1;
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2).min(Duration::from_secs(8));
            }
            other => return other,
        }
    }
}

impl StateMachines {
    pub fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.region, self.account_id
        )
    }

    fn tags(tags: &Tags) -> Vec<Tag> {
        tags.pairs(true)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    async fn describe_raw(
        &self,
        name: &str,
    ) -> Result<
        Option<aws_sdk_sfn::operation::describe_state_machine::DescribeStateMachineOutput>,
        CallError,
    > {
        match self
            .client
            .describe_state_machine()
            .state_machine_arn(self.arn(name))
            .send()
            .await
            .map_err(|e| call_error("states:DescribeStateMachine", e))
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Provider for StateMachines {
    fn kind(&self) -> Kind {
        Kind::StateMachine
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_state_machines()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("states:ListStateMachines", e))?;
            names.extend(
                out.state_machines()
                    .iter()
                    .map(|m| m.name().to_owned())
                    .filter(|n| crate::provider::owned_name(prefix, n)),
            );
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(names),
            }
        }
    }

    /// One call for a machine deploy owns: `ListTagsForResource` (AWS answers
    /// `ResourceNotFound` for a missing machine). No tags at all means either an untagged
    /// machine or, on moto, a missing one (moto answers an empty list), so only then
    /// `DescribeStateMachine` decides.
    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError> {
        let out = match self
            .client
            .list_tags_for_resource()
            .resource_arn(self.arn(name))
            .send()
            .await
            .map_err(|e| call_error("states:ListTagsForResource", e))
        {
            Ok(out) => out,
            Err(e) if e.is(CallErrorKind::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        if out.tags().is_empty() && self.describe_raw(name).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(Ownership::from_pairs(
            out.tags()
                .iter()
                .filter_map(|t| Some((t.key()?, t.value()?))),
        )))
    }

    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError> {
        Ok(self.describe_raw(name).await?.map(|out| {
            Spec::StateMachine(MachineSpec {
                name: name.to_owned(),
                role_arn: out.role_arn().to_owned(),
                definition: out.definition().to_owned(),
            })
        }))
    }

    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::StateMachine(machine) = spec else {
            return Err(wrong_kind("states:CreateStateMachine", spec));
        };
        retry_role(|| async {
            self.client
                .create_state_machine()
                .name(&machine.name)
                .definition(&machine.definition)
                .role_arn(&machine.role_arn)
                .r#type(StateMachineType::Standard)
                .set_tags(Some(Self::tags(tags)))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("states:CreateStateMachine", e))
        })
        .await
    }

    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::StateMachine(machine) = spec else {
            return Err(wrong_kind("states:UpdateStateMachine", spec));
        };
        let arn = self.arn(&machine.name);
        retry_role(|| async {
            self.client
                .update_state_machine()
                .state_machine_arn(&arn)
                .definition(&machine.definition)
                .role_arn(&machine.role_arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| call_error("states:UpdateStateMachine", e))
        })
        .await?;
        self.client
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(Self::tags(tags)))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("states:TagResource", e))
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        match self
            .client
            .delete_state_machine()
            .state_machine_arn(self.arn(name))
            .send()
            .await
            .map_err(|e| call_error("states:DeleteStateMachine", e))
        {
            Err(e) if !e.is(CallErrorKind::NotFound) => Err(e),
            _ => Ok(()),
        }
    }
}
