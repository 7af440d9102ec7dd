//! Talking to language models: blocking clients for OpenAI-compatible chat and embedding
//! endpoints (vLLM, SGLang, llama.cpp, hosted APIs), with retries that record every attempt, and
//! the parsers that turn the Researcher's and Analyzer's replies into names, programs, diffs
//! and lessons.

mod call_log;
mod client;
mod embeddings;
mod endpoint;
mod error;
mod http;
mod model;
mod replay;
pub mod reply;
mod role;

pub use call_log::CallLog;
pub use client::{ChatClient, ChatOutcome, Message, Reply, Role, Usage};
pub use embeddings::{EmbeddingClient, EmbeddingOutcome, cosine};
pub use endpoint::{Endpoint, EndpointError, MaxTokensField, Price};
pub use error::LlmError;
pub use http::{Attempt, Outcome, Sleeper, ThreadSleeper};
pub use model::{CallKey, ChatModel, ChatResult, EmbedModel, EmbedResult, Exchange, ReplayError};
pub use replay::Replay;
pub use role::CallRole;

#[cfg(test)]
#[path = "../../../tests/support/fake_llm.rs"]
mod fake_llm;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
