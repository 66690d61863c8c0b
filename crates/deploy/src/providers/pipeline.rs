//! Dedicated CodePipeline V2 approval pipelines. The compiler emits the `CreatePipeline`
//! declaration as JSON; this module converts it to the SDK's types and back (for diffs),
//! refusing any field it does not know rather than dropping it silently.

use async_trait::async_trait;
use aws_sdk_codepipeline::Client;
use aws_sdk_codepipeline::types::{
    ActionCategory, ActionDeclaration, ActionOwner, ActionTypeId, ArtifactStore, ArtifactStoreType,
    ExecutionMode, InputArtifact, OutputArtifact, PipelineDeclaration, PipelineType,
    PipelineVariableDeclaration, StageDeclaration, Tag,
};
use serde_json::{Map, Value, json};

use crate::error::{CallError, CallErrorKind, call_error};
use crate::model::{Kind, PipelineSpec, Spec};
use crate::provider::{Ownership, Provider, Tags, wrong_kind};

#[derive(Debug, Clone)]
pub struct Pipelines {
    pub client: Client,
    pub region: String,
    pub account_id: String,
}

const ACTION: &str = "codepipeline:CreatePipeline";

fn bad(message: impl Into<String>) -> CallError {
    CallError::other(ACTION, message)
}

fn object<'a>(
    value: &'a Value,
    what: &str,
    known: &[&str],
) -> Result<&'a Map<String, Value>, CallError> {
    let map = value
        .as_object()
        .ok_or_else(|| bad(format!("{what} is not an object")))?;
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!(
            "{what} has field `{unknown}`, which this approvalc cannot deploy (update approvalc)"
        )));
    }
    Ok(map)
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

fn int(map: &Map<String, Value>, key: &str) -> Option<i32> {
    map.get(key)
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
}

fn built<T>(
    what: &str,
    r: Result<T, aws_smithy_types::error::operation::BuildError>,
) -> Result<T, CallError> {
    r.map_err(|e| bad(format!("{what}: {e}")))
}

/// JSON declaration → SDK declaration.
pub fn to_sdk(value: &Value) -> Result<PipelineDeclaration, CallError> {
    let p = object(
        value,
        "pipeline",
        &[
            "name",
            "roleArn",
            "artifactStore",
            "pipelineType",
            "executionMode",
            "variables",
            "stages",
            "version",
        ],
    )?;
    let store = object(
        p.get("artifactStore").unwrap_or(&Value::Null),
        "artifactStore",
        &["type", "location"],
    )?;
    let mut builder = PipelineDeclaration::builder()
        .name(text(p, "name").unwrap_or_default())
        .role_arn(text(p, "roleArn").unwrap_or_default())
        .artifact_store(built(
            "artifactStore",
            ArtifactStore::builder()
                .r#type(ArtifactStoreType::from(text(store, "type").unwrap_or("S3")))
                .location(text(store, "location").unwrap_or_default())
                .build(),
        )?);
    if let Some(t) = text(p, "pipelineType") {
        builder = builder.pipeline_type(PipelineType::from(t));
    }
    if let Some(m) = text(p, "executionMode") {
        builder = builder.execution_mode(ExecutionMode::from(m));
    }
    for v in p
        .get("variables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let v = object(v, "variable", &["name", "defaultValue", "description"])?;
        let mut var =
            PipelineVariableDeclaration::builder().name(text(v, "name").unwrap_or_default());
        if let Some(d) = text(v, "defaultValue") {
            var = var.default_value(d);
        }
        if let Some(d) = text(v, "description") {
            var = var.description(d);
        }
        builder = builder.variables(built("variable", var.build())?);
    }
    for s in p
        .get("stages")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = object(s, "stage", &["name", "actions"])?;
        let mut stage = StageDeclaration::builder().name(text(s, "name").unwrap_or_default());
        for a in s
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            stage = stage.actions(action(a)?);
        }
        builder = builder.stages(built("stage", stage.build())?);
    }
    built("pipeline", builder.build())
}

fn action(value: &Value) -> Result<ActionDeclaration, CallError> {
    let a = object(
        value,
        "action",
        &[
            "name",
            "actionTypeId",
            "configuration",
            "outputArtifacts",
            "inputArtifacts",
            "runOrder",
            "timeoutInMinutes",
        ],
    )?;
    let t = object(
        a.get("actionTypeId").unwrap_or(&Value::Null),
        "actionTypeId",
        &["category", "owner", "provider", "version"],
    )?;
    let type_id = built(
        "actionTypeId",
        ActionTypeId::builder()
            .category(ActionCategory::from(
                text(t, "category").unwrap_or_default(),
            ))
            .owner(ActionOwner::from(text(t, "owner").unwrap_or_default()))
            .provider(text(t, "provider").unwrap_or_default())
            .version(text(t, "version").unwrap_or_default())
            .build(),
    )?;
    let mut builder = ActionDeclaration::builder()
        .name(text(a, "name").unwrap_or_default())
        .action_type_id(type_id);
    for (k, v) in a
        .get("configuration")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let v = v.as_str().map_or_else(|| v.to_string(), ToOwned::to_owned);
        builder = builder.configuration(k, v);
    }
    for o in a
        .get("outputArtifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
        builder = builder.output_artifacts(built(
            "outputArtifacts",
            OutputArtifact::builder().name(name).build(),
        )?);
    }
    for i in a
        .get("inputArtifacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = i.get("name").and_then(Value::as_str).unwrap_or_default();
        builder = builder.input_artifacts(built(
            "inputArtifacts",
            InputArtifact::builder().name(name).build(),
        )?);
    }
    if let Some(n) = int(a, "runOrder") {
        builder = builder.run_order(n);
    }
    if let Some(n) = int(a, "timeoutInMinutes") {
        builder = builder.timeout_in_minutes(n);
    }
    built("action", builder.build())
}

/// SDK declaration → JSON in the compiler's shape (for diffs; `version` left out).
pub fn from_sdk(p: &PipelineDeclaration) -> Value {
    let mut out = json!({
        "name": p.name(),
        "roleArn": p.role_arn(),
    });
    if let Some(store) = p.artifact_store() {
        out["artifactStore"] =
            json!({"type": store.r#type().as_str(), "location": store.location()});
    }
    if let Some(t) = p.pipeline_type() {
        out["pipelineType"] = json!(t.as_str());
    }
    if let Some(m) = p.execution_mode() {
        out["executionMode"] = json!(m.as_str());
    }
    if !p.variables().is_empty() {
        out["variables"] = Value::Array(
            p.variables()
                .iter()
                .map(|v| {
                    let mut o = json!({"name": v.name()});
                    if let Some(d) = v.default_value() {
                        o["defaultValue"] = json!(d);
                    }
                    if let Some(d) = v.description() {
                        o["description"] = json!(d);
                    }
                    o
                })
                .collect(),
        );
    }
    out["stages"] = Value::Array(
        p.stages()
            .iter()
            .map(|s| {
                json!({
                    "name": s.name(),
                    "actions": s.actions().iter().map(action_json).collect::<Vec<_>>(),
                })
            })
            .collect(),
    );
    out
}

fn action_json(a: &ActionDeclaration) -> Value {
    let mut o = json!({"name": a.name()});
    if let Some(t) = a.action_type_id() {
        o["actionTypeId"] = json!({
            "category": t.category().as_str(),
            "owner": t.owner().as_str(),
            "provider": t.provider(),
            "version": t.version(),
        });
    }
    if let Some(c) = a.configuration() {
        let sorted: std::collections::BTreeMap<_, _> = c.iter().collect();
        o["configuration"] = json!(sorted);
    }
    if !a.output_artifacts().is_empty() {
        o["outputArtifacts"] = Value::Array(
            a.output_artifacts()
                .iter()
                .map(|x| json!({"name": x.name()}))
                .collect(),
        );
    }
    if !a.input_artifacts().is_empty() {
        o["inputArtifacts"] = Value::Array(
            a.input_artifacts()
                .iter()
                .map(|x| json!({"name": x.name()}))
                .collect(),
        );
    }
    if let Some(n) = a.run_order() {
        o["runOrder"] = json!(n);
    }
    if let Some(n) = a.timeout_in_minutes() {
        o["timeoutInMinutes"] = json!(n);
    }
    o
}

impl Pipelines {
    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:codepipeline:{}:{}:{name}",
            self.region, self.account_id
        )
    }

    fn tags(tags: &Tags) -> Result<Vec<Tag>, CallError> {
        tags.pairs(true)
            .into_iter()
            .map(|(k, v)| built("tag", Tag::builder().key(k).value(v).build()))
            .collect()
    }

    async fn get(&self, name: &str) -> Result<Option<PipelineDeclaration>, CallError> {
        match self
            .client
            .get_pipeline()
            .name(name)
            .send()
            .await
            .map_err(|e| call_error("codepipeline:GetPipeline", e))
        {
            Ok(out) => Ok(out.pipeline().cloned()),
            Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl Provider for Pipelines {
    fn kind(&self) -> Kind {
        Kind::Pipeline
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, CallError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_pipelines()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| call_error("codepipeline:ListPipelines", e))?;
            names.extend(
                out.pipelines()
                    .iter()
                    .filter_map(|p| p.name())
                    .filter(|n| crate::provider::owned_name(prefix, n))
                    .map(ToOwned::to_owned),
            );
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => return Ok(names),
            }
        }
    }

    /// One call: `ListTagsForResource` answers `ResourceNotFoundException` for a pipeline
    /// that does not exist.
    async fn read(&self, name: &str) -> Result<Option<Ownership>, CallError> {
        match self
            .client
            .list_tags_for_resource()
            .resource_arn(self.arn(name))
            .send()
            .await
            .map_err(|e| call_error("codepipeline:ListTagsForResource", e))
        {
            Ok(out) => Ok(Some(Ownership::from_pairs(
                out.tags().iter().map(|t| (t.key(), t.value())),
            ))),
            Err(e) if e.is(CallErrorKind::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn describe(&self, name: &str) -> Result<Option<Spec>, CallError> {
        Ok(self.get(name).await?.map(|p| {
            Spec::Pipeline(PipelineSpec {
                name: name.to_owned(),
                declaration: from_sdk(&p),
            })
        }))
    }

    async fn create(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Pipeline(pipeline) = spec else {
            return Err(wrong_kind(ACTION, spec));
        };
        self.client
            .create_pipeline()
            .pipeline(to_sdk(&pipeline.declaration)?)
            .set_tags(Some(Self::tags(tags)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error(ACTION, e))
    }

    async fn update(&self, spec: &Spec, tags: &Tags) -> Result<(), CallError> {
        let Spec::Pipeline(pipeline) = spec else {
            return Err(wrong_kind("codepipeline:UpdatePipeline", spec));
        };
        self.client
            .update_pipeline()
            .pipeline(to_sdk(&pipeline.declaration)?)
            .send()
            .await
            .map_err(|e| call_error("codepipeline:UpdatePipeline", e))?;
        self.client
            .tag_resource()
            .resource_arn(self.arn(&pipeline.name))
            .set_tags(Some(Self::tags(tags)?))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| call_error("codepipeline:TagResource", e))
    }

    async fn delete(&self, name: &str) -> Result<(), CallError> {
        match self
            .client
            .delete_pipeline()
            .name(name)
            .send()
            .await
            .map_err(|e| call_error("codepipeline:DeletePipeline", e))
        {
            Err(e) if !e.is(CallErrorKind::NotFound) => Err(e),
            _ => Ok(()),
        }
    }
}
