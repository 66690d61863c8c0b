//! Series-parallel decomposition: on random DAGs the tree keeps every `needs` ordering,
//! adds only the orderings implied by the reported extra edges, and (for small graphs) adds
//! the fewest orderings of any series-parallel extension (brute force).

// Matrix code reads clearer with indices.
#![allow(clippy::needless_range_loop)]

use approvalc_compiler::lower::sp::{Decomposition, Sp, decompose};
use proptest::prelude::*;

/// Transitive closure as a matrix.
fn closure(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<bool>> {
    let mut less = vec![vec![false; n]; n];
    for &(a, b) in edges {
        less[a][b] = true;
    }
    for k in 0..n {
        for i in 0..n {
            if less[i][k] {
                for j in 0..n {
                    if less[k][j] {
                        less[i][j] = true;
                    }
                }
            }
        }
    }
    less
}

/// The order a tree implements.
fn tree_order(n: usize, tree: &Sp) -> Vec<Vec<bool>> {
    let mut less = vec![vec![false; n]; n];
    fn fill(tree: &Sp, less: &mut Vec<Vec<bool>>) {
        match tree {
            Sp::Leaf(_) => {}
            Sp::Parallel(children) => children.iter().for_each(|c| fill(c, less)),
            Sp::Series(children) => {
                for (i, a) in children.iter().enumerate() {
                    fill(a, less);
                    for b in &children[i + 1..] {
                        for x in a.leaves() {
                            for y in b.leaves() {
                                less[x][y] = true;
                            }
                        }
                    }
                }
            }
        }
    }
    fill(tree, &mut less);
    less
}

/// A DAG: edges only from lower to higher index.
fn dag(max_nodes: usize) -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
    (1..=max_nodes).prop_flat_map(|n| {
        let pairs: Vec<(usize, usize)> = (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
            .collect();
        let len = pairs.len();
        (Just(n), proptest::collection::vec(any::<bool>(), len)).prop_map(move |(n, keep)| {
            let edges = pairs
                .iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(p, _)| *p)
                .collect();
            (n, edges)
        })
    })
}

fn check_preserves(n: usize, edges: &[(usize, usize)], d: &Decomposition) {
    let mut leaves = d.tree.leaves();
    leaves.sort_unstable();
    assert_eq!(
        leaves,
        (0..n).collect::<Vec<_>>(),
        "every stage exactly once"
    );
    let implemented = tree_order(n, &d.tree);
    let original = closure(n, edges);
    let mut with_extra = edges.to_vec();
    with_extra.extend(&d.extra_edges);
    let extended = closure(n, &with_extra);
    for a in 0..n {
        for b in 0..n {
            if original[a][b] {
                assert!(implemented[a][b], "needs {a} -> {b} lost");
            }
            assert_eq!(
                implemented[a][b], extended[a][b],
                "pair {a} -> {b}: tree differs from needs + reported edges"
            );
        }
    }
    for &(a, b) in &d.extra_edges {
        assert!(!original[a][b], "extra edge {a} -> {b} was already implied");
    }
}

/// Whether an order (as a closure matrix) is series-parallel: every subset of size > 1
/// splits into components of the comparability or of the incomparability graph.
fn is_sp(nodes: &[usize], less: &[Vec<bool>]) -> bool {
    if nodes.len() <= 1 {
        return true;
    }
    for related in [true, false] {
        let comps = components(nodes, |a, b| (less[a][b] || less[b][a]) == related);
        if comps.len() > 1 {
            return comps.iter().all(|c| is_sp(c, less));
        }
    }
    false
}

fn components(nodes: &[usize], linked: impl Fn(usize, usize) -> bool) -> Vec<Vec<usize>> {
    let mut seen = vec![false; nodes.len()];
    let mut out = Vec::new();
    for start in 0..nodes.len() {
        if seen[start] {
            continue;
        }
        seen[start] = true;
        let mut comp = vec![nodes[start]];
        let mut stack = vec![start];
        while let Some(i) = stack.pop() {
            for j in 0..nodes.len() {
                if !seen[j] && linked(nodes[i], nodes[j]) {
                    seen[j] = true;
                    comp.push(nodes[j]);
                    stack.push(j);
                }
            }
        }
        out.push(comp);
    }
    out
}

fn count_pairs(less: &[Vec<bool>]) -> usize {
    less.iter().flatten().filter(|x| **x).count()
}

/// The fewest orderings any series-parallel extension adds, by trying every set of extra
/// pairs (small graphs only).
fn brute_force_min(n: usize, edges: &[(usize, usize)]) -> usize {
    let original = closure(n, edges);
    let free: Vec<(usize, usize)> = (0..n)
        .flat_map(|a| (0..n).map(move |b| (a, b)))
        .filter(|&(a, b)| a != b && !original[a][b] && !original[b][a])
        .collect();
    let nodes: Vec<usize> = (0..n).collect();
    let base = count_pairs(&original);
    let mut best = usize::MAX;
    for mask in 0u32..(1 << free.len()) {
        let mut all = edges.to_vec();
        all.extend(
            free.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, p)| *p),
        );
        let order = closure(n, &all);
        if (0..n).any(|i| order[i][i]) {
            continue;
        }
        if is_sp(&nodes, &order) {
            best = best.min(count_pairs(&order) - base);
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn decomposition_preserves_needs_and_adds_only_reported_edges((n, edges) in dag(12)) {
        let d = decompose(n, &edges).expect("acyclic");
        check_preserves(n, &edges, &d);
        prop_assert!(d.exact);
    }

    #[test]
    fn large_graphs_keep_needs((n, edges) in dag(40)) {
        let d = decompose(n, &edges).expect("acyclic");
        check_preserves(n, &edges, &d);
    }

    #[test]
    fn extra_orderings_are_minimal((n, edges) in dag(5)) {
        let d = decompose(n, &edges).expect("acyclic");
        let mut with_extra = edges.clone();
        with_extra.extend(&d.extra_edges);
        let added = count_pairs(&closure(n, &with_extra)) - count_pairs(&closure(n, &edges));
        prop_assert_eq!(added, brute_force_min(n, &edges));
    }
}

#[test]
fn n_shape_gets_one_extra_edge() {
    // a→c, b→c, b→d: the smallest graph that is not series-parallel.
    let d = decompose(4, &[(0, 2), (1, 2), (1, 3)]).unwrap();
    assert_eq!(d.extra_edges.len(), 1, "{d:?}");
    check_preserves(4, &[(0, 2), (1, 2), (1, 3)], &d);
}

#[test]
fn chain_diamond_and_forest_need_nothing() {
    for (n, edges) in [
        (3, vec![(0, 1), (1, 2)]),
        (4, vec![(0, 1), (0, 2), (1, 3), (2, 3)]),
        (3, vec![]),
    ] {
        let d = decompose(n, &edges).unwrap();
        assert!(d.extra_edges.is_empty(), "{edges:?}: {d:?}");
    }
}

#[test]
fn cycles_are_reported() {
    assert!(decompose(2, &[(0, 1), (1, 0)]).is_err());
}

#[test]
fn wide_knot_uses_greedy_split_and_stays_correct() {
    // A 30-node "zig-zag" (crown-like) knot: a_i → b_i and a_{i+1} → b_i.
    let k = 15;
    let mut edges = Vec::new();
    for i in 0..k {
        edges.push((i, k + i));
        if i + 1 < k {
            edges.push((i + 1, k + i));
        }
    }
    let d = decompose(2 * k, &edges).unwrap();
    assert!(!d.exact);
    check_preserves(2 * k, &edges, &d);
}

/// Each node needs up to three of the `window` nodes before it (the benchmark's random DAG
/// shape, seeded).
fn local_random_dag(n: usize, window: u64) -> Vec<(usize, usize)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut edges = Vec::new();
    for b in 1..n {
        for _ in 0..next() % 4 {
            let a = b.saturating_sub(1 + (next() % window) as usize);
            if !edges.contains(&(a, b)) {
                edges.push((a, b));
            }
        }
    }
    edges
}

#[test]
fn knot_larger_than_the_layer_limit_is_cut_at_every_level_and_stays_correct() {
    use approvalc_compiler::lower::sp::LAYER_LIMIT;
    let n = LAYER_LIMIT + 100;
    let edges = local_random_dag(n, 20);
    let d = decompose(n, &edges).unwrap();
    assert!(!d.exact);
    assert!(!d.extra_edges.is_empty());
    check_preserves(n, &edges, &d);
    // Cut into levels, no chain of the tree is longer than the longest `needs` chain.
    let longest = |less: &[Vec<bool>]| {
        let mut depth = vec![1usize; n];
        for b in 0..n {
            for a in 0..b {
                if less[a][b] {
                    depth[b] = depth[b].max(depth[a] + 1);
                }
            }
        }
        depth.into_iter().max().unwrap_or(0)
    };
    assert_eq!(
        longest(&tree_order(n, &d.tree)),
        longest(&closure(n, &edges))
    );
}
