//! The MAP-Elites feature grid: what a node's coordinates are and which cell they fall in.
//!
//! An axis either has a configured range, split into equal bins (values outside go to the edge
//! bins), or is adaptive: its edges are the quantiles of the values observed when it was last
//! fitted, so the programs seen so far spread over all bins. `MapElites` decides when an
//! adaptive axis is fitted; between fits the edges never move.

use std::sync::Arc;

use similar::TextDiff;

use crate::config::FeatureAxis;
use crate::node::Node;

#[derive(Debug, Clone, PartialEq)]
enum Source {
    CodeLength,
    Diversity,
    Metric(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Edges {
    /// Equal bins over a configured range.
    Range(f64, f64),
    /// The `bins - 1` inner edges of an adaptive axis.
    Quantiles(Vec<f64>),
    /// An adaptive axis not fitted yet.
    Unfitted,
}

#[derive(Debug, Clone, PartialEq)]
struct Axis {
    source: Source,
    bins: usize,
    edges: Edges,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    axes: Vec<Axis>,
    seed_code: Arc<str>,
}

impl Grid {
    /// Axes come validated by the config (`code_length`, `diversity`, `metric:<name>`).
    pub fn new(axes: &[FeatureAxis], seed_code: &str) -> Self {
        let axes = axes
            .iter()
            .map(|a| Axis {
                source: match a.name.as_str() {
                    "code_length" => Source::CodeLength,
                    "diversity" => Source::Diversity,
                    other => Source::Metric(other.trim_start_matches("metric:").to_owned()),
                },
                bins: a.bins,
                edges: a.range.map_or(Edges::Unfitted, |[lo, hi]| Edges::Range(lo, hi)),
            })
            .collect();
        Self { axes, seed_code: Arc::from(seed_code) }
    }

    /// True once every axis can place a value.
    pub fn is_fixed(&self) -> bool {
        self.axes.iter().all(|a| a.edges != Edges::Unfitted)
    }

    pub fn is_adaptive(&self) -> bool {
        self.axes.iter().any(|a| !matches!(a.edges, Edges::Range(..)))
    }

    /// The node's raw feature values; `None` when a metric axis's metric is missing.
    pub fn features(&self, node: &Node) -> Option<Vec<f64>> {
        self.axes
            .iter()
            .map(|a| match &a.source {
                Source::CodeLength => Some(node.code.chars().count() as f64),
                Source::Diversity => Some(1.0 - TextDiff::from_lines(&*self.seed_code, &node.code).ratio() as f64),
                Source::Metric(name) => node.metrics.get(name).and_then(|v| v.as_f64()).filter(|v| v.is_finite()),
            })
            .collect()
    }

    /// Fits every adaptive axis to the given feature vectors: its inner edges become their
    /// `k / bins` quantiles.
    pub fn fit(&mut self, samples: &[Vec<f64>]) {
        for (i, axis) in self.axes.iter_mut().enumerate() {
            if matches!(axis.edges, Edges::Range(..)) || samples.is_empty() {
                continue;
            }
            let mut values: Vec<f64> = samples.iter().map(|s| s[i]).collect();
            values.sort_by(f64::total_cmp);
            let quantile = |k: usize| values[(k * values.len() / axis.bins).min(values.len() - 1)];
            axis.edges = Edges::Quantiles((1..axis.bins).map(quantile).collect());
        }
    }

    /// The cell of a feature vector; `None` while an adaptive axis is unfitted.
    pub fn cell_of(&self, features: &[f64]) -> Option<Vec<usize>> {
        self.axes
            .iter()
            .zip(features)
            .map(|(a, &v)| match &a.edges {
                Edges::Range(lo, hi) => {
                    let t = ((v - lo) / (hi - lo)).clamp(0.0, 1.0);
                    Some(((t * a.bins as f64) as usize).min(a.bins - 1))
                }
                Edges::Quantiles(inner) => Some(inner.partition_point(|e| *e <= v)),
                Edges::Unfitted => None,
            })
            .collect()
    }

    pub fn cell(&self, node: &Node) -> Option<Vec<usize>> {
        self.cell_of(&self.features(node)?)
    }

    /// How a cell is written in the node table, e.g. `3,7`.
    pub fn label(cell: &[usize]) -> String {
        cell.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampler::testing::node;

    fn axis(name: &str, bins: usize, range: Option<[f64; 2]>) -> FeatureAxis {
        FeatureAxis { name: name.into(), bins, range }
    }

    #[test]
    fn bins_clamp_to_the_edges() {
        let g = Grid::new(&[axis("metric:m", 4, Some([0.0, 1.0]))], "");
        assert_eq!(g.cell_of(&[-5.0]), Some(vec![0]));
        assert_eq!(g.cell_of(&[0.3]), Some(vec![1]));
        assert_eq!(g.cell_of(&[1.0]), Some(vec![3]));
        assert_eq!(g.cell_of(&[9.0]), Some(vec![3]));
    }

    #[test]
    fn features_read_code_and_metrics() {
        let g = Grid::new(
            &[axis("code_length", 10, None), axis("diversity", 10, Some([0.0, 1.0])), axis("metric:lp_gap", 5, None)],
            "a\nb\n",
        );
        let mut n = node(1, Some(1.0));
        n.code = "a\nc\n".into();
        assert_eq!(g.features(&n), None, "the metric is missing");
        n.metrics.insert("lp_gap".into(), 0.25.into());
        let f = g.features(&n).unwrap();
        assert_eq!(f[0], 4.0);
        assert!((f[1] - 0.5).abs() < 1e-12, "{f:?}");
        assert_eq!(g.cell_of(&f), None, "ranges not fixed yet");
    }

    #[test]
    fn quantile_edges_spread_the_fitted_values_over_every_bin() {
        let mut g = Grid::new(&[axis("code_length", 4, None)], "");
        assert!(!g.is_fixed());
        let samples: Vec<Vec<f64>> = (0..8).map(|i| vec![1000.0 + i as f64]).collect();
        g.fit(&samples);
        let cells: Vec<usize> = samples.iter().map(|s| g.cell_of(s).unwrap()[0]).collect();
        assert_eq!(cells, vec![0, 0, 1, 1, 2, 2, 3, 3]);
        assert_eq!(g.cell_of(&[5.0]), Some(vec![0]));
        assert_eq!(g.cell_of(&[5000.0]), Some(vec![3]));
        assert!(g.is_fixed() && g.is_adaptive());
    }
}
