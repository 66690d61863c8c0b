//! Lowering: a checked [`Model`] becomes [`Artifacts`] (docs/compiler.md).
//!
//! * [`sp`]: series-parallel decomposition of the stage graph (fewest extra edges).
//! * [`parent`]: the per-workflow parent state machine; [`child`]: the generic children.
//! * [`ssm`], [`pipeline`], [`rules`], [`iam`], [`resources`]: the pieces around them.
//! * [`split`]: cutting a parent that breaks a quota into nested part machines.
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
pub mod split;
pub mod ssm;

use std::collections::{BTreeMap, BTreeSet};

use approvalc_dsl::Diagnostic;

pub use artifacts::{ArtifactFile, ArtifactKind, Artifacts, Manifest};

use artifacts::{
    AccountEntry, AccountRef, ExtraEdge, FileEntry, InputPattern, MANIFEST_FORMAT, ParentEntry,
    PartEntry, StageEntry, to_json,
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
    /// A part machine's name would be longer than Step Functions allows.
    pub const PART_NAME_TOO_LONG: &str = "approvalc::E085";
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
    diagnostics.extend(extra_edge_warnings(
        model,
        &decomposition.extra_edges,
        decomposition.exact,
    ));
    let machines = match build_machines(model, &decomposition.tree) {
        Ok(m) => m,
        Err(err) => {
            diagnostics.push(Diagnostic::error(
                codes::INTERNAL,
                format!("could not serialise a state machine: {err}"),
                model.name_span,
            ));
            return Lowered {
                artifacts: None,
                diagnostics,
            };
        }
    };
    match build_artifacts(model, &decomposition, &machines) {
        Ok(artifacts) => {
            diagnostics.extend(quota_diagnostics(model, &machines));
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

/// One built state machine with its compact definition and figures.
#[derive(Debug, Clone)]
struct BuiltMachine {
    built: parent::Parent,
    definition: String,
    /// Lower bound of the state's stage records (E084).
    payload: usize,
}

impl BuiltMachine {
    fn new(built: parent::Parent, payload: usize) -> Result<Self, serde_json::Error> {
        let definition = artifacts::to_compact_json(&built.machine)?;
        Ok(Self {
            built,
            definition,
            payload,
        })
    }

    fn fits(&self) -> bool {
        self.definition.len() <= quotas::DEFINITION_BYTES
            && self.built.worst_case_events <= quotas::HISTORY_EVENTS
            && self.payload <= quotas::PAYLOAD_BYTES
    }
}

/// The parent and, when it would break a quota as one machine, its parts.
#[derive(Debug, Clone)]
struct Machines {
    parent: BuiltMachine,
    plan: split::Plan,
    parts: Vec<BuiltMachine>,
}

impl Machines {
    /// The ARN of the machine that runs stage `index`.
    fn stage_machine_arn(&self, model: &Model, index: usize) -> String {
        match self.part_of(index) {
            Some(part) => part.arn.clone(),
            None => resources::parent_arn(model),
        }
    }

    fn part_of(&self, index: usize) -> Option<&split::PartPlan> {
        let p = self.plan.stage_part.get(index).copied().flatten()?;
        self.plan.parts.get(p)
    }
}

/// Builds the parent as one machine; if that breaks a quota, splits it into parts that fit
/// with a margin (module [`split`]). A parent that fits is emitted exactly as before.
fn build_machines(model: &Model, tree: &sp::Sp) -> Result<Machines, serde_json::Error> {
    let body = parent::layout(model, tree);
    let payload = payload_estimate(model);
    // Events and payload are known without building; only the size needs the definition.
    let may_fit = payload <= quotas::PAYLOAD_BYTES
        && parent::FIXED_EVENTS + parent::sequence_events(model, &body) <= quotas::HISTORY_EVENTS;
    if may_fit {
        let single = BuiltMachine::new(parent::build(model, tree), payload)?;
        if single.fits() {
            return Ok(Machines {
                parent: single,
                plan: split::Plan::default(),
                parts: Vec::new(),
            });
        }
    }
    let empty = parent::build_parent(
        model,
        &[],
        &parent::Seeds::default(),
        &split::Plan::default(),
        0,
    );
    let fixed = split::Weight {
        events: parent::FIXED_EVENTS,
        bytes: artifacts::to_compact_json(&empty.machine)?.len(),
        payload: 2 * defaults_bytes(model) + 1_000,
    };
    let mut cache = parent::StageCache::default();
    let weights = split::stage_weights(model, &mut cache);
    let first_budget = split::body_budget(fixed);
    let mut budget = first_budget;
    let mut attempt = 0;
    loop {
        let plan = split::plan(model, body.clone(), budget, &weights);
        attempt += 1;
        // The weights are estimates; when a machine would be over the margin, plan again
        // with that dimension's budget shrunk by the overshoot. The machines of a plan are
        // measured (a skeleton plus the cached stage lengths), only the last one is built.
        let measured = measure_plan(model, &plan, &mut cache);
        match overshoot(&measured) {
            Some(scale) if attempt < 4 => budget = scale.apply(budget),
            _ => {
                let machines = build_plan(model, plan, Some(&mut cache))?;
                if machines.figures() == measured {
                    return Ok(machines);
                }
                // Measuring disagrees with building (a bug): build every plan instead.
                debug_assert!(
                    false,
                    "measured {measured:?}, built {:?}",
                    machines.figures()
                );
                return split_by_building(model, &body, first_budget, &weights);
            }
        }
    }
}

/// The planning loop of [`build_machines`] building every plan's machines (what it did
/// before plans were measured); kept as the fallback when a measurement is wrong.
fn split_by_building(
    model: &Model,
    body: &[parent::Node],
    mut budget: split::Budget,
    weights: &[split::Weight],
) -> Result<Machines, serde_json::Error> {
    let mut attempt = 0;
    loop {
        let plan = split::plan(model, body.to_vec(), budget, weights);
        let machines = build_plan(model, plan, None)?;
        attempt += 1;
        match overshoot(&machines.figures()) {
            Some(scale) if attempt < 4 => budget = scale.apply(budget),
            _ => return Ok(machines),
        }
    }
}

/// What the quota margins are checked on, per machine (parent first, then the parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Figures {
    events: u64,
    /// Definition bytes, with the final newline.
    bytes: usize,
    payload: usize,
}

/// The figures of the machines `plan` gives, without building them.
fn measure_plan(model: &Model, plan: &split::Plan, cache: &mut parent::StageCache) -> Vec<Figures> {
    let mut out = vec![Figures {
        events: parent::FIXED_EVENTS + parent::sequence_events(model, &plan.top),
        bytes: parent::measure_parent(model, &plan.top, &plan.parent_seeds, plan, cache) + 1,
        payload: machine_payload(model, &plan.parent_seeds, &[]),
    }];
    for (index, part) in plan.parts.iter().enumerate() {
        let Some(bytes) = parent::measure_part(model, plan, index, cache) else {
            continue;
        };
        out.push(Figures {
            events: parent::PART_FIXED_EVENTS + parent::sequence_events(model, &part.body),
            bytes: bytes + 1,
            payload: machine_payload(model, &part.seeds, &part.ext_refs),
        });
    }
    out
}

/// Builds the machines of `plan`, taking stage states from `cache` when given.
fn build_plan(
    model: &Model,
    plan: split::Plan,
    mut cache: Option<&mut parent::StageCache>,
) -> Result<Machines, serde_json::Error> {
    let seconds = split::sequence_seconds(model, &plan.parts, &plan.top);
    let (top, seeds) = (&plan.top, &plan.parent_seeds);
    let parent = match cache.as_deref_mut() {
        Some(cache) => parent::build_parent_from(model, top, seeds, &plan, seconds, cache),
        None => parent::build_parent(model, top, seeds, &plan, seconds),
    };
    let parent_payload = machine_payload(model, &plan.parent_seeds, &[]);
    let parent = BuiltMachine::new(parent, parent_payload)?;
    let mut parts = Vec::with_capacity(plan.parts.len());
    for (index, part) in plan.parts.iter().enumerate() {
        let built = match cache.as_deref_mut() {
            Some(cache) => parent::build_part_from(model, &plan, index, cache),
            None => parent::build_part(model, &plan, index),
        };
        let Some(built) = built else {
            continue;
        };
        let payload = machine_payload(model, &part.seeds, &part.ext_refs);
        parts.push(BuiltMachine::new(built, payload)?);
    }
    Ok(Machines {
        parent,
        plan,
        parts,
    })
}

/// How much to shrink each dimension of the planning budget.
#[derive(Debug, Clone, Copy)]
struct Scale {
    events: f64,
    bytes: f64,
    payload: f64,
}

impl Scale {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn apply(self, budget: split::Budget) -> split::Budget {
        split::Budget {
            events: (budget.events as f64 * self.events) as u64,
            bytes: (budget.bytes as f64 * self.bytes) as usize,
            payload: (budget.payload as f64 * self.payload) as usize,
        }
    }
}

impl Machines {
    fn figures(&self) -> Vec<Figures> {
        std::iter::once(&self.parent)
            .chain(&self.parts)
            .map(|m| Figures {
                events: m.built.worst_case_events,
                bytes: m.definition.len(),
                payload: m.payload,
            })
            .collect()
    }
}

/// `None` when every machine is within the safety margins of [`split`]; otherwise the
/// factor per dimension (1 where it fits) that would have made the largest one fit.
#[allow(clippy::cast_precision_loss)]
fn overshoot(machines: &[Figures]) -> Option<Scale> {
    let (mut events, mut bytes, mut payload) = (0.0_f64, 0.0_f64, 0.0_f64);
    for m in machines {
        events = events.max(m.events as f64 / split::HISTORY_BUDGET as f64);
        bytes = bytes.max(m.bytes as f64 / split::DEFINITION_BUDGET as f64);
        payload = payload.max(m.payload as f64 / split::PAYLOAD_BUDGET as f64);
    }
    let factor = |ratio: f64| if ratio > 1.0 { 0.98 / ratio } else { 1.0 };
    (events > 1.0 || bytes > 1.0 || payload > 1.0).then(|| Scale {
        events: factor(events),
        bytes: factor(bytes),
        payload: factor(payload),
    })
}

fn defaults_bytes(model: &Model) -> usize {
    model
        .input
        .iter()
        .filter_map(|f| f.default.as_ref())
        .map(|d| match d {
            model::Value::String(s) => s.len() + 40,
            _ => 40,
        })
        .sum()
}

/// The stage records one machine of a split workflow holds: what it seeds, what is passed
/// in, a summary per part it starts.
fn machine_payload(model: &Model, seeds: &parent::Seeds, ext_refs: &[usize]) -> usize {
    let stages: usize = seeds
        .stages
        .iter()
        .chain(ext_refs)
        .filter_map(|&i| model.stages.get(i))
        .map(|s| stage_payload(model, s))
        .sum();
    stages + seeds.parts.len() * 400
}

/// Stages an E083 warning names in its message and points at; the help names them all.
const EXTRA_EDGE_NAMED: usize = 5;

/// One E083 warning per stage that got extra ordering edges, naming the stages it now also
/// waits for (a non-series-parallel graph of 1,000 stages can get tens of thousands of
/// edges; one warning each would bury everything else). `extra` is sorted by `before`.
fn extra_edge_warnings(model: &Model, extra: &[(usize, usize)], exact: bool) -> Vec<Diagnostic> {
    let mut waits: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &(before, after) in extra {
        waits.entry(after).or_default().push(before);
    }
    waits
        .into_iter()
        .map(|(after, befores)| extra_edge_warning(model, after, &befores, exact))
        .collect()
}

fn extra_edge_warning(model: &Model, after: usize, befores: &[usize], exact: bool) -> Diagnostic {
    let names: Vec<(&str, approvalc_dsl::Span)> = befores
        .iter()
        .filter_map(|&b| model.stages.get(b))
        .map(|s| (s.id.as_str(), s.span))
        .collect();
    let Some(a) = model.stages.get(after).filter(|_| !names.is_empty()) else {
        return Diagnostic::warning(codes::EXTRA_EDGES, "ordering edge added", model.name_span);
    };
    let optimal = if exact {
        "this is the fewest edges that make the graph series-parallel"
    } else {
        "the graph was split greedily; fewer edges may exist"
    };
    let quoted = |list: &[(&str, approvalc_dsl::Span)]| -> Vec<String> {
        list.iter().map(|(id, _)| format!("`{id}`")).collect()
    };
    let shown = names.get(..EXTRA_EDGE_NAMED).unwrap_or(&names);
    let mut listed = english_list(&quoted(shown));
    if names.len() > shown.len() {
        listed = format!(
            "{} and {} more",
            quoted(shown).join(", "),
            names.len() - shown.len()
        );
    }
    let label = match names.as_slice() {
        [(only, _)] => format!("now also needs `{only}`"),
        _ => format!("now also needs {} more stages", names.len()),
    };
    let mut warning = Diagnostic::warning(
        codes::EXTRA_EDGES,
        format!(
            "stage `{}` will also wait for {listed}: Step Functions can only run series-parallel stage graphs",
            a.id.as_str(),
        ),
        a.span,
    )
    .with_label(label);
    for (_, span) in shown {
        warning = warning.with_related(*span, "added as a need of the stage above".to_owned());
    }
    warning.with_help(format!(
        "add {} to the `needs` of `{}` to make the order explicit, or change the graph ({optimal})",
        english_list(&quoted(&names)),
        a.id.as_str()
    ))
}

/// `a`, `a and b`, `a, b and c`.
fn english_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn quota_diagnostics(model: &Model, machines: &Machines) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let span = model.name_span;
    let split = !machines.plan.parts.is_empty();
    let parent_name = if split {
        "the parent state machine (after splitting)".to_owned()
    } else {
        "the parent state machine".to_owned()
    };
    let mut all = vec![(parent_name, &machines.parent)];
    for (part, built) in machines.plan.parts.iter().zip(&machines.parts) {
        all.push((format!("part state machine `{}`", part.name), built));
    }
    for (what, machine) in &all {
        out.extend(machine_quotas(model, what, machine, split));
    }
    if machines.parent.built.worst_case_seconds > quotas::RUN_SECONDS {
        out.push(
            Diagnostic::error(
                codes::RUN_TOO_LONG,
                format!(
                    "a run could last {} days when every stage waits its full timeout; a Standard execution ends after 365",
                    machines.parent.built.worst_case_seconds.div_ceil(86_400)
                ),
                span,
            )
            .with_label("this workflow")
            .with_help("shorten stage timeouts or escalations on the longest chain of `needs`"),
        );
    }
    for part in &machines.plan.parts {
        if part.name.len() > model::names::STATE_MACHINE_MAX {
            out.push(
                Diagnostic::error(
                    codes::PART_NAME_TOO_LONG,
                    format!(
                        "the workflow needs part state machines, and `{}` would be {} characters, over AWS's {}",
                        part.name,
                        part.name.len(),
                        model::names::STATE_MACHINE_MAX
                    ),
                    span,
                )
                .with_label("this workflow name")
                .with_help("shorten the workflow name, or split the workflow into several workflows"),
            );
            break;
        }
    }
    for (what, machine) in &all {
        for error in machine.built.machine.check_graph() {
            out.push(Diagnostic::error(
                codes::INTERNAL,
                format!("generated definition of {what} is invalid: {error}"),
                span,
            ));
        }
    }
    out
}

/// E080, E081 and E084 for one machine. Splitting already made every machine as small as
/// it can (a part is never smaller than one stage), so these remain only for what no
/// split can fix.
fn machine_quotas(
    model: &Model,
    what: &str,
    machine: &BuiltMachine,
    split: bool,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let span = model.name_span;
    let split_help = if split {
        "even split into part machines this is too large: split the workflow into several workflows (a later stage can be a separate run), or remove stages"
    } else {
        "split the workflow into several workflows (a later stage can be a separate run), or remove stages"
    };
    let bytes = machine.definition.len();
    if bytes > quotas::DEFINITION_BYTES {
        out.push(
            Diagnostic::error(
                codes::DEFINITION_TOO_LARGE,
                format!(
                    "{what} would be {bytes} bytes; Step Functions allows {} ({} stages)",
                    quotas::DEFINITION_BYTES,
                    model.stages.len()
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    let events = machine.built.worst_case_events;
    if events > quotas::HISTORY_EVENTS {
        let whose = if split {
            format!("an execution of {what}")
        } else {
            "a run".to_owned()
        };
        out.push(
            Diagnostic::error(
                codes::HISTORY_TOO_LONG,
                format!(
                    "{whose} could need {events} history events; Step Functions fails an execution after {}",
                    quotas::HISTORY_EVENTS
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    if machine.payload > quotas::PAYLOAD_BYTES {
        let whose = if split {
            format!("the state of {what}")
        } else {
            "the run's state".to_owned()
        };
        out.push(
            Diagnostic::error(
                codes::PAYLOAD_TOO_LARGE,
                format!(
                    "{whose} would hold about {} bytes of stage records; Step Functions allows {} per state",
                    machine.payload,
                    quotas::PAYLOAD_BYTES
                ),
                span,
            )
            .with_label("this workflow")
            .with_help(split_help),
        );
    }
    out
}

/// A lower bound of the run's state near its end: the static copy of the stage records, the
/// records themselves with their approvers and child execution ARN, and the input defaults.
/// Comments are not counted (their size is up to the approvers).
pub fn payload_estimate(model: &Model) -> usize {
    model.stages.iter().map(|s| stage_payload(model, s)).sum()
}

/// One stage's share of [`payload_estimate`]: its record twice (static copy and decided).
pub(crate) fn stage_payload(_model: &Model, stage: &model::Stage) -> usize {
    const RECORD_OVERHEAD: usize = 330;
    let approvers: usize = match &stage.binding {
        Binding::Ssm(ssm) => ssm.min_approvals as usize * 40,
        Binding::CodePipeline(_) => 40,
        Binding::Action(_) => 0,
    };
    2 * (stage.id.as_str().len() + stage.account.name.as_str().len()) + RECORD_OVERHEAD + approvers
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
    machines: &Machines,
) -> Result<Artifacts, serde_json::Error> {
    let mut files = Vec::new();
    let home = model.home.name.as_str();
    let built = &machines.parent.built;
    files.push(ArtifactFile {
        path: "parent.asl.json".to_owned(),
        kind: ArtifactKind::ParentDefinition,
        account: Some(home.to_owned()),
        contents: machines.parent.definition.clone(),
    });
    for (part, machine) in machines.plan.parts.iter().zip(&machines.parts) {
        files.push(ArtifactFile {
            path: part_path(part),
            kind: ArtifactKind::PartDefinition,
            account: Some(home.to_owned()),
            contents: machine.definition.clone(),
        });
    }

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

    let part_machines: Vec<resources::PartMachine> = machines
        .plan
        .parts
        .iter()
        .map(|p| resources::PartMachine {
            name: p.name.clone(),
            arn: p.arn.clone(),
        })
        .collect();
    let parent_role = resources::parent_role(model, &part_machines);
    add_file(
        &mut files,
        format!("iam/{home}/{}.role.json", parent_role.name),
        ArtifactKind::Role,
        Some(home),
        &parent_role,
    )?;

    let mut stage_entries = Vec::new();
    for (index, stage) in model.stages.iter().enumerate() {
        let account = stage.account.name.as_str();
        let target = parent::stage_target(model, stage);
        if target.execute_role_arn.is_some() {
            let machine_arn = machines.stage_machine_arn(model, index);
            let role = resources::execute_role(model, stage, &machine_arn);
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
            part: machines.part_of(index).map(|p| p.name.clone()),
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
        parts: part_entries(model, machines),
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

fn part_path(part: &split::PartPlan) -> String {
    format!("parts/part-{}.asl.json", part.number)
}

fn part_entries(model: &Model, machines: &Machines) -> Vec<PartEntry> {
    let parent_name = model::names::state_machine(&model.name);
    machines
        .plan
        .parts
        .iter()
        .zip(&machines.parts)
        .map(|(part, machine)| PartEntry {
            name: part.name.clone(),
            arn: part.arn.clone(),
            definition: part_path(part),
            role_arn: resources::parent_role_arn(model),
            started_by: part
                .started_by
                .and_then(|p| machines.plan.parts.get(p))
                .map_or_else(|| parent_name.clone(), |p| p.name.clone()),
            stages: part
                .inline
                .iter()
                .filter_map(|&i| model.stages.get(i))
                .map(|s| s.id.as_str().to_owned())
                .collect(),
            definition_bytes: machine.definition.len(),
            worst_case_history_events: machine.built.worst_case_events,
            state_count: machine.built.machine.state_count(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "apiVersion: approvalc/v1\nname: measure\nregion: ap-northeast-1\nhome: ops\naccounts:\n  ops: { id: \"111111111111\" }\n  prod: { id: \"222222222222\" }\ninput:\n  risk: { type: string, enum: [low, high] }\ndefaults:\n  timeout: 1h\nstages:\n";

    /// Stages of three kinds (escalating, conditional in another account with a quoted
    /// message, plain), with `needs` from `shape`.
    fn workflow(needs: &[Vec<usize>]) -> Model {
        let mut text = HEAD.to_owned();
        for (i, list) in needs.iter().enumerate() {
            text.push_str(&format!("  st-{i}:\n"));
            if !list.is_empty() {
                let list: Vec<String> = list.iter().map(|n| format!("st-{n}")).collect();
                text.push_str(&format!("    needs: [{}]\n", list.join(", ")));
            }
            match i % 3 {
                0 => text.push_str("    on_timeout: escalate\n    escalate: { approvers: [bob] }\n    ssm: { approvers: [alice], message: \"v {{ input.risk }}\" }\n"),
                1 => text.push_str("    when: input.risk == \"high\"\n    account: prod\n    ssm: { approvers: [carol], message: \"say \\\"ok\\\" é\" }\n"),
                _ => text.push_str("    ssm: { approvers: [alice] }\n"),
            }
        }
        let checked = crate::check(&text);
        checked
            .model
            .unwrap_or_else(|| panic!("{:#?}", checked.diagnostics.first()))
    }

    fn shapes(n: usize) -> Vec<Vec<Vec<usize>>> {
        let chain = (0..n)
            .map(|i| i.checked_sub(1).into_iter().collect())
            .collect();
        let mut fan = vec![vec![]];
        fan.extend((1..n - 1).map(|_| vec![0]));
        fan.push((1..n - 1).collect());
        let layers = (0..n)
            .map(|i| match (i / 3).checked_sub(1) {
                Some(g) => (g * 3..g * 3 + 3).collect(),
                None => vec![],
            })
            .collect();
        let random = (0..n)
            .map(|i| {
                let mut v: Vec<usize> = [i * 7 % 11, i * 5 % 13]
                    .iter()
                    .filter_map(|&back| i.checked_sub(back + 1))
                    .collect();
                v.dedup();
                v
            })
            .collect();
        vec![chain, fan, layers, random]
    }

    /// Measuring a plan (skeleton + cached stage lengths) gives exactly the figures of
    /// building it, for every budget the planning loop may try; and building from the
    /// cache gives the same bytes as building afresh.
    #[test]
    fn measuring_a_plan_gives_the_figures_of_building_it() {
        for needs in shapes(700) {
            let model = workflow(&needs);
            let edges: Vec<(usize, usize)> = needs
                .iter()
                .enumerate()
                .flat_map(|(i, l)| l.iter().map(move |&b| (b, i)))
                .collect();
            let tree = sp::decompose(needs.len(), &edges).expect("acyclic").tree;
            let body = parent::layout(&model, &tree);
            let mut cache = parent::StageCache::default();
            let weights = split::stage_weights(&model, &mut cache);
            for share in [1.0, 0.6, 0.35, 0.2] {
                let full = split::body_budget(split::Weight::default());
                let budget = Scale {
                    events: share,
                    bytes: share,
                    payload: share,
                }
                .apply(full);
                let plan = split::plan(&model, body.clone(), budget, &weights);
                if share < 0.3 {
                    assert!(
                        plan.parts.len() > 2,
                        "share {share}: {} parts",
                        plan.parts.len()
                    );
                }
                let measured = measure_plan(&model, &plan, &mut cache);
                let built = build_plan(&model, plan.clone(), None).expect("serialises");
                assert_eq!(measured, built.figures(), "share {share}");
                let reused = build_plan(&model, plan, Some(&mut cache)).expect("serialises");
                assert_eq!(reused.parent.definition, built.parent.definition);
                let defs = |m: &Machines| -> Vec<String> {
                    m.parts.iter().map(|p| p.definition.clone()).collect()
                };
                assert_eq!(defs(&reused), defs(&built));
            }
        }
    }
}
