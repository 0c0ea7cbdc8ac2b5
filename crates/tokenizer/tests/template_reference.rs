//! Chat templates against real Jinja2 in transformers' chat-template environment
//! (tests/data/template_reference.json, made by scripts/gen_template_reference.py): the Qwen3
//! template on tool/multi-step/reasoning cases the HF fixtures do not cover, SmolLM2's template
//! from its GGUF, and probe templates for Python methods and `tojson` options.

mod common;

use common::gguf::gguf_tokenizer;
use common::{fixtures_dir, model_file, read};
use tokenizer::{ChatTemplate, JsonValue};

#[test]
fn renders_like_jinja2() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/template_reference.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let data = JsonValue::parse(&text).expect("parsing the reference");
    let qwen3_config = read(&fixtures_dir().join("qwen3-tiny/tokenizer_config.json"));
    let qwen3 = ChatTemplate::from_tokenizer_config(&qwen3_config)
        .expect("qwen3 template")
        .expect("present");
    let (_, gguf) = gguf_tokenizer(&model_file("SmolLM2-135M-Instruct.Q4_1.gguf"));
    let smollm2_src = gguf
        .get_str("tokenizer.chat_template")
        .expect("SmolLM2 template");
    let smollm2 =
        ChatTemplate::new(smollm2_src, "<|im_start|>", "<|im_end|>").expect("smollm2 template");

    let cases = data
        .get("cases")
        .and_then(JsonValue::as_array)
        .expect("cases");
    assert_eq!(cases.len(), 27);
    let mut failures = Vec::new();
    for case in cases {
        let name = case.get("name").and_then(JsonValue::as_str).expect("name");
        let probe;
        let template = match case.get("template").and_then(JsonValue::as_str) {
            Some("qwen3") => &qwen3,
            Some("smollm2") => &smollm2,
            _ => {
                let src = case
                    .get("source")
                    .and_then(JsonValue::as_str)
                    .expect("source");
                probe = ChatTemplate::new(src, "", "").unwrap_or_else(|e| panic!("{name}: {e}"));
                &probe
            }
        };
        let messages = case
            .get("messages")
            .and_then(JsonValue::as_array)
            .expect("messages");
        let tools = case.get("tools").and_then(JsonValue::as_array);
        let add_gen = case
            .get("add_generation_prompt")
            .and_then(JsonValue::as_bool)
            .expect("flag");
        let extra = match case.get("extra") {
            Some(JsonValue::Object(entries)) => entries.clone(),
            _ => Vec::new(),
        };
        let want = case
            .get("rendered")
            .and_then(JsonValue::as_str)
            .expect("rendered");
        match template.render_ordered(messages, tools, add_gen, &extra) {
            Ok(got) if got == want => {}
            Ok(got) => failures.push(format!(
                "{name} ({add_gen}, {extra:?}):\n--- got\n{got}\n--- want\n{want}"
            )),
            Err(e) => failures.push(format!("{name}: error {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
