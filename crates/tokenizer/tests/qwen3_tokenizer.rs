//! The real Qwen3 tokenizer against HF tokenizers' outputs (tests/fixtures/qwen3-tiny/expected.json).

mod common;

use common::{ids_of, qwen3_expected, qwen3_tokenizer};

#[test]
fn cases_encode_decode_like_hf() {
    let tok = qwen3_tokenizer();
    let expected = qwen3_expected();
    let cases = expected["tokenizer"]["cases"]
        .as_array()
        .expect("tokenizer.cases");
    assert_eq!(cases.len(), 30);
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want = ids_of(&case["ids"]);
        let got = tok.encode(text, false);
        if got != want {
            failures.push(format!("encode {text:?}:\n  got  {got:?}\n  want {want:?}"));
        }
        // Encoding with add_special_tokens adds nothing for Qwen3.
        assert_eq!(tok.encode(text, true), got, "{text:?}");
        let pieces: Vec<&str> = want
            .iter()
            .map(|&id| tok.token_str(id).unwrap_or("<none>"))
            .collect();
        let want_pieces: Vec<&str> = case["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|t| t.as_str().expect("token"))
            .collect();
        if pieces != want_pieces {
            failures.push(format!("pieces {text:?}: {pieces:?} != {want_pieces:?}"));
        }
        let bytes_hex: Vec<String> = want
            .iter()
            .map(|&id| {
                tok.token_bytes(id)
                    .unwrap_or_default()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            })
            .collect();
        let want_hex: Vec<&str> = case["token_bytes_hex"]
            .as_array()
            .expect("hex")
            .iter()
            .map(|t| t.as_str().expect("hex"))
            .collect();
        if bytes_hex != want_hex {
            failures.push(format!("bytes {text:?}: {bytes_hex:?} != {want_hex:?}"));
        }
        let decoded = tok.decode(&want, false);
        if decoded != case["decode"].as_str().expect("decode") {
            failures.push(format!("decode {text:?}: {decoded:?}"));
        }
        let skipped = tok.decode(&want, true);
        if skipped
            != case["decode_skip_special"]
                .as_str()
                .expect("decode_skip_special")
        {
            failures.push(format!("decode_skip_special {text:?}: {skipped:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn prompts_ids_like_hf() {
    let tok = qwen3_tokenizer();
    let expected = qwen3_expected();
    let prompts = expected["prompts"].as_array().expect("prompts");
    assert_eq!(prompts.len(), 4);
    for p in prompts {
        let text = p["text"].as_str().expect("text");
        let want = ids_of(&p["ids"]);
        assert_eq!(want.len() as u64, p["n_tokens"].as_u64().expect("n_tokens"));
        assert_eq!(tok.encode(text, false), want, "prompt {}", p["name"]);
        assert_eq!(tok.decode(&want, false), text, "prompt {}", p["name"]);
    }
}

#[test]
fn vocab_and_special_tokens() {
    let tok = qwen3_tokenizer();
    let expected = qwen3_expected();
    let t = &expected["tokenizer"];
    assert_eq!(
        tok.vocab_size() as u64,
        t["vocab_size_with_added"].as_u64().expect("size")
    );
    for (content, id) in t["special_token_ids"]
        .as_object()
        .expect("special_token_ids")
    {
        assert_eq!(
            tok.id_of(content),
            Some(id.as_u64().expect("id") as u32),
            "{content}"
        );
    }
    for a in t["added_tokens"].as_array().expect("added_tokens") {
        let id = a["id"].as_u64().expect("id") as u32;
        assert_eq!(tok.token_str(id), a["content"].as_str(), "added token {id}");
    }
    // From tokenizer_config.json: no BOS, EOS <|im_end|>.
    assert_eq!(tok.bos_id(), None);
    assert_eq!(tok.eos_ids(), [151645]);
    assert!(tok.is_special(151644) && !tok.is_special(151667) && !tok.is_special(9707));
    // Ids the embedding has but the tokenizer does not decode to nothing (as HF).
    assert_eq!(
        tok.decode(&[9707, 151700, 1879], false),
        tok.decode(&[9707, 1879], false)
    );
}

/// Qwen3's normalizer is NFC: the decomposed (NFD) form of every case encodes to the ids HF
/// gives for the text itself (which is NFC already).
#[test]
fn nfc_normalization() {
    use unicode_normalization::UnicodeNormalization;
    let tok = qwen3_tokenizer();
    let expected = qwen3_expected();
    let mut changed = 0;
    for case in expected["tokenizer"]["cases"].as_array().expect("cases") {
        let text = case["text"].as_str().expect("text");
        let nfd: String = text.nfd().collect();
        changed += usize::from(nfd != text);
        assert_eq!(
            tok.encode(&nfd, false),
            ids_of(&case["ids"]),
            "NFD of {text:?}"
        );
    }
    assert!(changed >= 2, "the cases include precomposed accents");
}

mod roundtrip {
    use super::common::qwen3_tokenizer;
    use proptest::prelude::*;
    use unicode_normalization::UnicodeNormalization;

    fn tok() -> &'static tokenizer::Tokenizer {
        qwen3_tokenizer()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// HF's byte-level BPE round-trips any text up to NFC (expected.json: roundtrip_exact).
        #[test]
        fn decode_encode_is_nfc(text in "\\PC{0,80}") {
            let ids = tok().encode(&text, false);
            prop_assert_eq!(tok().decode(&ids, false), text.nfc().collect::<String>());
        }
    }
}
