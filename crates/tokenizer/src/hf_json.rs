//! Reading a Hugging Face `tokenizer.json` (and optionally `tokenizer_config.json`).
//!
//! Supported: `model.type == "BPE"` (byte-level, no byte fallback), normalizer null / NFC,
//! the Qwen2 and Llama 3 `Split` regexes + `ByteLevel`, plain `ByteLevel` (GPT-2 regex),
//! `Digits` + `ByteLevel` (SmolLM), decoder `ByteLevel`, post-processor `ByteLevel` /
//! `TemplateProcessing`. Anything else is an `Unsupported` error naming it.

use std::fmt;

use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::added_tokens::AddedToken;
use crate::byte_level::ByteDecoder;
use crate::error::Error;
use crate::pre_tokenizer::PreTokenizer;
use crate::tokenizer::{Parts, Tokenizer};
use crate::vocab::{TokenKind, Vocab};

const WHAT: &str = "tokenizer.json";

/// The Qwen2/Qwen3 pre-tokenizer regex, as written in their tokenizer.json.
pub(crate) const QWEN2_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// The Llama 3 pre-tokenizer regex (digits in groups of up to 3).
pub(crate) const LLAMA3_REGEX: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

impl Tokenizer {
    /// Builds a tokenizer from the bytes of a HF `tokenizer.json`. BOS/EOS are unknown without
    /// `tokenizer_config.json`: see [`Tokenizer::from_hf`].
    pub fn from_tokenizer_json(bytes: &[u8]) -> Result<Tokenizer, Error> {
        Tokenizer::from_hf(bytes, None)
    }

    /// Builds a tokenizer from `tokenizer.json` plus `tokenizer_config.json` (which gives
    /// `bos_token`, `eos_token`, `add_bos_token`, `add_eos_token`).
    pub fn from_hf(
        tokenizer_json: &[u8],
        tokenizer_config_json: Option<&[u8]>,
    ) -> Result<Tokenizer, Error> {
        let root: FileJson =
            serde_json::from_slice(tokenizer_json).map_err(|source| Error::Json {
                what: WHAT.into(),
                source,
            })?;
        let config: Option<Value> = match tokenizer_config_json {
            Some(b) => Some(serde_json::from_slice(b).map_err(|source| Error::Json {
                what: "tokenizer_config.json".into(),
                source,
            })?),
            None => None,
        };
        Ok(Tokenizer::from_parts(parts(&root, config.as_ref())?))
    }
}

/// The parts of tokenizer.json we read, typed (the big vocab and merge lists are parsed
/// straight into vectors; the small pipeline descriptions stay JSON values).
#[derive(Deserialize)]
struct FileJson {
    model: ModelJson,
    #[serde(default)]
    added_tokens: Vec<AddedJson>,
    #[serde(default)]
    normalizer: Value,
    #[serde(default)]
    pre_tokenizer: Value,
    #[serde(default)]
    decoder: Value,
    #[serde(default)]
    post_processor: Value,
}

#[derive(Deserialize)]
struct ModelJson {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    vocab: VocabJson,
    merges: Vec<MergeJson>,
    #[serde(default)]
    byte_fallback: Option<bool>,
    #[serde(default)]
    ignore_merges: Option<bool>,
    #[serde(default)]
    continuing_subword_prefix: Option<String>,
    #[serde(default)]
    end_of_word_suffix: Option<String>,
    #[serde(default)]
    dropout: Option<f64>,
}

#[derive(Deserialize)]
struct AddedJson {
    id: u32,
    content: String,
    #[serde(default)]
    single_word: bool,
    #[serde(default)]
    lstrip: bool,
    #[serde(default)]
    rstrip: bool,
    #[serde(default)]
    normalized: Option<bool>,
    #[serde(default)]
    special: bool,
}

/// `model.vocab`: token → id, kept as a list in file order.
struct VocabJson(Vec<(String, u32)>);

impl<'de> Deserialize<'de> for VocabJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<VocabJson, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VocabJson;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from token to id")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VocabJson, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(1 << 20));
                while let Some((k, v)) = map.next_entry::<String, u32>()? {
                    out.push((k, v));
                }
                Ok(VocabJson(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One merge rule: `"a b"` or `["a", "b"]`.
enum MergeJson {
    Line(String),
    Pair(String, String),
}

impl<'de> Deserialize<'de> for MergeJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MergeJson, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MergeJson;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a merge rule \"a b\" or [\"a\", \"b\"]")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<MergeJson, E> {
                Ok(MergeJson::Line(s.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, s: String) -> Result<MergeJson, E> {
                Ok(MergeJson::Line(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MergeJson, A::Error> {
                let a: String = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(0, &self))?;
                let b: String = seq
                    .next_element()?
                    .ok_or_else(|| serde::de::Error::invalid_length(1, &self))?;
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(serde::de::Error::invalid_length(3, &self));
                }
                Ok(MergeJson::Pair(a, b))
            }
        }
        d.deserialize_any(V)
    }
}

fn parts(root: &FileJson, config: Option<&Value>) -> Result<Parts, Error> {
    let model = &root.model;
    check_model(model)?;
    let added: Vec<(AddedToken, bool, bool)> = root
        .added_tokens
        .iter()
        .map(|t| {
            let token = AddedToken {
                id: t.id,
                content: t.content.clone(),
                single_word: t.single_word,
                lstrip: t.lstrip,
                rstrip: t.rstrip,
            };
            (token, t.special, t.normalized.unwrap_or(!t.special))
        })
        .collect();

    // Ids must be dense-ish: never allocate more than the file lists.
    let n_entries = model.vocab.0.len() + added.len();
    let max_id = model
        .vocab
        .0
        .iter()
        .map(|&(_, id)| id)
        .chain(added.iter().map(|(t, _, _)| t.id))
        .max();
    let n = max_id.map_or(0, |m| m as usize + 1);
    if n > n_entries {
        return Err(Error::Vocab(format!(
            "largest id {} but only {n_entries} tokens listed",
            n - 1
        )));
    }

    let decoder = ByteDecoder::new();
    // HF's ByteLevel decoder: a token whose chars all map to bytes gives those bytes, any other
    // token its own UTF-8 (this applies to added tokens too).
    let decode = |piece: &str| {
        decoder
            .decode_token(piece)
            .unwrap_or_else(|| piece.as_bytes().to_vec())
    };
    let mut vocab = Vocab::with_len(n);
    for (piece, id) in &model.vocab.0 {
        vocab
            .set(*id, piece, decode(piece), TokenKind::Normal)
            .map_err(Error::Vocab)?;
    }
    let merges = parse_merges(model, &vocab)?;
    let (mut added_raw, mut added_normalized) = (Vec::new(), Vec::new());
    for (tok, special, normalized) in added {
        let kind = if special {
            TokenKind::Special
        } else {
            TokenKind::Added
        };
        vocab
            .set(tok.id, &tok.content, decode(&tok.content), kind)
            .map_err(Error::Vocab)?;
        if normalized {
            added_normalized.push(tok);
        } else {
            added_raw.push(tok);
        }
    }

    let (mut prefix, mut suffix, has_template) = parse_post_processor(&root.post_processor)?;
    let token_id = |key: &str| -> Option<u32> {
        let v = config?.get(key)?;
        let s = v
            .as_str()
            .or_else(|| v.get("content").and_then(Value::as_str))?;
        vocab.id_of(s)
    };
    let flag = |key: &str| {
        config
            .and_then(|c| c.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let bos = token_id("bos_token");
    let eos: Vec<u32> = token_id("eos_token").into_iter().collect();
    if !has_template {
        // Without a TemplateProcessing post-processor, transformers adds BOS/EOS per the config.
        if let (true, Some(b)) = (flag("add_bos_token"), bos) {
            prefix.push(b);
        }
        if let (true, Some(&e)) = (flag("add_eos_token"), eos.first()) {
            suffix.push(e);
        }
    }

    check_decoder(&root.decoder)?;
    Ok(Parts {
        vocab,
        merges,
        pre: parse_pre_tokenizer(&root.pre_tokenizer)?,
        nfc: parse_normalizer(&root.normalizer)?,
        ignore_merges: model.ignore_merges.unwrap_or(false),
        added_raw,
        added_normalized,
        bos,
        eos,
        prefix,
        suffix,
    })
}

fn type_of(v: &Value) -> &str {
    v.get("type").and_then(Value::as_str).unwrap_or("")
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

fn check_model(model: &ModelJson) -> Result<(), Error> {
    match model.kind.as_deref() {
        Some("BPE") | None => {}
        Some(other) => {
            return Err(Error::unsupported(
                "tokenizer model",
                format!("{other:?} (only BPE)"),
            ))
        }
    }
    if model.byte_fallback == Some(true) {
        return Err(Error::unsupported("BPE option", "byte_fallback = true"));
    }
    for (key, v) in [
        (
            "continuing_subword_prefix",
            &model.continuing_subword_prefix,
        ),
        ("end_of_word_suffix", &model.end_of_word_suffix),
    ] {
        if let Some(s) = v.as_deref().filter(|s| !s.is_empty()) {
            return Err(Error::unsupported("BPE option", format!("{key} = {s:?}")));
        }
    }
    if model.dropout.is_some() {
        return Err(Error::unsupported("BPE option", "dropout"));
    }
    Ok(())
}

fn parse_merges(model: &ModelJson, vocab: &Vocab) -> Result<Vec<(u32, u32, u32)>, Error> {
    let mut out = Vec::with_capacity(model.merges.len());
    for (index, m) in model.merges.iter().enumerate() {
        let (a, b) = match m {
            MergeJson::Line(s) => {
                let mut it = s.split(' ');
                match (it.next(), it.next(), it.next()) {
                    (Some(a), Some(b), None) => (a, b),
                    _ => {
                        return Err(Error::BadMerge {
                            index,
                            rule: s.clone(),
                            reason: "not two tokens".into(),
                        })
                    }
                }
            }
            MergeJson::Pair(a, b) => (a.as_str(), b.as_str()),
        };
        out.push(resolve_merge(vocab, index, a, b)?);
    }
    Ok(out)
}

/// (left id, right id, merged id) of the merge rule `a b`.
pub(crate) fn resolve_merge(
    vocab: &Vocab,
    index: usize,
    a: &str,
    b: &str,
) -> Result<(u32, u32, u32), Error> {
    let bad = |reason: String| Error::BadMerge {
        index,
        rule: format!("{a} {b}"),
        reason,
    };
    let left = vocab
        .id_of(a)
        .ok_or_else(|| bad(format!("{a:?} is not in the vocabulary")))?;
    let right = vocab
        .id_of(b)
        .ok_or_else(|| bad(format!("{b:?} is not in the vocabulary")))?;
    let mut merged = String::with_capacity(a.len() + b.len());
    merged.push_str(a);
    merged.push_str(b);
    let id = vocab
        .id_of(&merged)
        .ok_or_else(|| bad(format!("{merged:?} is not in the vocabulary")))?;
    Ok((left, right, id))
}

fn parse_normalizer(v: &Value) -> Result<bool, Error> {
    if v.is_null() {
        return Ok(false);
    }
    match type_of(v) {
        "NFC" => Ok(true),
        "Sequence" => {
            let list = v
                .get("normalizers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut nfc = false;
            for n in list {
                nfc |= parse_normalizer(n)?;
            }
            Ok(nfc)
        }
        _ => Err(Error::unsupported("normalizer", short(v))),
    }
}

fn check_decoder(v: &Value) -> Result<(), Error> {
    if v.is_null() {
        return Err(Error::unsupported(
            "decoder",
            "none (a byte-level BPE needs ByteLevel)",
        ));
    }
    match type_of(v) {
        "ByteLevel" => Ok(()),
        "Sequence" => {
            let list = v
                .get("decoders")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            list.iter().try_for_each(check_decoder)
        }
        _ => Err(Error::unsupported("decoder", short(v))),
    }
}

fn parse_pre_tokenizer(v: &Value) -> Result<PreTokenizer, Error> {
    let unsupported = |v: &Value| Error::unsupported("pre_tokenizer", short(v));
    if v.is_null() {
        return Err(Error::unsupported(
            "pre_tokenizer",
            "none (a byte-level BPE needs one)",
        ));
    }
    let byte_level = |b: &Value, use_regex: bool| {
        type_of(b) == "ByteLevel"
            && b.get("add_prefix_space").and_then(Value::as_bool) != Some(true)
            && b.get("use_regex").and_then(Value::as_bool).unwrap_or(true) == use_regex
    };
    match type_of(v) {
        "ByteLevel" if byte_level(v, true) => Ok(PreTokenizer::Gpt2 {
            split_digits: false,
        }),
        "Sequence" => {
            let list = v
                .get("pretokenizers")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            match list {
                [split, bl] if type_of(split) == "Split" && byte_level(bl, false) => {
                    let regex = split
                        .get("pattern")
                        .and_then(|p| p.get("Regex"))
                        .and_then(Value::as_str);
                    let isolated =
                        split.get("behavior").and_then(Value::as_str) == Some("Isolated");
                    let inverted = split.get("invert").and_then(Value::as_bool) == Some(true);
                    match (regex, isolated, inverted) {
                        (Some(QWEN2_REGEX), true, false) => {
                            Ok(PreTokenizer::Qwen2 { max_digits: 1 })
                        }
                        (Some(LLAMA3_REGEX), true, false) => {
                            Ok(PreTokenizer::Qwen2 { max_digits: 3 })
                        }
                        _ => Err(unsupported(v)),
                    }
                }
                [digits, bl]
                    if type_of(digits) == "Digits"
                        && digits.get("individual_digits").and_then(Value::as_bool)
                            == Some(true)
                        && byte_level(bl, true) =>
                {
                    Ok(PreTokenizer::Gpt2 { split_digits: true })
                }
                _ => Err(unsupported(v)),
            }
        }
        _ => Err(unsupported(v)),
    }
}

/// (prefix ids, suffix ids, whether a TemplateProcessing was found).
fn parse_post_processor(v: &Value) -> Result<(Vec<u32>, Vec<u32>, bool), Error> {
    if v.is_null() {
        return Ok((Vec::new(), Vec::new(), false));
    }
    match type_of(v) {
        "ByteLevel" => Ok((Vec::new(), Vec::new(), false)),
        "Sequence" => {
            let list = v
                .get("processors")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let mut acc = (Vec::new(), Vec::new(), false);
            for p in list {
                let (pre, suf, t) = parse_post_processor(p)?;
                acc.0.extend(pre);
                acc.1.extend(suf);
                acc.2 |= t;
            }
            Ok(acc)
        }
        "TemplateProcessing" => {
            let items = v
                .get("single")
                .and_then(Value::as_array)
                .ok_or_else(|| Error::field(WHAT, "post_processor.single", "an array"))?;
            let specials = v.get("special_tokens");
            let (mut prefix, mut suffix, mut seen_sequence) = (Vec::new(), Vec::new(), false);
            for item in items {
                if item.get("Sequence").is_some() {
                    seen_sequence = true;
                    continue;
                }
                let name = item
                    .get("SpecialToken")
                    .and_then(|s| s.get("id"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::unsupported("post_processor item", short(item)))?;
                let ids = specials
                    .and_then(|s| s.get(name))
                    .and_then(|s| s.get("ids"))
                    .and_then(Value::as_array)
                    .ok_or_else(|| {
                        Error::field(
                            WHAT,
                            &format!("post_processor.special_tokens[{name:?}].ids"),
                            "an array",
                        )
                    })?;
                for id in ids {
                    let id = id
                        .as_u64()
                        .and_then(|i| u32::try_from(i).ok())
                        .ok_or_else(|| {
                            Error::field(
                                WHAT,
                                &format!("post_processor.special_tokens[{name:?}].ids"),
                                "ids",
                            )
                        })?;
                    if seen_sequence {
                        suffix.push(id);
                    } else {
                        prefix.push(id);
                    }
                }
            }
            Ok((prefix, suffix, true))
        }
        _ => Err(Error::unsupported("post_processor", short(v))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny(pre: Value, extra: Value) -> Result<Tokenizer, Error> {
        let mut root = serde_json::json!({
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]},
            "added_tokens": [{"id": 4, "content": "<s>", "special": true, "normalized": false}],
            "normalizer": null,
            "pre_tokenizer": pre,
            "decoder": {"type": "ByteLevel"},
        });
        if let (Some(r), Some(e)) = (root.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                r.insert(k.clone(), v.clone());
            }
        }
        Tokenizer::from_tokenizer_json(root.to_string().as_bytes())
    }

    #[test]
    fn builds_and_rejects() {
        let t = tiny(
            serde_json::json!({"type": "ByteLevel", "use_regex": true}),
            serde_json::json!({}),
        )
        .unwrap();
        assert_eq!(t.encode("ab<s>a b", false), [2, 4, 0, 3, 1]);
        assert_eq!(t.decode(&[2, 4, 3], false), "ab<s> ");
        assert_eq!(t.decode(&[2, 4, 3], true), "ab ");
        let pp = serde_json::json!({"post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [4], "tokens": ["<s>"]}}}});
        let t = tiny(serde_json::json!({"type": "ByteLevel"}), pp).unwrap();
        assert_eq!(t.encode("ab", true), [4, 2]);
        assert_eq!(t.encode("ab", false), [2]);

        let bad = tiny(
            serde_json::json!({"type": "Whitespace"}),
            serde_json::json!({}),
        );
        assert!(
            matches!(bad, Err(Error::Unsupported { .. })),
            "{:?}",
            bad.err()
        );
        let bad = tiny(
            serde_json::json!({"type": "ByteLevel"}),
            serde_json::json!({"normalizer": {"type": "NFKC"}}),
        );
        assert!(matches!(bad, Err(Error::Unsupported { .. })));
        let huge = r#"{"model": {"type": "BPE", "vocab": {"a": 4000000000}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}}"#;
        assert!(matches!(
            Tokenizer::from_tokenizer_json(huge.as_bytes()),
            Err(Error::Vocab(_))
        ));
        assert!(matches!(
            Tokenizer::from_tokenizer_json(b"{"),
            Err(Error::Json { .. })
        ));
        let bad_merge = r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a x"]}, "pre_tokenizer": {"type": "ByteLevel"}}"#;
        assert!(matches!(
            Tokenizer::from_tokenizer_json(bad_merge.as_bytes()),
            Err(Error::BadMerge { index: 0, .. })
        ));
    }
}
