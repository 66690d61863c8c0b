//! Lowering: a checked [`Model`] becomes [`Artifacts`] (docs/compiler.md).
//!
//! * [`sp`]: series-parallel decomposition of the stage graph (fewest extra edges).
//! * [`parent`]: the per-workflow parent state machine; [`child`]: the generic children.
//! * [`ssm`], [`pipeline`], [`rules`], [`iam`], [`resources`]: the pieces around them.
//! * [`bootstrap`]: the per-account CloudFormation template.
//! * [`artifacts`]: the in-memory result and `manifest.json`.
//!
//! Quota checks run on what was built (definition bytes, worst-case history events, run
//! length, payload size) and are reported as diagnostics `E080`–`E099` with spans.
//! Lowering does no I/O and is deterministic: the CLI writes [`Artifacts::render`].

pub mod artifacts;
pub mod bootstrap;
pub mod child;
pub mod iam;
pub mod names;
pub mod parent;
pub mod pipeline;
pub mod resources;
pub mod rules;
pub mod sp;
pub mod ssm;

use std::collections::BTreeSet;

use approvalc_dsl::Diagnostic;

pub use artifacts::{ArtifactFile, ArtifactKind, Artifacts, Manifest};

use artifacts::{
    AccountEntry, AccountRef, ExtraEdge, FileEntry, InputPattern, MANIFEST_FORMAT, ParentEntry,
    StageEntry, to_json,
};
use names::ChildKind;

use crate::model::{self, Binding, Model, PipelineTarget};

/// Stable codes of lowering diagnostics (docs/diagnostics.md "Lowering errors").
pub mod codes {
    /// The parent definition is larger than 1 MB.
    pub const DEFINITION_TOO_LARGE: &str = "approvalc::E080";
    /// A run could need more than 25,000 history events.
    pub const HISTORY_TOO_LONG: &str = "approvalc::E081";
    /// A run could last longer than a Standard execution may (1 year).
    pub const RUN_TOO_LONG: &str = "approvalc::E082";
    /// Warning: the stage graph is not series-parallel; ordering edges were added.
    pub const EXTRA_EDGES: &str = "approvalc::E083";
    /// The run's state would exceed the 256 KiB payload limit.
    pub const PAYLOAD_TOO_LARGE: &str = "approvalc::E084";
    /// A generated definition is structurally invalid (a compiler bug; please report it).
    pub const INTERNAL: &str = "approvalc::E099";
}

/// Step Functions limits (docs/compiler.md "Quotas").
pub mod quotas {
    pub const DEFINITION_BYTES: usize = 1_048_576;
    pub const HISTORY_EVENTS: u64 = 25_000;
    pub const RUN_SECONDS: u64 = 365 * 86_400;
    pub const PAYLOAD_BYTES: usize = 262_144;
}

/// The result of [`lower`]: artifacts (unless lowering could not run at all) and
/// diagnostics. Artifacts are built even when a quota is exceeded so that sizes can be
/// reported; callers must not write them when [`Lowered::has_errors`].
#[derive(Debug, Clone)]
pub struct Lowered {
    pub artifacts: Option<Artifacts>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Lowered {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Check and lower a workflow source: what `approvalc compile` does before writing.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub model: Option<Model>,
    pub artifacts: Option<Artifacts>,
    /// Parse, check and lowering diagnostics.
    pub diagnostics: Vec<Diagnostic>,
}

impl Compiled {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

pub fn compile(source: &str) -> Compiled {
    let checked = crate::check(source);
    let mut diagnostics = checked.diagnostics;
    let Some(model) = checked.model else {
        return Compiled {
            model: None,
            artifacts: None,
            diagnostics,
        };
    };
    let lowered = lower(&model);
    diagnostics.extend(lowered.diagnostics);
    Compiled {
        model: Some(model),
        artifacts: lowered.artifacts,
        diagnostics,
    }
}

/// Lowers a checked model.
pub fn lower(model: &Model) -> Lowered {
    let mut diagnostics = Vec::new();
    let edges: Vec<(usize, usize)> = model
        .stages
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.needs.iter().map(move |n| (n.0, i)))
        .collect();
    let decomposition = match sp::decompose(model.stages.len(), &edges) {
        Ok(d) => d,
        Err(sp::Cycle(_)) => {
            diagnostics.push(
                Diagnostic::error(
                    codes::INTERNAL,
                    "the stage graph has a cycle",
                    model.name_span,
                )
                .with_help("the checks should have reported it; please report this bug"),
            );
            return Lowered {
                artifacts: None,
                diagnostics,
            };
        }
    };
    for &(before, after) in &decomposition.extra_edges {
        diagnostics.push(extra_edge_warning(
            model,
            before,
            after,
            decomposition.exact,
        ));
    }
    let built = parent::build(model, &decomposition.tree);
    match build_artifacts(model, &decomposition, &built) {
        Ok(artifacts) => {
            diagnostics.extend(quota_diagnostics(model, &built, &artifacts));
            Lowered {
                artifacts: Some(artifacts),
                diagnostics,
            }
        }
        Err(err) => {
            diagnostics.push(Diagnostic::error(
                codes::INTERNAL,
                format!("could not serialise an artifact: {err}"),
                model.name_span,
            ));
            Lowered {
                artifacts: None,
                diagnostics,
            }
        }
    }
}

fn extra_edge_warning(model: &Model, before: usize, after: usize, exact: bool) -> Diagnostic {
    let (Some(b), Some(a)) = (model.stages.get(before), model.stages.get(after)) else {
        return Diagnostic::warning(codes::EXTRA_EDGES, "ordering edge added", model.name_span);
    };
    let optimal = if exact {
        "this is the fewest edges that make the graph series-parallel"
    } else {
        "the graph was split greedily; fewer edges may exist"
    };
    Diagnostic::warning(
        codes::EXTRA_EDGES,
        format!(
            "stage `{}` will also wait for `{}`: Step Functions can only run series-parallel stage graphs",
            a.id.as_str(),
            b.id.as_str()
        ),
        a.span,
    )
    .with_label(format!("now also needs `{}`", b.id.as_str()))
    .with_related(b.span, "added as a need of the stage above".to_owned())
    .with_help(format!(
        "add `{}` to the `needs` of `{}` to make the order explicit, or change the graph ({optimal})",
        b.id.as_str(),
        a.id.as_str()
    ))
}

fn quota_diagnostics(
    model: &Model,
    built: &parent::Parent,
    artifacts: &Artifacts,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let span = model.name_span;
    let split_help = "split the workflow into several workflows (a later stage can be a separate run), or remove stages";
    let bytes = artifacts.manifest.parent.definition_bytes;
    if bytes > quotas::DEFINITION_BYTES {
        out.push(
            Diagnostic::error(
                codes::DEFINITION_TOO_LARGE,
                format!(
                    "the parent state machine would be {bytes} bytes; Step Functions allows {} ({} stages)",
                    quotas::DEFINITION_BYTES,
                    model.stages.len()
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    if built.worst_case_events > quotas::HISTORY_EVENTS {
        out.push(
            Diagnostic::error(
                codes::HISTORY_TOO_LONG,
                format!(
                    "a run could need {} history events; Step Functions fails an execution after {}",
                    built.worst_case_events,
                    quotas::HISTORY_EVENTS
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    if built.worst_case_seconds > quotas::RUN_SECONDS {
        out.push(
            Diagnostic::error(
                codes::RUN_TOO_LONG,
                format!(
                    "a run could last {} days when every stage waits its full timeout; a Standard execution ends after 365",
                    built.worst_case_seconds.div_ceil(86_400)
                ),
                span,
            )
            .with_label("this workflow")
            .with_help("shorten stage timeouts or escalations on the longest chain of `needs`"),
        );
    }
    let payload = payload_estimate(model);
    if payload > quotas::PAYLOAD_BYTES {
        out.push(
            Diagnostic::error(
                codes::PAYLOAD_TOO_LARGE,
                format!(
                    "the run's state would hold about {payload} bytes of stage records; Step Functions allows {} per state",
                    quotas::PAYLOAD_BYTES
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    for error in built.machine.check_graph() {
        out.push(Diagnostic::error(
            codes::INTERNAL,
            format!("generated parent definition is invalid: {error}"),
            span,
        ));
    }
    out
}

/// A lower bound of the run's state near its end: the static copy of the stage records, the
/// records themselves with their approvers and child execution ARN, and the input defaults.
/// Comments are not counted (their size is up to the approvers).
pub fn payload_estimate(model: &Model) -> usize {
    const RECORD_OVERHEAD: usize = 330;
    model
        .stages
        .iter()
        .map(|s| {
            let approvers: usize = match &s.binding {
                Binding::Ssm(ssm) => ssm.min_approvals as usize * 40,
                Binding::CodePipeline(_) => 40,
                Binding::Action(_) => 0,
            };
            2 * (s.id.as_str().len() + s.account.name.as_str().len()) + RECORD_OVERHEAD + approvers
        })
        .sum()
}

fn add_file<T: serde::Serialize>(
    files: &mut Vec<ArtifactFile>,
    path: String,
    kind: ArtifactKind,
    account: Option<&str>,
    value: &T,
) -> Result<(), serde_json::Error> {
    files.push(ArtifactFile {
        path,
        kind,
        account: account.map(ToOwned::to_owned),
        contents: to_json(value)?,
    });
    Ok(())
}

/// Accounts the workflow uses: home first, then stage accounts in `accounts:` order.
fn used_accounts(model: &Model) -> Vec<&model::Account> {
    let used: BTreeSet<&str> = model
        .stages
        .iter()
        .map(|s| s.account.name.as_str())
        .chain([model.home.name.as_str()])
        .collect();
    let mut out = vec![&model.home];
    out.extend(
        model
            .accounts
            .iter()
            .filter(|a| a.name != model.home.name && used.contains(a.name.as_str())),
    );
    out
}

fn build_artifacts(
    model: &Model,
    decomposition: &sp::Decomposition,
    built: &parent::Parent,
) -> Result<Artifacts, serde_json::Error> {
    let mut files = Vec::new();
    let home = model.home.name.as_str();
    files.push(ArtifactFile {
        path: "parent.asl.json".to_owned(),
        kind: ArtifactKind::ParentDefinition,
        account: Some(home.to_owned()),
        contents: artifacts::to_compact_json(&built.machine)?,
    });

    let kinds: BTreeSet<ChildKind> = model
        .stages
        .iter()
        .map(|s| parent::stage_target(model, s).kind)
        .collect();
    for kind in &kinds {
        add_file(
            &mut files,
            format!("children/{}.asl.json", kind.file_stem()),
            ArtifactKind::ChildDefinition,
            None,
            &child::machine(*kind, names::TOKEN_TABLE),
        )?;
    }
    if kinds.contains(&ChildKind::Ssm) {
        add_file(
            &mut files,
            format!("ssm/{}.json", names::APPROVE_DOCUMENT),
            ArtifactKind::SsmDocument,
            None,
            &ssm::approval_document(),
        )?;
    }

    let parent_role = resources::parent_role(model);
    add_file(
        &mut files,
        format!("iam/{home}/{}.role.json", parent_role.name),
        ArtifactKind::Role,
        Some(home),
        &parent_role,
    )?;

    let mut stage_entries = Vec::new();
    for stage in &model.stages {
        let account = stage.account.name.as_str();
        let target = parent::stage_target(model, stage);
        if target.execute_role_arn.is_some() {
            let role = resources::execute_role(model, stage);
            add_file(
                &mut files,
                format!("iam/{account}/{}.role.json", role.name),
                ArtifactKind::Role,
                Some(account),
                &role,
            )?;
        }
        if let Some(policy) = resources::approver_policy(model, stage) {
            add_file(
                &mut files,
                format!("iam/{account}/{}.policy.json", policy.name),
                ArtifactKind::Policy,
                Some(account),
                &policy,
            )?;
        }
        let mut pipeline_name = None;
        if let Binding::CodePipeline(cp) = &stage.binding {
            match &cp.pipeline {
                PipelineTarget::Dedicated { name } => {
                    let spec = pipeline::PipelineSpec {
                        name,
                        account_id: stage.account.id.as_str(),
                        region: model.region.as_str(),
                        timeout_minutes: stage.timeout.duration.as_secs().div_ceil(60),
                        notification_arn: cp.notify.as_ref().map(ToString::to_string),
                        has_external_link: cp.external_link.is_some(),
                    };
                    add_file(
                        &mut files,
                        format!("pipelines/{}.pipeline.json", stage.id.as_str()),
                        ArtifactKind::Pipeline,
                        Some(account),
                        &pipeline::declaration(&spec),
                    )?;
                    pipeline_name = Some(name.clone());
                }
                PipelineTarget::Existing { name, .. } => pipeline_name = Some(name.clone()),
            }
        }
        stage_entries.push(StageEntry {
            id: stage.id.as_str().to_owned(),
            account: account.to_owned(),
            kind: target.kind,
            child_arn: target.child_arn,
            execute_role_arn: target.execute_role_arn,
            pipeline: pipeline_name,
        });
    }

    let mut account_entries = Vec::new();
    for account in used_accounts(model) {
        let name = account.name.as_str();
        if let Some(policy) = resources::documents_policy(model, account) {
            add_file(
                &mut files,
                format!("iam/{name}/{}.policy.json", policy.name),
                ArtifactKind::Policy,
                Some(name),
                &policy,
            )?;
        }
        if let Some(rule) = resources::documents_rule(model, account) {
            add_file(
                &mut files,
                format!("rules/{name}/{}.rule.json", rule.name),
                ArtifactKind::Rule,
                Some(name),
                &rule,
            )?;
        }
        let bootstrap_path = format!("bootstrap/{name}.template.json");
        add_file(
            &mut files,
            bootstrap_path.clone(),
            ArtifactKind::BootstrapTemplate,
            Some(name),
            &bootstrap::template(name, model.region.as_str(), account.id.as_str()),
        )?;
        let children: BTreeSet<ChildKind> = model
            .stages
            .iter()
            .filter(|s| s.account.id == account.id)
            .map(|s| parent::stage_target(model, s).kind)
            .collect();
        account_entries.push(AccountEntry {
            name: name.to_owned(),
            id: account.id.as_str().to_owned(),
            bootstrap: bootstrap_path,
            children: children.into_iter().collect(),
        });
    }

    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    let definition_bytes = files
        .iter()
        .find(|f| f.kind == ArtifactKind::ParentDefinition)
        .map_or(0, |f| f.contents.len());
    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        workflow: model.name.as_str().to_owned(),
        region: model.region.as_str().to_owned(),
        home: AccountRef {
            name: home.to_owned(),
            id: model.home.id.as_str().to_owned(),
        },
        accounts: account_entries,
        parent: ParentEntry {
            name: model::names::state_machine(&model.name),
            arn: resources::parent_arn(model),
            definition: "parent.asl.json".to_owned(),
            role: format!("iam/{home}/{}.role.json", parent_role.name),
            role_arn: resources::parent_role_arn(model),
            definition_bytes,
            worst_case_history_events: built.worst_case_events,
            state_count: built.machine.state_count(),
        },
        stages: stage_entries,
        extra_edges: decomposition
            .extra_edges
            .iter()
            .filter_map(|&(b, a)| {
                Some(ExtraEdge {
                    before: model.stages.get(b)?.id.as_str().to_owned(),
                    after: model.stages.get(a)?.id.as_str().to_owned(),
                })
            })
            .collect(),
        input_patterns: model
            .input
            .iter()
            .filter_map(|f| {
                Some(InputPattern {
                    field: f.name.clone(),
                    pattern: f.pattern.clone()?,
                })
            })
            .collect(),
        files: files
            .iter()
            .map(|f| FileEntry {
                path: f.path.clone(),
                kind: f.kind,
                account: f.account.clone(),
                bytes: f.contents.len(),
            })
            .collect(),
    };
    Ok(Artifacts { manifest, files })
}
