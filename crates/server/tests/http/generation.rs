//! Generation through HTTP against HF transformers' greedy references for qwen3-tiny
//! (`tests/fixtures/qwen3-tiny/expected.json`): completions from text and token ids, several
//! prompts and `n`, chat through the real template, streaming = non-streaming, SSE framing,
//! usage, logprobs in OpenAI's shapes, stop strings, echo, reasoning split.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::support::*;

/// (name, kind, prompt text, messages, prompt ids, greedy decoded text) per reference prompt.
struct RefPrompt {
    name: String,
    kind: String,
    text: String,
    messages: Value,
    ids: Vec<u64>,
    decoded: String,
}

fn ref_prompts() -> Vec<RefPrompt> {
    expected()["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| RefPrompt {
            name: p["name"].as_str().unwrap_or_default().to_string(),
            kind: p["kind"].as_str().unwrap_or_default().to_string(),
            text: p["text"].as_str().unwrap_or_default().to_string(),
            messages: p["messages"].clone(),
            ids: p["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .filter_map(Value::as_u64)
                .collect(),
            decoded: p["greedy"]["decoded"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
        .collect()
}

fn greedy_completion(prompt: Value) -> Value {
    json!({"model": MODEL_NAME, "prompt": prompt, "max_tokens": 32, "temperature": 0,
        "ignore_eos": true})
}

fn p2_chat(extra: Value) -> Value {
    let p = ref_prompts()
        .into_iter()
        .find(|p| p.kind == "chat")
        .expect("a chat prompt");
    let mut body = json!({"model": MODEL_NAME, "messages": p.messages, "max_tokens": 32,
        "temperature": 0, "ignore_eos": true,
        "chat_template_kwargs": {"enable_thinking": false}});
    for (k, v) in extra.as_object().expect("object") {
        body[k] = v.clone();
    }
    body
}

#[test]
fn greedy_completions_equal_the_hf_reference() {
    let s = TestServer::started(server_config());
    for p in ref_prompts().iter().filter(|p| p.kind == "text") {
        for prompt in [json!(p.ids), json!(p.text)] {
            let v = post(s.addr, "/v1/completions", &greedy_completion(prompt)).json();
            assert_eq!(v["object"], "text_completion");
            assert!(v["id"].as_str().is_some_and(|i| i.starts_with("cmpl-")));
            assert_eq!(v["model"], MODEL_NAME);
            let c = &v["choices"][0];
            assert_eq!(c["text"], p.decoded.as_str(), "{}", p.name);
            assert_eq!(c["finish_reason"], "length");
            assert_eq!(c["index"], 0);
            assert!(c["logprobs"].is_null());
            let u = &v["usage"];
            assert_eq!(u["prompt_tokens"], p.ids.len());
            assert_eq!(u["completion_tokens"], 32);
            assert_eq!(u["total_tokens"], p.ids.len() + 32);
            assert!(u["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .is_some());
        }
    }
}

/// Two prompts × n = 2 in one request: choices `prompt * n + i`, every one the greedy
/// reference; usage sums both prompts.
#[test]
fn several_prompts_and_n_index_choices() {
    let s = TestServer::started(server_config());
    let refs = ref_prompts();
    let (a, b) = (&refs[0], &refs[1]);
    let mut body = greedy_completion(json!([a.ids, b.ids]));
    body["n"] = json!(2);
    let v = post(s.addr, "/v1/completions", &body).json();
    let choices = v["choices"].as_array().expect("choices");
    assert_eq!(choices.len(), 4);
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(c["index"], i);
        let want = if i < 2 { &a.decoded } else { &b.decoded };
        assert_eq!(c["text"], want.as_str(), "choice {i}");
    }
    assert_eq!(v["usage"]["prompt_tokens"], a.ids.len() + b.ids.len());
    assert_eq!(v["usage"]["completion_tokens"], 4 * 32);

    // Streaming: the same texts, reassembled per index.
    body["stream"] = json!(true);
    let chunks = stream_chunks(&post(s.addr, "/v1/completions", &body));
    let mut texts: BTreeMap<u64, String> = BTreeMap::new();
    let mut finished = BTreeMap::new();
    for ch in &chunks {
        assert_eq!(ch["object"], "text_completion");
        assert!(ch.get("usage").is_none(), "usage only when asked: {ch}");
        for c in ch["choices"].as_array().expect("choices") {
            let i = c["index"].as_u64().expect("index");
            texts
                .entry(i)
                .or_default()
                .push_str(c["text"].as_str().expect("text"));
            if let Some(r) = c["finish_reason"].as_str() {
                assert!(
                    finished.insert(i, r.to_string()).is_none(),
                    "finished twice"
                );
            }
        }
    }
    for (i, c) in choices.iter().enumerate() {
        assert_eq!(texts[&(i as u64)], c["text"].as_str().unwrap_or_default());
        assert_eq!(finished[&(i as u64)], "length");
    }
    // The prompts run together and stream as they go: the second prompt's first text comes
    // before the first prompt's choices finish.
    let index = |ch: &Value| ch["choices"][0]["index"].as_u64();
    let first_b = chunks.iter().position(|ch| index(ch) >= Some(2));
    let a_done = chunks
        .iter()
        .rposition(|ch| index(ch) < Some(2) && ch["choices"][0]["finish_reason"].is_string());
    assert!(
        first_b.is_some() && first_b < a_done,
        "{first_b:?} {a_done:?}"
    );
}

/// Chat through the real Qwen3 template with `enable_thinking: false` renders the reference
/// prompt (it ends with an empty think block), so the reply is the greedy reference.
#[test]
fn chat_equals_the_reference_streaming_or_not() {
    let s = TestServer::started(server_config());
    let p = ref_prompts()
        .into_iter()
        .find(|p| p.kind == "chat")
        .expect("chat prompt");
    let v = post(s.addr, "/v1/chat/completions", &p2_chat(json!({}))).json();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().is_some_and(|i| i.starts_with("chatcmpl-")));
    let c = &v["choices"][0];
    assert_eq!(c["message"]["role"], "assistant");
    assert_eq!(c["message"]["content"], p.decoded.as_str());
    assert!(c["message"].get("reasoning_content").is_none(), "{v}");
    assert_eq!(c["finish_reason"], "length");
    assert_eq!(v["usage"]["prompt_tokens"], p.ids.len());
    assert_eq!(v["usage"]["completion_tokens"], 32);

    let chunks = stream_chunks(&post(
        s.addr,
        "/v1/chat/completions",
        &p2_chat(json!({"stream": true, "stream_options": {"include_usage": true}})),
    ));
    let first = &chunks[0]["choices"][0];
    assert_eq!(first["delta"]["role"], "assistant");
    let mut content = String::new();
    let mut finish = Vec::new();
    let (last, body) = chunks.split_last().expect("chunks");
    for ch in body {
        assert_eq!(ch["object"], "chat.completion.chunk");
        assert_eq!(ch["id"], chunks[0]["id"]);
        assert!(ch["usage"].is_null() && ch.get("usage").is_some(), "{ch}");
        let c = &ch["choices"][0];
        if let Some(t) = c["delta"]["content"].as_str() {
            content.push_str(t);
        }
        assert!(c["delta"].get("reasoning_content").is_none());
        if let Some(r) = c["finish_reason"].as_str() {
            finish.push(r.to_string());
        }
    }
    assert_eq!(content, p.decoded);
    assert_eq!(finish, ["length"]);
    assert_eq!(last["choices"], json!([]));
    // The same numbers, except that the second run found the prompt's full blocks (2 of 16
    // tokens) in the prefix cache.
    let mut want = v["usage"].clone();
    assert_eq!(want["prompt_tokens_details"]["cached_tokens"], 0);
    want["prompt_tokens_details"]["cached_tokens"] = json!(p.ids.len() / 16 * 16);
    assert_eq!(last["usage"], want);
}

#[test]
fn always_include_usage_flag() {
    let mut cfg = server_config();
    cfg.always_include_usage = true;
    let s = TestServer::started(cfg);
    let chunks = stream_chunks(&post(
        s.addr,
        "/v1/chat/completions",
        &p2_chat(json!({"stream": true, "max_tokens": 3})),
    ));
    let last = chunks.last().expect("chunks");
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["completion_tokens"], 3);
}

/// Greedy: the chosen token is the most likely one, so it heads its own top list; lists are
/// sorted; the tokens' bytes spell the text.
#[test]
fn logprobs_in_openai_shapes() {
    let s = TestServer::started(server_config());
    let v = post(
        s.addr,
        "/v1/chat/completions",
        &p2_chat(json!({"logprobs": true, "top_logprobs": 3})),
    )
    .json();
    let c = &v["choices"][0];
    let content = c["logprobs"]["content"]
        .as_array()
        .expect("logprobs.content");
    assert_eq!(content.len(), 32);
    let mut bytes = Vec::new();
    for e in content {
        let top = e["top_logprobs"].as_array().expect("top_logprobs");
        assert_eq!(top.len(), 3);
        assert_eq!(top[0]["token"], e["token"], "{e}");
        assert_eq!(top[0]["logprob"], e["logprob"]);
        let lps: Vec<f64> = top.iter().filter_map(|t| t["logprob"].as_f64()).collect();
        assert!(
            lps.windows(2).all(|w| w[0] >= w[1]) && lps[0] <= 0.0,
            "{lps:?}"
        );
        let b: Vec<u8> = e["bytes"]
            .as_array()
            .expect("bytes")
            .iter()
            .filter_map(|x| x.as_u64().map(|x| x as u8))
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&b),
            e["token"].as_str().unwrap_or_default()
        );
        bytes.extend(b);
    }
    assert_eq!(
        String::from_utf8_lossy(&bytes),
        c["message"]["content"].as_str().unwrap_or_default()
    );

    // Streaming carries the same entries, chunk by chunk.
    let chunks = stream_chunks(&post(
        s.addr,
        "/v1/chat/completions",
        &p2_chat(json!({"logprobs": true, "top_logprobs": 3, "stream": true})),
    ));
    let streamed: Vec<Value> = chunks
        .iter()
        .filter_map(|ch| ch["choices"][0]["logprobs"]["content"].as_array())
        .flatten()
        .cloned()
        .collect();
    assert_eq!(streamed, *content);

    // Completions: parallel lists, top dicts led by the chosen token, offsets into the text.
    let p = &ref_prompts()[0];
    let mut body = greedy_completion(json!(p.ids));
    body["logprobs"] = json!(2);
    let v = post(s.addr, "/v1/completions", &body).json();
    let c = &v["choices"][0];
    let lp = &c["logprobs"];
    let tokens: Vec<&str> = lp["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tokens.len(), 32);
    assert_eq!(lp["token_logprobs"].as_array().map(Vec::len), Some(32));
    let offsets: Vec<u64> = lp["text_offset"]
        .as_array()
        .expect("text_offset")
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert_eq!(offsets[0], 0);
    for (i, top) in lp["top_logprobs"]
        .as_array()
        .expect("top")
        .iter()
        .enumerate()
    {
        let top = top.as_object().expect("a {token: logprob} object");
        assert!(!top.is_empty() && top.len() <= 2);
        assert!(top.contains_key(tokens[i]), "{i}: {top:?}");
        assert_eq!(top[tokens[i]], lp["token_logprobs"][i]);
        if i > 0 {
            let prev = tokens[i - 1].chars().count() as u64;
            assert_eq!(offsets[i], offsets[i - 1] + prev);
        }
    }
}

/// A stop string that spans tokens: the text ends right before it, `finish_reason` is
/// `stop`, and streaming never shows any part of it.
#[test]
fn stop_strings_cut_before_the_match() {
    let s = TestServer::started(server_config());
    let p = &ref_prompts()[0];
    let chars: Vec<char> = p.decoded.chars().collect();
    let stop: String = chars[12..17].iter().collect();
    let at = p.decoded.find(&stop).expect("stop in text");
    let want = &p.decoded[..at];
    for prompt in [json!(p.ids), json!(p.text)] {
        let mut body = greedy_completion(prompt);
        body["stop"] = json!(["never there", stop]);
        let v = post(s.addr, "/v1/completions", &body).json();
        assert_eq!(v["choices"][0]["text"], want);
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        body["stream"] = json!(true);
        let chunks = stream_chunks(&post(s.addr, "/v1/completions", &body));
        let text: String = chunks
            .iter()
            .filter_map(|c| c["choices"][0]["text"].as_str())
            .collect();
        assert_eq!(text, want);
        assert_eq!(
            chunks.last().expect("chunks")["choices"][0]["finish_reason"],
            "stop"
        );
    }
    // A single string works the same.
    let mut body = greedy_completion(json!(p.ids));
    body["stop"] = json!(stop);
    assert_eq!(
        post(s.addr, "/v1/completions", &body).json()["choices"][0]["text"],
        want
    );
}

#[test]
fn echo_puts_the_prompt_first() {
    let s = TestServer::started(server_config());
    let p = &ref_prompts()[0];
    let mut body = greedy_completion(json!(p.text));
    body["echo"] = json!(true);
    let v = post(s.addr, "/v1/completions", &body).json();
    assert_eq!(v["choices"][0]["text"], format!("{}{}", p.text, p.decoded));
    body["stream"] = json!(true);
    let chunks = stream_chunks(&post(s.addr, "/v1/completions", &body));
    assert_eq!(chunks[0]["choices"][0]["text"], p.text.as_str());
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, format!("{}{}", p.text, p.decoded));
}

/// `echo` with `logprobs`: the prompt's tokens lead the legacy lists, the first with `null`s;
/// at every other prompt position the top logprobs differ as HF's top logits do
/// (`expected.json` topk); offsets run over the echoed text; the completion's entries are those
/// of the same request without `echo`; streaming gives the same lists, the prompt's first.
#[test]
fn echo_with_logprobs_rates_the_prompt() {
    let s = TestServer::started(server_config());
    let p = &ref_prompts()[0];
    let exp = expected();
    let topk = exp["prompts"][0]["topk"].as_array().expect("topk").clone();
    let n = p.ids.len();
    let mut body = greedy_completion(json!(p.text));
    body["max_tokens"] = json!(4);
    body["logprobs"] = json!(2);
    let plain = post(s.addr, "/v1/completions", &body).json();
    body["echo"] = json!(true);
    let v = post(s.addr, "/v1/completions", &body).json();
    let c = &v["choices"][0];
    let lp = &c["logprobs"];
    let list = |k: &str| lp[k].as_array().expect(k).clone();
    let (tokens, lps, tops, offsets) = (
        list("tokens"),
        list("token_logprobs"),
        list("top_logprobs"),
        list("text_offset"),
    );
    assert_eq!(tokens.len(), n + 4);
    assert_eq!(
        (lps.len(), tops.len(), offsets.len()),
        (n + 4, n + 4, n + 4)
    );
    assert!(lps[0].is_null() && tops[0].is_null(), "{lp}");
    let prompt_text: String = tokens[..n].iter().filter_map(Value::as_str).collect();
    assert_eq!(prompt_text, p.text);
    let completion = plain["choices"][0]["text"].as_str().expect("text");
    assert_eq!(c["text"], format!("{}{completion}", p.text));
    let mut at = 0;
    for (i, t) in tokens.iter().enumerate() {
        assert_eq!(offsets[i], at, "offset {i}");
        at += t.as_str().expect("token").chars().count() as u64;
    }
    for q in 1..n {
        let top = tops[q].as_object().expect("a {token: logprob} object");
        // (serde_json's map sorts its keys: order by value)
        let mut vals: Vec<f64> = top.values().filter_map(Value::as_f64).collect();
        vals.sort_by(|a, b| b.total_cmp(a));
        assert_eq!(vals.len(), 2, "position {q}: {top:?}");
        let hf: Vec<f64> = topk[q - 1]["values"]
            .as_array()
            .expect("values")
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        // HF logits agree with ours within 1e-4: a difference of two within 2e-4.
        let (ours, theirs) = (vals[1] - vals[0], hf[1] - hf[0]);
        assert!(
            (ours - theirs).abs() <= 2e-4,
            "position {q}: {ours} vs {theirs}"
        );
        let chosen = lps[q].as_f64().expect("logprob");
        assert!(chosen <= vals[0] + 1e-6, "position {q}");
    }
    let plain_lp = &plain["choices"][0]["logprobs"];
    assert_eq!(
        tokens[n..],
        plain_lp["tokens"].as_array().expect("tokens")[..]
    );
    for (i, want) in plain_lp["token_logprobs"]
        .as_array()
        .expect("lps")
        .iter()
        .enumerate()
    {
        let (a, b) = (lps[n + i].as_f64(), want.as_f64());
        assert!(
            a.zip(b).is_some_and(|(a, b)| (a - b).abs() <= 1e-4),
            "{a:?} {b:?}"
        );
    }

    // Streaming: the echo chunk carries the prompt's lists, then the completion's follow.
    body["stream"] = json!(true);
    let chunks = stream_chunks(&post(s.addr, "/v1/completions", &body));
    let first = &chunks[0]["choices"][0];
    assert_eq!(first["text"], p.text.as_str());
    assert_eq!(
        first["logprobs"]["tokens"].as_array().map(Vec::len),
        Some(n)
    );
    let mut streamed: Vec<Value> = Vec::new();
    let mut streamed_offsets: Vec<Value> = Vec::new();
    for ch in &chunks {
        let l = &ch["choices"][0]["logprobs"];
        streamed.extend(l["tokens"].as_array().cloned().unwrap_or_default());
        streamed_offsets.extend(l["text_offset"].as_array().cloned().unwrap_or_default());
    }
    assert_eq!(streamed, tokens);
    assert_eq!(streamed_offsets, offsets);
}

/// Seeded sampling repeats; `n` choices of one seeded request differ from each other's seeds
/// but each equals the same request again.
#[test]
fn seeded_sampling_repeats() {
    let s = TestServer::started(server_config());
    let body = json!({"model": MODEL_NAME, "prompt": "Once upon a time", "max_tokens": 12,
        "temperature": 1.0, "top_k": 50, "seed": 1234, "n": 2, "ignore_eos": true,
        "user": "u1", "priority": 5});
    let a = post(s.addr, "/v1/completions", &body).json();
    let b = post(s.addr, "/v1/completions", &body).json();
    assert_eq!(a["choices"], b["choices"]);
}

/// Qwen3 thinking: `<think>` forced with logit_bias (the random weights never choose it):
/// everything after the opening tag is reasoning, the content is empty, streaming and not.
/// Then both tags biased: the chat split equals the raw completion text split by hand.
#[test]
fn reasoning_content_split() {
    let s = TestServer::started(server_config());
    let body = json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "Think."}],
        "max_tokens": 6, "temperature": 0, "logit_bias": {"151667": 100}});
    let v = post(s.addr, "/v1/chat/completions", &body).json();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["reasoning_content"], "<think>".repeat(5), "{v}");
    assert_eq!(m["content"], "");
    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    let chunks = stream_chunks(&post(s.addr, "/v1/chat/completions", &sbody));
    let reasoning: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["reasoning_content"].as_str())
        .collect();
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(reasoning, "<think>".repeat(5));
    assert_eq!(content, "");

    // Both tags and text: small biases on both tags make the greedy reply open a think block,
    // write into it, close it and go on. The raw text of the same generation comes from
    // /v1/completions on the same prompt ids, and is split here by hand.
    let bias = json!({"151667": 2.5, "151668": 3.4});
    let mut chat = json!({"model": MODEL_NAME, "messages": [{"role": "user", "content": "Hello there"}],
        "max_tokens": 32, "temperature": 0, "logit_bias": bias});
    let ids =
        post(s.addr, "/tokenize", &json!({"messages": chat["messages"]})).json()["tokens"].clone();
    let raw = post(
        s.addr,
        "/v1/completions",
        &json!({"model": MODEL_NAME, "prompt": ids,
        "max_tokens": 32, "temperature": 0, "logit_bias": bias}),
    )
    .json()["choices"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mid = raw.find("</think>").unwrap_or(0);
    assert!(
        raw.starts_with("<think>")
            && !raw[..mid].replace("<think>", "").is_empty()
            && raw.len() > mid + "</think>".len(),
        "the biases no longer give think + text + close + more: {raw:?}"
    );
    let (want_reasoning, want_content) = match raw.trim_start().strip_prefix("<think>") {
        Some(rest) => match rest.find("</think>") {
            Some(i) => (
                rest[..i].to_string(),
                rest[i + "</think>".len()..].to_string(),
            ),
            None => (rest.to_string(), String::new()),
        },
        None => (String::new(), raw.clone()),
    };
    let v = post(s.addr, "/v1/chat/completions", &chat).json();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["content"], want_content.as_str(), "raw {raw:?}");
    assert_eq!(
        m["reasoning_content"].as_str().unwrap_or_default(),
        want_reasoning,
        "raw {raw:?}"
    );
    chat["stream"] = json!(true);
    let chunks = stream_chunks(&post(s.addr, "/v1/chat/completions", &chat));
    let field = |k: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| c["choices"][0]["delta"][k].as_str())
            .collect()
    };
    assert_eq!(field("content"), want_content, "raw {raw:?}");
    assert_eq!(field("reasoning_content"), want_reasoning, "raw {raw:?}");
}

/// Concurrent requests through HTTP get the same greedy text as alone (the engine batches
/// them together).
#[test]
fn concurrent_requests_equal_the_references() {
    let s = TestServer::started(server_config());
    let addr = s.addr;
    let handles: Vec<_> = ref_prompts()
        .into_iter()
        .filter(|p| p.kind == "text")
        .map(|p| {
            std::thread::spawn(move || {
                let v = post(addr, "/v1/completions", &greedy_completion(json!(p.ids))).json();
                (
                    v["choices"][0]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    p.decoded,
                )
            })
        })
        .collect();
    for h in handles {
        let (got, want) = h.join().expect("client thread");
        assert_eq!(got, want);
    }
}
