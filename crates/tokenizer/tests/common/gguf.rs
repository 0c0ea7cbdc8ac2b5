//! A tokenizer and chat template from a GGUF file's metadata, read through `formats`.

use formats::GgufFile;
use tokenizer::{ChatTemplate, GgufVocab, Tokenizer};

pub fn gguf_vocab(g: &GgufFile) -> GgufVocab {
    let strings = |k: &str| -> Vec<String> {
        g.get_str_array(k)
            .unwrap_or_else(|e| panic!("{k}: {e}"))
            .into_iter()
            .map(String::from)
            .collect()
    };
    GgufVocab {
        model: g
            .get_str("tokenizer.ggml.model")
            .expect("tokenizer.ggml.model")
            .to_string(),
        pre: g
            .get_str("tokenizer.ggml.pre")
            .expect("tokenizer.ggml.pre")
            .to_string(),
        tokens: strings("tokenizer.ggml.tokens"),
        merges: strings("tokenizer.ggml.merges"),
        token_types: g
            .get_i32_array("tokenizer.ggml.token_type")
            .expect("tokenizer.ggml.token_type"),
        bos: g.opt_u32("tokenizer.ggml.bos_token_id").expect("bos id"),
        eos: g.opt_u32("tokenizer.ggml.eos_token_id").expect("eos id"),
        add_bos: g
            .opt_bool("tokenizer.ggml.add_bos_token")
            .expect("add_bos")
            .unwrap_or(false),
    }
}

pub fn gguf_tokenizer(path: &std::path::Path) -> (Tokenizer, GgufFile) {
    let g = GgufFile::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let tok = Tokenizer::from_gguf_vocab(gguf_vocab(&g)).expect("building the GGUF tokenizer");
    (tok, g)
}

/// The GGUF's chat template with the BOS / EOS token texts, as llama.cpp passes them.
pub fn gguf_template(g: &GgufFile, tok: &Tokenizer) -> ChatTemplate {
    let src = g
        .get_str("tokenizer.chat_template")
        .expect("tokenizer.chat_template");
    let piece = |id: Option<u32>| id.and_then(|i| tok.token_to_piece(i)).unwrap_or_default();
    ChatTemplate::new(
        src,
        &piece(tok.bos_id()),
        &piece(tok.eos_ids().first().copied()),
    )
    .expect("template")
}
