//! Rerunning a recorded campaign from its stored config, seed and model replies.

use asi_evolve_store::meta;
use std::path::{Path, PathBuf};

use super::life::{Recorded, open_campaign_read_only};
use super::{Campaign, CampaignError, Summary};
use crate::config::{CampaignConfig, ConfigError};
use crate::database::{DB_FILE, Database};
use crate::run_lock::RunLock;
use crate::suite::Suite;

/// How a rerun compares with the campaign it reproduces.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    Identical {
        nodes: usize,
    },
    /// The first node (round) whose stored columns differ, or where one table ends.
    Differs {
        round: usize,
        original: Option<String>,
        rerun: Option<String>,
    },
}

/// Runs a recorded campaign again from its stored config and seed, serving its model calls from
/// its own recording, and compares the node tables.
pub fn rerun(original: &Path, out: PathBuf, bin: PathBuf) -> Result<(Summary, Comparison), CampaignError> {
    let db = open_campaign_read_only(original)?;
    let text = db.meta(meta::CONFIG)?.ok_or_else(|| CampaignError::NotACampaign(original.to_owned()))?;
    // A campaign still being run by its controller is not rerun (and not resumed meanwhile).
    let _original_lock = RunLock::acquire(original)?;
    let mut config = CampaignConfig::from_stored_toml(&text)
        .map_err(|message| ConfigError::Parse { path: original.join(DB_FILE), message })?;
    let recorded = Recorded::read(&db)?;
    if let Some(dir) = db.meta(meta::SUITE_DIR)?.map(PathBuf::from).filter(|d| d.is_dir()) {
        config.suite = dir.display().to_string();
    }
    recorded.check(&Suite::resolve(&config.suite)?, &bin)?;
    config.out = Some(out);
    config.replay = Some(original.to_owned());
    let campaign = Campaign::create(config, bin)?;
    let rerun_dir = campaign.run_dir().to_owned();
    let summary = campaign.run()?;
    let (a, b) = (db.comparable_rows()?, Database::open(&rerun_dir)?.comparable_rows()?);
    let comparison = match (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        None => Comparison::Identical { nodes: a.len() },
        Some(round) => Comparison::Differs { round, original: a.get(round).cloned(), rerun: b.get(round).cloned() },
    };
    Ok((summary, comparison))
}
