//! Properties every sampler must have.

use std::collections::HashSet;

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::testing::node;
use super::{ElitePool, Greedy, Grid, Islands, MapElites, Random, Sampler, Ucb1};
use crate::config::{CellSelection, default_features};
use crate::node::NodeId;

/// One of each kind, so every property below holds for all of them.
fn samplers(cap: usize) -> Vec<Box<dyn Sampler>> {
    let grid = Grid::new(&default_features(), "seed\n");
    let inner: Vec<Box<dyn Sampler>> =
        vec![Box::new(Greedy::new(ElitePool::new(cap))), Box::new(Ucb1::new(ElitePool::new(cap), 1.414))];
    vec![
        Box::new(Greedy::new(ElitePool::new(cap))),
        Box::new(Random::new(ElitePool::new(cap))),
        Box::new(Ucb1::new(ElitePool::new(cap), 1.414)),
        Box::new(MapElites::new(grid.clone(), 3, CellSelection::Uniform)),
        Box::new(MapElites::new(grid, 3, CellSelection::ScoreWeighted)),
        Box::new(Islands::new(inner, 3, 0.2, cap)),
    ]
}

fn with_code(id: NodeId, score: Option<f64>) -> crate::node::Node {
    let mut n = node(id, score);
    n.code = format!("seed\nline {}\n", id % 7);
    n
}

fn scores() -> impl Strategy<Value = Vec<Option<f64>>> {
    prop::collection::vec(prop_oneof![3 => (-10.0f64..10.0).prop_map(Some), 1 => Just(None)], 1..60)
}

proptest! {
    #[test]
    fn returns_distinct_observed_nodes_never_more_than_asked(scores in scores(), n in 1usize..8, cap in 0usize..10, seed: u64) {
        for mut s in samplers(cap) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut seen = HashSet::new();
            for (id, score) in scores.iter().enumerate() {
                s.observe(&with_code(id as NodeId, *score));
                seen.insert(id as NodeId);
                let picked = s.select(id as u64 + 1, n, &mut rng).parents;
                prop_assert!(!picked.is_empty() && picked.len() <= n, "{} picked {:?}", s.name(), picked);
                prop_assert_eq!(picked.iter().collect::<HashSet<_>>().len(), picked.len());
                prop_assert!(picked.iter().all(|p| seen.contains(p)));
            }
        }
    }

    #[test]
    fn same_seed_same_sequence(scores in scores(), n in 1usize..5, seed: u64) {
        let run = |mut s: Box<dyn Sampler>| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            scores.iter().enumerate().map(|(id, sc)| { s.observe(&with_code(id as NodeId, *sc)); s.select(id as u64 + 1, n, &mut rng) }).collect::<Vec<_>>()
        };
        for (a, b) in samplers(70).into_iter().zip(samplers(70)) {
            prop_assert_eq!(run(a), run(b));
        }
    }

    #[test]
    fn greedy_picks_the_best_valid_nodes(scores in scores(), n in 1usize..5) {
        let mut s = Greedy::new(ElitePool::new(0));
        for (id, sc) in scores.iter().enumerate() { s.observe(&node(id as NodeId, *sc)); }
        let picked = s.select(1, n, &mut ChaCha8Rng::seed_from_u64(0)).parents;
        let mut valid: Vec<(f64, NodeId)> = scores.iter().enumerate().filter_map(|(i, s)| s.map(|s| (s, i as NodeId))).collect();
        valid.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if valid.is_empty() {
            prop_assert_eq!(picked, vec![0]);
        } else {
            prop_assert_eq!(picked, valid.iter().take(n).map(|v| v.1).collect::<Vec<_>>());
        }
    }

    #[test]
    fn random_only_draws_from_the_capped_pool(scores in scores(), cap in 1usize..5, seed: u64) {
        let mut s = Random::new(ElitePool::new(cap));
        let mut reference = ElitePool::new(cap);
        for (id, sc) in scores.iter().enumerate() {
            s.observe(&node(id as NodeId, *sc));
            reference.observe(&node(id as NodeId, *sc));
        }
        let allowed: HashSet<NodeId> = reference.best_first().collect();
        let picked = s.select(1, 3, &mut ChaCha8Rng::seed_from_u64(seed)).parents;
        if !allowed.is_empty() {
            prop_assert!(picked.iter().all(|p| allowed.contains(p)));
        }
    }
}

#[test]
fn random_eventually_picks_every_pool_member() {
    let mut s = Random::new(ElitePool::new(0));
    for id in 0..10 {
        s.observe(&node(id, Some(id as f64)));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let hit: HashSet<NodeId> = (0..200).flat_map(|r| s.select(r, 1, &mut rng).parents).collect();
    assert_eq!(hit.len(), 10);
}
