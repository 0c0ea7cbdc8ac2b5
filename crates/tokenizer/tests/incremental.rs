//! IncrementalDecoder: the concatenation of what `push` and `finish` return equals `decode` of
//! all ids (HF's lossy byte-level decode), for any id sequence, and text is never emitted
//! before its UTF-8 sequence is complete.

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use tokenizer::{IncrementalDecoder, Tokenizer};

fn tok() -> &'static Tokenizer {
    common::qwen3_tokenizer()
}

fn streamed(tok: &Tokenizer, ids: &[u32], skip_special: bool) -> (String, Vec<String>) {
    let mut d = IncrementalDecoder::with_skip_special(tok, skip_special);
    let mut chunks = Vec::new();
    for &id in ids {
        if let Some(s) = d.push(id) {
            chunks.push(s);
        }
    }
    if let Some(s) = d.finish() {
        chunks.push(s);
    }
    (chunks.concat(), chunks)
}

/// Ids whose bytes are incomplete UTF-8 on their own (e.g. the halves of a CJK char or emoji).
fn partial_utf8_ids(tok: &Tokenizer) -> Vec<u32> {
    (0..tok.vocab_size() as u32)
        .filter(|&id| {
            tok.token_bytes(id)
                .is_some_and(|b| std::str::from_utf8(b).is_err())
        })
        .collect()
}

#[test]
fn emoji_split_over_tokens_waits_for_completion() {
    let tok = tok();
    let text = "Emoji: 😀🚀🦀👨\u{200d}👩\u{200d}👧\u{200d}👦 日本語のテキスト";
    let ids = tok.encode(text, false);
    assert!(
        ids.iter()
            .any(|&id| std::str::from_utf8(tok.token_bytes(id).unwrap_or_default()).is_err()),
        "the test needs tokens that split a UTF-8 sequence"
    );
    let (all, chunks) = streamed(tok, &ids, false);
    assert_eq!(all, text);
    assert!(
        chunks.iter().all(|c| !c.contains('\u{FFFD}')),
        "no replacement char mid-stream: {chunks:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_ids_stream_equals_decode(ids in prop::collection::vec(0u32..151_700, 0..40), skip in any::<bool>()) {
        let tok = tok();
        let (all, _) = streamed(tok, &ids, skip);
        prop_assert_eq!(all, tok.decode(&ids, skip));
    }

    #[test]
    fn partial_tokens_stream_equals_decode(picks in prop::collection::vec(any::<prop::sample::Index>(), 1..30)) {
        static PARTIAL: OnceLock<Vec<u32>> = OnceLock::new();
        let partial = PARTIAL.get_or_init(|| partial_utf8_ids(tok()));
        let ids: Vec<u32> = picks.iter().map(|i| partial[i.index(partial.len())]).collect();
        let (all, _) = streamed(tok(), &ids, false);
        prop_assert_eq!(all, tok().decode(&ids, false));
    }

    #[test]
    fn encoded_text_streams_back_exactly(text in "\\PC{0,60}") {
        let tok = tok();
        let ids = tok.encode(&text, false);
        let decoded = tok.decode(&ids, false);
        let (all, chunks) = streamed(tok, &ids, false);
        prop_assert_eq!(&all, &decoded);
        // Valid UTF-8 overall: no replacement char appears that the text did not have.
        let n_fffd = |s: &str| s.matches('\u{FFFD}').count();
        prop_assert_eq!(chunks.iter().map(|c| n_fffd(c)).sum::<usize>(), n_fffd(&decoded));
    }
}
