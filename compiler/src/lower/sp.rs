//! Series-parallel decomposition of the stage DAG.
//!
//! A Step Functions definition can express only *series-parallel* orders: a sequence of
//! states, and `Parallel` states whose branches are again sequences. This module turns the
//! `needs` DAG into such a tree ([`Sp`]). When the DAG is not series-parallel (it contains
//! an "N": `a→c`, `b→c`, `b→d` but not `a→d`), it adds the fewest ordering edges it can and
//! reports them ([`Decomposition::extra_edges`]).
//!
//! Algorithm (docs/compiler.md has the proof sketch):
//! 1. Work on convex sets of nodes; the whole DAG is one. A convex set's order is the
//!    transitive closure of its induced edges, so no global closure has to be rebuilt.
//! 2. If the set falls apart into weakly connected components, it is their parallel
//!    composition.
//! 3. Otherwise, walking it in topological order, every position where all nodes before
//!    precede all nodes after is a series cut; the pieces between cuts are its series
//!    composition.
//! 4. A connected set without a series cut is not series-parallel. Every series-parallel
//!    extension of it is a series composition at the top (adding edges cannot disconnect
//!    it), so we choose a down-set `A` and order all of `A` before the rest `B`, adding the
//!    edges from the maximal elements of `A` to the minimal elements of `B` that are not
//!    already implied. Each such edge is necessary for that split, and together they add
//!    exactly the orderings "all of `A` before all of `B`".
//! 5. Cost = the number of stage pairs that become ordered but were not (extra waiting).
//!    Every series-parallel extension of a knot is `A;B` with `A` a down-set, its cost is
//!    the new pairs across plus the cost inside `A` and `B`, so a search over down-sets
//!    (dynamic programming over subsets, memoised) finds the minimum. It runs for knots of
//!    at most [`EXACT_LIMIT`] nodes; knots of up to [`LAYER_LIMIT`] use a greedy split at
//!    the cheapest longest-path level, larger ones are cut at every level at once
//!    ([`level_pieces`]: linear, and on large random DAGs fewer added edges than
//!    repeated greedy splits, though more newly ordered pairs); either way the result says
//!    it is not proven minimal ([`Decomposition::exact`]).
//!
//! Complexity: `O(n·e/64)` for the closure, `O(n²/64)` per nesting level for series cuts,
//! `O(k·e/64)` per greedy split of a knot of `k ≤ LAYER_LIMIT` nodes (every level's cost
//! from prefix sums of per-node ancestor and descendant counts), `O(k + e)` plus the edges
//! added for a larger knot.

use std::collections::HashMap;

/// A series-parallel tree over node indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sp {
    Leaf(usize),
    /// Children run one after the other; at least two, none of them a `Series`.
    Series(Vec<Sp>),
    /// Children run at the same time; at least two, none of them a `Parallel`.
    Parallel(Vec<Sp>),
}

/// The result of [`decompose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decomposition {
    pub tree: Sp,
    /// Ordering edges `(before, after)` added to make the DAG series-parallel, sorted.
    pub extra_edges: Vec<(usize, usize)>,
    /// `false` when a knot larger than [`EXACT_LIMIT`] was split greedily, so
    /// `extra_edges` may not be the fewest possible.
    pub exact: bool,
}

/// The graph has a cycle through this node (the checks report cycles before lowering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle(pub usize);

/// Knots (connected sets without a series cut) up to this size are split optimally.
pub const EXACT_LIMIT: usize = 12;

/// Knots larger than this are split into all their levels at once ([`level_pieces`]);
/// smaller ones are split greedily at the one cheapest level and the pieces decomposed
/// again, which fits better (fewer added edges on the benchmark's 100-stage random DAG) but
/// peels small pieces off a large knot over and over (superlinear: 16 s at 10,000 stages).
pub const LAYER_LIMIT: usize = 256;

/// Decomposes the DAG with nodes `0..n` and edges `(before, after)`.
pub fn decompose(n: usize, edges: &[(usize, usize)]) -> Result<Decomposition, Cycle> {
    if n == 0 {
        return Ok(Decomposition {
            tree: Sp::Series(Vec::new()),
            extra_edges: Vec::new(),
            exact: true,
        });
    }
    let graph = Graph::new(n, edges)?;
    let mut run = Decomposer {
        graph: &graph,
        extra: Vec::new(),
        exact: true,
        stamp: vec![0; n],
        generation: 0,
    };
    let all = graph.topo.clone();
    let tree = run.decompose(all);
    let mut extra_edges = run.extra;
    extra_edges.sort_unstable();
    extra_edges.dedup();
    Ok(Decomposition {
        tree,
        extra_edges,
        exact: run.exact,
    })
}

impl Sp {
    /// Every node, left to right.
    pub fn leaves(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves(&self, out: &mut Vec<usize>) {
        match self {
            Sp::Leaf(node) => out.push(*node),
            Sp::Series(children) | Sp::Parallel(children) => {
                children.iter().for_each(|c| c.collect_leaves(out));
            }
        }
    }

    /// Whether the tree orders `a` before `b`.
    pub fn orders(&self, a: usize, b: usize) -> bool {
        match self {
            Sp::Leaf(_) => false,
            Sp::Parallel(children) => children.iter().any(|c| c.orders(a, b)),
            Sp::Series(children) => {
                let pos = |x| children.iter().position(|c| c.leaves().contains(&x));
                match (pos(a), pos(b)) {
                    (Some(i), Some(j)) if i < j => true,
                    (Some(i), Some(j)) if i == j => children.get(i).is_some_and(|c| c.orders(a, b)),
                    _ => false,
                }
            }
        }
    }
}

/// A dense bitset over node indices.
#[derive(Debug, Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Self {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn set(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
    fn clear(&mut self, i: usize) {
        if let Some(w) = self.0.get_mut(i / 64) {
            *w &= !(1 << (i % 64));
        }
    }
    fn has(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn or_with(&mut self, other: &Bits) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a |= b);
    }
    fn and_with(&mut self, other: &Bits) {
        self.0.iter_mut().zip(&other.0).for_each(|(a, b)| *a &= b);
    }
    fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    /// `self ⊆ other`.
    fn subset_of(&self, other: &Bits) -> bool {
        self.0.iter().zip(&other.0).all(|(a, b)| a & !b == 0)
    }
}

struct Graph {
    succ: Vec<Vec<usize>>,
    pred: Vec<Vec<usize>>,
    /// Deterministic topological order (Kahn, smallest index first).
    topo: Vec<usize>,
    /// Strict descendants of each node.
    desc: Vec<Bits>,
}

impl Graph {
    fn new(n: usize, edges: &[(usize, usize)]) -> Result<Self, Cycle> {
        let mut succ = vec![Vec::new(); n];
        let mut pred = vec![Vec::new(); n];
        for &(a, b) in edges {
            if a >= n || b >= n {
                continue;
            }
            if a == b {
                return Err(Cycle(a));
            }
            succ[a].push(b);
            pred[b].push(a);
        }
        succ.iter_mut().chain(pred.iter_mut()).for_each(|v| {
            v.sort_unstable();
            v.dedup();
        });
        let mut indegree: Vec<usize> = pred.iter().map(Vec::len).collect();
        let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
            .filter(|&v| indegree[v] == 0)
            .map(std::cmp::Reverse)
            .collect();
        let mut topo = Vec::with_capacity(n);
        while let Some(std::cmp::Reverse(v)) = ready.pop() {
            topo.push(v);
            for &w in &succ[v] {
                indegree[w] -= 1;
                if indegree[w] == 0 {
                    ready.push(std::cmp::Reverse(w));
                }
            }
        }
        if topo.len() < n {
            let stuck = (0..n).find(|&v| indegree[v] > 0).unwrap_or(0);
            return Err(Cycle(stuck));
        }
        let mut desc: Vec<Bits> = (0..n).map(|_| Bits::new(n)).collect();
        for &v in topo.iter().rev() {
            let mut mine = Bits::new(n);
            for &w in &succ[v] {
                mine.set(w);
                mine.or_with(&desc[w]);
            }
            desc[v] = mine;
        }
        Ok(Graph {
            succ,
            pred,
            topo,
            desc,
        })
    }

    fn less(&self, a: usize, b: usize) -> bool {
        self.desc[a].has(b)
    }
}

struct Decomposer<'g> {
    graph: &'g Graph,
    extra: Vec<(usize, usize)>,
    exact: bool,
    /// Membership marks: `stamp[v] == generation` means `v` is in the current set.
    stamp: Vec<u64>,
    generation: u64,
}

impl Decomposer<'_> {
    /// `set` is convex and in topological order.
    fn decompose(&mut self, set: Vec<usize>) -> Sp {
        if let [only] = set[..] {
            return Sp::Leaf(only);
        }
        let components = self.components(&set);
        if components.len() > 1 {
            let children = components.into_iter().map(|c| self.decompose(c)).collect();
            return flatten(Sp::Parallel(children));
        }
        let pieces = self.series_pieces(&set);
        if pieces.len() > 1 {
            let children = pieces.into_iter().map(|p| self.decompose(p)).collect();
            return flatten(Sp::Series(children));
        }
        let pieces = self.split_knot(&set);
        let children = pieces.into_iter().map(|p| self.decompose(p)).collect();
        flatten(Sp::Series(children))
    }

    fn mark(&mut self, set: &[usize]) {
        self.generation += 1;
        for &v in set {
            self.stamp[v] = self.generation;
        }
    }

    fn member(&self, v: usize) -> bool {
        self.stamp.get(v) == Some(&self.generation)
    }

    /// Weakly connected components of the induced subgraph, each in topological order,
    /// ordered by their first node.
    fn components(&mut self, set: &[usize]) -> Vec<Vec<usize>> {
        self.mark(set);
        let mut parent: HashMap<usize, usize> = set.iter().map(|&v| (v, v)).collect();
        fn find(parent: &mut HashMap<usize, usize>, v: usize) -> usize {
            let mut root = v;
            while let Some(&p) = parent.get(&root) {
                if p == root {
                    break;
                }
                root = p;
            }
            let mut cur = v;
            while cur != root {
                let next = parent.get(&cur).copied().unwrap_or(root);
                parent.insert(cur, root);
                cur = next;
            }
            root
        }
        for &v in set {
            for &w in &self.graph.succ[v] {
                if self.member(w) {
                    let (a, b) = (find(&mut parent, v), find(&mut parent, w));
                    if a != b {
                        parent.insert(a.max(b), a.min(b));
                    }
                }
            }
        }
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut index: HashMap<usize, usize> = HashMap::new();
        for &v in set {
            let root = find(&mut parent, v);
            let slot = *index.entry(root).or_insert_with(|| {
                groups.push((root, Vec::new()));
                groups.len() - 1
            });
            groups[slot].1.push(v);
        }
        groups.into_iter().map(|(_, g)| g).collect()
    }

    /// Splits a connected set at every series cut (see the module doc).
    fn series_pieces(&mut self, set: &[usize]) -> Vec<Vec<usize>> {
        let n = self.graph.succ.len();
        let mut suffix = Bits::new(n);
        set.iter().for_each(|&v| suffix.set(v));
        let mut common: Option<Bits> = None;
        let mut pieces = Vec::new();
        let mut current = Vec::new();
        for (i, &v) in set.iter().enumerate() {
            current.push(v);
            suffix.clear(v);
            match common.as_mut() {
                Some(bits) => bits.and_with(&self.graph.desc[v]),
                None => common = Some(self.graph.desc[v].clone()),
            }
            let is_last = i + 1 == set.len();
            if !is_last && common.as_ref().is_some_and(|c| suffix.subset_of(c)) {
                pieces.push(std::mem::take(&mut current));
                common = None;
            }
        }
        pieces.push(current);
        pieces
    }

    /// Chooses how to order a knot (a connected set without a series cut) as a sequence of
    /// pieces (each a down-set of the rest), records the edges that adds, and returns the
    /// pieces in order.
    fn split_knot(&mut self, set: &[usize]) -> Vec<Vec<usize>> {
        let levels = (set.len() > LAYER_LIMIT).then(|| level_pieces(self.graph, set));
        // A connected set of two or more nodes has two or more levels; the test keeps the
        // recursion finite whatever happens.
        if let Some(pieces) = levels.filter(|p| p.len() > 1) {
            self.exact = false;
            for pair in pieces.windows(2) {
                if let [before, after] = pair {
                    self.extra.extend(missing_edges(self.graph, before, after));
                }
            }
            return pieces;
        }
        let in_before: Vec<bool> = if set.len() <= EXACT_LIMIT {
            let mask = exact_split(self.graph, set);
            (0..set.len()).map(|i| mask & (1u128 << i) != 0).collect()
        } else {
            self.exact = false;
            greedy_split(self.graph, set)
        };
        let mut before = Vec::new();
        let mut after = Vec::new();
        for (&v, &first) in set.iter().zip(&in_before) {
            if first { before.push(v) } else { after.push(v) }
        }
        self.extra
            .extend(missing_edges(self.graph, &before, &after));
        vec![before, after]
    }
}

fn flatten(tree: Sp) -> Sp {
    match tree {
        Sp::Series(children) => {
            let mut out = Vec::new();
            for child in children {
                match child {
                    Sp::Series(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.remove(0)
            } else {
                Sp::Series(out)
            }
        }
        Sp::Parallel(children) => {
            let mut out = Vec::new();
            for child in children {
                match child {
                    Sp::Parallel(inner) => out.extend(inner),
                    other => out.push(other),
                }
            }
            if out.len() == 1 {
                out.remove(0)
            } else {
                Sp::Parallel(out)
            }
        }
        leaf => leaf,
    }
}

/// Edges from the maximal nodes of `before` to the minimal nodes of `after` that the
/// order does not already imply: exactly the edges needed to put all of `before` first.
fn missing_edges(graph: &Graph, before: &[usize], after: &[usize]) -> Vec<(usize, usize)> {
    let maximal: Vec<usize> = before
        .iter()
        .copied()
        .filter(|&a| !before.iter().any(|&x| x != a && graph.less(a, x)))
        .collect();
    let minimal: Vec<usize> = after
        .iter()
        .copied()
        .filter(|&b| !after.iter().any(|&x| x != b && graph.less(x, b)))
        .collect();
    let mut out = Vec::new();
    for &a in &maximal {
        for &b in &minimal {
            if !graph.less(a, b) {
                out.push((a, b));
            }
        }
    }
    out
}

/// Local relation of a small set: `below[i]` has bit `j` when `set[j] < set[i]`.
struct Local {
    less_than: Vec<u128>,
    above: Vec<u128>,
    len: usize,
}

impl Local {
    fn new(graph: &Graph, set: &[usize]) -> Self {
        let len = set.len();
        let mut less_than = vec![0u128; len];
        let mut above = vec![0u128; len];
        for (i, &a) in set.iter().enumerate() {
            for (j, &b) in set.iter().enumerate() {
                if graph.less(a, b) {
                    above[i] |= 1 << j;
                    less_than[j] |= 1 << i;
                }
            }
        }
        Local {
            less_than,
            above,
            len,
        }
    }

    fn members(&self, mask: u128) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(move |i| mask & (1 << i) != 0)
    }

    fn is_down_set(&self, part: u128, within: u128) -> bool {
        self.members(part)
            .all(|i| self.less_than[i] & within & !part == 0)
    }

    /// Cost of ordering `a` before `b`: the pairs across that are not ordered yet.
    fn split_cost(&self, a: u128, b: u128) -> usize {
        self.members(a)
            .map(|i| (b & !self.above[i]).count_ones() as usize)
            .sum()
    }

    /// Weak components of `mask` under comparability.
    fn components(&self, mask: u128) -> Vec<u128> {
        let mut rest = mask;
        let mut out = Vec::new();
        while rest != 0 {
            let first = rest.trailing_zeros() as usize;
            let mut comp: u128 = 1 << first;
            loop {
                let grown = self.members(comp).fold(comp, |acc, i| {
                    acc | ((self.above[i] | self.less_than[i]) & mask)
                });
                if grown == comp {
                    break;
                }
                comp = grown;
            }
            out.push(comp);
            rest &= !comp;
        }
        out
    }

    /// Minimal number of added edges to make `mask` series-parallel, with the best knot
    /// split when `mask` itself is a knot.
    fn cost(&self, mask: u128, memo: &mut HashMap<u128, (usize, u128)>) -> (usize, u128) {
        if mask.count_ones() <= 1 {
            return (0, 0);
        }
        if let Some(&hit) = memo.get(&mask) {
            return hit;
        }
        let components = self.components(mask);
        let result = if components.len() > 1 {
            (components.iter().map(|&c| self.cost(c, memo).0).sum(), 0)
        } else if let Some(pieces) = self.series_cut(mask) {
            (pieces.iter().map(|&p| self.cost(p, memo).0).sum(), 0)
        } else {
            let mut best = (usize::MAX, 0);
            // Enumerate proper non-empty subsets of `mask` that are down-sets.
            let mut part = (mask.wrapping_sub(1)) & mask;
            while part != 0 {
                if self.is_down_set(part, mask) {
                    let rest = mask & !part;
                    let total = self.split_cost(part, rest)
                        + self.cost(part, memo).0
                        + self.cost(rest, memo).0;
                    if total < best.0 || (total == best.0 && part < best.1) {
                        best = (total, part);
                    }
                }
                part = (part.wrapping_sub(1)) & mask;
            }
            best
        };
        memo.insert(mask, result);
        result
    }

    /// The first series cut of a connected `mask`: a non-trivial down-set every member of
    /// which is below every other member.
    fn series_cut(&self, mask: u128) -> Option<[u128; 2]> {
        // Nodes below everything else in `mask` form the candidates for the first piece;
        // grow the piece from the minimal elements.
        let members: Vec<usize> = self.members(mask).collect();
        let mut order = members.clone();
        order.sort_by_key(|&i| (self.less_than[i] & mask).count_ones());
        let mut prefix: u128 = 0;
        for (k, &i) in order.iter().enumerate() {
            prefix |= 1 << i;
            if k + 1 == order.len() {
                break;
            }
            let rest = mask & !prefix;
            if self.is_down_set(prefix, mask)
                && self.members(prefix).all(|a| self.above[a] & rest == rest)
            {
                return Some([prefix, rest]);
            }
        }
        None
    }
}

fn exact_split(graph: &Graph, set: &[usize]) -> u128 {
    let local = Local::new(graph, set);
    let full: u128 = if set.len() >= 128 {
        u128::MAX
    } else {
        (1u128 << set.len()) - 1
    };
    let mut memo = HashMap::new();
    local.cost(full, &mut memo).1
}

/// Splits a large knot at the longest-path level whose split adds the fewest edges (the
/// first such level); returns for each node of `set` whether it goes first.
///
/// Every comparable pair `a < b` of a convex set has `level(a) < level(b)`, so the pairs a
/// cut `level ≤ c | level > c` newly orders are all crossing pairs minus the comparable
/// crossing ones, and the comparable pairs with both ends at or below `c` are
/// `Σ_{level(b) ≤ c} ancestors(b)`; prefix sums over levels give every cut's cost in one
/// pass instead of counting the pairs per level.
fn greedy_split(graph: &Graph, set: &[usize]) -> Vec<bool> {
    let levels = Levels::new(graph, set);
    let max_level = levels.of.iter().copied().max().unwrap_or(0);
    let mut nodes = vec![0usize; max_level + 1];
    let mut desc_sum = vec![0usize; max_level + 1];
    let mut anc_sum = vec![0usize; max_level + 1];
    for (k, &l) in levels.of.iter().enumerate() {
        if let (Some(n), Some(d), Some(a)) =
            (nodes.get_mut(l), desc_sum.get_mut(l), anc_sum.get_mut(l))
        {
            *n += 1;
            *d += levels.descendants.get(k).copied().unwrap_or(0);
            *a += levels.ancestors.get(k).copied().unwrap_or(0);
        }
    }
    let total = set.len();
    let (mut below, mut desc_below, mut anc_below) = (0usize, 0usize, 0usize);
    let mut best: Option<(usize, usize)> = None;
    for cut in 0..max_level {
        below += nodes.get(cut).copied().unwrap_or(0);
        desc_below += desc_sum.get(cut).copied().unwrap_or(0);
        anc_below += anc_sum.get(cut).copied().unwrap_or(0);
        // Comparable pairs across the cut: descendants of the lower part, minus the
        // comparable pairs inside it.
        let ordered = desc_below.saturating_sub(anc_below);
        let cost = (below * (total - below)).saturating_sub(ordered);
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, cut));
        }
    }
    let cut = best.map_or(0, |(_, c)| c);
    levels.of.iter().map(|&l| l <= cut).collect()
}

/// Splits a large knot into all its levels at once: each node's longest-path level from
/// the knot's sources, then, walking back, each node with successors moved to just below its
/// earliest successor (so a late root does not wait with the first level for everything
/// after it). Every comparable pair `a < b` gets `level(a) < level(b)`, so the levels are
/// antichains and ordering them one after the other is a series-parallel extension with
/// as many levels as the longest path: no chain gets longer. Linear in the knot's nodes and
/// edges (the edges it adds are counted by [`missing_edges`] between consecutive levels).
fn level_pieces(graph: &Graph, set: &[usize]) -> Vec<Vec<usize>> {
    let (local, mut of) = longest_path_levels(graph, set);
    for (k, &v) in set.iter().enumerate().rev() {
        // A successor is at level ≥ 1 (it has this node as a predecessor).
        let latest = graph.succ[v]
            .iter()
            .filter_map(|w| local.get(w).and_then(|&w| of.get(w)))
            .map(|l| l.saturating_sub(1))
            .min();
        if let (Some(level), Some(slot)) = (latest, of.get_mut(k)) {
            *slot = level;
        }
    }
    let depth = of.iter().copied().max().unwrap_or(0);
    let mut pieces: Vec<Vec<usize>> = vec![Vec::new(); depth + 1];
    for (&v, &level) in set.iter().zip(&of) {
        if let Some(piece) = pieces.get_mut(level) {
            piece.push(v);
        }
    }
    // Moving nodes later can empty a level; an empty piece would break the chain of edges.
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// Longest-path level of each member of a convex set given in topological order (0 for a
/// member with no predecessor in the set), with the map from node to local index.
fn longest_path_levels(graph: &Graph, set: &[usize]) -> (HashMap<usize, usize>, Vec<usize>) {
    let local: HashMap<usize, usize> = set.iter().enumerate().map(|(k, &v)| (v, k)).collect();
    let mut of = vec![0usize; set.len()];
    for (k, &v) in set.iter().enumerate() {
        let level = graph.pred[v]
            .iter()
            .filter_map(|p| local.get(p).and_then(|&p| of.get(p)))
            .map(|l| l + 1)
            .max()
            .unwrap_or(0);
        if let Some(slot) = of.get_mut(k) {
            *slot = level;
        }
    }
    (local, of)
}

/// Longest-path levels of a convex set (in topological order) and, per node, how many
/// members of the set are above and below it, from bitsets over local indices.
struct Levels {
    of: Vec<usize>,
    ancestors: Vec<usize>,
    descendants: Vec<usize>,
}

impl Levels {
    fn new(graph: &Graph, set: &[usize]) -> Self {
        let (local, of) = longest_path_levels(graph, set);
        let len = set.len();
        let ancestors = closure_counts(
            len,
            set.iter().map(|v| {
                graph.pred[*v]
                    .iter()
                    .filter_map(|p| local.get(p).copied())
                    .collect()
            }),
        );
        // The same walk on the reversed order counts descendants.
        let mut descendants = closure_counts(
            len,
            set.iter().rev().map(|v| {
                graph.succ[*v]
                    .iter()
                    .filter_map(|w| local.get(w).map(|&w| len - 1 - w))
                    .collect()
            }),
        );
        descendants.reverse();
        Levels {
            of,
            ancestors,
            descendants,
        }
    }
}

/// For nodes `0..len` given in topological order with their direct predecessors (local
/// indices, all earlier), how many nodes reach each one.
fn closure_counts(len: usize, preds: impl Iterator<Item = Vec<usize>>) -> Vec<usize> {
    let mut reach: Vec<Bits> = Vec::with_capacity(len);
    for direct in preds {
        let mut mine = Bits::new(len);
        for p in direct {
            mine.set(p);
            if let Some(theirs) = reach.get(p) {
                mine.or_with(theirs);
            }
        }
        reach.push(mine);
    }
    reach.iter().map(Bits::count).collect()
}

#[cfg(test)]
mod tests {
    use super::{Graph, greedy_split};

    /// The cut the greedy split chose before prefix sums: levels counted per cut, pairs
    /// counted one by one, the first cheapest level.
    fn direct_cut(graph: &Graph, set: &[usize]) -> Vec<bool> {
        let mut level = vec![0usize; graph.succ.len()];
        for &v in set {
            level[v] = graph.pred[v]
                .iter()
                .filter(|p| set.contains(p))
                .map(|&p| level[p] + 1)
                .max()
                .unwrap_or(0);
        }
        let max_level = set.iter().map(|&v| level[v]).max().unwrap_or(0);
        let mut best: Option<(usize, usize)> = None;
        for cut in 0..max_level {
            let cost: usize = set
                .iter()
                .filter(|&&a| level[a] <= cut)
                .map(|&a| {
                    set.iter()
                        .filter(|&&b| level[b] > cut && !graph.less(a, b))
                        .count()
                })
                .sum();
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, cut));
            }
        }
        let cut = best.map_or(0, |(_, c)| c);
        set.iter().map(|&v| level[v] <= cut).collect()
    }

    #[test]
    fn prefix_sums_choose_the_same_cut_as_counting_pairs() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..40usize {
            let n = 20 + round * 5;
            let mut edges = Vec::new();
            for b in 1..n {
                for _ in 0..(next() % 4) {
                    let back = 1 + (next() % 12) as usize;
                    edges.push((b.saturating_sub(back), b));
                }
            }
            let graph = Graph::new(n, &edges).expect("acyclic");
            // The whole graph and a convex suffix of it (an up-set is convex).
            let whole = graph.topo.clone();
            let tail = whole[n / 3..].to_vec();
            for set in [whole, tail] {
                assert_eq!(
                    greedy_split(&graph, &set),
                    direct_cut(&graph, &set),
                    "round {round}"
                );
            }
        }
    }
}
