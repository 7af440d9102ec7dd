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
pub(crate) mod reply;
mod resolver;
mod role;

pub(crate) use call_log::CallLog;
pub(crate) use client::{ChatClient, Message};
pub(crate) use embeddings::{EmbeddingClient, cosine};
pub(crate) use endpoint::{Endpoint, EndpointError};
pub(crate) use error::LlmError;
pub(crate) use model::{ChatModel, EmbedModel, Exchange, ReplayError};
pub(crate) use replay::Replay;
pub(crate) use role::CallRole;

#[cfg(test)]
#[path = "../../../tests/support/fake_llm.rs"]
mod fake_llm;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
