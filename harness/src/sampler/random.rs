//! Random: distinct nodes drawn uniformly from the pool with the round's seeded generator.

use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use super::{ElitePool, Sampler, Selection, fallback};
use crate::node::{Node, NodeId};

pub struct Random {
    pool: ElitePool,
}

impl Random {
    pub fn new(pool: ElitePool) -> Self {
        Self { pool }
    }
}

impl Sampler for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn observe(&mut self, node: &Node) {
        self.pool.observe(node);
    }

    fn select(&mut self, _round: u64, n: usize, rng: &mut ChaCha8Rng) -> Selection {
        if self.pool.is_empty() {
            return Selection { parents: fallback(&self.pool, n), island: None };
        }
        let ids: Vec<NodeId> = self.pool.best_first().collect();
        let parents = index::sample(rng, ids.len(), n.min(ids.len())).into_iter().map(|i| ids[i]).collect();
        Selection { parents, island: None }
    }
}
