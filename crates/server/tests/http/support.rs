//! Test support: qwen3-tiny loaded from the fetched `models/` folder, a server on a free port
//! (the real `serve_on` on its own runtime thread), a small blocking HTTP/1.1 client over a raw
//! socket (so the tests see exactly the bytes on the wire and can hang up mid-stream), SSE
//! parsing and `/metrics` scraping.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{EngineConfig, SchedulerConfig};
use formats::HfModelDir;
use serde_json::Value;
use server::{LoadedModel, ServerConfig};
use tokenizer::{ChatTemplate, Tokenizer};

pub const MODEL_NAME: &str = "qwen3-tiny";
pub const THREADS: usize = 1;

pub fn models_dir() -> PathBuf {
    std::env::var_os("INFERNO_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The HF reference data of qwen3-tiny (`tests/fixtures/README-qwen3.md`).
pub fn expected() -> Value {
    let p = fixtures_dir().join("qwen3-tiny/expected.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("expected.json")
}

/// qwen3-tiny (HF dir) with the real Qwen3 tokenizer (EOS of config.json and
/// generation_config.json) and chat template.
pub fn load_tiny() -> LoadedModel {
    load_tiny_with(engine_config(256, 16))
}

pub fn load_tiny_with(cfg: EngineConfig) -> LoadedModel {
    let dir = models_dir().join("qwen3-tiny");
    assert!(
        dir.join("model.safetensors").exists(),
        "{} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)",
        dir.display()
    );
    let src = HfModelDir::open(&dir).expect("open qwen3-tiny");
    let mcfg = src.config().clone();
    let model = models::load(&src, &mcfg, THREADS, &mut |_, _| {}).expect("load qwen3-tiny");
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tok_cfg = read(&dir.join("tokenizer_config.json"));
    let tokenizer = Tokenizer::from_hf(&read(&dir.join("tokenizer.json")), Some(&tok_cfg))
        .expect("qwen3 tokenizer")
        .with_eos_ids([151645, 151643]);
    let template = ChatTemplate::from_tokenizer_config(&tok_cfg).expect("template");
    let tokenizer = Arc::new(tokenizer);
    let engine = engine::spawn(model, Arc::clone(&tokenizer), cfg).expect("engine");
    LoadedModel {
        engine,
        tokenizer,
        template,
    }
}

pub fn engine_config(num_blocks: usize, block_size: usize) -> EngineConfig {
    EngineConfig {
        scheduler: SchedulerConfig {
            max_batched_tokens: 512,
            max_running: 16,
            max_waiting: 64,
            block_size,
            num_blocks,
            enable_prefix_cache: true,
            max_model_len: (num_blocks * block_size).min(4096),
        },
        threads: THREADS,
        ..EngineConfig::default()
    }
}

pub fn server_config() -> ServerConfig {
    ServerConfig {
        host: "127.0.0.1".into(),
        port: 0,
        model_name: MODEL_NAME.into(),
        max_body_bytes: 1 << 20,
        drain_timeout: Duration::from_secs(10),
        ..ServerConfig::default()
    }
}

/// A running server; `stop` sends the shutdown signal and waits for the drain.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), server::Error>>>,
}

impl TestServer {
    /// qwen3-tiny with the default test engine config.
    pub fn start(cfg: ServerConfig) -> TestServer {
        TestServer::start_with(cfg, || Ok(load_tiny()))
    }

    pub fn start_with<F>(cfg: ServerConfig, load: F) -> TestServer
    where
        F: FnOnce() -> Result<LoadedModel, String> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            let r = rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                server::serve_on(listener, cfg, load, async move {
                    let _ = rx.await;
                })
                .await
            });
            rt.shutdown_timeout(Duration::from_secs(1));
            r
        });
        TestServer {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// Polls `/ready` until 200 (panics after 60 s).
    pub fn wait_ready(&self) {
        let t0 = Instant::now();
        loop {
            if get(self.addr, "/ready").status == 200 {
                return;
            }
            assert!(t0.elapsed() < Duration::from_secs(60), "server never ready");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn started(cfg: ServerConfig) -> TestServer {
        let s = TestServer::start(cfg);
        s.wait_ready();
        s
    }

    /// Sends the shutdown signal; returns `serve_on`'s result.
    pub fn stop(mut self) -> Result<(), server::Error> {
        self.signal();
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("server thread")
    }

    /// Waits for the server to stop by itself (a failed load).
    pub fn join(mut self) -> Result<(), server::Error> {
        self.thread
            .take()
            .expect("running")
            .join()
            .expect("server thread")
    }

    pub fn signal(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.signal();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---- HTTP ----

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The OpenAI error object, checking its shape.
    pub fn error(&self) -> Value {
        let v = self.json();
        let e = v
            .get("error")
            .unwrap_or_else(|| panic!("no error object: {v}"));
        assert!(e["message"].is_string(), "{v}");
        assert!(e["type"].is_string(), "{v}");
        assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
        assert_eq!(v.as_object().map(|o| o.len()), Some(1), "{v}");
        e.clone()
    }
}

pub fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    write_request(&mut s, method, path, headers, body);
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

pub fn write_request(
    s: &mut TcpStream,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write head");
    s.write_all(body).expect("write body");
}

pub fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path, &[], b"")
}

pub fn post(addr: SocketAddr, path: &str, body: &Value) -> Response {
    request(addr, "POST", path, &[], body.to_string().as_bytes())
}

pub fn post_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &Value) -> Response {
    request(addr, "POST", path, headers, body.to_string().as_bytes())
}

pub fn parse_response(raw: &[u8]) -> Response {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..end]).expect("ascii head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let rest = &raw[end + 4..];
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

/// Decodes a complete chunked body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size_text = std::str::from_utf8(&rest[..eol]).expect("chunk size");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .expect("hex chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    out
}

// ---- SSE ----

/// A streamed body split into SSE events: `Data(json)`, `Done`, `Comment`.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    Data(Value),
    Done,
    Comment(String),
}

/// Splits on blank lines; every event must be one `data: ` line or one `:` comment line.
pub fn parse_sse(body: &[u8]) -> Vec<SseEvent> {
    let text = std::str::from_utf8(body).expect("SSE is UTF-8");
    assert!(
        text.ends_with("\n\n"),
        "stream does not end with a blank line: {text:?}"
    );
    text.trim_end_matches('\n')
        .split("\n\n")
        .map(|ev| {
            assert!(!ev.contains('\n'), "multi-line SSE event {ev:?}");
            if let Some(c) = ev.strip_prefix(':') {
                SseEvent::Comment(c.trim().to_string())
            } else if ev == "data: [DONE]" {
                SseEvent::Done
            } else {
                let data = ev
                    .strip_prefix("data: ")
                    .unwrap_or_else(|| panic!("not a data line: {ev:?}"));
                SseEvent::Data(serde_json::from_str(data).expect("chunk JSON"))
            }
        })
        .collect()
}

/// The data chunks of a finished stream (checks framing: `[DONE]` last and only once).
pub fn stream_chunks(res: &Response) -> Vec<Value> {
    assert_eq!(res.status, 200, "{}", res.text());
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream")),
        "{:?}",
        res.headers
    );
    let events = parse_sse(&res.body);
    assert_eq!(events.last(), Some(&SseEvent::Done), "{events:?}");
    assert_eq!(events.iter().filter(|e| **e == SseEvent::Done).count(), 1);
    events
        .into_iter()
        .filter_map(|e| match e {
            SseEvent::Data(v) => Some(v),
            _ => None,
        })
        .collect()
}

/// Opens a streaming request and reads until `min_bytes` of body arrived; returns the socket
/// (drop it to hang up).
pub fn open_stream(addr: SocketAddr, path: &str, body: &Value, min_bytes: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    write_request(&mut s, "POST", path, &[], body.to_string().as_bytes());
    let mut reader = BufReader::new(s.try_clone().expect("clone"));
    let mut seen = 0;
    let mut line = String::new();
    while seen < min_bytes {
        line.clear();
        let n = reader.read_line(&mut line).expect("read stream");
        assert!(n > 0, "stream ended early");
        seen += n;
    }
    s
}

// ---- metrics ----

/// The value of an unlabeled sample in `/metrics`.
pub fn metric(addr: SocketAddr, name: &str) -> f64 {
    let text = get(addr, "/metrics").text();
    metric_in(&text, name).unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

pub fn metric_in(text: &str, name: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (k, v) = l.rsplit_once(' ')?;
        (k == name).then(|| v.parse().ok()).flatten()
    })
}

/// Polls until `cond` holds (panics with `what` after `timeout`).
pub fn eventually(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < timeout, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// VmRSS of this process in KiB.
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}
