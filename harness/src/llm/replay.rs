//! Replay: a recorded campaign's exchanges served in place of a server. Calls are found by
//! (round, role, call index) and must ask exactly what was asked when recording, so a replayed
//! campaign with the same config and seed makes the same decisions and stores the same nodes.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::client::{Message, Reply, Usage};
use super::model::{CallKey, ChatModel, ChatResult, EmbedModel, EmbedResult, Exchange, ReplayError};

#[derive(Clone)]
pub(crate) struct Replay {
    source: String,
    calls: Arc<BTreeMap<(u64, String, u32), Exchange>>,
}

impl Replay {
    /// `source` names the recording in labels and errors.
    pub(crate) fn new(source: String, exchanges: Vec<Exchange>) -> Self {
        let calls = exchanges.into_iter().map(|e| ((e.round, e.role.clone(), e.seq), e)).collect();
        Self { source, calls: Arc::new(calls) }
    }

    fn find(&self, key: CallKey, prompt: &str) -> Result<&Exchange, ReplayError> {
        let recorded = self.calls.get(&(key.round, key.role.as_str().to_owned(), key.seq)).ok_or_else(|| {
            ReplayError::Missing { round: key.round, role: key.role.as_str().to_owned(), seq: key.seq }
        })?;
        if recorded.prompt != prompt {
            return Err(ReplayError::Mismatch { round: key.round, role: key.role.as_str().to_owned(), seq: key.seq });
        }
        Ok(recorded)
    }

    /// A recorded call, as a fresh exchange of this campaign (no time spent, no HTTP attempts).
    fn served(&self, recorded: &Exchange) -> Exchange {
        Exchange {
            endpoint: format!("replay:{}", recorded.endpoint),
            latency_s: 0.0,
            attempts: 0,
            attempt_log: "[]".into(),
            ..recorded.clone()
        }
    }
}

impl ChatModel for Replay {
    fn label(&self) -> String {
        format!("replay:{}", self.source)
    }

    fn chat(&self, key: CallKey, messages: &[Message], _seed: u64) -> Result<(ChatResult, Exchange), ReplayError> {
        let prompt = serde_json::to_string(messages).expect("messages serialise");
        let recorded = self.find(key, &prompt)?;
        let result = match (&recorded.reply, &recorded.error) {
            (Some(content), _) => Ok(Reply {
                content: content.clone(),
                usage: Usage { prompt_tokens: recorded.prompt_tokens, completion_tokens: recorded.completion_tokens },
                finish_reason: None,
            }),
            (None, error) => Err(error.clone().unwrap_or_else(|| "the recorded call has no reply".into())),
        };
        Ok((result, self.served(recorded)))
    }
}

impl EmbedModel for Replay {
    fn label(&self) -> String {
        format!("replay:{}", self.source)
    }

    fn embed(&self, key: CallKey, texts: &[String]) -> Result<(EmbedResult, Exchange), ReplayError> {
        let prompt = serde_json::to_string(texts).expect("texts serialise");
        let recorded = self.find(key, &prompt)?;
        let result = match (&recorded.reply, &recorded.error) {
            (Some(json), _) => Ok(serde_json::from_str(json).map_err(|e| ReplayError::Corrupt {
                round: key.round,
                role: key.role.as_str().to_owned(),
                seq: key.seq,
                message: e.to_string(),
            })?),
            (None, error) => Err(error.clone().unwrap_or_else(|| "the recorded call has no reply".into())),
        };
        Ok((result, self.served(recorded)))
    }
}
