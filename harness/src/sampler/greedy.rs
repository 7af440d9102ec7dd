//! Greedy: the best nodes, best first.

use rand_chacha::ChaCha8Rng;

use super::{ElitePool, Sampler, Selection, fallback};
use crate::node::Node;

pub struct Greedy {
    pool: ElitePool,
}

impl Greedy {
    pub fn new(pool: ElitePool) -> Self {
        Self { pool }
    }
}

impl Sampler for Greedy {
    fn name(&self) -> &'static str {
        "greedy"
    }

    fn observe(&mut self, node: &Node) {
        self.pool.observe(node);
    }

    fn select(&mut self, _round: u64, n: usize, _rng: &mut ChaCha8Rng) -> Selection {
        if self.pool.is_empty() {
            return Selection { parents: fallback(&self.pool, n), island: None };
        }
        Selection { parents: self.pool.best_first().take(n).collect(), island: None }
    }
}
