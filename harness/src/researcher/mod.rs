//! The Researcher: from sampled parents (and retrieved cognition) to a new named, motivated
//! program.

pub(crate) mod literals;
mod llm;
mod mutate;

pub(crate) use llm::LlmResearcher;
pub(crate) use mutate::Mutate;

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use thiserror::Error;

use crate::cognition::CognitionItem;
use crate::config::{CampaignConfig, ResearcherConfig};
use crate::llm::{CallLog, ChatModel, ReplayError};
use crate::node::Node;
use crate::prompts::Templates;

/// Everything a researcher may use to propose one program.
pub(crate) struct ResearchContext<'a> {
    pub task: &'a str,
    /// Sampled parents; the program is derived from the first.
    pub parents: &'a [Node],
    pub cognition: &'a [CognitionItem],
    pub rng: &'a mut ChaCha8Rng,
    /// The round's calls: every model call for the proposal is made through it.
    pub calls: &'a mut CallLog,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Proposal {
    pub name: String,
    pub motivation: String,
    pub code: String,
}

#[derive(Debug, Error, PartialEq)]
pub(crate) enum ProposalError {
    /// No usable program this round; recorded as a failed node.
    #[error("{0}")]
    Unusable(String),
    /// A replayed campaign asked something the recording cannot answer; the campaign stops.
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// A crashed candidate to fix.
pub(crate) struct DebugContext<'a> {
    pub task: &'a str,
    pub code: &'a str,
    /// The failure class and reason.
    pub error: &'a str,
    pub stderr: &'a str,
    pub calls: &'a mut CallLog,
}

pub(crate) trait Researcher: Send + Sync {
    /// Short id stored on every node (`mutate`, `llm:<model>`).
    fn id(&self) -> String;
    /// One line for the user saying what proposes the programs.
    fn describe(&self) -> String;
    fn propose(&self, ctx: ResearchContext<'_>) -> Result<Proposal, ProposalError>;
    /// A fixed version of a crashed program: `None` when this researcher does not debug (the
    /// offline one) or gave nothing usable.
    fn debug(&self, _ctx: DebugContext<'_>) -> Result<Option<String>, ReplayError> {
        Ok(None)
    }
}

/// `model` is the researcher's model for `kind = "llm"` (live or replayed).
pub(crate) fn build(
    config: &CampaignConfig,
    model: Option<Arc<dyn ChatModel>>,
    templates: Templates,
) -> Box<dyn Researcher> {
    match &config.researcher {
        ResearcherConfig::Mutate(settings) => Box::new(Mutate::new(settings)),
        // Never fall back to the offline researcher: an LLM campaign must not run without one.
        ResearcherConfig::Llm(settings) => Box::new(LlmResearcher::new(
            settings,
            model.expect("the campaign builds a model for kind = \"llm\""),
            templates,
        )),
    }
}
