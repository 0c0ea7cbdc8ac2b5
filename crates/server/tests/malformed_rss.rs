//! 1,000 malformed requests leave the server healthy and its memory flat. A test binary of
//! its own, so that no other test allocates in the process while VmRSS is measured.

#[path = "http/support.rs"]
mod support;

use serde_json::json;

use support::*;

#[test]
fn a_thousand_malformed_requests_leave_the_server_healthy_and_rss_flat() {
    let s = TestServer::started(server_config());
    let a = s.addr;
    let pad = "x".repeat(8 << 10);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<(String, Vec<u8>)> = vec![
        (
            "/v1/chat/completions".into(),
            format!("{{\"model\": \"{pad}").into_bytes(),
        ),
        ("/v1/chat/completions".into(), deep.clone().into_bytes()),
        (
            "/v1/chat/completions".into(),
            json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": pad}],
                "temperature": "hot"})
            .to_string()
            .into_bytes(),
        ),
        (
            "/v1/chat/completions".into(),
            json!({"model": pad, "messages": []})
                .to_string()
                .into_bytes(),
        ),
        (
            "/v1/completions".into(),
            json!({"model": MODEL_NAME, "prompt": [[1, 2], [pad]]})
                .to_string()
                .into_bytes(),
        ),
        (
            "/v1/completions".into(),
            json!({"model": MODEL_NAME, "prompt": "hi", "max_tokens": 1e300, "pad": pad})
                .to_string()
                .into_bytes(),
        ),
        (
            "/v1/completions".into(),
            json!({"model": MODEL_NAME, "prompt": "hi", "n": -1, "logit_bias": {"x": 1}})
                .to_string()
                .into_bytes(),
        ),
        ("/tokenize".into(), vec![0xff; 9000]),
        (
            "/detokenize".into(),
            json!({"tokens": [u64::MAX]}).to_string().into_bytes(),
        ),
        (
            "/v1/chat/completions".into(),
            json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "x"}],
                "tools": [{"type": "function", "function": {"name": pad}}]})
            .to_string()
            .into_bytes(),
        ),
    ];
    let send_all = |rounds: usize| {
        for i in 0..rounds {
            let (path, body) = &bodies[i % bodies.len()];
            let r = request(a, "POST", path, &[], body);
            assert!(
                r.status == 400 || r.status == 404,
                "{path}: {} {}",
                r.status,
                r.text()
            );
            r.error();
        }
    };
    send_all(200); // warm-up: allocator pools, connection buffers
    let before = rss_kib();
    send_all(1000);
    let after = rss_kib();

    eprintln!("VmRSS before {before} KiB, after 1000 malformed requests {after} KiB");
    assert_eq!(get(a, "/health").status, 200);
    assert!(
        after <= before + 4096,
        "RSS grew by {} KiB over 1000 malformed requests",
        after.saturating_sub(before)
    );
    // Still serving.
    let ok = post(
        a,
        "/v1/completions",
        &json!({"model": MODEL_NAME, "prompt": "hi",
        "max_tokens": 2}),
    );
    assert_eq!(ok.status, 200, "{}", ok.text());
}
