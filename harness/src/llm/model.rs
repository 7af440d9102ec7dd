//! What the roles talk to: a chat or embedding model that is either a live endpoint or a
//! recording being replayed, and the `Exchange` record every call leaves in the database.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::client::{ChatClient, Message, Reply};
use super::embeddings::EmbeddingClient;
use super::error::clip;
use super::http::{Attempt, Outcome};
use super::role::CallRole;

/// Raw replies of failed attempts are kept up to this size in the attempt log.
const ATTEMPT_REPLY_BYTES: usize = 4_096;

/// Which call of a campaign this is: replay finds recorded replies by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallKey {
    pub round: u64,
    pub role: CallRole,
    /// Index of the call among this round's calls by this role (a retry after an unusable
    /// reply is call 1).
    pub seq: u32,
}

/// One call to a model, as stored in `llm_exchanges`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub round: u64,
    pub role: String,
    pub seq: u32,
    pub endpoint: String,
    /// The messages (or embedding inputs) as JSON.
    pub prompt: String,
    /// The request body sent, as JSON.
    pub request: String,
    /// The reply's content (chat) or the vectors as JSON (embeddings); None when the call failed.
    pub reply: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cost_usd: Option<f64>,
    pub latency_s: f64,
    pub attempts: u32,
    /// Every HTTP attempt (status, error, wait, clipped raw reply) as JSON.
    pub attempt_log: String,
    pub error: Option<String>,
}

/// A replayed campaign asked for something the recording cannot answer: the campaign stops.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ReplayError {
    #[error(
        "the recording has no {role} call {seq} for round {round}; was it made with another config or fewer rounds?"
    )]
    Missing { round: u64, role: String, seq: u32 },
    #[error(
        "round {round}, {role} call {seq}: the request differs from the recorded one (config, suite or seed differ from the recording)"
    )]
    Mismatch { round: u64, role: String, seq: u32 },
    #[error("round {round}, {role} call {seq}: the recorded reply is unreadable: {message}")]
    Corrupt { round: u64, role: String, seq: u32, message: String },
}

/// A chat call's result: the reply, or why the call failed (the failure is a fact of the
/// campaign, recorded and replayed like a reply).
pub(super) type ChatResult = Result<Reply, String>;
/// An embedding call's result, likewise.
pub(super) type EmbedResult = Result<Vec<Vec<f32>>, String>;

pub trait ChatModel: Send + Sync {
    /// What is answering, e.g. `llm:qwen3-32b@localhost:8000` or `replay:…`.
    fn label(&self) -> String;
    fn chat(&self, key: CallKey, messages: &[Message], seed: u64) -> Result<(ChatResult, Exchange), ReplayError>;
}

pub trait EmbedModel: Send + Sync {
    fn label(&self) -> String;
    fn embed(&self, key: CallKey, texts: &[String]) -> Result<(EmbedResult, Exchange), ReplayError>;
}

fn exchange<T>(key: CallKey, endpoint: String, prompt: String, outcome: &Outcome<T>) -> Exchange {
    let attempts: Vec<Attempt> = outcome
        .attempts
        .iter()
        .map(|a| Attempt { raw_reply: a.raw_reply.as_deref().map(|r| clip(r, ATTEMPT_REPLY_BYTES)), ..a.clone() })
        .collect();
    Exchange {
        round: key.round,
        role: key.role.as_str().to_owned(),
        seq: key.seq,
        endpoint,
        prompt,
        request: request_without_prompt(&outcome.request),
        reply: None,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: None,
        latency_s: outcome.attempts.iter().map(|a| a.latency_s + a.wait_s.unwrap_or(0.0)).sum(),
        attempts: outcome.attempts.len() as u32,
        attempt_log: serde_json::to_string(&attempts).expect("attempts serialise"),
        error: outcome.result.as_ref().err().map(|e| e.to_string()),
    }
}

/// The request body as stored: its messages (or embedding inputs) are the exchange's `prompt`
/// column, so they are not stored a second time inside it.
fn request_without_prompt(request: &serde_json::Value) -> String {
    let mut request = request.clone();
    if let Some(fields) = request.as_object_mut() {
        for key in ["messages", "input"] {
            if let Some(value) = fields.get_mut(key) {
                *value = serde_json::Value::String("(stored once, in the prompt column)".into());
            }
        }
    }
    request.to_string()
}

impl ChatModel for ChatClient {
    fn label(&self) -> String {
        self.endpoint_label()
    }

    fn chat(&self, key: CallKey, messages: &[Message], seed: u64) -> Result<(ChatResult, Exchange), ReplayError> {
        let outcome = ChatClient::chat(self, messages, Some(seed));
        let prompt = serde_json::to_string(messages).expect("messages serialise");
        let mut record = exchange(key, self.endpoint_label(), prompt, &outcome);
        if let Ok(reply) = &outcome.result {
            record.reply = Some(reply.content.clone());
            record.prompt_tokens = reply.usage.prompt_tokens;
            record.completion_tokens = reply.usage.completion_tokens;
            record.cost_usd = self.cost(&reply.usage);
        }
        Ok((outcome.result.map_err(|e| e.to_string()), record))
    }
}

impl EmbedModel for EmbeddingClient {
    fn label(&self) -> String {
        format!("embeddings:{}", self.endpoint().label())
    }

    fn embed(&self, key: CallKey, texts: &[String]) -> Result<(EmbedResult, Exchange), ReplayError> {
        let outcome = EmbeddingClient::embed(self, texts);
        let prompt = serde_json::to_string(texts).expect("texts serialise");
        let mut record = exchange(key, EmbedModel::label(self), prompt, &outcome);
        if let Ok(vectors) = &outcome.result {
            record.reply = Some(serde_json::to_string(vectors).expect("vectors serialise"));
        }
        Ok((outcome.result.map_err(|e| e.to_string()), record))
    }
}
