//! What a run looks like from outside: the run decision and one record per stage, taken from
//! the parent's output once it ended, and from the live executions and pending requests
//! while it runs. Rendered by the CLI (human tree or JSON).

use std::collections::{BTreeMap, BTreeSet};

use approvalc_engine::Status;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::world::{Pending, World};

/// One stage of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    pub id: String,
    pub account: String,
    pub kind: String,
    /// `approved`, `rejected`, `timed_out`, `skipped`, `cancelled`, or while running
    /// `pending` / `waiting`.
    pub decision: String,
    pub approvers: Vec<String>,
    pub comment: Option<String>,
    pub decided_at: Option<String>,
    pub rule: Option<String>,
    pub error: Option<String>,
    pub attempt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub workflow: String,
    /// The parent's status (`RUNNING`, `SUCCEEDED`, `FAILED`, …).
    pub status: String,
    /// `approved` / `rejected` once the run ended (a failed run is rejected: fail closed).
    pub decision: Option<String>,
    pub error: Option<String>,
    pub stages: Vec<StageReport>,
    pub transitions: u64,
    pub now_ms: i64,
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(ToOwned::to_owned)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(ToOwned::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl RunReport {
    pub fn of(world: &World) -> Self {
        let manifest = &world.deployment().manifest;
        let (decision, error) = match world.status() {
            Status::Succeeded { output } => (text(output.get("decision")), None),
            Status::Failed { error, cause } | Status::TimedOut { error, cause } => (
                Some("rejected".to_owned()),
                Some(match cause {
                    Some(c) => format!("{error}: {c}"),
                    None => error.clone(),
                }),
            ),
            Status::Aborted => (
                Some("rejected".to_owned()),
                Some("the run was stopped".into()),
            ),
            Status::Running => (None, None),
        };
        // The machine that runs a stage holds its record: the parent, or the part the
        // manifest names (a split workflow's parent output only has `Part_<n>` summaries).
        let machines: BTreeMap<Option<&str>, Option<&Map<String, Value>>> = manifest
            .stages
            .iter()
            .map(|s| s.part.as_deref())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|part| (part, world.machine_records(part)))
            .collect();
        let pending = world.pending();
        let skipped = world.skipped_stages();
        let stages = manifest
            .stages
            .iter()
            .map(|s| {
                let key = s.id.replace('-', "_");
                let mut report = StageReport {
                    id: s.id.clone(),
                    account: s.account.clone(),
                    kind: serde_json::to_value(s.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(ToOwned::to_owned))
                        .unwrap_or_default(),
                    decision: "waiting".into(),
                    approvers: Vec::new(),
                    comment: None,
                    decided_at: None,
                    rule: None,
                    error: None,
                    attempt: None,
                    pending: None,
                };
                let recorded = machines.get(&s.part.as_deref()).copied().flatten();
                // A `cancelled` placeholder only says no record reached the machine's end
                // (a failing `Parallel` drops its other branches' outputs, as on AWS): what
                // the executions show (a child's result, a skip, a pending request) is
                // better evidence.
                let record = recorded
                    .and_then(|r| r.get(&key))
                    .filter(|r| !is_placeholder(r));
                if let Some(record) = record {
                    fill(&mut report, record);
                    if let Some(cause) = world.services().start_failures.get(&s.id)
                        && report.error.is_some()
                    {
                        report.error = Some(cause.clone());
                    }
                } else if let Some(p) = pending.iter().find(|p| p.stage == s.id) {
                    report.decision = "pending".into();
                    report.attempt = Some(p.attempt.clone());
                    report.pending = Some(p.clone());
                } else if let Some(record) = latest_child_record(world, &s.id) {
                    fill(&mut report, &record);
                } else if skipped.contains(&s.id) {
                    report.decision = "skipped".into();
                } else if world.is_finished() {
                    report.decision = "cancelled".into();
                }
                report
            })
            .collect();
        RunReport {
            run_id: world.config().run_id.clone(),
            workflow: manifest.workflow.clone(),
            status: world.status().name().to_owned(),
            decision,
            error,
            stages,
            transitions: world.transitions(),
            now_ms: world.now_ms(),
        }
    }

    /// Exactly the shape `approvalc simulate --format json` promises (issue 8):
    /// `{decision, stages: {id: {decision, approvers, comment, decided_at, account}}, transitions}`.
    /// Nothing else, so scripts can rely on it; [`RunReport::to_detailed_json`] has the rest.
    pub fn to_json(&self) -> Value {
        let stages: Map<String, Value> = self
            .stages
            .iter()
            .map(|s| (s.id.clone(), Value::Object(stage_fields(s))))
            .collect();
        let mut out = Map::new();
        out.insert("decision".into(), self.decision.clone().into());
        out.insert("stages".into(), Value::Object(stages));
        out.insert("transitions".into(), self.transitions.into());
        Value::Object(out)
    }

    /// [`RunReport::to_json`] plus what a stored run needs to be understood: the run id and
    /// status, the run's error, and per stage the broken rule, the error and the attempt.
    pub fn to_detailed_json(&self) -> Value {
        let stages: Map<String, Value> = self
            .stages
            .iter()
            .map(|s| {
                let mut m = stage_fields(s);
                m.insert("kind".into(), s.kind.clone().into());
                for (key, value) in [
                    ("rule", &s.rule),
                    ("error", &s.error),
                    ("attempt", &s.attempt),
                ] {
                    if let Some(v) = value {
                        m.insert(key.into(), v.clone().into());
                    }
                }
                (s.id.clone(), Value::Object(m))
            })
            .collect();
        let mut out = Map::new();
        out.insert("run_id".into(), self.run_id.clone().into());
        out.insert("workflow".into(), self.workflow.clone().into());
        out.insert("status".into(), self.status.clone().into());
        out.insert("decision".into(), self.decision.clone().into());
        if let Some(error) = &self.error {
            out.insert("error".into(), error.clone().into());
        }
        out.insert("stages".into(), Value::Object(stages));
        out.insert("transitions".into(), self.transitions.into());
        Value::Object(out)
    }
}

fn stage_fields(s: &StageReport) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("decision".into(), s.decision.clone().into());
    m.insert("approvers".into(), s.approvers.clone().into());
    m.insert("comment".into(), s.comment.clone().into());
    m.insert("decided_at".into(), s.decided_at.clone().into());
    m.insert("account".into(), s.account.clone().into());
    m
}

fn fill(report: &mut StageReport, record: &Value) {
    report.decision = text(record.get("decision")).unwrap_or_else(|| "rejected".into());
    report.approvers = strings(record.get("approvers"));
    report.comment = text(record.get("comment"));
    report.decided_at = text(record.get("decided_at"));
    report.rule = text(record.get("rule"));
    report.error = text(record.get("error"));
    report.attempt = text(record.get("attempt"));
}

/// The record the compiled machines start every stage with, before it runs.
fn is_placeholder(record: &Value) -> bool {
    record.get("decision").and_then(Value::as_str) == Some("cancelled")
        && record.get("decided_at").is_none_or(Value::is_null)
}

/// The record of the latest finished child of a stage while the run is still going.
fn latest_child_record(world: &World, stage: &str) -> Option<Value> {
    let (meta, exec) = world
        .executions()
        .filter(|(m, e)| m.stage.as_deref() == Some(stage) && e.status().is_finished())
        .last()?;
    let mut record = match exec.status() {
        Status::Succeeded { output } => output.clone(),
        // Stopped with its parent (a sibling branch failed, the run was stopped): the
        // stage was never decided.
        Status::Aborted => serde_json::json!({"decision": "cancelled"}),
        _ => serde_json::json!({"decision": "rejected", "error": exec.status().name()}),
    };
    if let (Some(obj), Some(attempt)) = (record.as_object_mut(), &meta.attempt) {
        obj.insert("attempt".into(), attempt.clone().into());
    }
    Some(record)
}
