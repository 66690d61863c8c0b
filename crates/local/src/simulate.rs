//! One run to completion with scripted decisions: what `approvalc simulate` and scenario
//! files do. Each request for a stage (a primary attempt, then an escalation) takes the next
//! decision given for that stage; a stage with none left is approved by its approvers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::deployment::Deployment;
use crate::error::LocalError;
use crate::report::RunReport;
use crate::services::Verdict;
use crate::world::{Pending, RunConfig, World};

/// What happens to one request of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Approve,
    Reject,
    /// Nobody answers: the request runs into its timeout.
    Timeout,
}

/// A scripted decision: `stage=approve`, `stage=reject@PRINCIPAL`, `stage=timeout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub stage: String,
    pub action: Action,
    /// Who decides (the first approver; others needed for `min_approvals` are taken from
    /// the request's approver list). Default: the request's approvers in order.
    #[serde(default, rename = "as")]
    pub principal: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

impl FromStr for Decision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (stage, rest) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}`: expected STAGE=approve|reject|timeout[@PRINCIPAL]"))?;
        let (action, principal) = match rest.split_once('@') {
            Some((a, p)) => (a, Some(p.to_owned())),
            None => (rest, None),
        };
        let action = match action {
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "timeout" => Action::Timeout,
            other => return Err(format!("`{other}`: expected approve, reject or timeout")),
        };
        if stage.is_empty() {
            return Err(format!("`{s}`: the stage id is missing"));
        }
        Ok(Decision {
            stage: stage.to_owned(),
            action,
            principal: principal.filter(|p| !p.is_empty()),
            comment: None,
        })
    }
}

/// Runs `world` to its end, answering each request from `decisions`.
pub fn drive(world: &mut World, decisions: &[Decision]) -> Result<(), LocalError> {
    let mut queues: BTreeMap<&str, VecDeque<&Decision>> = BTreeMap::new();
    for d in decisions {
        queues.entry(d.stage.as_str()).or_default().push_back(d);
    }
    let mut answered: BTreeSet<String> = BTreeSet::new();
    // Each loop iteration either answers a request or moves the clock; both end.
    for _ in 0..1_000_000u32 {
        if world.is_finished() {
            return Ok(());
        }
        let mut acted = false;
        for p in world.pending() {
            if !answered.insert(p.request_id.clone()) {
                continue;
            }
            let decision = queues
                .get_mut(p.stage.as_str())
                .and_then(VecDeque::pop_front);
            acted |= answer(world, &p, decision)?;
        }
        if acted {
            continue;
        }
        match world.next_timer_ms() {
            Some(at) => world.advance_to(at),
            None => {
                let pending: Vec<String> =
                    world.pending().iter().map(|p| p.stage.clone()).collect();
                return Err(LocalError::Stuck(format!("pending: {pending:?}")));
            }
        }
    }
    Err(LocalError::Stuck(
        "the simulation did not end after a million steps".into(),
    ))
}

fn answer(world: &mut World, p: &Pending, decision: Option<&Decision>) -> Result<bool, LocalError> {
    let action = decision.map_or(Action::Approve, |d| d.action.clone());
    let comment = decision.and_then(|d| d.comment.clone());
    if p.kind == "action" {
        return match action {
            Action::Timeout => Ok(false),
            Action::Approve => world.complete_action(&p.stage, true, None).map(|()| true),
            Action::Reject => world
                .complete_action(&p.stage, false, comment)
                .map(|()| true),
        };
    }
    let verdict = match action {
        Action::Timeout => return Ok(false),
        Action::Approve => Verdict::Approve,
        Action::Reject => Verdict::Reject,
    };
    let first = decision.and_then(|d| d.principal.clone());
    let mut principals: Vec<String> = first.iter().cloned().collect();
    let needed = if verdict == Verdict::Reject {
        1
    } else {
        p.min_approvals.saturating_sub(p.decided_by.len()).max(1)
    };
    for candidate in &p.may_act {
        if principals.len() >= needed {
            break;
        }
        if !principals.contains(candidate) {
            principals.push(candidate.clone());
        }
    }
    for principal in principals.iter().take(needed.max(1)) {
        if world.is_finished() {
            break;
        }
        world.decide(&p.stage, verdict, principal, comment.clone())?;
    }
    Ok(true)
}

/// Starts a run of `deployment` and drives it to the end.
pub fn simulate(
    deployment: Arc<Deployment>,
    input: Value,
    config: RunConfig,
    decisions: &[Decision],
) -> Result<(World, RunReport), LocalError> {
    let mut world = World::start(deployment, input, config)?;
    drive(&mut world, decisions)?;
    let report = RunReport::of(&world);
    Ok((world, report))
}
