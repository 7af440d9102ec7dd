//! Chat completions: `POST {base_url}/chat/completions`, blocking, with the shared retry policy.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::endpoint::{Endpoint, Price};
use super::error::{LlmError, clip, server_message};
use super::http::{Outcome, Transport};
#[cfg(test)]
use {super::http::Sleeper, std::sync::Arc};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

/// Token counts as the server reported them; zero where it reported none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// USD at `price`.
    pub fn cost(&self, price: &Price) -> f64 {
        (self.prompt_tokens as f64 * price.prompt_per_million
            + self.completion_tokens as f64 * price.completion_per_million)
            / 1e6
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Self) {
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self.completion_tokens.saturating_add(other.completion_tokens);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply {
    /// The first choice's message content.
    pub content: String,
    pub usage: Usage,
    /// `stop`, `length` (cut at `max_tokens`), ...; None when the server gave none.
    pub finish_reason: Option<String>,
}

pub(super) type ChatOutcome = Outcome<Reply>;

/// A blocking client for one chat endpoint. Cheap to clone; safe to share between threads.
#[derive(Debug, Clone)]
pub(crate) struct ChatClient {
    transport: Transport,
}

impl ChatClient {
    /// Validates `endpoint` and reads the API key from the environment variable it names.
    pub(crate) fn new(endpoint: &Endpoint) -> Result<Self, LlmError> {
        Self::with_key_lookup(endpoint, |var| std::env::var(var).ok())
    }

    /// Like `new`, reading the API key through `lookup` instead of the process environment.
    pub(crate) fn with_key_lookup(
        endpoint: &Endpoint,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, LlmError> {
        Ok(Self { transport: Transport::new(endpoint, &lookup)? })
    }

    /// Replaces how the client waits between attempts (tests record instead of sleeping).
    #[cfg(test)]
    pub(super) fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.transport.set_sleeper(sleeper);
        self
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        self.transport.endpoint()
    }

    /// `llm:<model>@<host>`.
    pub(crate) fn endpoint_label(&self) -> String {
        self.endpoint().label()
    }

    /// USD for `usage`, when the endpoint has a price.
    pub(crate) fn cost(&self, usage: &Usage) -> Option<f64> {
        self.endpoint().price.map(|price| usage.cost(&price))
    }

    /// The JSON body `chat` sends: sampling settings only where set, then `extra_body`.
    pub(crate) fn request_body(&self, messages: &[Message], seed: Option<u64>) -> Value {
        let endpoint = self.endpoint();
        let mut fields = Map::new();
        fields.insert("model".into(), json!(endpoint.model));
        fields.insert("messages".into(), json!(messages));
        if let Some(t) = endpoint.temperature {
            fields.insert("temperature".into(), json!(t));
        }
        if let Some(p) = endpoint.top_p {
            fields.insert("top_p".into(), json!(p));
        }
        if let Some(k) = endpoint.top_k {
            fields.insert("top_k".into(), json!(k));
        }
        if let Some(n) = endpoint.max_tokens {
            fields.insert(endpoint.max_tokens_field.as_str().into(), json!(n));
        }
        if let Some(seed) = seed.filter(|_| endpoint.send_seed) {
            fields.insert("seed".into(), json!(seed));
        }
        for (key, value) in &endpoint.extra_body {
            fields.insert(key.clone(), value.clone());
        }
        Value::Object(fields)
    }

    /// Sends one chat request, retrying per the endpoint's policy. Never panics on anything the
    /// server does; every attempt is in the outcome.
    pub(crate) fn chat(&self, messages: &[Message], seed: Option<u64>) -> ChatOutcome {
        self.transport.post("chat/completions", self.request_body(messages, seed), parse_completion)
    }
}

/// The first choice of a `chat.completion` body.
pub(crate) fn parse_completion(text: &str) -> Result<Reply, LlmError> {
    let bad = |message: String| Err(LlmError::BadReply(message));
    let body: Value = match serde_json::from_str(text) {
        Ok(body) => body,
        Err(e) => return bad(format!("not JSON ({e}): {}", clip(text.trim(), 200))),
    };
    if body.get("error").is_some() {
        return bad(format!("the reply carries an error: {}", server_message(text)));
    }
    let Some(choice) = body.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
        return bad(format!("no `choices` in the reply: {}", clip(text.trim(), 200)));
    };
    let finish_reason = choice.get("finish_reason").and_then(Value::as_str).map(str::to_owned);
    let Some(content) = choice.get("message").and_then(|m| m.get("content")).and_then(content_text) else {
        let hint = if finish_reason.as_deref() == Some("length") {
            "; the completion hit the token limit: raise `max_tokens` or disable thinking"
        } else {
            ""
        };
        return bad(format!("the first choice has no message content (finish_reason {finish_reason:?}){hint}"));
    };
    let count = |key: &str| body.get("usage").and_then(|u| u.get(key)).and_then(Value::as_u64).unwrap_or(0);
    let usage = Usage { prompt_tokens: count("prompt_tokens"), completion_tokens: count("completion_tokens") };
    Ok(Reply { content, usage, finish_reason })
}

/// Message content as a string, or the concatenated text parts of a content array.
fn content_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_parsing_takes_the_first_choice_and_usage() {
        let text = r#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
                       "usage":{"prompt_tokens":3,"completion_tokens":1}}"#;
        let reply = parse_completion(text).unwrap();
        assert_eq!(reply.content, "hi");
        assert_eq!(reply.usage, Usage { prompt_tokens: 3, completion_tokens: 1 });
        assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    }

    #[test]
    fn completion_parsing_explains_what_is_missing() {
        let err = |text: &str| parse_completion(text).unwrap_err().to_string();
        assert!(err("<html>bad gateway</html>").contains("not JSON"));
        assert!(err(r#"{"choices":[]}"#).contains("no `choices`"));
        assert!(err(r#"{"error":{"message":"overloaded"}}"#).contains("overloaded"));
        let cut = err(r#"{"choices":[{"message":{"content":null},"finish_reason":"length"}]}"#);
        assert!(cut.contains("max_tokens"), "{cut}");
    }

    #[test]
    fn content_parts_are_joined_and_missing_usage_is_zero() {
        let text = r#"{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}"#;
        let reply = parse_completion(text).unwrap();
        assert_eq!(reply.content, "ab");
        assert_eq!(reply.usage, Usage::default());
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let usage = Usage { prompt_tokens: 2_000_000, completion_tokens: 500_000 };
        let price = Price { prompt_per_million: 0.5, completion_per_million: 2.0 };
        assert!((usage.cost(&price) - 2.0).abs() < 1e-12);
    }
}
