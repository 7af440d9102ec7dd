//! The Analyzer: turns an evaluation into a short lesson stored on the node and handed to
//! later rounds (as cognition queries and, with an LLM researcher, in the prompt).

mod llm;
mod stats;

pub(crate) use llm::LlmAnalyzer;
pub(crate) use stats::Stats;

use std::sync::Arc;

use crate::config::{AnalyzerKind, CampaignConfig};
use crate::engineer::Evaluation;
use crate::llm::{CallLog, ChatModel, ReplayError};
use crate::node::Node;
use crate::prompts::Templates;

pub(crate) struct AnalysisInput<'a> {
    pub round: u64,
    pub name: &'a str,
    pub code: &'a str,
    pub evaluation: &'a Evaluation,
    /// The parent the program was derived from.
    pub parent: Option<&'a Node>,
    /// Best score among the nodes this round could see.
    pub best_seen: Option<f64>,
    /// The lesson of the best-scoring sampled parent.
    pub best_lesson: Option<&'a str>,
}

pub(crate) trait Analyzer: Send + Sync {
    fn id(&self) -> String;
    /// The lesson. Model calls go through the round's `calls`; only a replay that cannot answer
    /// is an error, and it stops the campaign.
    fn analyze(&self, input: &AnalysisInput<'_>, calls: &mut CallLog) -> Result<String, ReplayError>;
}

/// `None` when the analyzer is switched off (the no-analyzer ablation). `model` is the
/// analyzer's model for `kind = "llm"`.
pub(crate) fn build(
    config: &CampaignConfig,
    model: Option<Arc<dyn ChatModel>>,
    templates: Templates,
) -> Option<Box<dyn Analyzer>> {
    if !config.analyzer.enabled {
        return None;
    }
    Some(match config.analyzer.kind {
        AnalyzerKind::Stats {} => Box::new(Stats),
        AnalyzerKind::Llm { .. } => Box::new(LlmAnalyzer::new(
            config,
            model.expect("the campaign builds a model for kind = \"llm\""),
            templates,
        )),
    })
}
