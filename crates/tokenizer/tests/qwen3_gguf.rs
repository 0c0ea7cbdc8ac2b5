//! The Qwen3 tokenizer read from a GGUF (`tokenizer.ggml.pre = qwen2`, converted by llama.cpp)
//! gives the ids HF tokenizers gives (expected.json; llama.cpp's llama-tokenize agreed), and the
//! GGUF's copy of the chat template renders like transformers.

mod common;

use common::gguf::{gguf_template, gguf_tokenizer};
use common::{ids_of, model_file, qwen3_expected, qwen3_expected_text};
use tokenizer::{JsonValue, PreTokenizer, TokenKind};

const GGUF: &str = "qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf";

#[test]
fn cases_and_prompts_like_hf() {
    let (tok, _) = gguf_tokenizer(&model_file(GGUF));
    assert_eq!(tok.pre_tokenizer(), PreTokenizer::Qwen2 { max_digits: 1 });
    assert_eq!(tok.vocab_size(), 151936);
    assert_eq!(tok.n_merges(), 151387);
    assert_eq!((tok.bos_id(), tok.eos_ids()), (Some(151643), &[151645][..]));
    assert_eq!(tok.token_kind(151669), TokenKind::Unused);
    let expected = qwen3_expected();
    let mut texts: Vec<(String, Vec<u32>, Option<String>)> = Vec::new();
    for c in expected["tokenizer"]["cases"].as_array().expect("cases") {
        let skip = c["decode_skip_special"].as_str().map(String::from);
        texts.push((
            c["text"].as_str().expect("text").into(),
            ids_of(&c["ids"]),
            skip,
        ));
    }
    for p in expected["prompts"].as_array().expect("prompts") {
        texts.push((
            p["text"].as_str().expect("text").into(),
            ids_of(&p["ids"]),
            None,
        ));
    }
    for (text, want, skip) in &texts {
        // The GGUF's add_bos_token is false: add_special_tokens adds nothing.
        assert_eq!(&tok.encode(text, true), want, "{text:?}");
        assert_eq!(&tok.decode(want, false), text, "{text:?}");
        if let Some(skip) = skip {
            assert_eq!(&tok.decode(want, true), skip, "{text:?}");
        }
    }
}

#[test]
fn gguf_chat_template_like_transformers() {
    let (tok, g) = gguf_tokenizer(&model_file(GGUF));
    let template = gguf_template(&g, &tok);
    let expected = JsonValue::parse(&qwen3_expected_text()).expect("expected.json");
    let cases = expected
        .get("tokenizer")
        .and_then(|t| t.get("chat_template"))
        .and_then(JsonValue::as_array)
        .expect("cases");
    for case in cases {
        let messages = case
            .get("messages")
            .and_then(JsonValue::as_array)
            .expect("messages");
        let tools = case.get("tools").and_then(JsonValue::as_array);
        let add_gen = case
            .get("add_generation_prompt")
            .and_then(JsonValue::as_bool)
            .expect("flag");
        let extra: Vec<(String, JsonValue)> = case
            .get("enable_thinking")
            .filter(|v| !v.is_null())
            .map(|v| ("enable_thinking".to_string(), v.clone()))
            .into_iter()
            .collect();
        let rendered = template
            .render_ordered(messages, tools, add_gen, &extra)
            .expect("render");
        assert_eq!(
            Some(rendered.as_str()),
            case.get("rendered").and_then(JsonValue::as_str)
        );
        let want: Vec<u32> = case
            .get("ids")
            .and_then(JsonValue::as_array)
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect();
        assert_eq!(tok.encode(&rendered, false), want);
    }
}
