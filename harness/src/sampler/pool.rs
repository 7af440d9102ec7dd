//! The best `cap` valid nodes, the paper's bounded database, kept incrementally so that a
//! round costs O(log cap) however many nodes the campaign has stored.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::node::{Node, NodeId};

/// Orders by score descending, then by id ascending, so ties go to the older node.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    score: f64,
    id: NodeId,
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        other.score.total_cmp(&self.score).then(self.id.cmp(&other.id))
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolChange {
    pub entered: bool,
    /// The node that left the pool to make room; may be the offered node itself.
    pub evicted: Option<NodeId>,
}

#[derive(Debug, Clone)]
pub struct ElitePool {
    cap: usize,
    ranked: BTreeSet<Ranked>,
    /// Used when no observed node is valid: the first node seen (the seed).
    first: Option<NodeId>,
}

impl ElitePool {
    /// `cap == 0` keeps every valid node.
    pub fn new(cap: usize) -> Self {
        Self { cap, ranked: BTreeSet::new(), first: None }
    }

    /// Offers a node to the pool; says whether it entered and which node it pushed out.
    pub fn observe(&mut self, node: &Node) -> PoolChange {
        self.first.get_or_insert(node.id);
        let Some(score) = node.score.filter(|_| node.is_valid()) else { return PoolChange::default() };
        self.ranked.insert(Ranked { score, id: node.id });
        let evicted = (self.cap > 0 && self.ranked.len() > self.cap).then(|| self.ranked.pop_last()).flatten();
        PoolChange { entered: evicted.is_none_or(|e| e.id != node.id), evicted: evicted.map(|e| e.id) }
    }

    /// Ids best first.
    pub fn best_first(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ranked.iter().map(|r| r.id)
    }

    /// Best minus worst score in the pool; 0 with fewer than two nodes.
    pub fn spread(&self) -> f64 {
        match (self.ranked.first(), self.ranked.last()) {
            (Some(best), Some(worst)) => best.score - worst.score,
            _ => 0.0,
        }
    }

    pub fn len(&self) -> usize {
        self.ranked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranked.is_empty()
    }

    pub fn fallback(&self) -> Option<NodeId> {
        self.first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::node;

    #[test]
    fn keeps_the_best_cap_with_ties_to_the_older() {
        let mut pool = ElitePool::new(2);
        for (id, s) in [(0, 1.0), (1, 3.0), (2, 2.0), (3, 3.0), (4, 0.5)] {
            pool.observe(&node(id, Some(s)));
        }
        assert_eq!(pool.best_first().collect::<Vec<_>>(), vec![1, 3]);
    }

    #[test]
    fn invalid_nodes_never_enter() {
        let mut pool = ElitePool::new(0);
        pool.observe(&node(0, None));
        pool.observe(&node(1, Some(f64::NAN)));
        assert!(pool.is_empty());
        assert_eq!(pool.fallback(), Some(0));
    }
}
