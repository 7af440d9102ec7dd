//! The models of a campaign's roles: live endpoints, or one recording serving them all.

use std::path::Path;
use std::sync::Arc;

use super::CampaignError;
use crate::config::CampaignConfig;
use crate::database::{DB_FILE, Database};
use crate::llm::{ChatClient, ChatModel, EmbedModel, EmbeddingClient, Endpoint, Replay};

#[derive(Default)]
pub(super) struct Models {
    pub(super) researcher: Option<Arc<dyn ChatModel>>,
    pub(super) analyzer: Option<Arc<dyn ChatModel>>,
    pub(super) judge: Option<Arc<dyn ChatModel>>,
    pub(super) embeddings: Option<Arc<dyn EmbedModel>>,
}

impl Models {
    pub(super) fn build(config: &CampaignConfig) -> Result<Self, CampaignError> {
        let wants_researcher = config.researcher.is_llm();
        let wants_analyzer = config.analyzer.enabled && config.analyzer.is_llm();
        let analyzer_endpoint = config.analyzer.llm().or(config.researcher.llm());
        let judge_endpoint = config.judge.llm.as_ref().or(config.researcher.llm());
        let wants_embeddings = config.cognition.enabled && config.cognition.retrieval.endpoint().is_some();
        if let Some(source) = &config.replay {
            let replay = Arc::new(load_recording(source)?);
            let chat = |wanted: bool| wanted.then(|| Arc::clone(&replay) as Arc<dyn ChatModel>);
            return Ok(Self {
                researcher: chat(wants_researcher),
                analyzer: chat(wants_analyzer),
                judge: chat(config.judge.enabled),
                embeddings: wants_embeddings.then(|| Arc::clone(&replay) as Arc<dyn EmbedModel>),
            });
        }
        let chat =
            |role: &'static str, endpoint: Option<&Endpoint>| -> Result<Option<Arc<dyn ChatModel>>, CampaignError> {
                endpoint
                    .map(|e| ChatClient::new(e).map(|c| Arc::new(c) as Arc<dyn ChatModel>))
                    .transpose()
                    .map_err(|source| CampaignError::Model { role, source })
            };
        Ok(Self {
            researcher: if wants_researcher { chat("researcher", config.researcher.llm())? } else { None },
            analyzer: if wants_analyzer { chat("analyzer", analyzer_endpoint)? } else { None },
            judge: if config.judge.enabled { chat("judge", judge_endpoint)? } else { None },
            embeddings: match config.cognition.retrieval.endpoint() {
                Some(e) if wants_embeddings => Some(Arc::new(
                    EmbeddingClient::new(e).map_err(|source| CampaignError::Model { role: "embedding", source })?,
                ) as Arc<dyn EmbedModel>),
                _ => None,
            },
        })
    }
}

/// A recorded campaign's exchanges: `source` is its run directory or its `campaign.db`.
fn load_recording(source: &Path) -> Result<Replay, CampaignError> {
    let db_path = if source.is_dir() { source.join(DB_FILE) } else { source.to_owned() };
    if !db_path.is_file() {
        return Err(CampaignError::NoRecording(source.to_owned()));
    }
    let exchanges = Database::open_read_only(&db_path)?.exchanges()?;
    Ok(Replay::new(source.display().to_string(), exchanges))
}
