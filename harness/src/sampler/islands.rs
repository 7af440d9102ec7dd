//! Islands: separate populations, each sampled by its own inner sampler.
//!
//! - Round r works on island (r − 1) mod N; its child lives there (the node's `island`).
//! - The seed, and any node without an island, belongs to every island.
//! - Every `interval` rounds, before sampling, each island copies the best `rate` share of its
//!   elite pool (its best `pool_size` valid members; at least one node) to the next island in
//!   the ring. Bounding migration by the pool keeps its cost independent of how many nodes
//!   the campaign has stored. Copies, not moves: a node
//!   never leaves its island. A node whose code the destination already holds is not copied,
//!   so an island never holds the same program twice through migration.
//! - All migrants are chosen from the populations before any of them move, so the result does
//!   not depend on the order the islands are visited.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{Hash, Hasher};

use rand_chacha::ChaCha8Rng;

use super::{ElitePool, Sampler, Selection};
use crate::node::{Node, NodeId};

struct Island {
    sampler: Box<dyn Sampler>,
    members: BTreeSet<NodeId>,
    /// The island's best valid members, where migrants come from.
    elites: ElitePool,
    codes: HashSet<u64>,
}

/// What islands keep of a node: enough for inner samplers and migration, not the program text.
#[derive(Clone)]
struct Member {
    node: Node,
    code_hash: u64,
}

pub struct Islands {
    islands: Vec<Island>,
    interval: u64,
    rate: f64,
    known: BTreeMap<NodeId, Member>,
    migrations: u64,
}

impl Islands {
    /// `pool_size` bounds each island's elite pool (0: unbounded).
    pub fn new(inner: Vec<Box<dyn Sampler>>, interval: u64, rate: f64, pool_size: usize) -> Self {
        assert!(!inner.is_empty(), "the config requires at least one island");
        let islands = inner
            .into_iter()
            .map(|sampler| Island {
                sampler,
                members: BTreeSet::new(),
                elites: ElitePool::new(pool_size),
                codes: HashSet::new(),
            })
            .collect();
        Self { islands, interval, rate, known: BTreeMap::new(), migrations: 0 }
    }

    /// Node ids on island `i`.
    pub fn members(&self, i: usize) -> &BTreeSet<NodeId> {
        &self.islands[i].members
    }

    pub fn migrations(&self) -> u64 {
        self.migrations
    }

    fn join(&mut self, i: usize, id: NodeId, fresh: bool) {
        let member = &self.known[&id];
        let island = &mut self.islands[i];
        if !island.members.insert(id) {
            return;
        }
        island.codes.insert(member.code_hash);
        island.elites.observe(&member.node);
        if fresh {
            island.sampler.observe(&member.node);
        } else {
            island.sampler.admit(&member.node);
        }
    }

    fn migrate(&mut self) {
        let count = self.islands.len();
        let mut moves = Vec::new();
        for (i, island) in self.islands.iter().enumerate() {
            let take = ((self.rate * island.elites.len() as f64).ceil() as usize).max(1);
            let to = (i + 1) % count;
            moves.extend(island.elites.best_first().take(take).map(|id| (to, id)));
        }
        for (to, id) in moves {
            if !self.islands[to].codes.contains(&self.known[&id].code_hash) {
                self.join(to, id, false);
            }
        }
        self.migrations += 1;
    }
}

/// Programs that differ only in trailing whitespace or blank lines are the same program.
fn code_hash(code: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for line in code.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
        line.hash(&mut h);
    }
    h.finish()
}

impl Sampler for Islands {
    fn name(&self) -> &'static str {
        "islands"
    }

    fn observe(&mut self, node: &Node) {
        let lite = Node { code: String::new(), stdout_tail: String::new(), stderr_tail: String::new(), ..node.clone() };
        self.known.insert(node.id, Member { node: lite, code_hash: code_hash(&node.code) });
        match node.island.map(|i| i as usize).filter(|&i| i < self.islands.len()) {
            Some(i) => self.join(i, node.id, true),
            None => (0..self.islands.len()).for_each(|i| self.join(i, node.id, true)),
        }
    }

    fn select(&mut self, round: u64, n: usize, rng: &mut ChaCha8Rng) -> Selection {
        if round > 0 && round.is_multiple_of(self.interval) && !self.known.is_empty() {
            self.migrate();
        }
        let island = (round.saturating_sub(1) % self.islands.len() as u64) as usize;
        let parents = self.islands[island].sampler.select(round, n, rng).parents;
        Selection { parents, island: Some(island as u32) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;
    use crate::sampler::testing::node;
    use crate::sampler::{ElitePool, Greedy, Ucb1};

    fn islands(count: usize, interval: u64, rate: f64) -> Islands {
        let inner: Vec<Box<dyn Sampler>> = (0..count)
            .map(|i| -> Box<dyn Sampler> {
                if i % 2 == 0 {
                    Box::new(Greedy::new(ElitePool::new(0)))
                } else {
                    Box::new(Ucb1::new(ElitePool::new(0), 1.4))
                }
            })
            .collect();
        Islands::new(inner, interval, rate, 0)
    }

    proptest! {
        #[test]
        fn migration_never_loses_or_duplicates(
            scores in prop::collection::vec(prop::option::of(0.0f64..10.0), 2..80),
            count in 1usize..5,
            interval in 1u64..6,
            codes in 1u64..6,
            seed: u64,
        ) {
            let mut s = islands(count, interval, 0.3);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut home = BTreeMap::new();
            let mut seed_node = node(0, Some(1.0));
            seed_node.code = "seed".into();
            s.observe(&seed_node);
            for (i, score) in scores.iter().enumerate() {
                let round = i as u64 + 1;
                let sel = s.select(round, 2, &mut rng);
                let island = sel.island.unwrap();
                prop_assert_eq!(island as u64, (round - 1) % count as u64);
                for p in &sel.parents {
                    prop_assert!(s.members(island as usize).contains(p), "parent {} is not on island {}", p, island);
                }
                let mut child = node(round, *score);
                child.parents = sel.parents;
                child.island = Some(island);
                child.code = format!("program {}", round % codes);
                home.insert(round, island as usize);
                s.observe(&child);
            }
            for (id, island) in &home {
                prop_assert!(s.members(*island).contains(id), "node {} left its island {}", id, island);
            }
            for i in 0..count {
                prop_assert!(s.members(i).contains(&0), "the seed is on every island");
                // Migrants never bring code the island already had: copies whose code repeats
                // are only the island's own children.
                let migrants: Vec<&NodeId> = s.members(i).iter().filter(|id| **id != 0 && home[id] != i).collect();
                let mut seen = HashSet::new();
                for id in migrants {
                    prop_assert!(seen.insert(s.known[id].code_hash), "duplicate migrant code on island {}", i);
                }
            }
        }
    }

    #[test]
    fn the_best_nodes_travel_round_the_ring() {
        let mut s = islands(3, 2, 0.5);
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        s.observe(&node(0, Some(0.0)));
        let sel = s.select(1, 1, &mut rng);
        let mut best = node(1, Some(9.0));
        best.code = "best".into();
        best.island = sel.island;
        s.observe(&best);
        assert!(!s.members(1).contains(&1));
        s.select(2, 1, &mut rng);
        assert_eq!(s.migrations(), 1);
        assert!(s.members(1).contains(&1), "node 1 was copied to the next island");
        assert!(s.members(0).contains(&1), "and stayed on its own");
    }
}
