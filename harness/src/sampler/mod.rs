//! Parent selection. A sampler sees nodes once each, in round order, as they enter the
//! sampling horizon of the campaign, and picks the parents of the next round from them.
//!
//! Every sampler is a deterministic function of the nodes it has observed and the round's
//! seeded generator, so its state can always be rebuilt from the database by replaying the
//! stored rounds (the stored parents of each round check the replay).

mod greedy;
mod grid;
mod islands;
mod map_elites;
mod pool;
mod random;
mod ucb1;

pub use greedy::Greedy;
pub use grid::Grid;
pub use islands::Islands;
pub use map_elites::MapElites;
pub use pool::{ElitePool, PoolChange};
pub use random::Random;
pub use ucb1::Ucb1;

use rand_chacha::ChaCha8Rng;

use crate::config::{CampaignConfig, InnerSamplerKind, SamplerConfig};
use crate::node::{Node, NodeId};

/// The parents of one round and, for the island sampler, the island the child will live on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selection {
    /// Distinct observed nodes, the one to derive from first.
    pub parents: Vec<NodeId>,
    pub island: Option<u32>,
}

pub trait Sampler: Send {
    fn name(&self) -> &'static str;

    /// Makes a node visible to the sampler. Called exactly once per node, in round order.
    fn observe(&mut self, node: &Node);

    /// Adds a node as a candidate parent without treating it as a new result (a migrant
    /// copied from another island: its parents earn no second reward).
    fn admit(&mut self, node: &Node) {
        self.observe(node);
    }

    /// At most `n` parents for `round`; empty only when nothing has been observed.
    fn select(&mut self, round: u64, n: usize, rng: &mut ChaCha8Rng) -> Selection;

    /// The feature grid new nodes are placed in, when the sampler has one and its bin edges
    /// are fixed.
    fn grid(&self) -> Option<Grid> {
        None
    }
}

/// `seed_code` anchors the diversity feature of MAP-Elites.
pub fn build(config: &CampaignConfig, seed_code: &str) -> Box<dyn Sampler> {
    let pool_size = config.pool_size;
    match &config.sampler {
        SamplerConfig::Greedy {} => inner(InnerSamplerKind::Greedy, pool_size, 0.0),
        SamplerConfig::Random {} => inner(InnerSamplerKind::Random, pool_size, 0.0),
        SamplerConfig::Ucb1 { c } => inner(InnerSamplerKind::Ucb1, pool_size, *c),
        SamplerConfig::MapElites { features, selection, warmup } => {
            Box::new(MapElites::new(Grid::new(features, seed_code), *warmup, *selection))
        }
        SamplerConfig::Islands { islands, migration_interval, migration_rate, inner: kind, c } => {
            Box::new(Islands::new(
                (0..*islands).map(|_| inner(*kind, pool_size, *c)).collect(),
                *migration_interval,
                *migration_rate,
                pool_size,
            ))
        }
    }
}

/// `c` is UCB1's exploration constant; the other kinds have no setting.
fn inner(kind: InnerSamplerKind, pool_size: usize, c: f64) -> Box<dyn Sampler> {
    let pool = ElitePool::new(pool_size);
    match kind {
        InnerSamplerKind::Greedy => Box::new(Greedy::new(pool)),
        InnerSamplerKind::Random => Box::new(Random::new(pool)),
        InnerSamplerKind::Ucb1 => Box::new(Ucb1::new(pool, c)),
    }
}

/// The pool's fallback when it holds no valid node: the first node seen, if `n > 0`.
fn fallback(pool: &ElitePool, n: usize) -> Vec<NodeId> {
    pool.fallback().into_iter().take(n.min(1)).collect()
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::node::{Node, NodeId, Status, Timings};

    pub(crate) fn node(id: NodeId, score: Option<f64>) -> Node {
        Node {
            id,
            round: id,
            parents: vec![],
            name: String::new(),
            motivation: String::new(),
            code: String::new(),
            researcher: "test".into(),
            status: if score.is_some() { Status::Valid } else { Status::Failed },
            failure: None,
            reason: None,
            score,
            metrics: Default::default(),
            feedback: String::new(),
            lesson: None,
            cognition: vec![],
            island: None,
            cell: None,
            stdout_tail: String::new(),
            stderr_tail: String::new(),
            timings: Timings::default(),
        }
    }
}

#[cfg(test)]
mod tests;
