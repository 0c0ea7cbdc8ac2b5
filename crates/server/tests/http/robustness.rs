//! Bad input, clients that hang up, a full queue, and shutdown: the server stays up, frees
//! what a gone client held, answers 429 instead of queueing without bound, and drains.

use std::io::Read;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::*;

fn long_chat(stream: bool) -> Value {
    json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "Tell me everything."}],
        "max_tokens": 3000, "temperature": 0, "ignore_eos": true, "stream": stream})
}

/// The engine is idle: nothing running or waiting, and every used KV block is one only the
/// prefix cache holds (what an idle engine keeps).
fn engine_idle(addr: std::net::SocketAddr) -> bool {
    let text = get(addr, "/metrics").text();
    let m = |n: &str| metric_in(&text, n).unwrap_or(-1.0);
    m("inferno_num_requests_running") == 0.0
        && m("inferno_num_requests_waiting") == 0.0
        && m("inferno_kv_cache_blocks_used") == m("inferno_kv_cache_blocks_cached")
}

/// A streaming client that hangs up mid-generation: the request is aborted at once (far fewer
/// tokens than asked), nothing stays running, its blocks are free again.
#[test]
fn disconnect_mid_stream_aborts_and_frees_blocks() {
    let s = TestServer::started(server_config());
    let a = s.addr;
    assert!(engine_idle(a));
    let gen_before = metric(a, "inferno_generation_tokens_total");
    let sock = open_stream(a, "/v1/chat/completions", &long_chat(true), 3000);
    assert_eq!(metric(a, "inferno_num_requests_running"), 1.0);
    drop(sock);
    eventually(
        "the aborted stream to leave the engine",
        Duration::from_secs(10),
        || engine_idle(a),
    );
    let generated = metric(a, "inferno_generation_tokens_total") - gen_before;
    assert!(
        generated < 3000.0,
        "generated {generated} tokens: not aborted"
    );
    // The server goes on serving.
    let r = post(
        a,
        "/v1/chat/completions",
        &json!({"model": MODEL_NAME,
        "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}),
    );
    assert_eq!(r.status, 200);
}

/// A non-streaming client that hangs up: the handler is dropped, and with it the request.
#[test]
fn disconnect_while_waiting_for_a_whole_response_aborts() {
    let s = TestServer::started(server_config());
    let a = s.addr;
    let gen_before = metric(a, "inferno_generation_tokens_total");
    let mut sock = TcpStream::connect(a).expect("connect");
    write_request(
        &mut sock,
        "POST",
        "/v1/chat/completions",
        &[],
        long_chat(false).to_string().as_bytes(),
    );
    eventually("the request to run", Duration::from_secs(10), || {
        metric(a, "inferno_num_requests_running") == 1.0
    });
    drop(sock);
    eventually(
        "the abandoned request to leave the engine",
        Duration::from_secs(10),
        || engine_idle(a),
    );
    let generated = metric(a, "inferno_generation_tokens_total") - gen_before;
    assert!(
        generated < 3000.0,
        "generated {generated} tokens: not aborted"
    );
}

/// One running, one waiting, the next is refused with 429 in OpenAI's shape.
#[test]
fn full_queue_answers_429() {
    let mut ecfg = engine_config(256, 16);
    ecfg.scheduler.max_running = 1;
    ecfg.scheduler.max_waiting = 1;
    let s = TestServer::start_with(server_config(), move || Ok(load_tiny_with(ecfg)));
    s.wait_ready();
    let a = s.addr;
    // Running: tokens are arriving.
    let running = open_stream(a, "/v1/chat/completions", &long_chat(true), 3000);
    // Waiting: accepted (its role chunk is sent at once), not scheduled.
    let waiting = open_stream(a, "/v1/chat/completions", &long_chat(true), 1);
    let r = post(a, "/v1/chat/completions", &long_chat(false));
    assert_eq!(r.status, 429, "{}", r.text());
    let e = r.error();
    assert_eq!(e["type"], "rate_limit_error");
    assert_eq!(e["code"], "queue_full");
    drop(waiting);
    drop(running);
    eventually("both to be aborted", Duration::from_secs(10), || {
        engine_idle(a)
    });
    let r = post(
        a,
        "/v1/completions",
        &json!({"model": MODEL_NAME, "prompt": "hi",
        "max_tokens": 2}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// SIGTERM-style shutdown while a stream runs: it is allowed to finish (drain), ends with its
/// finish reason and `[DONE]`, and the server then stops cleanly.
#[test]
fn shutdown_drains_running_streams() {
    let mut s = TestServer::started(server_config());
    let a = s.addr;
    let mut body = long_chat(true);
    body["max_tokens"] = json!(400);
    let mut sock = open_stream(a, "/v1/chat/completions", &body, 500);
    s.signal();
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).expect("read the rest");
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("\"finish_reason\":\"length\""), "{text}");
    assert!(text.contains("data: [DONE]\n\n"), "{text}");
    s.stop().expect("clean stop");
    assert!(TcpStream::connect(a).is_err(), "still listening after stop");
}

/// A drain deadline shorter than the stream: the stream is cut with an error event and
/// `[DONE]` (never left hanging), and the server stops.
#[test]
fn shutdown_deadline_aborts_what_is_left() {
    let mut cfg = server_config();
    cfg.drain_timeout = Duration::from_millis(300);
    let mut s = TestServer::started(cfg);
    let mut sock = open_stream(s.addr, "/v1/chat/completions", &long_chat(true), 500);
    s.signal();
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).expect("read the rest");
    let text = String::from_utf8_lossy(&rest);
    assert!(text.contains("\"error\""), "{text}");
    assert!(text.contains("data: [DONE]"), "{text}");
    s.stop().expect("clean stop");
}
