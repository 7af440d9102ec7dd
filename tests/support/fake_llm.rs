//! A fake OpenAI-compatible HTTP/1.1 server, for tests only: std and serde_json, one thread per
//! connection, `Connection: close` on every reply. It records each request and answers with
//! whatever the test's responder returns — including the failures a real server produces (error
//! statuses with `Retry-After`, a connection that hangs, a body cut short, raw bytes).
//!
//! The accept loop and every connection thread stop when the `FakeLlm` is dropped: nothing it
//! started outlives the test.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Longest a connection may take to send its request, and to take our reply.
const IO_LIMIT: Duration = Duration::from_secs(10);
/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(10);

/// A request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub path: String,
    /// In arrival order; names as sent.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON; `Value::Null` when it is not JSON.
    pub body: Value,
}

impl Request {
    /// The first header called `name`, ignoring case.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The content of the last `user` message of a chat request.
    pub(crate) fn last_user_message(&self) -> Option<&str> {
        let messages = self.body.get("messages")?.as_array()?;
        messages.iter().rev().find(|m| m["role"] == "user").and_then(|m| m["content"].as_str())
    }

    /// The `input` texts of an embeddings request (a single string counts as one).
    pub(crate) fn embedding_inputs(&self) -> Vec<String> {
        match &self.body["input"] {
            Value::String(text) => vec![text.clone()],
            Value::Array(items) => items.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect(),
            _ => Vec::new(),
        }
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub(crate) enum Response {
    /// 200 with a proper `chat.completion` body.
    Chat { content: String, prompt_tokens: u64, completion_tokens: u64 },
    /// 200 with an embeddings list. The items are listed in reverse `index` order, so a client
    /// that ignores `index` gets them backwards.
    Embeddings(Vec<Vec<f32>>),
    /// Any status with the given body, and a `Retry-After: <seconds>` header when set.
    Status { code: u16, retry_after: Option<u64>, body: String },
    /// Reads the request, then sends nothing for this long before closing.
    Hang(Duration),
    /// A 200 whose `Content-Length` exceeds the bytes sent, then the connection closes.
    Truncated { body: String },
    /// These bytes, verbatim, then the connection closes.
    Raw(Vec<u8>),
}

impl Response {
    /// A chat reply with small fixed token counts.
    pub(crate) fn chat(content: impl Into<String>) -> Self {
        Self::Chat { content: content.into(), prompt_tokens: 11, completion_tokens: 7 }
    }

    /// A status with an OpenAI-style error body.
    pub(crate) fn status(code: u16, message: &str) -> Self {
        Self::Status { code, retry_after: None, body: json!({ "error": { "message": message } }).to_string() }
    }
}

type Responder = dyn Fn(&Request) -> Response + Send + Sync;

pub(crate) struct FakeLlm {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl FakeLlm {
    /// Listens on 127.0.0.1 at a free port; `responder` answers every request.
    pub(crate) fn start(responder: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port for the fake LLM");
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let responder: Arc<Responder> = Arc::new(responder);
        let accept = {
            let (requests, stop, connections) = (requests.clone(), stop.clone(), connections.clone());
            thread::spawn(move || accept_loop(listener, responder, requests, stop, connections))
        };
        Self { addr, requests, stop, accept: Some(accept), connections }
    }

    /// Answers with `script` in order, then with `then` for every later request.
    pub(crate) fn scripted(script: Vec<Response>, then: Response) -> Self {
        let script = Mutex::new(VecDeque::from(script));
        Self::start(move |_| lock(&script).pop_front().unwrap_or_else(|| then.clone()))
    }

    /// Answers `/embeddings` with `fake_embedding(input, dim)` for each input, anything else 404.
    pub(crate) fn embeddings(dim: usize) -> Self {
        Self::start(move |request| {
            if request.path.ends_with("/embeddings") {
                Response::Embeddings(request.embedding_inputs().iter().map(|t| fake_embedding(t, dim)).collect())
            } else {
                Response::status(404, "this fake serves only /embeddings")
            }
        })
    }

    /// `http://127.0.0.1:<port>/v1`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request received so far, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Request> {
        lock(&self.requests).clone()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            accept.join().ok();
        }
        for connection in std::mem::take(&mut *lock(&self.connections)) {
            connection.join().ok();
        }
    }
}

/// A deterministic bag-of-words embedding: each lowercase alphanumeric word adds 1 to a bucket
/// chosen by its FNV-1a hash; the vector is L2-normalised. Texts sharing words are similar.
pub(crate) fn fake_embedding(text: &str, dim: usize) -> Vec<f32> {
    let mut vector = vec![0.0f32; dim];
    if dim == 0 {
        return vector;
    }
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let hash = word
            .to_lowercase()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        vector[(hash % dim as u64) as usize] += 1.0;
    }
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the requests from the others.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(
    listener: TcpListener,
    responder: Arc<Responder>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (responder, requests, stop) = (responder.clone(), requests.clone(), stop.clone());
                let handle = thread::spawn(move || serve(stream, &*responder, &requests, &stop));
                lock(&connections).push(handle);
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn serve(mut stream: TcpStream, responder: &Responder, requests: &Mutex<Vec<Request>>, stop: &AtomicBool) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(POLL)).is_err()
        || stream.set_write_timeout(Some(IO_LIMIT)).is_err()
    {
        return;
    }
    let Some(request) = read_request(&mut stream, stop) else { return };
    lock(requests).push(request.clone());
    let response = responder(&request);
    let bytes = match response {
        Response::Hang(duration) => {
            let until = Instant::now() + duration;
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                thread::sleep(POLL);
            }
            return;
        }
        Response::Chat { content, prompt_tokens, completion_tokens } => {
            let body = json!({
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": request.body["model"],
                "choices": [{ "index": 0, "message": { "role": "assistant", "content": content }, "finish_reason": "stop" }],
                "usage": { "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens },
            });
            http_response(200, &[], body.to_string().as_bytes(), None)
        }
        Response::Embeddings(vectors) => {
            let data: Vec<Value> = vectors
                .iter()
                .enumerate()
                .rev()
                .map(|(index, embedding)| json!({ "object": "embedding", "index": index, "embedding": embedding }))
                .collect();
            let body = json!({ "object": "list", "data": data, "model": request.body["model"],
                               "usage": { "prompt_tokens": 0, "total_tokens": 0 } });
            http_response(200, &[], body.to_string().as_bytes(), None)
        }
        Response::Status { code, retry_after, body } => {
            let retry_after = retry_after.map(|s| ("Retry-After", s.to_string()));
            http_response(code, retry_after.as_slice(), body.as_bytes(), None)
        }
        Response::Truncated { body } => http_response(200, &[], body.as_bytes(), Some(body.len() + 100)),
        Response::Raw(bytes) => bytes,
    };
    if stream.write_all(&bytes).is_ok() {
        stream.flush().ok();
    }
    stream.shutdown(Shutdown::Write).ok();
}

fn http_response(code: u16, headers: &[(&str, String)], body: &[u8], claimed_length: Option<usize>) -> Vec<u8> {
    let reason = match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        claimed_length.unwrap_or(body.len())
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Reads one request with a `Content-Length` body; None if the client went away, took longer
/// than `IO_LIMIT`, sent something that is not HTTP, or the server is stopping.
fn read_request(stream: &mut TcpStream, stop: &AtomicBool) -> Option<Request> {
    let deadline = Instant::now() + IO_LIMIT;
    let mut data = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let mut read_more = |data: &mut Vec<u8>| -> Option<()> {
        loop {
            if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
                return None;
            }
            match stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => {
                    data.extend_from_slice(&chunk[..n]);
                    return Some(());
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {}
                Err(_) => return None,
            }
        }
    };
    let head_end = loop {
        if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        read_more(&mut data)?;
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path) = (request_line.next()?.to_owned(), request_line.next()?.to_owned());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0);
    let body_start = head_end + 4;
    while data.len() < body_start + length {
        read_more(&mut data)?;
    }
    let body = serde_json::from_slice(&data[body_start..body_start + length]).unwrap_or(Value::Null);
    Some(Request { method, path, headers, body })
}
