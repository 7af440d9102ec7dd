//! Where and how to reach an OpenAI-compatible server: one `Endpoint` per model, read from the
//! campaign TOML. Every key is optional and unknown keys are an error.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("endpoint key `{key}` {message}")]
pub struct EndpointError {
    pub key: &'static str,
    pub message: String,
}

/// Body keys the client writes itself; `extra_body` may not set them, so a request never carries
/// two different values for one setting.
const RESERVED_BODY_KEYS: &[(&str, &str)] = &[
    ("model", "use the `model` key"),
    ("messages", "the harness writes the messages"),
    ("input", "the harness writes the embedding inputs"),
    ("temperature", "use the `temperature` key"),
    ("top_p", "use the `top_p` key"),
    ("top_k", "use the `top_k` key"),
    ("max_tokens", "use `max_tokens` (and `max_tokens_field`)"),
    ("max_completion_tokens", "use `max_tokens` with `max_tokens_field = \"max_completion_tokens\"`"),
    ("seed", "the harness passes the per-request seed (see `send_seed`)"),
    ("stream", "streamed replies are not supported"),
    ("n", "the harness asks for exactly one reply per request"),
];

/// Which body field carries the completion-length limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum_macros::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_tokens`: vLLM, SGLang, llama.cpp and most hosted models.
    #[default]
    MaxTokens,
    /// `max_completion_tokens`: hosted reasoning models that reject `max_tokens`.
    MaxCompletionTokens,
}

impl MaxTokensField {
    /// The field's name, derived by serde's rule (a unit test checks they agree).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// USD prices, used to report what a campaign cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// USD per million prompt (input) tokens.
    pub prompt_per_million: f64,
    /// USD per million completion (output) tokens.
    pub completion_per_million: f64,
}

/// One OpenAI-compatible server and model, with its sampling settings and retry policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Endpoint {
    /// API root, e.g. `http://localhost:8000/v1`; `/chat/completions` and `/embeddings` are
    /// appended to it.
    pub base_url: String,
    /// Model name as the server knows it (vLLM: the `--served-model-name`). Required.
    pub model: String,
    /// Name of the environment variable holding the API key, sent as `Authorization: Bearer`.
    /// The key itself never goes in the config. Unset: no Authorization header (local servers).
    pub api_key_env: Option<String>,
    /// Sampling temperature; sent only when set. Some providers reject `temperature` together
    /// with `top_p`: set only one of them.
    pub temperature: Option<f64>,
    /// Nucleus-sampling mass in (0, 1]; sent only when set.
    pub top_p: Option<f64>,
    /// Top-k sampling (vLLM, SGLang); sent only when set. OpenAI itself rejects it.
    pub top_k: Option<u32>,
    /// Longest completion in tokens; sent only when set, under the name `max_tokens_field`.
    pub max_tokens: Option<u32>,
    /// `max_tokens` (default) or `max_completion_tokens`, for hosted models that reject the former.
    pub max_tokens_field: MaxTokensField,
    /// Pass the per-request seed the harness derives from the campaign seed (default true).
    /// Turn off for providers that reject `seed`. Servers may still sample nondeterministically.
    pub send_seed: bool,
    /// Extra JSON body fields passed through verbatim, e.g.
    /// `extra_body = { chat_template_kwargs = { enable_thinking = false } }` for Qwen3 on
    /// vLLM/SGLang. May not set the fields the client writes itself (model, messages, seed, ...).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub extra_body: Map<String, Value>,
    /// Limit on one whole request, sending to last body byte, in seconds (default 600).
    pub timeout_s: f64,
    /// Retries after the first attempt on 429, 5xx, timeouts and broken connections (default 5).
    pub max_retries: u32,
    /// Backoff cap before the first retry, in seconds (default 1); doubles per retry, and the
    /// wait is drawn uniformly below the cap ("full jitter").
    pub backoff_initial_s: f64,
    /// Longest wait between attempts, in seconds (default 60); also caps a server's `Retry-After`.
    pub backoff_max_s: f64,
    /// Token prices, for cost reports; unset: cost is not reported.
    pub price: Option<Price>,
}

impl Default for Endpoint {
    fn default() -> Self {
        Self {
            base_url: "http://localhost:8000/v1".into(),
            model: String::new(),
            api_key_env: None,
            temperature: None,
            top_p: None,
            top_k: None,
            max_tokens: None,
            max_tokens_field: MaxTokensField::MaxTokens,
            send_seed: true,
            extra_body: Map::new(),
            timeout_s: 600.0,
            max_retries: 5,
            backoff_initial_s: 1.0,
            backoff_max_s: 60.0,
            price: None,
        }
    }
}

impl Endpoint {
    /// Checks the values that parse but cannot work, naming the key.
    pub fn validate(&self) -> Result<(), EndpointError> {
        let invalid = |key, message: &str| Err(EndpointError { key, message: message.to_owned() });
        let finite_at_least = |v: f64, low: f64| v.is_finite() && v >= low;
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) || self.host().is_empty() {
            return invalid(
                "base_url",
                "must be an http:// or https:// URL with a host, e.g. http://localhost:8000/v1",
            );
        }
        if self.model.trim().is_empty() {
            return invalid("model", "must name the model the server serves");
        }
        if self.api_key_env.as_deref().is_some_and(|name| name.trim().is_empty()) {
            return invalid("api_key_env", "must name an environment variable (or be left out)");
        }
        if self.temperature.is_some_and(|t| !finite_at_least(t, 0.0)) {
            return invalid("temperature", "must be a non-negative number");
        }
        if self.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
            return invalid("top_p", "must lie in (0, 1]");
        }
        if self.top_k == Some(0) {
            return invalid("top_k", "must be at least 1 (leave it out to disable top-k)");
        }
        if self.max_tokens == Some(0) {
            return invalid("max_tokens", "must be at least 1 (leave it out for the server's default)");
        }
        if !(self.timeout_s > 0.0 && Duration::try_from_secs_f64(self.timeout_s).is_ok()) {
            return invalid("timeout_s", "must be a positive number of seconds");
        }
        if !finite_at_least(self.backoff_initial_s, 0.0) {
            return invalid("backoff_initial_s", "must be a non-negative number of seconds");
        }
        if !finite_at_least(self.backoff_max_s, self.backoff_initial_s) {
            return invalid("backoff_max_s", "must be a number of seconds no smaller than backoff_initial_s");
        }
        if let Some(price) = self.price
            && !(finite_at_least(price.prompt_per_million, 0.0) && finite_at_least(price.completion_per_million, 0.0))
        {
            return invalid("price", "prices must be non-negative numbers (USD per million tokens)");
        }
        for key in self.extra_body.keys() {
            if let Some((_, why)) = RESERVED_BODY_KEYS.iter().find(|(reserved, _)| reserved == key) {
                return Err(EndpointError { key: "extra_body", message: format!("may not set `{key}`: {why}") });
            }
        }
        Ok(())
    }

    /// The URL's authority (`host[:port]`), for labels and messages.
    pub fn host(&self) -> &str {
        let rest = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, rest)| rest);
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        // Credentials in a URL are never shown.
        authority.rsplit_once('@').map_or(authority, |(_, host)| host)
    }

    /// True when the host is `localhost` or a loopback address.
    pub fn is_loopback(&self) -> bool {
        let authority = self.host();
        let host = match authority.strip_prefix('[') {
            Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
            None => authority.split(':').next().unwrap_or(""),
        };
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// `base_url` with `path` (e.g. `chat/completions`) appended.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url.trim_end_matches('/'), path)
    }

    /// `llm:<model>@<host>`: what the researcher stores on every node.
    pub fn label(&self) -> String {
        format!("llm:{}@{}", self.model, self.host())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Endpoint, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn max_tokens_field_names_are_serdes() {
        for field in [MaxTokensField::MaxTokens, MaxTokensField::MaxCompletionTokens] {
            assert_eq!(serde_json::to_value(field).unwrap(), field.as_str());
        }
    }

    #[test]
    fn every_key_parses_and_round_trips() {
        let text = r#"
            base_url = "https://api.example.com/v1/"
            model = "qwen3-32b"
            api_key_env = "EXAMPLE_KEY"
            temperature = 0.7
            top_k = 20
            max_tokens = 4096
            max_tokens_field = "max_completion_tokens"
            send_seed = false
            extra_body = { chat_template_kwargs = { enable_thinking = false } }
            timeout_s = 120.0
            max_retries = 3
            backoff_initial_s = 0.5
            backoff_max_s = 30.0
            price = { prompt_per_million = 0.2, completion_per_million = 0.6 }
        "#;
        let e = parse(text).unwrap();
        assert!(e.validate().is_ok());
        assert_eq!(e.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(e.extra_body["chat_template_kwargs"]["enable_thinking"], Value::Bool(false));
        assert_eq!(e.url("chat/completions"), "https://api.example.com/v1/chat/completions");
        assert_eq!(e.label(), "llm:qwen3-32b@api.example.com");
        assert_eq!(parse(&toml::to_string_pretty(&e).unwrap()).unwrap(), e);
    }

    #[test]
    fn defaults_apply_and_need_only_a_model() {
        let e = parse("model = \"m\"").unwrap();
        assert_eq!((e.timeout_s, e.max_retries, e.backoff_initial_s, e.backoff_max_s), (600.0, 5, 1.0, 60.0));
        assert!(e.send_seed);
        assert_eq!(e.label(), "llm:m@localhost:8000");
        assert!(e.validate().is_ok());
        assert_eq!(Endpoint::default().validate().unwrap_err().key, "model");
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse("model = \"m\"\ntemprature = 0.5\n").unwrap_err();
        assert!(err.contains("temprature"), "{err}");
    }

    #[test]
    fn nonsense_values_are_named() {
        let base = Endpoint { model: "m".into(), ..Default::default() };
        let key = |e: Endpoint| e.validate().unwrap_err().key;
        assert_eq!(key(Endpoint { base_url: "localhost:8000/v1".into(), ..base.clone() }), "base_url");
        assert_eq!(key(Endpoint { top_p: Some(1.5), ..base.clone() }), "top_p");
        assert_eq!(key(Endpoint { temperature: Some(f64::NAN), ..base.clone() }), "temperature");
        assert_eq!(key(Endpoint { timeout_s: 0.0, ..base.clone() }), "timeout_s");
        assert_eq!(key(Endpoint { backoff_max_s: 0.5, ..base.clone() }), "backoff_max_s");
        assert_eq!(key(Endpoint { api_key_env: Some(" ".into()), ..base.clone() }), "api_key_env");
        let mut e = base.clone();
        e.extra_body.insert("seed".into(), Value::from(3));
        let err = e.validate().unwrap_err();
        assert_eq!(err.key, "extra_body");
        assert!(err.to_string().contains("`seed`"), "{err}");
    }

    #[test]
    fn credentials_in_the_url_stay_out_of_the_label() {
        let e = Endpoint {
            base_url: "https://user:secret@host.example:8443/v1".into(),
            model: "m".into(),
            ..Default::default()
        };
        assert_eq!(e.label(), "llm:m@host.example:8443");
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        let at = |url: &str| Endpoint { base_url: url.into(), model: "m".into(), ..Default::default() }.is_loopback();
        assert!(at("http://localhost:8000/v1") && at("http://127.0.0.1:9/v1") && at("http://[::1]:8000/v1"));
        assert!(!at("https://api.example.com/v1") && !at("http://10.0.0.2:8000/v1"));
    }
}
