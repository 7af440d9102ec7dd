//! The controller's share of a round: select the parents and retrieve cognition for them, in
//! round order on the dispatching thread, so the job depends on the round alone.

use crate::cognition::{CognitionBase, CognitionItem};
use crate::config::{CampaignConfig, RetrievalConfig};
use crate::llm::{CallLog, EmbedModel, ReplayError};
use crate::node::{Node, Retrieved};
use crate::sampler::{Grid, Sampler};
use crate::seeds::{Stream, round_rng};

/// What a worker needs to run one round; everything owned, so rounds run on any thread.
pub struct RoundJob {
    pub(super) round: u64,
    pub(super) parents: Vec<Node>,
    pub(super) island: Option<u32>,
    /// The sampler's grid in force at dispatch, to place the new node in a cell.
    pub(super) grid: Option<Grid>,
    pub(super) cognition: Vec<CognitionItem>,
    pub(super) retrieved: Vec<Retrieved>,
    pub(super) best_seen: Option<f64>,
    /// The round's model calls, starting with those made here (embedding the cognition query).
    pub(super) calls: CallLog,
}

/// Selects the parents, copies them out of the population and retrieves cognition for them.
/// Public so that its cost can be benchmarked at scale.
pub fn assemble_round(
    sampler: &mut dyn Sampler,
    cognition: Option<&CognitionBase>,
    embeddings: Option<&dyn EmbedModel>,
    config: &CampaignConfig,
    round: u64,
    nodes: &[Node],
    best_seen: Option<f64>,
) -> Result<RoundJob, ReplayError> {
    let mut rng = round_rng(config.seed, round, Stream::Sampler);
    let selection = sampler.select(round, config.parents, &mut rng);
    let parents: Vec<Node> = selection.parents.iter().map(|&id| nodes[id as usize].clone()).collect();
    let mut calls = CallLog::new(config.seed, round);
    let (cognition, retrieved) = match cognition {
        Some(base) => {
            let query: Vec<&str> = parents.iter().map(|p| p.lesson.as_deref().unwrap_or(&p.motivation)).collect();
            let query = query.join("\n");
            let top_k = config.cognition.top_k;
            let hits = match (&config.cognition.retrieval, embeddings) {
                (RetrievalConfig::Embeddings { .. }, Some(model)) if base.has_embeddings() => {
                    base.retrieve_by_embedding(model, &query, &config.cognition, &mut calls)?
                }
                (&RetrievalConfig::Embeddings { min_score, .. } | &RetrievalConfig::Bm25 { min_score }, _) => {
                    base.retrieve(&query, top_k, min_score)
                }
                // A failure here is a property of the query's text, so it repeats on a rerun:
                // the round gets no items and says why.
                (&RetrievalConfig::Minilm { min_similarity, .. }, _) => {
                    base.retrieve_by_minilm(&query, top_k, min_similarity).unwrap_or_else(|e| {
                        eprintln!("round {round}: cognition retrieval failed, no items retrieved: {e}");
                        Vec::new()
                    })
                }
            };
            hits.into_iter().map(|(item, hit)| (item.clone(), hit)).unzip()
        }
        None => (Vec::new(), Vec::new()),
    };
    Ok(RoundJob {
        round,
        parents,
        island: selection.island,
        grid: sampler.grid(),
        cognition,
        retrieved,
        best_seen,
        calls,
    })
}
