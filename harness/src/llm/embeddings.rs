//! Embeddings: `POST {base_url}/embeddings` with `{"model", "input": [...]}`, vectors returned in
//! input order (servers may list them in any order; `index` says which input each belongs to).

use serde_json::{Map, Value, json};

use super::endpoint::Endpoint;
use super::error::{LlmError, clip};
use super::http::{Outcome, Transport};
#[cfg(test)]
use {super::http::Sleeper, std::sync::Arc};

pub(super) type EmbeddingOutcome = Outcome<Vec<Vec<f32>>>;

/// A blocking client for one embedding endpoint. Sampling keys of the endpoint are ignored;
/// `extra_body` is passed through (e.g. `dimensions`).
#[derive(Debug, Clone)]
pub(crate) struct EmbeddingClient {
    transport: Transport,
}

impl EmbeddingClient {
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

    /// One vector per text, in the order of `texts`. No request is made for no texts.
    pub(crate) fn embed(&self, texts: &[String]) -> EmbeddingOutcome {
        let mut fields = Map::new();
        fields.insert("model".into(), json!(self.endpoint().model));
        fields.insert("input".into(), json!(texts));
        for (key, value) in &self.endpoint().extra_body {
            fields.insert(key.clone(), value.clone());
        }
        let request = Value::Object(fields);
        if texts.is_empty() {
            return Outcome { request, attempts: Vec::new(), result: Ok(Vec::new()) };
        }
        self.transport.post("embeddings", request, |text| parse_embeddings(text, texts.len()))
    }
}

/// `data[i].embedding`, placed by `data[i].index`; every input must get exactly one vector.
pub(crate) fn parse_embeddings(text: &str, inputs: usize) -> Result<Vec<Vec<f32>>, LlmError> {
    let bad = |message: String| Err(LlmError::BadReply(message));
    let body: Value = match serde_json::from_str(text) {
        Ok(body) => body,
        Err(e) => return bad(format!("not JSON ({e}): {}", clip(text.trim(), 200))),
    };
    let Some(data) = body.get("data").and_then(Value::as_array) else {
        return bad(format!("no `data` list in the reply: {}", clip(text.trim(), 200)));
    };
    let mut vectors: Vec<Option<Vec<f32>>> = vec![None; inputs];
    for (position, item) in data.iter().enumerate() {
        let index = item.get("index").and_then(Value::as_u64).map_or(position, |i| i as usize);
        let Some(slot) = vectors.get_mut(index) else {
            return bad(format!("embedding index {index} is out of range for {inputs} inputs"));
        };
        if slot.is_some() {
            return bad(format!("two embeddings for input {index}"));
        }
        let numbers = item
            .get("embedding")
            .and_then(Value::as_array)
            .and_then(|values| values.iter().map(|v| v.as_f64().map(|x| x as f32)).collect::<Option<Vec<f32>>>());
        let Some(numbers) = numbers else {
            return bad(format!("embedding {index} is not a list of numbers (base64 encoding is not supported)"));
        };
        *slot = Some(numbers);
    }
    let missing = vectors.iter().filter(|v| v.is_none()).count();
    if missing > 0 {
        return bad(format!("{missing} of {inputs} inputs got no embedding"));
    }
    Ok(vectors.into_iter().flatten().collect())
}

/// Cosine similarity. Vectors of different lengths are compared over the shorter one; a zero
/// vector has similarity 0 with everything.
pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa == 0.0 || bb == 0.0 { 0.0 } else { dot / (aa.sqrt() * bb.sqrt()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_of_parallel_orthogonal_and_zero_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-12);
        assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn malformed_embedding_replies_are_errors() {
        let err = |text: &str| parse_embeddings(text, 2).unwrap_err().to_string();
        assert!(err(r#"{"data":[{"index":0,"embedding":[1]}]}"#).contains("1 of 2 inputs"));
        assert!(err(r#"{"data":[{"index":5,"embedding":[1]}]}"#).contains("out of range"));
        assert!(err(r#"{"data":[{"index":0,"embedding":"AAAA"}]}"#).contains("base64"));
        assert!(err(r#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[2]}]}"#).contains("two"));
        assert!(err("[]").contains("no `data`"));
    }
}
