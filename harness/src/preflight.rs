//! What a campaign is told before it starts about its suite: things that still let it run but
//! that a researcher should know (warnings), and seed markers so broken that they would change
//! what the researcher may edit (refused).

use thiserror::Error;

use crate::config::CampaignConfig;
use crate::edit::evolve_block::{self, BlockError};
use crate::engineer::confine;
use crate::suite::{CognitionSource, Suite};

#[derive(Debug, Error)]
#[error(
    "the seed program of suite {suite} has broken EVOLVE markers ({source}); fix them, since they decide what the researcher may edit"
)]
pub struct SeedMarkersError {
    suite: String,
    source: BlockError,
}

/// Refuses a seed whose markers do not pair up.
pub(crate) fn check_seed_markers(suite: &Suite) -> Result<(), SeedMarkersError> {
    evolve_block::evolvable_regions(&suite.seed_program)
        .map(drop)
        .map_err(|source| SeedMarkersError { suite: suite.name.clone(), source })
}

/// Conditions a campaign runs under that the user should hear about.
pub(crate) fn warnings(suite: &Suite, config: &CampaignConfig) -> Vec<String> {
    let mut warnings = Vec::new();
    if let CognitionSource::Folder(dir) = &suite.cognition
        && config.cognition.enabled
        && !dir.is_dir()
    {
        warnings.push(format!(
            "suite {} has no cognition folder ({} does not exist): the campaign runs without cognition items; set [cognition] enabled = false to say so",
            suite.name,
            dir.display()
        ));
    }
    let has_markers = suite.seed_program.contains(evolve_block::START);
    if !has_markers {
        warnings.push(format!(
            "the seed program of suite {} has no {} / {} markers: the researcher may rewrite all of it",
            suite.name,
            evolve_block::START,
            evolve_block::END
        ));
    }
    warnings.extend(confine::warning());
    warnings
}
