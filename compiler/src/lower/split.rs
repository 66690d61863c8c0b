//! Splitting a stage graph that does not fit one state machine into nested *part* machines
//! (docs/compiler.md "Splitting into part machines").
//!
//! A workflow whose parent would break a quota (definition bytes, worst-case history
//! events, state payload) is cut into parts: a part is a contiguous run of a sequence, or a
//! group of branches of a `Parallel`, moved into its own state machine
//! `approvalc-<workflow>-part-<n>` that the enclosing machine starts with
//! `startExecution.sync:2` (one task instead of the whole run or group). Series and
//! parallel composition are associative, so the order of every pair of stages is kept.
//!
//! [`plan`] works bottom-up on the laid-out body ([`Node`]s): every sequence and `Parallel`
//! is first fitted inside, then, while its own weight is over the [`Budget`], its heaviest
//! runs (sequences) or branches (`Parallel`s) become parts; a sequence of many parts is
//! grouped again, so parts nest as deep as needed. A node's weight is its history events,
//! its definition bytes and the bytes of stage records it adds to the state; the budget
//! is each quota less a safety margin and the machine's fixed states, so every part fits
//! with room to spare. The planner only decides the shape: the figures the quota checks
//! report are measured on the machines built from it.
//!
//! Records: a machine's `$.stages` holds the records of the stages it runs itself, a
//! summary record per part it starts (`Part_<n>`: part, decision, execution ARN), and the
//! records of stages in other machines that its stages read (`when`, templates); those are
//! passed into a part (`ext_refs`) and merged back from a part (`exports`). So no state
//! carries every stage record, which the 256 KiB payload quota forbids for large graphs.

use std::collections::BTreeSet;

use super::names::{ArnBuilder, PARENT_GRACE_SECONDS};
use super::parent::{self, Node, PART_FIXED_EVENTS, PART_TASK_EVENTS, Seeds};
use super::quotas;
use crate::model::{self, Condition, Model, Operand, Reference, Template, TemplatePart};

/// What a machine may use, after the safety margin: 80% of the history quota, 75% of the
/// definition and payload quotas.
pub const HISTORY_BUDGET: u64 = quotas::HISTORY_EVENTS * 4 / 5;
pub const DEFINITION_BUDGET: usize = quotas::DEFINITION_BYTES * 3 / 4;
pub const PAYLOAD_BUDGET: usize = quotas::PAYLOAD_BYTES * 3 / 4;

/// A node's cost in each quota's unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Weight {
    pub events: u64,
    pub bytes: usize,
    pub payload: usize,
}

impl std::ops::Add for Weight {
    type Output = Weight;
    fn add(self, other: Weight) -> Weight {
        Weight {
            events: self.events.saturating_add(other.events),
            bytes: self.bytes.saturating_add(other.bytes),
            payload: self.payload.saturating_add(other.payload),
        }
    }
}

impl std::iter::Sum for Weight {
    fn sum<I: Iterator<Item = Weight>>(iter: I) -> Weight {
        iter.fold(Weight::default(), |a, b| a + b)
    }
}

/// The most a machine's body may weigh.
pub type Budget = Weight;

impl Weight {
    fn fits(self, budget: Budget) -> bool {
        self.events <= budget.events && self.bytes <= budget.bytes && self.payload <= budget.payload
    }

    /// The largest share of the budget this weight takes (orders "heavier").
    fn share(self, budget: Budget) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::INFINITY };
        #[allow(clippy::cast_precision_loss)]
        let shares = [
            ratio(self.events as f64, budget.events as f64),
            ratio(self.bytes as f64, budget.bytes as f64),
            ratio(self.payload as f64, budget.payload as f64),
        ];
        shares.into_iter().fold(0.0, f64::max)
    }
}

/// Weight of the states a part adds to the machine that starts it (task, `_Decide`,
/// `_Merge`, `_Failed`, `_Rejected`; its summary record twice: `Prepare` and `$.stages`).
const PART_NODE: Weight = Weight {
    events: PART_TASK_EVENTS,
    bytes: 2_000,
    payload: 400,
};
/// A `Parallel`'s own states and its result merge, and per branch.
const PARALLEL_BYTES: usize = 200;
const BRANCH_BYTES: usize = 80;
/// A part machine's own states (`Prepare`, `Init`, `Stages`, outcomes).
const PART_FIXED_BYTES: usize = 3_000;

/// The `_Done` state a stage needs when it ends a sequence (its bytes are in the stage's
/// weight already).
fn done_weight(last: &Node) -> Weight {
    match last {
        Node::Stage(_) => Weight {
            events: 2,
            ..Weight::default()
        },
        _ => Weight::default(),
    }
}

/// One part machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    /// 1-based, in the order a reader meets them (pre-order from the parent).
    pub number: usize,
    /// `approvalc-<workflow>-part-<number>`.
    pub name: String,
    pub arn: String,
    /// What the part runs.
    pub body: Vec<Node>,
    /// The part that starts this one (`None`: the parent).
    pub started_by: Option<usize>,
    /// Stages this part runs itself (not in nested parts), in model order.
    pub inline: Vec<usize>,
    /// Number of stages in this part and the parts it starts.
    pub scope_len: usize,
    /// Records of stages outside the part that its stages read; passed in.
    pub ext_refs: Vec<usize>,
    /// Records of stages inside the part that stages outside read; passed out.
    pub exports: Vec<usize>,
    /// What its `Prepare` seeds.
    pub seeds: Seeds,
    /// Longest time the part can run.
    pub worst_seconds: u64,
}

impl PartPlan {
    /// Its state name in the enclosing machine and its record key in `$.stages`: stage
    /// keys are lowercase, so `Part_<n>` cannot clash with one.
    pub fn key(&self) -> String {
        format!("Part_{}", self.number)
    }
}

/// The machines of a workflow: the parent's body and the parts (empty when one machine
/// fits).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub top: Vec<Node>,
    pub parts: Vec<PartPlan>,
    /// What the parent's `Prepare` seeds.
    pub parent_seeds: Seeds,
    /// For every stage, the part that runs it (`None`: the parent).
    pub stage_part: Vec<Option<usize>>,
}

/// The name of part `number` of a workflow (docs/compiler.md "Splitting into part machines").
pub fn part_machine_name(workflow: &model::WorkflowName, number: usize) -> String {
    format!("{}-part-{number}", model::names::state_machine(workflow))
}

/// Cuts `body` (the parent's laid-out stage graph) into parts whose bodies weigh at most
/// `budget` each, by the `weights` of [`stage_weights`].
pub fn plan(model: &Model, body: Vec<Node>, budget: Budget, weights: &[Weight]) -> Plan {
    let mut planner = Planner {
        stage_weights: weights,
        budget,
        parts: Vec::new(),
    };
    let top = planner.fit_sequence(body);
    let created = planner.parts;
    finish(model, top, created)
}

/// Every stage's weight: events and payload by the quota formulas, bytes by measuring the
/// stage's states (kept in `cache` for measuring plans later).
pub(super) fn stage_weights(model: &Model, cache: &mut parent::StageCache) -> Vec<Weight> {
    (0..model.stages.len())
        .map(|i| stage_weight(model, i, cache))
        .collect()
}

fn stage_weight(model: &Model, index: usize, cache: &mut parent::StageCache) -> Weight {
    let Some(stage) = model.stages.get(index) else {
        return Weight::default();
    };
    Weight {
        events: parent::stage_events(stage),
        bytes: parent::stage_bytes(model, index, cache),
        payload: super::stage_payload(model, stage),
    }
}

struct Planner<'a> {
    stage_weights: &'a [Weight],
    budget: Budget,
    /// Part bodies in creation order (inner parts first); renumbered by [`finish`].
    parts: Vec<Vec<Node>>,
}

impl Planner<'_> {
    fn weight(&self, node: &Node) -> Weight {
        match node {
            Node::Stage(i) => self.stage_weights.get(*i).copied().unwrap_or_default(),
            Node::Parallel { branches, .. } => self.parallel_weight(branches),
            Node::Part(_) => PART_NODE,
        }
    }

    fn parallel_weight(&self, branches: &[Vec<Node>]) -> Weight {
        let inner: Weight = branches.iter().map(|b| self.sequence_weight(b)).sum();
        inner
            + Weight {
                // The Parallel's own 4, and an `_Out` Pass per branch after the first.
                events: 4 + 2 * branches.len().saturating_sub(1) as u64,
                bytes: PARALLEL_BYTES + BRANCH_BYTES * branches.len(),
                payload: 0,
            }
    }

    fn sequence_weight(&self, nodes: &[Node]) -> Weight {
        let done = nodes.last().map(done_weight).unwrap_or_default();
        nodes.iter().map(|n| self.weight(n)).sum::<Weight>() + done
    }

    fn new_part(&mut self, body: Vec<Node>) -> Node {
        self.parts.push(body);
        Node::Part(self.parts.len() - 1)
    }

    /// Fits a sequence: its nodes first, then whole runs of it become parts, heaviest
    /// first, until the rest fits; repeated while a sequence of many parts is too heavy.
    fn fit_sequence(&mut self, nodes: Vec<Node>) -> Vec<Node> {
        let mut items: Vec<Node> = nodes
            .into_iter()
            .map(|node| match node {
                Node::Parallel { name, branches } => self.fit_parallel(name, branches),
                other => other,
            })
            .collect();
        // Every round turns runs heavier than a part task into part tasks; the cap only
        // guards against weights that trade one dimension for another forever.
        for _ in 0..64 {
            if self.sequence_weight(&items).fits(self.budget) {
                break;
            }
            match self.cut_runs(items) {
                Ok(cut) => items = cut,
                // Nothing left to cut: the quota checks report what does not fit.
                Err(unchanged) => return unchanged,
            }
        }
        items
    }

    /// Packs `items` into consecutive runs that fit a part each and turns the heaviest
    /// runs into parts until the sequence fits. `Err` when no run is worth a part.
    fn cut_runs(&mut self, items: Vec<Node>) -> Result<Vec<Node>, Vec<Node>> {
        let mut runs: Vec<Vec<Node>> = Vec::new();
        let mut current: Vec<Node> = Vec::new();
        // The run's weight without its `_Done` (added when testing, as the run may end).
        let mut sum = Weight::default();
        for item in items {
            let weight = self.weight(&item);
            let with = sum + weight + done_weight(&item);
            if !current.is_empty() && !with.fits(self.budget) {
                runs.push(std::mem::take(&mut current));
                sum = Weight::default();
            }
            sum = sum + weight;
            current.push(item);
        }
        if !current.is_empty() {
            runs.push(current);
        }
        let weights: Vec<Weight> = runs.iter().map(|r| self.sequence_weight(r)).collect();
        let mut order: Vec<usize> = (0..runs.len())
            .filter(|&r| {
                let single_part = matches!(runs[r].as_slice(), [Node::Part(_)]);
                !single_part && weights[r].share(self.budget) > PART_NODE.share(self.budget)
            })
            .collect();
        // Heaviest first; ties by position so the output is deterministic.
        order.sort_by(|&a, &b| {
            weights[b]
                .share(self.budget)
                .total_cmp(&weights[a].share(self.budget))
                .then(a.cmp(&b))
        });
        if order.is_empty() {
            return Err(runs.into_iter().flatten().collect());
        }
        let mut convert = vec![false; runs.len()];
        let mut total: Weight = weights.iter().copied().sum();
        for r in order {
            convert[r] = true;
            total = Weight {
                events: total.events.saturating_sub(weights[r].events) + PART_NODE.events,
                bytes: total.bytes.saturating_sub(weights[r].bytes) + PART_NODE.bytes,
                payload: total.payload.saturating_sub(weights[r].payload) + PART_NODE.payload,
            };
            if total.fits(self.budget) {
                break;
            }
        }
        let mut out = Vec::new();
        for (run, cut) in runs.into_iter().zip(convert) {
            if cut {
                let part = self.new_part(run);
                out.push(part);
            } else {
                out.extend(run);
            }
        }
        Ok(out)
    }

    /// Fits a `Parallel`: its branches first, then its heaviest branches become parts
    /// until it fits (a branch that is one part already stays).
    fn fit_parallel(&mut self, name: String, branches: Vec<Vec<Node>>) -> Node {
        let mut branches: Vec<Vec<Node>> =
            branches.into_iter().map(|b| self.fit_sequence(b)).collect();
        loop {
            if self.parallel_weight(&branches).fits(self.budget) {
                return Node::Parallel { name, branches };
            }
            let heaviest = branches
                .iter()
                .enumerate()
                .filter(|(_, b)| !matches!(b.as_slice(), [Node::Part(_)]))
                .map(|(i, b)| (i, self.sequence_weight(b).share(self.budget)))
                .filter(|&(_, share)| share > PART_NODE.share(self.budget))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
            let Some((index, _)) = heaviest else {
                return Node::Parallel { name, branches };
            };
            if let Some(branch) = branches.get_mut(index) {
                let body = std::mem::take(branch);
                let part = self.new_part(body);
                branch.push(part);
            }
        }
    }
}

/// Renumbers the parts in pre-order from the parent and works out what each machine
/// seeds, passes in and passes out.
fn finish(model: &Model, top: Vec<Node>, created: Vec<Vec<Node>>) -> Plan {
    let mut old: Vec<Option<Vec<Node>>> = created.into_iter().map(Some).collect();
    let mut bodies: Vec<Vec<Node>> = Vec::new();
    let mut started_by: Vec<Option<usize>> = Vec::new();
    let top = renumber(top, None, &mut old, &mut bodies, &mut started_by);

    let n = model.stages.len();
    let refs: Vec<Vec<usize>> = model.stages.iter().map(stage_refs).collect();
    let mut stage_part = vec![None; n];
    for (p, body) in bodies.iter().enumerate() {
        for i in inline_stages(body) {
            if let Some(slot) = stage_part.get_mut(i) {
                *slot = Some(p);
            }
        }
    }
    // The machines enclosing each part, innermost first, to test "inside part p".
    let inside = |stage: usize, p: usize| -> bool {
        let mut at = stage_part.get(stage).copied().flatten();
        while let Some(q) = at {
            if q == p {
                return true;
            }
            at = started_by.get(q).copied().flatten();
        }
        false
    };
    let mut parts = Vec::with_capacity(bodies.len());
    for (p, body) in bodies.iter().enumerate() {
        let scope: Vec<usize> = (0..n).filter(|&s| inside(s, p)).collect();
        let in_scope: BTreeSet<usize> = scope.iter().copied().collect();
        let ext_refs: BTreeSet<usize> = scope
            .iter()
            .flat_map(|&s| refs[s].iter().copied())
            .filter(|r| !in_scope.contains(r))
            .collect();
        let exports: BTreeSet<usize> = (0..n)
            .filter(|s| !in_scope.contains(s))
            .flat_map(|s| refs[s].iter().copied())
            .filter(|r| in_scope.contains(r))
            .collect();
        let number = p + 1;
        let name = part_machine_name(&model.name, number);
        let arn =
            ArnBuilder::literal(model.region.as_str(), model.home.id.as_str()).state_machine(&name);
        parts.push(PartPlan {
            number,
            name,
            arn,
            body: body.clone(),
            started_by: started_by.get(p).copied().flatten(),
            inline: sorted(inline_stages(body)),
            scope_len: scope.len(),
            ext_refs: ext_refs.into_iter().collect(),
            exports: exports.into_iter().collect(),
            seeds: Seeds::default(),
            worst_seconds: 0,
        });
    }
    // Seeds: own stages and the exports of the parts a machine starts, in model order.
    let seeds_of = |body: &[Node], parts: &[PartPlan]| -> Seeds {
        let direct = direct_parts(body);
        let mut stages: BTreeSet<usize> = inline_stages(body).into_iter().collect();
        for &d in &direct {
            if let Some(part) = parts.get(d) {
                stages.extend(part.exports.iter().copied());
            }
        }
        Seeds {
            stages: stages.into_iter().collect(),
            parts: direct,
        }
    };
    let seeds: Vec<Seeds> = bodies.iter().map(|b| seeds_of(b, &parts)).collect();
    let parent_seeds = seeds_of(&top, &parts);
    for (part, seed) in parts.iter_mut().zip(seeds) {
        part.seeds = seed;
    }
    // Longest run of each part; nested parts come after the part that starts them.
    for p in (0..parts.len()).rev() {
        let seconds = sequence_seconds(model, &parts, &parts[p].body);
        parts[p].worst_seconds = seconds;
    }
    Plan {
        top,
        parts,
        parent_seeds,
        stage_part,
    }
}

fn sorted(mut v: Vec<usize>) -> Vec<usize> {
    v.sort_unstable();
    v
}

/// Moves part bodies from creation order to pre-order, rewriting `Node::Part` indices.
fn renumber(
    nodes: Vec<Node>,
    owner: Option<usize>,
    old: &mut Vec<Option<Vec<Node>>>,
    bodies: &mut Vec<Vec<Node>>,
    started_by: &mut Vec<Option<usize>>,
) -> Vec<Node> {
    nodes
        .into_iter()
        .map(|node| match node {
            Node::Stage(i) => Node::Stage(i),
            Node::Parallel { name, branches } => Node::Parallel {
                name,
                branches: branches
                    .into_iter()
                    .map(|b| renumber(b, owner, old, bodies, started_by))
                    .collect(),
            },
            Node::Part(k) => {
                let index = bodies.len();
                bodies.push(Vec::new());
                started_by.push(owner);
                let body = old.get_mut(k).and_then(Option::take).unwrap_or_default();
                let body = renumber(body, Some(index), old, bodies, started_by);
                if let Some(slot) = bodies.get_mut(index) {
                    *slot = body;
                }
                Node::Part(index)
            }
        })
        .collect()
}

/// Stages a body runs itself (not inside the parts it starts).
fn inline_stages(nodes: &[Node]) -> Vec<usize> {
    let mut out = Vec::new();
    for_each_leaf(nodes, &mut |node| {
        if let Node::Stage(i) = node {
            out.push(*i);
        }
    });
    out
}

/// Parts a body starts itself, in order.
fn direct_parts(nodes: &[Node]) -> Vec<usize> {
    let mut out = Vec::new();
    for_each_leaf(nodes, &mut |node| {
        if let Node::Part(p) = node {
            out.push(*p);
        }
    });
    out
}

/// Visits the stages and parts of a body in order, through its `Parallel` branches (not
/// into the parts).
fn for_each_leaf(nodes: &[Node], visit: &mut impl FnMut(&Node)) {
    for node in nodes {
        match node {
            Node::Parallel { branches, .. } => {
                for b in branches {
                    for_each_leaf(b, visit);
                }
            }
            leaf => visit(leaf),
        }
    }
}

/// Longest time a body can run (a part: its body plus the parent's grace).
pub fn sequence_seconds(model: &Model, parts: &[PartPlan], nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .map(|node| match node {
            Node::Stage(i) => model.stages.get(*i).map_or(0, parent::stage_seconds),
            Node::Parallel { branches, .. } => branches
                .iter()
                .map(|b| sequence_seconds(model, parts, b))
                .max()
                .unwrap_or(0),
            Node::Part(p) => parts.get(*p).map_or(0, |part| {
                sequence_seconds(model, parts, &part.body) + PARENT_GRACE_SECONDS
            }),
        })
        .sum()
}

/// The stages whose decision a stage reads (`when`, templates).
pub fn stage_refs(stage: &model::Stage) -> Vec<usize> {
    let mut out = Vec::new();
    if let Some(when) = &stage.when {
        condition_refs(&when.condition, &mut out);
    }
    let mut templates: Vec<&Template> = Vec::new();
    match &stage.binding {
        model::Binding::Ssm(ssm) => templates.push(&ssm.message),
        model::Binding::CodePipeline(cp) => {
            templates.extend(cp.custom_data.iter());
            templates.extend(cp.external_link.iter());
        }
        model::Binding::Action(action) => {
            templates.extend(
                action
                    .parameters
                    .iter()
                    .flat_map(|(_, values)| values.iter()),
            );
        }
    }
    for template in templates {
        for part in &template.parts {
            if let TemplatePart::Ref(Reference::StageDecision(index)) = part {
                out.push(index.0);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn condition_refs(condition: &Condition, out: &mut Vec<usize>) {
    let mut operand = |o: &Operand| {
        if let Operand::StageDecision(index) = o {
            out.push(index.0);
        }
    };
    match condition {
        Condition::Operand(o) | Condition::In { operand: o, .. } => operand(o),
        Condition::Compare { lhs, rhs, .. } => {
            operand(lhs);
            operand(rhs);
        }
        Condition::Not(inner) => condition_refs(inner, out),
        Condition::And(a, b) | Condition::Or(a, b) => {
            condition_refs(a, out);
            condition_refs(b, out);
        }
    }
}

/// Budget left for a machine's body once its fixed states are counted.
pub fn body_budget(fixed: Weight) -> Budget {
    Budget {
        events: HISTORY_BUDGET.saturating_sub(fixed.events.max(PART_FIXED_EVENTS)),
        bytes: DEFINITION_BUDGET.saturating_sub(fixed.bytes.max(PART_FIXED_BYTES)),
        payload: PAYLOAD_BUDGET.saturating_sub(fixed.payload),
    }
}
