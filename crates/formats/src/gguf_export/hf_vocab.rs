//! The `tokenizer.*` metadata of a GGUF made from a Hugging Face byte-level BPE tokenizer, as
//! convert_hf_to_gguf.py's `_set_vocab_gpt2` and gguf-py's `SpecialVocab` write it: tokens padded
//! to `vocab_size` with `[PAD{i}]`, token types, merges, special token ids, add_bos/add_eos and the
//! chat template.

use std::collections::HashMap;

use serde_json::Value;

use crate::{Error, GgufArray, GgufValue};

/// llama.cpp's `llama_token_type` values.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const USER_DEFINED: i32 = 4;
const UNUSED: i32 = 5;

/// More token ids than any real vocabulary has; bounds what a config.json can make us allocate.
const MAX_VOCAB: usize = 1 << 24;

/// The inputs: parsed `tokenizer.json`, `tokenizer_config.json` (if any), `config.json`, and a
/// `chat_template.jinja` next to them (if any).
pub struct HfTokenizerFiles<'a> {
    pub tokenizer_json: &'a Value,
    pub tokenizer_config: Option<&'a Value>,
    pub config_json: &'a Value,
    pub chat_template_jinja: Option<&'a str>,
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Config(format!("tokenizer.json: {}", msg.into()))
}

/// Looks like a control token although not marked special (convert's `does_token_look_special`).
fn looks_special(token: &str) -> bool {
    matches!(token, "<pad>" | "<mask>" | "<2mass>" | "[@BOS@]")
        || (token.starts_with("<|") && token.ends_with("|>"))
        || (token.starts_with("<｜") && token.ends_with("｜>"))
        || (token.starts_with("<unused") && token.ends_with('>'))
}

struct AddedToken<'a> {
    id: usize,
    content: &'a str,
    special: bool,
}

fn added_tokens(tok: &Value) -> Result<Vec<AddedToken<'_>>, Error> {
    let Some(list) = tok.get("added_tokens") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("'added_tokens' is not a list"))?;
    list.iter()
        .map(|t| {
            let id = t
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| bad(format!("added token without an integer id: {t}")))?;
            let content = t
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("added token {id} has no content")))?;
            Ok(AddedToken {
                id: usize::try_from(id).map_err(|_| bad(format!("token id {id} too large")))?,
                content,
                special: t.get("special").and_then(Value::as_bool).unwrap_or(false),
            })
        })
        .collect()
}

/// `tokenizer.ggml.tokens` and `tokenizer.ggml.token_type`.
fn tokens_and_types(
    tok: &Value,
    added: &[AddedToken<'_>],
    vocab_size: usize,
) -> Result<(Vec<String>, Vec<i32>), Error> {
    if vocab_size == 0 || vocab_size > MAX_VOCAB {
        return Err(bad(format!("vocab_size {vocab_size} is out of range")));
    }
    let vocab = tok
        .get("model")
        .and_then(|m| m.get("vocab"))
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no model.vocab object (only BPE tokenizers are supported)"))?;
    let mut by_id: Vec<Option<(&str, bool)>> = vec![None; vocab_size];
    for (token, id) in vocab {
        let id = id
            .as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| bad(format!("vocab entry '{token}' has no integer id")))?;
        let slot = by_id.get_mut(id).ok_or_else(|| {
            bad(format!(
                "token '{token}' has id {id}, outside vocab_size {vocab_size}"
            ))
        })?;
        *slot = Some((token.as_str(), false));
    }
    for t in added {
        let slot = by_id.get_mut(t.id).ok_or_else(|| {
            bad(format!(
                "added token '{}' has id {}, outside vocab_size {vocab_size}",
                t.content, t.id
            ))
        })?;
        *slot = Some((t.content, true));
    }
    let special: HashMap<usize, bool> = added.iter().map(|t| (t.id, t.special)).collect();

    let mut tokens = Vec::with_capacity(vocab_size);
    let mut types = Vec::with_capacity(vocab_size);
    for (i, slot) in by_id.into_iter().enumerate() {
        match slot {
            None => {
                tokens.push(format!("[PAD{i}]"));
                types.push(UNUSED);
            }
            Some((token, false)) => {
                tokens.push(token.to_string());
                types.push(NORMAL);
            }
            Some((token, true)) => {
                if special.get(&i).copied().unwrap_or(false) || looks_special(token) {
                    tokens.push(token.to_string());
                    types.push(CONTROL);
                } else {
                    // Pre-normalize user-defined spaces (SentencePiece's U+2581), as convert does.
                    tokens.push(token.replace('\u{2581}', " "));
                    types.push(USER_DEFINED);
                }
            }
        }
    }
    Ok((tokens, types))
}

/// `tokenizer.ggml.merges`: `"a b"` strings; the newer `[a, b]` pair form is joined the same way,
/// a space inside a part written as U+0120 (`chr(ord(' ') + 256)`), as gguf-py does.
fn merges(tok: &Value) -> Result<Vec<String>, Error> {
    let Some(list) = tok.get("model").and_then(|m| m.get("merges")) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| bad("model.merges is not a list"))?;
    list.iter()
        .map(|m| match m {
            Value::String(s) => Ok(s.clone()),
            Value::Array(pair) => match pair.as_slice() {
                [Value::String(a), Value::String(b)] => {
                    let enc = |s: &str| s.replace(' ', "\u{0120}");
                    Ok(format!("{} {}", enc(a), enc(b)))
                }
                _ => Err(bad(format!("merge {m} is not a pair of strings"))),
            },
            _ => Err(bad(format!("merge {m} is neither a string nor a pair"))),
        })
        .collect()
}

/// The content of a `{typ}_token` entry of tokenizer_config.json (a string or `{content: ..}`).
fn config_token_content<'a>(cfg: &'a Value, typ: &str) -> Option<&'a str> {
    match cfg.get(format!("{typ}_token"))? {
        Value::String(s) => Some(s),
        Value::Object(o) => o.get("content").and_then(Value::as_str),
        _ => None,
    }
}

/// The whole `tokenizer.*` metadata, in convert_hf_to_gguf.py's order.
pub fn tokenizer_metadata(
    files: &HfTokenizerFiles<'_>,
    vocab_size: usize,
    tokenizer_pre: &str,
) -> Result<Vec<(String, GgufValue)>, Error> {
    let tok = files.tokenizer_json;
    let model_type = tok.get("model").and_then(|m| m.get("type"));
    if model_type.is_some_and(|t| t.as_str() != Some("BPE")) {
        return Err(bad(format!(
            "model type {} is not supported (only byte-level BPE)",
            model_type.map(|t| t.to_string()).unwrap_or_default()
        )));
    }
    let added = added_tokens(tok)?;
    let (tokens, types) = tokens_and_types(tok, &added, vocab_size)?;
    let merges = merges(tok)?;

    let mut md: Vec<(String, GgufValue)> = vec![
        (
            "tokenizer.ggml.model".into(),
            GgufValue::String("gpt2".into()),
        ),
        (
            "tokenizer.ggml.pre".into(),
            GgufValue::String(tokenizer_pre.into()),
        ),
        (
            "tokenizer.ggml.tokens".into(),
            GgufValue::Array(GgufArray::String(tokens)),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            GgufValue::Array(GgufArray::I32(types)),
        ),
    ];
    if !merges.is_empty() {
        md.push((
            "tokenizer.ggml.merges".into(),
            GgufValue::Array(GgufArray::String(merges)),
        ));
    }

    // Special token ids: tokenizer_config.json's `{typ}_token` looked up among the added tokens,
    // then config.json's integer `{typ}_token_id` for the types still unset.
    const TYPES: [&str; 7] = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"];
    let mut ids: Vec<(&str, u32)> = Vec::new();
    let set = |ids: &mut Vec<(&str, u32)>, typ: &'static str, id: Option<u64>| {
        if let Some(id) = id.and_then(|v| u32::try_from(v).ok()) {
            if (id as usize) < vocab_size && !ids.iter().any(|(t, _)| *t == typ) {
                ids.push((typ, id));
            }
        }
    };
    if let Some(cfg) = files.tokenizer_config {
        for typ in TYPES {
            if let Some(content) = config_token_content(cfg, typ) {
                let id = added
                    .iter()
                    .find(|t| t.content == content)
                    .map(|t| t.id as u64);
                set(&mut ids, typ, id);
            }
        }
    }
    for typ in TYPES {
        let id = files
            .config_json
            .get(format!("{typ}_token_id"))
            .and_then(Value::as_u64);
        set(&mut ids, typ, id);
    }
    for (typ, id) in &ids {
        let key = match *typ {
            "pad" => "tokenizer.ggml.padding_token_id".to_string(),
            "unk" => "tokenizer.ggml.unknown_token_id".to_string(),
            "sep" => "tokenizer.ggml.seperator_token_id".to_string(),
            "cls" => "tokenizer.ggml.cls_token_id".to_string(),
            "mask" => "tokenizer.ggml.mask_token_id".to_string(),
            other => format!("tokenizer.ggml.{other}_token_id"),
        };
        md.push((key, GgufValue::U32(*id)));
    }

    // add_bos / add_eos: a ByteLevel post-processor adds neither; a TemplateProcessing one adds
    // the special tokens around `$A`; tokenizer_config.json's flags fill what is still unset.
    let mut add: Vec<(&str, bool)> = Vec::new();
    if let Some(pp) = tok.get("post_processor").filter(|v| !v.is_null()) {
        let single = [pp.clone()];
        let procs = pp
            .get("processors")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&single);
        for p in procs {
            match p.get("type").and_then(Value::as_str) {
                Some("ByteLevel") => {
                    for typ in ["bos", "eos"] {
                        if !add.iter().any(|(t, _)| *t == typ) {
                            add.push((typ, false));
                        }
                    }
                }
                Some("TemplateProcessing") => {
                    let seq = p.get("single").and_then(Value::as_array);
                    let special_id = |e: Option<&Value>| {
                        e.and_then(|e| e.get("SpecialToken"))
                            .and_then(|s| s.get("id"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    };
                    if let Some(seq) = seq.filter(|s| s.len() > 1) {
                        let cfg = files.tokenizer_config;
                        let bos = cfg.and_then(|c| config_token_content(c, "bos"));
                        let eos = cfg.and_then(|c| config_token_content(c, "eos"));
                        if let Some(first) = special_id(seq.first()) {
                            add.retain(|(t, _)| *t != "bos");
                            add.push(("bos", bos.is_none_or(|b| b == first)));
                        }
                        if let Some(last) = special_id(seq.last()) {
                            add.retain(|(t, _)| *t != "eos");
                            add.push(("eos", eos.is_some_and(|e| e == last)));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(cfg) = files.tokenizer_config {
        for typ in TYPES {
            if let Some(v) = cfg.get(format!("add_{typ}_token")).and_then(Value::as_bool) {
                if !add.iter().any(|(t, _)| *t == typ) {
                    add.push((typ, v));
                }
            }
        }
    }
    for (typ, v) in add {
        md.push((
            format!("tokenizer.ggml.add_{typ}_token"),
            GgufValue::Bool(v),
        ));
    }

    let template = files
        .tokenizer_config
        .and_then(|c| c.get("chat_template"))
        .and_then(Value::as_str)
        .or(files.chat_template_jinja);
    if let Some(t) = template {
        md.push((
            "tokenizer.chat_template".into(),
            GgufValue::String(t.to_string()),
        ));
    }
    Ok(md)
}
