//! The run folder's layout (its names live in the store crate, which reports read too) and
//! where a campaign without `--out` puts it.

use std::path::PathBuf;

pub(super) use asi_evolve_store::layout::in_flight_dirs;
pub use asi_evolve_store::layout::{CONFIG_FILE, MANIFEST_FILE, NODES_DIR, node_dir};

pub(super) fn default_run_dir(suite: &str, seed: u64) -> PathBuf {
    let stamp = chrono::Utc::now().format("%Y%m%d-%H%M%S");
    PathBuf::from("runs").join(format!("{suite}-seed{seed}-{stamp}"))
}
