//! The real Qwen3 chat template against transformers' renderings
//! (tests/fixtures/qwen3-tiny/expected.json `tokenizer.chat_template`), byte for byte, and the
//! ids of each rendering against HF tokenizers.

mod common;

use common::{fixtures_dir, qwen3_expected_text, qwen3_tokenizer, read};
use tokenizer::{ChatTemplate, JsonValue};

fn qwen3_template() -> ChatTemplate {
    let config = read(&fixtures_dir().join("qwen3-tiny/tokenizer_config.json"));
    ChatTemplate::from_tokenizer_config(&config)
        .expect("compiling the template")
        .expect("Qwen3 has a chat template")
}

fn ids(v: &JsonValue) -> Vec<u32> {
    v.as_array()
        .expect("ids")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

#[test]
fn renders_like_transformers() {
    let template = qwen3_template();
    let tok = qwen3_tokenizer();
    // Parsed keeping key order: the tools case checks `tojson` keeps the definition's order.
    let expected = JsonValue::parse(&qwen3_expected_text()).expect("expected.json");
    let cases = expected
        .get("tokenizer")
        .and_then(|t| t.get("chat_template"))
        .and_then(JsonValue::as_array)
        .expect("tokenizer.chat_template");
    assert_eq!(cases.len(), 18);
    let mut failures = Vec::new();
    for case in cases {
        let name = case.get("name").and_then(JsonValue::as_str).expect("name");
        let messages = case
            .get("messages")
            .and_then(JsonValue::as_array)
            .expect("messages");
        let tools = case.get("tools").and_then(JsonValue::as_array);
        let add_gen = case
            .get("add_generation_prompt")
            .and_then(JsonValue::as_bool)
            .expect("add_generation_prompt");
        // enable_thinking null means "not passed" (the template tests `is defined`).
        let mut extra = Vec::new();
        if let Some(v) = case.get("enable_thinking").filter(|v| !v.is_null()) {
            extra.push(("enable_thinking".to_string(), v.clone()));
        }
        let label = format!("{name} (add_generation_prompt={add_gen}, extra={extra:?})");
        let rendered = template
            .render_ordered(messages, tools, add_gen, &extra)
            .expect("render");
        let want = case
            .get("rendered")
            .and_then(JsonValue::as_str)
            .expect("rendered");
        if rendered != want {
            failures.push(format!("{label}:\n--- got\n{rendered}\n--- want\n{want}"));
            continue;
        }
        let want_ids = ids(case.get("ids").expect("ids"));
        let got_ids = tok.encode(&rendered, false);
        if got_ids != want_ids {
            failures.push(format!("{label}: ids {got_ids:?} != {want_ids:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The `render` entry point with `serde_json::Value`s gives the same text where key order
/// does not matter, and `p2_chat`'s prompt (rendered with enable_thinking=False) is reproduced.
#[test]
fn render_with_serde_values() {
    let template = qwen3_template();
    let messages = vec![
        serde_json::json!({"role": "system", "content": "You are a helpful assistant."}),
        serde_json::json!({"role": "user", "content": "What is the capital of France? Answer in one word."}),
    ];
    let mut extra = serde_json::Map::new();
    extra.insert("enable_thinking".into(), serde_json::Value::Bool(false));
    let rendered = template
        .render(&messages, None, true, &extra)
        .expect("render");
    let expected = common::qwen3_expected();
    let p2 = expected["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .find(|p| p["name"] == "p2_chat")
        .expect("p2_chat");
    assert_eq!(rendered, p2["text"].as_str().expect("text"));
}
