//! MAP-Elites: an archive with one elite per occupied cell of the feature grid; parents are
//! elites of distinct occupied cells, drawn uniformly or weighted by score.
//!
//! An elite is replaced only by a strictly better node (ties keep the older one). Adaptive axes
//! are fitted when the number of valid nodes reaches `warmup`, and again each time it doubles
//! (20, 40, 80, …: amortised O(1) per node); at a fit the archive is rebuilt from every valid
//! node observed, each cell keeping its best. Between fits the edges never move. Before the
//! first fit, parents are drawn from the valid nodes seen so far.
//! (The reference implementation built its grid but never sampled from it.)

use std::collections::BTreeMap;

use rand::Rng;
use rand::seq::index;
use rand_chacha::ChaCha8Rng;

use super::{Grid, Sampler, Selection};
use crate::config::CellSelection;
use crate::node::{Node, NodeId};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elite {
    pub id: NodeId,
    pub score: f64,
}

pub struct MapElites {
    grid: Grid,
    selection: CellSelection,
    /// Every valid node with its features, in observation order (for refits).
    observed: Vec<(Elite, Vec<f64>)>,
    /// Valid-node count at which adaptive axes are fitted next.
    next_fit: usize,
    archive: BTreeMap<Vec<usize>, Elite>,
    first: Option<NodeId>,
}

impl MapElites {
    pub fn new(grid: Grid, warmup: usize, selection: CellSelection) -> Self {
        Self { grid, selection, observed: Vec::new(), next_fit: warmup.max(1), archive: BTreeMap::new(), first: None }
    }

    pub fn archive(&self) -> &BTreeMap<Vec<usize>, Elite> {
        &self.archive
    }

    fn place(&mut self, elite: Elite, features: &[f64]) {
        let cell = self.grid.cell_of(features).expect("placed only once the grid is fixed");
        match self.archive.get(&cell) {
            Some(current) if current.score >= elite.score => {}
            _ => {
                self.archive.insert(cell, elite);
            }
        }
    }
}

impl Sampler for MapElites {
    fn name(&self) -> &'static str {
        "map-elites"
    }

    fn observe(&mut self, node: &Node) {
        self.first.get_or_insert(node.id);
        let Some(score) = node.score.filter(|_| node.is_valid()) else { return };
        let Some(features) = self.grid.features(node) else { return };
        let elite = Elite { id: node.id, score };
        self.observed.push((elite, features));
        if self.grid.is_adaptive() && self.observed.len() == self.next_fit {
            let samples: Vec<Vec<f64>> = self.observed.iter().map(|(_, f)| f.clone()).collect();
            self.grid.fit(&samples);
            self.next_fit *= 2;
            self.archive.clear();
            for i in 0..self.observed.len() {
                let (elite, features) = self.observed[i].clone();
                self.place(elite, &features);
            }
        } else if self.grid.is_fixed() {
            let (elite, features) = self.observed.last().cloned().expect("just pushed");
            self.place(elite, &features);
        }
    }

    fn select(&mut self, _round: u64, n: usize, rng: &mut ChaCha8Rng) -> Selection {
        let candidates: Vec<Elite> = if self.archive.is_empty() {
            self.observed.iter().map(|(e, _)| *e).collect()
        } else {
            self.archive.values().copied().collect()
        };
        if candidates.is_empty() {
            return Selection { parents: self.first.into_iter().take(n.min(1)).collect(), island: None };
        }
        let k = n.min(candidates.len());
        let picked: Vec<usize> = match self.selection {
            CellSelection::Uniform => index::sample(rng, candidates.len(), k).into_vec(),
            CellSelection::ScoreWeighted => weighted_without_replacement(&candidates, k, rng),
        };
        Selection { parents: picked.into_iter().map(|i| candidates[i].id).collect(), island: None }
    }

    fn grid(&self) -> Option<Grid> {
        self.grid.is_fixed().then(|| self.grid.clone())
    }
}

/// Weights are the score above the worst candidate's plus a twentieth of the spread, so the
/// worst cell keeps a chance and the scale of scores does not matter.
fn weighted_without_replacement(candidates: &[Elite], k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let worst = candidates.iter().map(|e| e.score).fold(f64::INFINITY, f64::min);
    let best = candidates.iter().map(|e| e.score).fold(f64::NEG_INFINITY, f64::max);
    let floor = if best > worst { 0.05 * (best - worst) } else { 1.0 };
    let mut weights: Vec<f64> = candidates.iter().map(|e| e.score - worst + floor).collect();
    let mut picked = Vec::with_capacity(k);
    for _ in 0..k {
        let total: f64 = weights.iter().sum();
        let mut target = rng.random_range(0.0..total);
        let mut chosen = weights.iter().rposition(|&w| w > 0.0).expect("k <= candidates");
        for (i, &w) in weights.iter().enumerate() {
            if w > 0.0 && target < w {
                chosen = i;
                break;
            }
            target -= w;
        }
        weights[chosen] = 0.0;
        picked.push(chosen);
    }
    picked
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;
    use rand::SeedableRng;

    use super::*;
    use crate::config::FeatureAxis;
    use crate::sampler::testing::node;

    fn with_metric(id: NodeId, score: f64, m: f64) -> Node {
        let mut n = node(id, Some(score));
        n.metrics.insert("m".into(), m.into());
        n
    }

    fn sampler(range: Option<[f64; 2]>, selection: CellSelection) -> MapElites {
        let grid = Grid::new(&[FeatureAxis { name: "metric:m".into(), bins: 5, range }], "");
        MapElites::new(grid, 3, selection)
    }

    proptest! {
        #[test]
        fn one_elite_per_cell_replaced_only_by_better(
            nodes in prop::collection::vec((0.0f64..10.0, -1.0f64..2.0), 1..60),
            adaptive: bool,
        ) {
            let mut me = sampler(if adaptive { None } else { Some([0.0, 1.0]) }, CellSelection::Uniform);
            let mut by_id = BTreeMap::new();
            for (id, (score, m)) in nodes.iter().enumerate() {
                let before = me.archive().clone();
                let grid_before = me.grid();
                me.observe(&with_metric(id as NodeId, *score, *m));
                by_id.insert(id as NodeId, *score);
                if before.is_empty() || me.grid() != grid_before { continue; }
                for (cell, old) in &before {
                    let now = me.archive()[cell];
                    prop_assert!(now == *old || now.score > old.score, "{old:?} replaced by {now:?}");
                }
            }
            let ids: Vec<NodeId> = me.archive().values().map(|e| e.id).collect();
            prop_assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len(), "a node in two cells");
            // Each elite is the best node mapped to its cell.
            if me.grid.is_fixed() {
                for (cell, elite) in me.archive() {
                    for (id, (score, m)) in nodes.iter().enumerate() {
                        if me.grid.cell_of(&[*m]).as_ref() == Some(cell) {
                            prop_assert!(*score <= elite.score, "node {id} beats the elite of {cell:?}");
                        }
                    }
                }
            }
        }

        #[test]
        fn parents_are_distinct_archived_nodes(nodes in prop::collection::vec((0.0f64..10.0, 0.0f64..1.0), 1..40), n in 1usize..6, seed: u64, weighted: bool) {
            let mut me = sampler(Some([0.0, 1.0]), if weighted { CellSelection::ScoreWeighted } else { CellSelection::Uniform });
            for (id, (score, m)) in nodes.iter().enumerate() {
                me.observe(&with_metric(id as NodeId, *score, *m));
            }
            let parents = me.select(0, n, &mut ChaCha8Rng::seed_from_u64(seed)).parents;
            let archived: HashSet<NodeId> = me.archive().values().map(|e| e.id).collect();
            prop_assert!(!parents.is_empty() && parents.len() <= n);
            prop_assert_eq!(parents.iter().collect::<HashSet<_>>().len(), parents.len());
            prop_assert!(parents.iter().all(|p| archived.contains(p)));
        }
    }

    #[test]
    fn samples_every_occupied_cell_not_just_the_best() {
        let mut me = sampler(Some([0.0, 1.0]), CellSelection::Uniform);
        for (id, m) in [0.05, 0.25, 0.45, 0.65, 0.85].iter().enumerate() {
            me.observe(&with_metric(id as NodeId, id as f64, *m));
        }
        assert_eq!(me.archive().len(), 5);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let seen: HashSet<NodeId> = (0..100).flat_map(|r| me.select(r, 1, &mut rng).parents).collect();
        assert_eq!(seen.len(), 5);
    }

    #[test]
    fn adaptive_edges_move_only_when_the_valid_count_doubles() {
        let mut me = sampler(None, CellSelection::Uniform);
        assert!(me.grid().is_none());
        let mut grids = Vec::new();
        for id in 0..13u64 {
            me.observe(&with_metric(id, 1.0, 0.4 + 0.01 * id as f64));
            grids.push(me.grid());
        }
        assert!(grids[1].is_none(), "fitted before the warm-up");
        assert!(grids[2].is_some());
        assert!(me.archive().len() >= 3, "the warm-up programs landed in too few cells: {:?}", me.archive());
        let changes: Vec<usize> = (1..grids.len()).filter(|&i| grids[i] != grids[i - 1]).collect();
        assert_eq!(changes, vec![2, 5, 11], "refits happen at 3, 6 and 12 valid nodes only");
    }
}
