//! Name resolution and every check of the language, producing a [`Model`].
//!
//! The phases run in a fixed order and all of them run even after errors, so one pass
//! reports everything it can: the graph (`needs`, cycles, order), the input contract and
//! accounts, each stage (binding limits, escalation, templates, `when`, names), then checks
//! over the whole run (run length, shared pipeline actions). Each check lives next to the
//! data it reads; `docs/checks.md` lists them with their codes.

mod graph;
mod input;
mod refs;
mod stages;

use std::collections::HashMap;
use std::time::Duration;

use approvalc_dsl::ast::{self, Workflow};
use approvalc_dsl::{Diagnostic, Span};

use crate::codes;
use crate::model::{self, Model, OnTimeout, Rules, limits, names};

/// The result of [`check`]: the model when there is no error, and every diagnostic (parse
/// and check, errors and warnings) sorted by position.
#[derive(Debug, Clone)]
pub struct Checked {
    pub model: Option<Model>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses `source` and runs every check. Never panics.
pub fn check(source: &str) -> Checked {
    let parsed = approvalc_dsl::parse(source);
    let mut diagnostics = parsed.diagnostics;
    let model = parsed.workflow.and_then(|workflow| {
        let checked = check_workflow(&workflow);
        diagnostics.extend(checked.diagnostics);
        checked.model
    });
    sort(&mut diagnostics);
    let model = model.filter(|_| !diagnostics.iter().any(Diagnostic::is_error));
    Checked { model, diagnostics }
}

/// Runs every check on a parsed workflow. The model is `None` when any check failed or the
/// tree has gaps (which the parser reported).
pub fn check_workflow(workflow: &Workflow) -> Checked {
    let mut diags = Vec::new();
    let graph = graph::check(workflow, &mut diags);
    let input = input::check_input(workflow, &mut diags);
    let accounts = input::accounts(workflow);
    let home = workflow.home.as_ref().and_then(|h| {
        input::resolve_account(workflow, &h.value, h.span, "home account", &mut diags)
    });
    let mut context = stages::Context {
        workflow,
        graph: &graph,
        accounts: &accounts,
        home,
        used_accounts: vec![false; accounts.len()],
    };
    if let Some(h) = home
        && let Some(used) = context.used_accounts.get_mut(h)
    {
        *used = true;
    }
    let built: Vec<Option<model::Stage>> = workflow
        .stages
        .values()
        .enumerate()
        .map(|(i, stage)| context.stage(i, stage, &mut diags))
        .collect();
    // After an unknown account name the user most likely meant one of the "unused" ones.
    if !diags.iter().any(|d| d.code == codes::UNKNOWN_ACCOUNT) {
        input::report_unused(workflow, &context.used_accounts, &mut diags);
    }
    report_shared_pipeline_actions(workflow, &mut diags);
    if let Some(order) = &graph.order {
        report_run_length(workflow, &built, &graph, &order.topo, &mut diags);
    }
    report_workflow_names(workflow, &mut diags);
    let model = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        build(workflow, &graph, input, &accounts, home, built)
    };
    sort(&mut diags);
    Checked {
        model,
        diagnostics: diags,
    }
}

/// `a → b → c`, shortened in the middle beyond ten stages so messages stay readable.
pub(crate) fn show_path(ids: &[&str]) -> String {
    const KEEP: usize = 4;
    if ids.len() <= 2 * KEEP + 2 {
        return ids.join(" → ");
    }
    let head = ids.get(..KEEP).unwrap_or_default().join(" → ");
    let tail = ids.get(ids.len() - KEEP..).unwrap_or_default().join(" → ");
    format!("{head} → … {} more … → {tail}", ids.len() - 2 * KEEP)
}

fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| (a.span.start, a.code).cmp(&(b.span.start, b.code)));
}

fn build(
    workflow: &Workflow,
    graph: &graph::Graph,
    input: Vec<Option<model::InputField>>,
    accounts: &[Option<model::Account>],
    home: Option<usize>,
    built: Vec<Option<model::Stage>>,
) -> Option<Model> {
    let order = graph.order.as_ref()?;
    let mut slots: Vec<Option<model::Stage>> = built;
    let stages = order
        .topo
        .iter()
        .map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect::<Option<Vec<_>>>()?;
    Some(Model {
        name: workflow.name.as_ref()?.value.clone(),
        name_span: workflow.name.as_ref()?.span,
        description: workflow.description.as_ref().map(|d| d.value.clone()),
        region: workflow.region.as_ref()?.value.clone(),
        home: accounts.get(home?)?.clone()?,
        accounts: accounts.iter().cloned().collect::<Option<Vec<_>>>()?,
        input: input.into_iter().collect::<Option<Vec<_>>>()?,
        rules: Rules {
            distinct_approvers: workflow
                .rules
                .distinct_approvers
                .as_ref()
                .is_some_and(|r| r.value),
            requester_cannot_approve: workflow
                .rules
                .requester_cannot_approve
                .as_ref()
                .is_some_and(|r| r.value),
        },
        stages,
    })
}

/// The workflow-level names: parent state machine and its role.
fn report_workflow_names(workflow: &Workflow, diags: &mut Vec<Diagnostic>) {
    let Some(name) = &workflow.name else { return };
    let mut checks = vec![
        (
            names::state_machine(&name.value),
            names::STATE_MACHINE_MAX,
            "state machine",
        ),
        (
            names::workflow_role(&name.value),
            names::ROLE_MAX,
            "IAM role",
        ),
    ];
    // Only workflows that run their own SSM documents get the documents rule.
    let own_documents = workflow.stages.values().any(|s| match &s.binding {
        Some(ast::Binding::Action(_)) => true,
        Some(ast::Binding::Ssm(ssm)) => ssm.value.document.is_some(),
        _ => false,
    });
    if own_documents {
        checks.push((
            names::documents(&name.value),
            names::EVENT_RULE_MAX,
            "EventBridge rule",
        ));
    }
    // Report the name that overflows most, so "shorten to N" makes every name fit.
    let worst = checks
        .into_iter()
        .filter(|(n, max, _)| n.len() > *max)
        .max_by_key(|(n, max, _)| n.len() - max);
    if let Some((full, max, what)) = worst {
        let over = full.len() - max;
        diags.push(
            Diagnostic::error(
                codes::NAME_TOO_LONG,
                format!(
                    "the {what} name `{full}` would be {} characters, over AWS's {max}",
                    full.len()
                ),
                name.span,
            )
            .with_label(format!(
                "{over} character(s) too long once prefixed with `approvalc-`"
            ))
            .with_help(format!(
                "shorten the workflow name to at most {} characters (docs/checks.md)",
                name.value.as_str().len() - over
            )),
        );
    }
}

/// Two stages deciding through the same existing pipeline action would take each other's
/// approvals.
fn report_shared_pipeline_actions(workflow: &Workflow, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<(&str, &str, &str), (&str, Span)> = HashMap::new();
    for stage in workflow.stages.values() {
        let Some(ast::Binding::CodePipeline(cp)) = &stage.binding else {
            continue;
        };
        let (Some(p), Some(s), Some(a)) = (&cp.value.pipeline, &cp.value.stage, &cp.value.action)
        else {
            continue;
        };
        let key = (p.value.as_str(), s.value.as_str(), a.value.as_str());
        match seen.get(&key) {
            Some(&(other, other_span)) => diags.push(
                Diagnostic::error(
                    codes::SHARED_PIPELINE_ACTION,
                    format!("stages `{other}` and `{}` use the same pipeline action {}/{}/{}", stage.id.value, key.0, key.1, key.2),
                    a.span,
                )
                .with_label("already used by another stage")
                .with_related(other_span, format!("used by `{other}`"))
                .with_help("give each stage its own Manual approval action, or drop `pipeline:` to get a dedicated pipeline"),
            ),
            None => {
                seen.insert(key, (stage.id.value.as_str(), a.span));
            }
        }
    }
}

/// The longest chain of waits (each stage's timeout, plus its escalation's) must fit in one
/// Standard execution (one year), or the run could be cut off before it decides.
fn report_run_length(
    workflow: &Workflow,
    built: &[Option<model::Stage>],
    graph: &graph::Graph,
    topo: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    let n = built.len();
    let mut longest: Vec<(Duration, Option<usize>)> = vec![(Duration::ZERO, None); n];
    for &s in topo {
        let Some(Some(stage)) = built.get(s) else {
            continue;
        };
        let own = stage.timeout.duration
            + match &stage.on_timeout {
                OnTimeout::Escalate(e) => e.timeout.duration,
                OnTimeout::Reject => Duration::ZERO,
            };
        let best = graph
            .needs
            .get(s)
            .into_iter()
            .flatten()
            .filter_map(|&(need, _)| longest.get(need).map(|&(d, _)| (d, Some(need))))
            .max_by_key(|&(d, _)| d)
            .unwrap_or((Duration::ZERO, None));
        if let Some(slot) = longest.get_mut(s) {
            *slot = (best.0 + own, best.1);
        }
    }
    let Some((end, &(total, _))) = longest.iter().enumerate().max_by_key(|(_, (d, _))| *d) else {
        return;
    };
    if total <= limits::MAX_RUN {
        return;
    }
    let mut path = vec![end];
    while let Some(&(_, Some(prev))) = longest.get(*path.last().unwrap_or(&end)) {
        path.push(prev);
        if path.len() > n {
            break;
        }
    }
    path.reverse();
    let ids: Vec<&str> = path
        .iter()
        .filter_map(|&i| workflow.stages.get_index(i).map(|(id, _)| id.as_str()))
        .collect();
    let span = workflow
        .stages
        .get_index(end)
        .map_or(workflow.span, |(_, s)| s.id.span);
    diags.push(
        Diagnostic::error(
            codes::RUN_TOO_LONG,
            format!(
                "the chain {} can wait {} in all, more than a Step Functions execution's one year",
                show_path(&ids),
                stages::show_duration(total)
            ),
            span,
        )
        .with_label("the run could be cut off before this stage decides")
        .with_help("shorten the timeouts on this chain, or split the workflow in two"),
    );
}

#[cfg(test)]
mod tests;
