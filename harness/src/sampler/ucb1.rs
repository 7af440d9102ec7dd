//! UCB1 over the pool: every node in the pool is an arm.
//!
//! - Every selection of a node as a parent counts one visit, when it is selected.
//! - The reward of one visit is the child's normalised improvement over that parent:
//!   `0.5 + (child − parent) / (2 · spread)`, clamped to [0, 1], where `spread` is the gap
//!   between the best and the worst score in the pool. A child as good as its parent earns
//!   0.5, one better by the pool's whole spread earns 1, an invalid child earns 0. Rewards so
//!   stay in [0, 1], as UCB1 assumes, whatever the score's scale, and cost O(log n) however
//!   many nodes are stored. The reward is credited to every parent of the child when the
//!   child is observed, so a visit's reward arrives `window` rounds after the visit.
//! - Unvisited arms come first; ties are broken by the round's seeded generator.
//!
//! (The reference implementation never counted visits, so it never left its random start.)

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{ElitePool, Sampler, Selection, fallback};
use crate::node::{Node, NodeId};

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Arm {
    pub visits: u64,
    pub reward: f64,
}

pub struct Ucb1 {
    pool: ElitePool,
    c: f64,
    arms: BTreeMap<NodeId, Arm>,
    /// Selections ever made, also of arms that have since left the pool.
    total_visits: u64,
    /// Scores of the arms, for the improvement a child makes over its parent.
    scores: BTreeMap<NodeId, f64>,
}

impl Ucb1 {
    pub fn new(pool: ElitePool, c: f64) -> Self {
        Self { pool, c, arms: BTreeMap::new(), total_visits: 0, scores: BTreeMap::new() }
    }

    pub fn arm(&self, id: NodeId) -> Option<Arm> {
        self.arms.get(&id).copied()
    }

    pub fn total_visits(&self) -> u64 {
        self.total_visits
    }

    fn reward(&self, child: f64, parent: f64) -> f64 {
        let spread = self.pool.spread();
        if spread > 0.0 {
            (0.5 + (child - parent) / (2.0 * spread)).clamp(0.0, 1.0)
        } else {
            match child.total_cmp(&parent) {
                std::cmp::Ordering::Greater => 1.0,
                std::cmp::Ordering::Equal => 0.5,
                std::cmp::Ordering::Less => 0.0,
            }
        }
    }

    fn join_pool(&mut self, node: &Node) {
        let change = self.pool.observe(node);
        if change.entered {
            self.arms.insert(node.id, Arm::default());
            self.scores.insert(node.id, node.score.expect("only valid nodes enter the pool"));
        }
        if let Some(gone) = change.evicted {
            self.arms.remove(&gone);
            self.scores.remove(&gone);
        }
    }

    fn value(&self, arm: &Arm) -> f64 {
        if arm.visits == 0 {
            return f64::INFINITY;
        }
        let n = arm.visits as f64;
        arm.reward / n + self.c * ((self.total_visits.max(1) as f64).ln() / n).sqrt()
    }
}

impl Sampler for Ucb1 {
    fn name(&self) -> &'static str {
        "ucb1"
    }

    fn observe(&mut self, node: &Node) {
        let child = node.score.filter(|_| node.is_valid());
        for parent in &node.parents {
            let Some(&parent_score) = self.scores.get(parent) else { continue };
            let reward = child.map_or(0.0, |c| self.reward(c, parent_score));
            self.arms.get_mut(parent).expect("arms and scores hold the same nodes").reward += reward;
        }
        self.join_pool(node);
    }

    fn admit(&mut self, node: &Node) {
        self.join_pool(node);
    }

    fn select(&mut self, _round: u64, n: usize, rng: &mut ChaCha8Rng) -> Selection {
        if self.arms.is_empty() {
            return Selection { parents: fallback(&self.pool, n), island: None };
        }
        let mut parents = Vec::with_capacity(n);
        while parents.len() < n.min(self.arms.len()) {
            let mut best = f64::NEG_INFINITY;
            let mut tied: Vec<NodeId> = Vec::new();
            for (&id, arm) in &self.arms {
                if parents.contains(&id) {
                    continue;
                }
                let v = self.value(arm);
                if v > best {
                    best = v;
                    tied.clear();
                }
                if v == best {
                    tied.push(id);
                }
            }
            let pick = tied[rng.random_range(0..tied.len())];
            self.arms.get_mut(&pick).expect("picked from the arms").visits += 1;
            self.total_visits += 1;
            parents.push(pick);
        }
        Selection { parents, island: None }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;
    use crate::sampler::testing::node;

    fn child(id: NodeId, parents: Vec<NodeId>, score: Option<f64>) -> Node {
        Node { parents, ..node(id, score) }
    }

    #[test]
    fn unvisited_arms_come_first() {
        let mut u = Ucb1::new(ElitePool::new(0), 1.414);
        for id in 0..5 {
            u.observe(&node(id, Some(id as f64)));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let first: Vec<NodeId> = (0..5).flat_map(|r| u.select(r, 1, &mut rng).parents).collect();
        let mut sorted = first.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4], "each arm once before any twice: {first:?}");
    }

    #[test]
    fn rewards_are_improvements_normalised_by_the_pool_spread() {
        let mut u = Ucb1::new(ElitePool::new(0), 1.414);
        u.observe(&node(0, Some(1.0)));
        u.observe(&node(1, Some(3.0)));
        u.observe(&child(2, vec![0], Some(2.0)));
        assert_eq!(u.arm(0).unwrap().reward, 0.75, "1.0 -> 2.0 over a spread of 2");
        u.observe(&child(3, vec![1], None));
        assert_eq!(u.arm(1).unwrap().reward, 0.0, "an invalid child earns nothing");
        u.observe(&child(4, vec![1], Some(100.0)));
        assert_eq!(u.arm(1).unwrap().reward, 1.0, "clamped at 1");
    }

    proptest! {
        #[test]
        fn visits_equal_selections(scores in prop::collection::vec(prop::option::of(0.0f64..1.0), 1..30), n in 1usize..4, seed: u64, cap in 0usize..8) {
            let mut u = Ucb1::new(ElitePool::new(cap), 1.414);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut selections = 0u64;
            let mut per_node: BTreeMap<NodeId, u64> = BTreeMap::new();
            for (id, score) in scores.iter().enumerate() {
                let picked = u.select(id as u64, n, &mut rng).parents;
                if !u.arms.is_empty() {
                    selections += picked.len() as u64;
                    for p in &picked { *per_node.entry(*p).or_default() += 1; }
                }
                u.observe(&child(id as NodeId, picked, *score));
            }
            prop_assert_eq!(u.total_visits(), selections);
            for (id, arm) in &u.arms {
                prop_assert_eq!(arm.visits, per_node.get(id).copied().unwrap_or(0));
            }
        }

        #[test]
        fn a_dominant_arm_takes_most_selections_while_every_arm_is_tried(seed: u64, dominant in 0u64..6) {
            let arms = 6;
            let mut u = Ucb1::new(ElitePool::new(arms), 1.414);
            for id in 0..arms as u64 {
                u.observe(&node(id, Some(100.0)));
            }
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut counts = [0u32; 6];
            let rounds = 3000u64;
            for r in 0..rounds {
                let p = u.select(r, 1, &mut rng).parents[0];
                counts[p as usize] += 1;
                // Children never join the full pool (a tie goes to the older node); the
                // dominant arm's children equal their parent (reward 0.5), the others' fall
                // far below it (reward 0).
                let score = if p == dominant { 100.0 } else { 0.0 };
                u.observe(&child(arms as u64 + r, vec![p], Some(score)));
            }
            prop_assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
            prop_assert!(counts[dominant as usize] as f64 > 0.6 * rounds as f64, "{counts:?}");
        }
    }
}
