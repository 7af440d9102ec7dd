//! The run folder's layout: where the database, the config, the manifest and each node's
//! files live.

use std::path::{Path, PathBuf};

/// The campaign database.
pub const DB_FILE: &str = "campaign.db";
/// The name a new campaign's database has until its config is stored.
pub const STAGING_DB_FILE: &str = "campaign.db.creating";
/// The config a campaign ran with, written when it is created.
pub const CONFIG_FILE: &str = "config.toml";
/// What reproduces the campaign (also stored in the database's metadata).
pub const MANIFEST_FILE: &str = "manifest.toml";
/// The folder holding one folder per node.
pub const NODES_DIR: &str = "nodes";
/// In a node's folder, filled while its evaluator runs: the process group to kill if the
/// controller dies, so a resumed campaign can reap what was left running (empty otherwise).
pub const PGID_FILE: &str = "evaluator.pgid";

/// Folder of a node's candidate, evaluator output and results inside the run directory.
pub fn node_dir(run_dir: &Path, id: u64) -> PathBuf {
    run_dir.join(NODES_DIR).join(format!("{id:05}"))
}

/// Node folders of rounds that were not committed (in flight when a controller stopped).
pub fn in_flight_dirs(run_dir: &Path, committed: u64) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(run_dir.join(NODES_DIR)) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse::<u64>().ok()).is_some_and(|r| r >= committed)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_folders_sort_by_round_and_uncommitted_ones_are_found() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(node_dir(dir.path(), 7), dir.path().join("nodes/00007"));
        assert_eq!(node_dir(dir.path(), 123456), dir.path().join("nodes/123456"));
        assert!(in_flight_dirs(dir.path(), 0).is_empty());
        for id in [0, 1, 2, 3] {
            std::fs::create_dir_all(node_dir(dir.path(), id)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join(NODES_DIR).join("notes")).unwrap();
        let mut found = in_flight_dirs(dir.path(), 2);
        found.sort();
        assert_eq!(found, vec![node_dir(dir.path(), 2), node_dir(dir.path(), 3)]);
    }
}
