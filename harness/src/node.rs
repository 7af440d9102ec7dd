//! A node: one candidate program with everything the loop learned about it.

use serde::{Deserialize, Serialize};

pub type NodeId = u64;

pub use asi_evolve_store::{FailureClass, Status};

/// A cognition item retrieved for a round, as recorded on the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retrieved {
    pub title: String,
    pub file: String,
    pub score: f64,
}

/// Seconds spent in each role. Wall-clock, so excluded from reproducibility comparisons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub propose: f64,
    pub evaluate: f64,
    pub analyze: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Equal to `round`: every round stores exactly one node, the seed is node 0.
    pub id: NodeId,
    pub round: u64,
    /// Sampled parents, the one the program was derived from first.
    pub parents: Vec<NodeId>,
    pub name: String,
    pub motivation: String,
    pub code: String,
    pub researcher: String,
    pub status: Status,
    pub failure: Option<FailureClass>,
    pub reason: Option<String>,
    pub score: Option<f64>,
    pub metrics: serde_json::Map<String, serde_json::Value>,
    pub feedback: String,
    pub lesson: Option<String>,
    pub cognition: Vec<Retrieved>,
    pub island: Option<u32>,
    pub cell: Option<String>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub timings: Timings,
}

impl Node {
    pub fn is_valid(&self) -> bool {
        self.status == Status::Valid && self.score.is_some_and(f64::is_finite)
    }
}
