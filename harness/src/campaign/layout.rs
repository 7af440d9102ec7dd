//! The run folder's layout: where the database, the config, the manifest and each node's
//! files live.

use std::path::{Path, PathBuf};

use crate::node::NodeId;

/// The config a campaign ran with, written when it is created.
pub const CONFIG_FILE: &str = "config.toml";
/// What reproduces the campaign (also stored in the database's metadata).
pub const MANIFEST_FILE: &str = "manifest.toml";
/// The folder holding one folder per node.
pub const NODES_DIR: &str = "nodes";

/// Folder of a node's candidate, evaluator output and results inside the run directory.
pub fn node_dir(run_dir: &Path, id: NodeId) -> PathBuf {
    run_dir.join(NODES_DIR).join(format!("{id:05}"))
}

/// Node folders of rounds that were not committed (in flight when a controller stopped).
pub(super) fn in_flight_dirs(run_dir: &Path, committed: u64) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir.join(NODES_DIR)) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u64>().ok()).is_some_and(|r| r >= committed)
        })
        .collect()
}

pub(super) fn default_run_dir(suite: &str, seed: u64) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    PathBuf::from("runs").join(format!("{suite}-seed{seed}-{stamp}"))
}
