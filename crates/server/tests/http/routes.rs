//! Non-generating routes: liveness/readiness while loading, the model list, API keys,
//! tokenize/detokenize against the HF references, every error status and its OpenAI shape.

use std::sync::mpsc;

use serde_json::{json, Value};

use crate::support::*;

#[test]
fn listens_before_loading_and_answers_503_until_ready() {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let server = TestServer::start_with(server_config(), move || {
        release_rx.recv().map_err(|e| e.to_string())?;
        Ok(load_tiny())
    });
    let a = server.addr;
    let h = get(a, "/health");
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    let r = get(a, "/ready");
    assert_eq!(r.status, 503);
    assert_eq!(r.error()["code"], "model_loading");
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "hi"}]}),
        ),
        (
            "/v1/completions",
            json!({"model": MODEL_NAME, "prompt": "hi"}),
        ),
        ("/tokenize", json!({"prompt": "hi"})),
    ] {
        let r = post(a, path, &body);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.error()["type"], "server_error");
    }
    assert_eq!(get(a, "/v1/models").status, 503);
    let m = get(a, "/metrics");
    assert_eq!(m.status, 200);
    assert_eq!(metric_in(&m.text(), "inferno_server_ready"), Some(0.0));

    release_tx.send(()).expect("release the loader");
    server.wait_ready();
    assert_eq!(get(a, "/ready").json()["status"], "ready");
    assert_eq!(metric(a, "inferno_server_ready"), 1.0);
    assert_eq!(metric(a, "inferno_engine_alive"), 1.0);
}

#[test]
fn failed_load_stops_the_server_with_the_error() {
    let server = TestServer::start_with(server_config(), || Err("no such model".into()));
    let err = server.join().expect_err("load failure is an error");
    assert!(err.to_string().contains("no such model"), "{err}");
}

#[test]
fn models_list_and_retrieve() {
    let s = TestServer::started(server_config());
    let v = get(s.addr, "/v1/models").json();
    assert_eq!(v["object"], "list");
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["id"], MODEL_NAME);
    assert_eq!(data[0]["object"], "model");
    assert_eq!(data[0]["owned_by"], "inferno");
    // 256 blocks of 16 tokens = 4096 = the model's max_position_embeddings.
    assert_eq!(data[0]["max_model_len"], 4096);
    assert!(data[0]["created"].as_u64().is_some());
    assert_eq!(
        get(s.addr, &format!("/v1/models/{MODEL_NAME}")).json()["id"],
        MODEL_NAME
    );
    let r = get(s.addr, "/v1/models/gpt-4");
    assert_eq!(r.status, 404);
    assert_eq!(r.error()["code"], "model_not_found");
}

#[test]
fn api_keys_protect_inference_routes_only() {
    let mut cfg = server_config();
    cfg.api_keys = vec!["k1,k2".into(), "k3".into()];
    let s = TestServer::started(cfg);
    let a = s.addr;
    let chat = json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 2});
    for (path, body) in [
        ("/v1/chat/completions", chat.clone()),
        (
            "/v1/completions",
            json!({"model": MODEL_NAME, "prompt": "x", "max_tokens": 1}),
        ),
        ("/tokenize", json!({"prompt": "hi"})),
        ("/detokenize", json!({"tokens": [1]})),
    ] {
        for headers in [
            vec![],
            vec![("Authorization", "Bearer nope")],
            vec![("Authorization", "k1")],
            vec![("Authorization", "Bearer k1k2")],
        ] {
            let r = post_with(a, path, &headers, &body);
            assert_eq!(r.status, 401, "{path} {headers:?}");
            let e = r.error();
            assert_eq!(e["type"], "authentication_error");
            assert_eq!(e["code"], "invalid_api_key");
        }
        for key in ["Bearer k1", "Bearer k2", "bearer k3"] {
            let r = post_with(a, path, &[("Authorization", key)], &body);
            assert_eq!(r.status, 200, "{path} {key}: {}", r.text());
        }
    }
    let r = request(a, "GET", "/v1/models", &[], b"");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_eq!(
        request(
            a,
            "GET",
            "/v1/models",
            &[("Authorization", "Bearer k3")],
            b""
        )
        .status,
        200
    );
    for open in ["/health", "/ready", "/metrics"] {
        assert_eq!(get(a, open).status, 200, "{open}");
    }
}

/// `/tokenize` renders the real Qwen3 template with `chat_template_kwargs` and tokenizes like
/// HF (`expected.json` → `tokenizer.chat_template`: 16 renders without tools); `/detokenize`
/// gives the text back.
#[test]
fn tokenize_matches_the_hf_chat_template_references() {
    let s = TestServer::started(server_config());
    let exp = expected();
    let cases = exp["tokenizer"]["chat_template"].as_array().expect("cases");
    let mut checked = 0;
    for c in cases.iter().filter(|c| c.get("tools").is_none()) {
        let mut body = json!({"messages": c["messages"],
            "add_generation_prompt": c["add_generation_prompt"]});
        if let Some(t) = c["enable_thinking"].as_bool() {
            body["chat_template_kwargs"] = json!({"enable_thinking": t});
        }
        let r = post(s.addr, "/tokenize", &body);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["tokens"], c["ids"], "{} {body}", c["name"]);
        assert_eq!(v["count"], c["ids"].as_array().map(Vec::len).unwrap_or(0));
        assert_eq!(v["max_model_len"], 4096);
        let d = post(s.addr, "/detokenize", &json!({"tokens": v["tokens"]}));
        assert_eq!(d.json()["prompt"], c["rendered"], "{}", c["name"]);
        checked += 1;
    }
    assert_eq!(checked, 16);
    // Plain prompts: the tokenizer cases of the reference.
    for case in exp["tokenizer"]["cases"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let v = post(
            s.addr,
            "/tokenize",
            &json!({"prompt": text, "model": MODEL_NAME,
            "return_token_strs": true}),
        )
        .json();
        assert_eq!(v["tokens"], case["ids"], "{text:?}");
        assert_eq!(v["token_strs"], case["tokens"], "{text:?}");
        let d = post(s.addr, "/detokenize", &json!({"tokens": case["ids"]})).json();
        assert_eq!(d["prompt"], case["decode"], "{text:?}");
    }
}

#[test]
fn tokenize_errors() {
    let s = TestServer::started(server_config());
    for (path, body, status, param) in [
        ("/tokenize", json!({}), 400, Some("prompt")),
        ("/tokenize", json!({"prompt": 5}), 400, Some("prompt")),
        (
            "/tokenize",
            json!({"prompt": "a", "messages": []}),
            400,
            None,
        ),
        (
            "/tokenize",
            json!({"prompt": "a", "model": "other"}),
            404,
            Some("model"),
        ),
        (
            "/tokenize",
            json!({"messages": [{"content": "x"}]}),
            400,
            Some("messages[0].role"),
        ),
        ("/detokenize", json!({}), 400, Some("tokens")),
        ("/detokenize", json!({"tokens": [-1]}), 400, Some("tokens")),
        (
            "/detokenize",
            json!({"tokens": [151936]}),
            400,
            Some("tokens"),
        ),
    ] {
        let r = post(s.addr, path, &body);
        assert_eq!(r.status, status, "{path} {body}: {}", r.text());
        let e = r.error();
        assert_eq!(e["param"].as_str(), param, "{path} {body}");
    }
}

/// Every 4xx of the inference routes, with its OpenAI body.
#[test]
fn request_errors_have_openai_shape_and_status() {
    let mut cfg = server_config();
    cfg.max_body_bytes = 64 << 10;
    let s = TestServer::started(cfg);
    let a = s.addr;
    let msgs = json!([{"role": "user", "content": "hi"}]);
    let chat = |extra: Value| {
        let mut b = json!({"model": MODEL_NAME, "messages": msgs, "max_tokens": 2});
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                b.as_object_mut().expect("object").remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        b
    };
    let cases: Vec<(Value, u16, &str, Option<&str>)> = vec![
        (
            chat(json!({"model": null})),
            400,
            "invalid_request_error",
            Some("model"),
        ),
        (
            chat(json!({"model": "gpt-4o"})),
            404,
            "invalid_request_error",
            Some("model"),
        ),
        (
            chat(json!({"messages": null})),
            400,
            "invalid_request_error",
            Some("messages"),
        ),
        (
            chat(json!({"temperature": -0.5})),
            400,
            "invalid_request_error",
            Some("temperature"),
        ),
        (
            chat(json!({"top_p": 1.5})),
            400,
            "invalid_request_error",
            Some("top_p"),
        ),
        (
            chat(json!({"n": 1000})),
            400,
            "invalid_request_error",
            Some("n"),
        ),
        (
            chat(json!({"max_tokens": 0})),
            400,
            "invalid_request_error",
            Some("max_tokens"),
        ),
        (
            chat(json!({"max_tokens": 5000})),
            400,
            "invalid_request_error",
            Some("max_tokens"),
        ),
        (
            chat(json!({"logit_bias": {"999999": 1}})),
            400,
            "invalid_request_error",
            Some("logit_bias"),
        ),
        (
            chat(json!({"tools": [{"type": "function", "function": {"name": "f"}}]})),
            400,
            "invalid_request_error",
            Some("tools"),
        ),
        (
            chat(json!({"tool_choice": "required"})),
            400,
            "invalid_request_error",
            Some("tool_choice"),
        ),
        (
            chat(json!({"response_format": {"type": "json_object"}})),
            400,
            "invalid_request_error",
            Some("response_format"),
        ),
        (
            chat(json!({"top_logprobs": 2})),
            400,
            "invalid_request_error",
            Some("top_logprobs"),
        ),
        (
            chat(json!({"logprobs": true, "top_logprobs": 21})),
            400,
            "invalid_request_error",
            Some("top_logprobs"),
        ),
        (
            chat(json!({"stream_options": {"include_usage": true}})),
            400,
            "invalid_request_error",
            Some("stream_options"),
        ),
        (
            chat(json!({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})),
            400,
            "invalid_request_error",
            Some("messages[0].content[0]"),
        ),
    ];
    for (body, status, kind, param) in cases {
        let r = post(a, "/v1/chat/completions", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let e = r.error();
        assert_eq!(e["type"], kind, "{body}");
        assert_eq!(e["param"].as_str(), param, "{body}: {e}");
    }
    let comp = json!({"model": MODEL_NAME, "prompt": "hello", "max_tokens": 2});
    for (patch, param) in [
        (json!({"suffix": "end"}), "suffix"),
        (json!({"best_of": 3}), "best_of"),
        (json!({"logprobs": 50}), "logprobs"),
        (json!({"prompt": []}), "prompt"),
        (json!({"prompt": [1, "a"]}), "prompt"),
        (json!({"prompt": [[1, 2], [151936]]}), "prompt"),
        (json!({"prompt": null}), "prompt"),
    ] {
        let mut body = comp.clone();
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let r = post(a, "/v1/completions", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.error()["param"].as_str(), Some(param), "{body}");
    }
    // A prompt that fills the context: 400 naming the prompt.
    let long = "word ".repeat(5000);
    let r = post(
        a,
        "/v1/completions",
        &json!({"model": MODEL_NAME, "prompt": long}),
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let e = r.error();
    assert_eq!(e["param"], "prompt");
    assert_eq!(e["code"], "context_length_exceeded");

    // Malformed bodies.
    for raw in [
        &b"{"[..],
        b"",
        b"[]",
        b"null",
        b"{\"model\": }",
        b"\xff\xfe",
    ] {
        for path in [
            "/v1/chat/completions",
            "/v1/completions",
            "/tokenize",
            "/detokenize",
        ] {
            let r = request(a, "POST", path, &[], raw);
            assert_eq!(r.status, 400, "{path} {raw:?}");
            assert_eq!(r.error()["type"], "invalid_request_error");
        }
    }
    // Over --max-body-bytes: 413.
    let big = json!({"model": MODEL_NAME, "prompt": "x".repeat(70 << 10)});
    let r = post(a, "/v1/completions", &big);
    assert_eq!(r.status, 413);
    assert_eq!(r.error()["code"], "request_too_large");
    // Unknown path and wrong method.
    let r = get(a, "/v1/nope");
    assert_eq!(r.status, 404);
    r.error();
    let r = get(a, "/v1/chat/completions");
    assert_eq!(r.status, 405);
    r.error();
    // The counters saw them, by route template.
    let text = get(a, "/metrics").text();
    assert!(
        text.contains("inferno_http_requests_total{route=\"/v1/completions\",status=\"413\"} 1"),
        "{text}"
    );
    assert!(text.contains("inferno_http_requests_total{route=\"other\",status=\"404\"}"));
    // Unknown fields are ignored, explicit nulls accepted.
    let r = post(
        a,
        "/v1/chat/completions",
        &chat(
            json!({"frobnicate": {"x": 1}, "user": "me", "stop": null, "seed": 3,
            "temperature": null, "metadata": {"a": "b"}, "store": false}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}
