//! The clients against the fake server of tests/support: every server behaviour a campaign can
//! meet, and what reaches the wire.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::client::{ChatOutcome, Usage};
use super::endpoint::{MaxTokensField, Price};
use super::fake_llm::{FakeLlm, Response, fake_embedding};
use super::http::Sleeper;
use super::*;

/// Records the waits the client asks for instead of sleeping.
#[derive(Default)]
struct RecordingSleeper(Mutex<Vec<Duration>>);

impl RecordingSleeper {
    fn waits(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }
}

fn endpoint(server: &FakeLlm) -> Endpoint {
    Endpoint {
        base_url: server.base_url(),
        model: "fake-model".into(),
        timeout_s: 10.0,
        max_retries: 3,
        backoff_initial_s: 1.0,
        backoff_max_s: 10.0,
        ..Default::default()
    }
}

fn recording_client(endpoint: &Endpoint) -> (ChatClient, Arc<RecordingSleeper>) {
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = ChatClient::with_key_lookup(endpoint, |_| None).unwrap().with_sleeper(sleeper.clone());
    (client, sleeper)
}

fn ask(client: &ChatClient) -> ChatOutcome {
    client.chat(&[Message::system("You are a researcher."), Message::user("Improve the packing.")], Some(42))
}

fn completion_json(content: &str) -> String {
    json!({ "choices": [{ "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 1, "completion_tokens": 1 } })
    .to_string()
}

#[test]
fn a_normal_reply_carries_usage_and_cost() {
    let server = FakeLlm::scripted(
        vec![],
        Response::Chat { content: "hello".into(), prompt_tokens: 1000, completion_tokens: 500 },
    );
    let endpoint =
        Endpoint { price: Some(Price { prompt_per_million: 2.0, completion_per_million: 8.0 }), ..endpoint(&server) };
    let (client, sleeper) = recording_client(&endpoint);
    let outcome = ask(&client);
    let reply = outcome.result.unwrap();
    assert_eq!(reply.content, "hello");
    assert_eq!(reply.usage, Usage { prompt_tokens: 1000, completion_tokens: 500 });
    assert_eq!(reply.finish_reason.as_deref(), Some("stop"));
    assert!((client.cost(&reply.usage).unwrap() - 0.006).abs() < 1e-12);
    assert_eq!(outcome.attempts.len(), 1);
    let attempt = &outcome.attempts[0];
    assert_eq!(
        (attempt.attempt, attempt.http_status, attempt.error.as_deref(), attempt.wait_s),
        (1, Some(200), None, None)
    );
    assert!(attempt.raw_reply.as_deref().unwrap().contains("chat.completion"));
    assert!(sleeper.waits().is_empty());
    assert_eq!(client.endpoint_label(), format!("llm:fake-model@{}", endpoint.host()));
}

#[test]
fn rate_limits_wait_as_long_as_retry_after_asks_up_to_the_cap() {
    let limited = |seconds| Response::Status { code: 429, retry_after: Some(seconds), body: "slow down".into() };
    let server = FakeLlm::scripted(vec![limited(7), limited(600)], Response::chat("ok"));
    let (client, sleeper) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    assert_eq!(outcome.result.unwrap().content, "ok");
    assert_eq!(sleeper.waits(), vec![Duration::from_secs(7), Duration::from_secs(10)]);
    let statuses: Vec<_> = outcome.attempts.iter().map(|a| a.http_status).collect();
    assert_eq!(statuses, vec![Some(429), Some(429), Some(200)]);
    assert_eq!(outcome.attempts[0].wait_s, Some(7.0));
    assert!(outcome.attempts[0].error.as_deref().unwrap().contains("429"));
    assert_eq!(outcome.attempts[0].raw_reply.as_deref(), Some("slow down"));
}

#[test]
fn server_errors_are_retried_after_jittered_doubling_waits() {
    let server = FakeLlm::scripted(
        vec![Response::status(500, "boom"), Response::status(502, "bad gateway")],
        Response::chat("ok"),
    );
    let (client, sleeper) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    assert_eq!(outcome.result.unwrap().content, "ok");
    assert_eq!(outcome.attempts.len(), 3);
    let waits = sleeper.waits();
    assert_eq!(waits.len(), 2);
    assert!(waits[0] <= Duration::from_secs(1) && waits[1] <= Duration::from_secs(2), "{waits:?}");
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_hung_connection_times_out_and_is_retried() {
    let server = FakeLlm::scripted(vec![Response::Hang(Duration::from_secs(5))], Response::chat("ok"));
    let (client, _) = recording_client(&Endpoint { timeout_s: 0.3, ..endpoint(&server) });
    let outcome = ask(&client);
    assert_eq!(outcome.result.unwrap().content, "ok");
    let first = &outcome.attempts[0];
    assert_eq!(first.http_status, None);
    assert!(first.error.as_deref().unwrap().contains("timeout_s = 0.3"), "{first:?}");
    assert!((0.25..3.0).contains(&first.latency_s), "{first:?}");
}

#[test]
fn a_truncated_body_is_retried() {
    let server = FakeLlm::scripted(vec![Response::Truncated { body: completion_json("cut") }], Response::chat("whole"));
    let (client, _) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    assert_eq!(outcome.result.unwrap().content, "whole");
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(outcome.attempts[0].http_status, Some(200));
    assert!(outcome.attempts[0].error.as_deref().unwrap().contains("transport"), "{:?}", outcome.attempts[0]);
}

#[test]
fn a_reply_that_is_not_http_is_retried() {
    let server = FakeLlm::scripted(vec![Response::Raw(b"garbage\r\n\r\n".to_vec())], Response::chat("ok"));
    let (client, _) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    assert_eq!(outcome.result.unwrap().content, "ok");
    assert_eq!(outcome.attempts.len(), 2);
}

#[test]
fn exhausted_retries_report_the_last_error_and_record_every_attempt() {
    let server = FakeLlm::scripted(vec![], Response::status(503, "overloaded"));
    let (client, sleeper) = recording_client(&Endpoint { max_retries: 2, ..endpoint(&server) });
    let outcome = ask(&client);
    let error = outcome.result.unwrap_err();
    assert!(
        matches!(&error, LlmError::Exhausted { attempts: 3, last } if matches!(**last, LlmError::Status { status: 503, .. }))
    );
    assert!(error.to_string().contains("overloaded"), "{error}");
    assert_eq!(outcome.attempts.len(), 3);
    for (i, attempt) in outcome.attempts.iter().enumerate() {
        assert_eq!(attempt.attempt, i as u32 + 1);
        assert_eq!(attempt.http_status, Some(503));
        assert!(attempt.error.as_deref().unwrap().contains("overloaded"));
        assert_eq!(attempt.wait_s.is_some(), i < 2);
    }
    assert_eq!(sleeper.waits().len(), 2);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_refused_connection_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = Endpoint {
        base_url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".into(),
        max_retries: 1,
        ..Default::default()
    };
    let (client, sleeper) = recording_client(&endpoint);
    let outcome = ask(&client);
    assert!(
        matches!(outcome.result, Err(LlmError::Exhausted { attempts: 2, ref last }) if matches!(**last, LlmError::Transport(_)))
    );
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(sleeper.waits().len(), 1);
}

#[test]
fn unauthorized_is_not_retried() {
    let server = FakeLlm::scripted(vec![Response::status(401, "invalid api key")], Response::chat("never"));
    let (client, sleeper) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    let error = outcome.result.unwrap_err();
    assert!(matches!(error, LlmError::Status { status: 401, .. }));
    let message = error.to_string();
    assert!(message.contains("invalid api key") && message.contains("api_key_env"), "{message}");
    assert_eq!(outcome.attempts.len(), 1);
    assert!(sleeper.waits().is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_reply_without_choices_is_an_error_retried_once() {
    let empty =
        Response::Status { code: 200, retry_after: None, body: r#"{"object":"chat.completion","choices":[]}"#.into() };
    let server = FakeLlm::scripted(vec![], empty);
    let (client, _) = recording_client(&endpoint(&server));
    let outcome = ask(&client);
    assert!(matches!(&outcome.result, Err(LlmError::BadReply(m)) if m.contains("choices")), "{:?}", outcome.result);
    assert_eq!(outcome.attempts.len(), 2);
    assert!(outcome.attempts.iter().all(|a| a.http_status == Some(200) && a.error.is_some()));
}

#[test]
fn a_two_megabyte_reply_is_returned_whole() {
    let content: String = (0..2 * 1024 * 1024).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let server = FakeLlm::scripted(vec![], Response::chat(content.clone()));
    let (client, _) = recording_client(&endpoint(&server));
    assert_eq!(ask(&client).result.unwrap().content, content);
}

#[test]
fn the_request_carries_exactly_the_configured_fields() {
    let server = FakeLlm::scripted(vec![], Response::chat("ok"));
    let mut configured = Endpoint {
        temperature: Some(0.6),
        top_k: Some(20),
        max_tokens: Some(2048),
        max_tokens_field: MaxTokensField::MaxCompletionTokens,
        ..endpoint(&server)
    };
    configured.extra_body.insert("chat_template_kwargs".into(), json!({ "enable_thinking": false }));
    let (client, _) = recording_client(&configured);
    let outcome = ask(&client);
    assert!(outcome.result.is_ok());

    let (client, _) = recording_client(&Endpoint { top_p: Some(0.95), send_seed: false, ..endpoint(&server) });
    assert!(ask(&client).result.is_ok());

    let requests = server.requests();
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/v1/chat/completions"));
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("authorization"), None);
    let body = &first.body;
    assert_eq!(body, &outcome.request);
    assert_eq!(body["model"], "fake-model");
    assert_eq!(
        body["messages"],
        json!([
            { "role": "system", "content": "You are a researcher." },
            { "role": "user", "content": "Improve the packing." }
        ])
    );
    assert_eq!(
        (body["temperature"].clone(), body["top_k"].clone(), body["seed"].clone()),
        (json!(0.6), json!(20), json!(42))
    );
    assert_eq!(body["max_completion_tokens"], 2048);
    assert_eq!(body["chat_template_kwargs"], json!({ "enable_thinking": false }));
    for absent in ["top_p", "max_tokens", "stream"] {
        assert!(body.get(absent).is_none(), "{absent} was sent");
    }
    assert_eq!(second.body["top_p"], 0.95);
    for absent in ["temperature", "top_k", "seed", "max_tokens", "max_completion_tokens"] {
        assert!(second.body.get(absent).is_none(), "{absent} was sent");
    }
}

#[test]
fn the_api_key_comes_from_the_named_environment_variable() {
    let server = FakeLlm::scripted(vec![], Response::chat("ok"));
    let keyed = Endpoint { api_key_env: Some("FAKE_LLM_KEY".into()), ..endpoint(&server) };
    let client =
        ChatClient::with_key_lookup(&keyed, |var| (var == "FAKE_LLM_KEY").then(|| "sk-test-123".into())).unwrap();
    assert!(ask(&client).result.is_ok());
    assert_eq!(server.requests()[0].header("authorization"), Some("Bearer sk-test-123"));
    assert!(!format!("{client:?}").contains("sk-test-123"), "the key leaked into Debug output");

    // The process environment is read by `new`; PATH is set wherever tests run, and reading it
    // avoids mutating the environment of a multi-threaded test process.
    let path = std::env::var("PATH").expect("PATH is set");
    let client = ChatClient::new(&Endpoint { api_key_env: Some("PATH".into()), ..endpoint(&server) }).unwrap();
    assert!(ask(&client).result.is_ok());
    assert_eq!(server.requests()[1].header("authorization"), Some(format!("Bearer {}", path.trim()).as_str()));

    let missing = Endpoint { api_key_env: Some("ASI_EVOLVE_TEST_KEY_THAT_IS_NOT_SET".into()), ..endpoint(&server) };
    let error = ChatClient::new(&missing).unwrap_err();
    assert_eq!(error, LlmError::MissingApiKey { var: "ASI_EVOLVE_TEST_KEY_THAT_IS_NOT_SET".into() });
    assert!(error.to_string().contains("ASI_EVOLVE_TEST_KEY_THAT_IS_NOT_SET"));
}

#[test]
fn an_invalid_endpoint_is_refused_before_any_request() {
    let error = ChatClient::new(&Endpoint { model: "m".into(), top_p: Some(2.0), ..Default::default() }).unwrap_err();
    assert!(error.to_string().contains("`top_p`"), "{error}");
}

#[test]
fn embeddings_come_back_in_input_order() {
    let server = FakeLlm::embeddings(64);
    let client = EmbeddingClient::with_key_lookup(&endpoint(&server), |_| None).unwrap();
    let texts: Vec<String> =
        ["circle packing with rings", "a hexagonal grid", "rings of circles packing"].map(String::from).to_vec();
    let outcome = client.embed(&texts);
    let vectors = outcome.result.unwrap();
    let expected: Vec<Vec<f32>> = texts.iter().map(|t| fake_embedding(t, 64)).collect();
    assert_eq!(vectors, expected);
    assert!(cosine(&vectors[0], &vectors[2]) > cosine(&vectors[0], &vectors[1]));
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/embeddings");
    assert_eq!(request.body, json!({ "model": "fake-model", "input": texts }));
    assert_eq!(outcome.attempts.len(), 1);
}

#[test]
fn embeddings_share_the_retry_policy() {
    let server =
        FakeLlm::scripted(vec![Response::status(503, "warming up")], Response::Embeddings(vec![vec![1.0, 0.0]]));
    let sleeper = Arc::new(RecordingSleeper::default());
    let client = EmbeddingClient::with_key_lookup(&endpoint(&server), |_| None).unwrap().with_sleeper(sleeper.clone());
    let outcome = client.embed(&["one".to_string()]);
    assert_eq!(outcome.result.unwrap(), vec![vec![1.0, 0.0]]);
    assert_eq!(outcome.attempts.len(), 2);
    assert_eq!(sleeper.waits().len(), 1);
    assert_eq!(client.embed(&[]).result.unwrap(), Vec::<Vec<f32>>::new());
    assert_eq!(server.requests().len(), 2);
    assert_eq!(server.requests()[0].body["input"], Value::from(vec!["one"]));
}
