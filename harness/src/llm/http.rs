//! One JSON POST with retries, shared by the chat and embedding clients: exponential backoff with
//! full jitter on 429, 5xx, timeouts and broken connections, honouring `Retry-After` up to
//! `backoff_max_s`; other statuses fail at once with the server's message. Every attempt is
//! recorded so a campaign can store exactly what was exchanged.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;
use serde_json::Value;

use super::endpoint::Endpoint;
use super::error::{LlmError, clip};

/// Replies larger than this are refused; far above any chat completion or embedding batch.
const MAX_REPLY_BYTES: u64 = 256 * 1024 * 1024;
/// Error text kept per attempt (the raw reply is kept whole).
const ERROR_CHARS: usize = 2_000;

/// How the client waits between attempts; tests inject one that records instead of sleeping.
pub(super) trait Sleeper: Send + Sync {
    fn sleep(&self, duration: Duration);
}

/// Sleeps the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// One HTTP attempt of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Attempt {
    /// 1-based.
    pub attempt: u32,
    /// From sending the request to the last byte of the reply (or the failure).
    pub latency_s: f64,
    /// None when no status line arrived (timeout, refused connection).
    pub http_status: Option<u16>,
    /// Why the attempt failed; None for the successful one.
    pub error: Option<String>,
    /// The reply body as received, when one was read (also for error statuses).
    pub raw_reply: Option<String>,
    /// The wait requested before the next attempt; None when there was no next attempt.
    pub wait_s: Option<f64>,
}

/// A request, every attempt made for it, and the final result.
#[derive(Debug, Clone)]
pub(crate) struct Outcome<T> {
    /// The JSON body sent (identical for every attempt; the API key is never in it).
    pub request: Value,
    pub attempts: Vec<Attempt>,
    pub result: Result<T, LlmError>,
}

/// The API key, kept out of `Debug` output.
#[derive(Clone)]
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What one attempt came to.
enum Step<T> {
    Done(T),
    Retry { error: LlmError, retry_after: Option<Duration> },
    Fail(LlmError),
}

#[derive(Clone)]
pub(crate) struct Transport {
    endpoint: Endpoint,
    agent: ureq::Agent,
    api_key: Option<ApiKey>,
    sleeper: Arc<dyn Sleeper>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport").field("endpoint", &self.endpoint).field("api_key", &self.api_key).finish()
    }
}

impl Transport {
    /// Validates the endpoint and reads the API key through `lookup` (the environment, in
    /// production).
    pub(crate) fn new(endpoint: &Endpoint, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, LlmError> {
        endpoint.validate()?;
        let api_key = match &endpoint.api_key_env {
            None => None,
            Some(var) => match lookup(var) {
                Some(key) if !key.trim().is_empty() => Some(ApiKey(key.trim().to_owned())),
                _ => return Err(LlmError::MissingApiKey { var: var.clone() }),
            },
        };
        let mut config = ureq::Agent::config_builder()
            .timeout_global(Duration::try_from_secs_f64(endpoint.timeout_s).ok())
            .http_status_as_error(false)
            // A redirected POST would lose its body; a 3xx is reported so `base_url` gets fixed.
            .max_redirects(0);
        // HTTP(S)_PROXY from the environment applies to remote hosts only: a model served on
        // this machine is never behind the proxy, and NO_PROXY rarely lists loopback.
        if endpoint.is_loopback() {
            config = config.proxy(None);
        }
        let agent = ureq::Agent::with_parts(
            config.build(),
            ureq::unversioned::transport::DefaultConnector::default(),
            super::resolver::LiteralFirst::default(),
        );
        Ok(Self { endpoint: endpoint.clone(), agent, api_key, sleeper: Arc::new(ThreadSleeper) })
    }

    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    #[cfg(test)]
    pub(crate) fn set_sleeper(&mut self, sleeper: Arc<dyn Sleeper>) {
        self.sleeper = sleeper;
    }

    /// POSTs `request` to `base_url/path` until `parse` accepts a success reply or the retries
    /// run out. A success reply that `parse` rejects is retried once: gateways occasionally
    /// answer 200 with a cut or foreign body, but a reply that is malformed twice is most likely
    /// malformed every time (e.g. a reasoning model spending all `max_tokens` before any
    /// content), and each retry costs tokens.
    pub(crate) fn post<T>(
        &self,
        path: &str,
        request: Value,
        parse: impl Fn(&str) -> Result<T, LlmError>,
    ) -> Outcome<T> {
        let url = self.endpoint.url(path);
        let body = request.to_string();
        let total = self.endpoint.max_retries.saturating_add(1);
        let mut attempts = Vec::new();
        let mut bad_replies = 0;
        let mut number = 0;
        loop {
            number += 1;
            let started = Instant::now();
            let (http_status, raw_reply, step) = self.attempt(&url, &body, &parse, &mut bad_replies);
            let mut record = Attempt {
                attempt: number,
                latency_s: started.elapsed().as_secs_f64(),
                http_status,
                error: None,
                raw_reply,
                wait_s: None,
            };
            match step {
                Step::Done(value) => {
                    attempts.push(record);
                    return Outcome { request, attempts, result: Ok(value) };
                }
                Step::Fail(error) => {
                    record.error = Some(clip(&error.to_string(), ERROR_CHARS));
                    attempts.push(record);
                    return Outcome { request, attempts, result: Err(error) };
                }
                Step::Retry { error, retry_after } => {
                    record.error = Some(clip(&error.to_string(), ERROR_CHARS));
                    if number >= total {
                        attempts.push(record);
                        let result = Err(LlmError::Exhausted { attempts: total, last: Box::new(error) });
                        return Outcome { request, attempts, result };
                    }
                    let wait = self.wait_before_retry(number, retry_after);
                    record.wait_s = Some(wait.as_secs_f64());
                    attempts.push(record);
                    self.sleeper.sleep(wait);
                }
            }
        }
    }

    fn attempt<T>(
        &self,
        url: &str,
        body: &str,
        parse: &impl Fn(&str) -> Result<T, LlmError>,
        bad_replies: &mut u32,
    ) -> (Option<u16>, Option<String>, Step<T>) {
        let mut request = self.agent.post(url).header("content-type", "application/json");
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {}", key.0));
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(error) => return (None, None, self.transport_failure(error)),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let text = match response.body_mut().with_config().limit(MAX_REPLY_BYTES).lossy_utf8(true).read_to_string() {
            Ok(text) => text,
            Err(error) => return (Some(status), None, self.transport_failure(error)),
        };
        let step = match status {
            200..=299 => match parse(&text) {
                Ok(value) => Step::Done(value),
                Err(error) => {
                    *bad_replies += 1;
                    if *bad_replies > 1 { Step::Fail(error) } else { Step::Retry { error, retry_after: None } }
                }
            },
            408 | 429 | 500..=599 => Step::Retry { error: LlmError::status(status, &text), retry_after },
            _ => Step::Fail(LlmError::status(status, &text)),
        };
        (Some(status), Some(text), step)
    }

    fn transport_failure<T>(&self, error: ureq::Error) -> Step<T> {
        use ureq::Error as E;
        match error {
            E::Timeout(_) => {
                Step::Retry { error: LlmError::Timeout { seconds: self.endpoint.timeout_s }, retry_after: None }
            }
            E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) | E::BodyStalled | E::Decompress(..) => {
                Step::Retry { error: LlmError::Transport(error.to_string()), retry_after: None }
            }
            other => Step::Fail(LlmError::Request(other.to_string())),
        }
    }

    /// The server's `Retry-After` when it gave one, else full jitter: uniform in
    /// [0, backoff_initial_s · 2^(retry−1)]; never more than `backoff_max_s`.
    fn wait_before_retry(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let max = self.endpoint.backoff_max_s;
        let seconds = match retry_after {
            Some(asked) => asked.as_secs_f64().min(max),
            None => {
                let cap =
                    (self.endpoint.backoff_initial_s * 2f64.powi(retry.saturating_sub(1).min(64) as i32)).min(max);
                rand::rng().random::<f64>() * cap
            }
        };
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::ZERO)
    }
}

/// `Retry-After` in its delay-seconds form (a decimal is accepted too) or its HTTP-date form.
pub(crate) fn parse_retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((date.with_timezone(&chrono::Utc) - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = chrono::DateTime::parse_from_rfc3339("2015-10-21T07:27:00Z").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 1.5 ", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("-3", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_doubles_under_the_cap_and_retry_after_is_capped() {
        let endpoint = Endpoint { model: "m".into(), backoff_initial_s: 1.0, backoff_max_s: 5.0, ..Default::default() };
        let transport = Transport::new(&endpoint, &|_| None).unwrap();
        for _ in 0..200 {
            assert!(transport.wait_before_retry(1, None) <= Duration::from_secs(1));
            assert!(transport.wait_before_retry(3, None) <= Duration::from_secs(4));
            assert!(transport.wait_before_retry(40, None) <= Duration::from_secs(5));
        }
        assert_eq!(transport.wait_before_retry(1, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(transport.wait_before_retry(1, Some(Duration::from_secs(300))), Duration::from_secs(5));
    }
}
