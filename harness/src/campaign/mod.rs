//! The campaign: evaluate the seed, then rounds of sample → retrieve cognition → propose →
//! evaluate → analyze → store.
//!
//! Reproducibility: round r samples from the nodes of rounds ≤ max(0, r − window), a set fixed
//! by r alone, and every random draw of round r comes from a generator keyed by (seed, r,
//! role) (see `crate::seeds`). Nodes are committed in round order whatever order evaluations
//! finish in. So with a deterministic evaluator (and a deterministic or recorded model) the
//! node table depends on the config and seed, not on `workers`.
//!
//! Files: `life` creates or resumes a campaign and wires its roles; `drive` is the loop that
//! dispatches rounds and commits them; `job` is the controller's share of a round, `round` the
//! worker's; `models` builds the role models (live or replayed); `progress` tracks the
//! committed rounds; `layout` names the run folder's files; `rerun` reproduces a recording.

mod drive;
mod job;
mod layout;
mod life;
mod models;
mod progress;
mod rerun;
mod round;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

pub use job::{RoundJob, assemble_round};
pub use layout::{CONFIG_FILE, MANIFEST_FILE, NODES_DIR, node_dir};
pub use rerun::{Comparison, rerun};

use crate::cognition::{CognitionBase, CognitionError};
use crate::config::{CampaignConfig, ConfigError};
use crate::database::{DB_FILE, Database, DatabaseError};
use crate::llm::{EmbedModel, LlmError, ReplayError};
use crate::node::NodeId;
use crate::prompts::PromptError;
use crate::sampler::Sampler;
use crate::suite::SuiteError;

#[derive(Debug, Error)]
pub enum CampaignError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Suite(#[from] SuiteError),
    #[error(transparent)]
    Cognition(#[from] CognitionError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error(transparent)]
    Locked(#[from] crate::run_lock::RunLockError),
    #[error(transparent)]
    SeedMarkers(#[from] crate::preflight::SeedMarkersError),
    #[error("{0} already holds a campaign ({DB_FILE}); choose another --out")]
    RunDirTaken(PathBuf),
    #[error("cannot prepare run directory {path}: {source}")]
    RunDir { path: PathBuf, source: std::io::Error },
    #[error("cannot set up the {role} model: {source}")]
    Model { role: &'static str, source: LlmError },
    #[error("no recording to replay at {0}: give a run directory or its campaign.db")]
    NoRecording(PathBuf),
    #[error("replay stopped the campaign: {0}")]
    Replay(#[from] ReplayError),
    #[error("{0} holds no campaign (no campaign.db with a stored config)")]
    NotACampaign(PathBuf),
    #[error(
        "the suite in {suite} changed since the campaign started ({changes}); a resumed or rerun campaign must evaluate with the same suite: put the files back as they were, or start a new campaign"
    )]
    SuiteChanged { suite: PathBuf, changes: String },
    #[error(
        "the evaluators' environment differs from the one the campaign started with ({changes}); a resumed or rerun campaign must evaluate the same experiment: run it from a shell with the recorded values, or start a new campaign"
    )]
    EnvironmentChanged { changes: String },
    #[error(
        "rebuilding the sampler diverged at round {round}: the parents it selects differ from the stored ones (was the harness or the config changed?)"
    )]
    ReplayDiverged { round: u64 },
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub run_dir: PathBuf,
    /// Rounds run (fewer than configured when a budget stopped the campaign).
    pub rounds: u64,
    pub best: Option<(NodeId, f64)>,
    pub seed_score: Option<f64>,
    pub failures: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    pub stop_reason: Option<String>,
    pub elapsed: Duration,
}

pub struct Campaign {
    config: CampaignConfig,
    roles: Arc<round::Roles>,
    cognition: Option<CognitionBase>,
    embeddings: Option<Arc<dyn EmbedModel>>,
    sampler: Box<dyn Sampler>,
    db: Database,
    /// This controller's hold on the run directory, for the campaign's whole life.
    _lock: crate::run_lock::RunLock,
}
