//! Which output projection a checkpoint has: its own LM head, or the token embedding (tied).

use formats::{ModelConfig, SourceKind};
use tensor::ops::{embedding, embedding_packed};
use tensor::Tensor;

use crate::dims::Dims;
use crate::error::Result;
use crate::linear::Linear;
use crate::names::WeightName;
use crate::weight_loader::WeightLoader;

/// The stored LM head when there is one (`lm_head.weight` / `output.weight`), else the token
/// embedding `embed` (tied; its tensor is shared, only a packed copy is made for the matmul), and
/// whether it is tied.
/// A Hugging Face checkpoint whose config says the embeddings are not tied must store it; a GGUF
/// without `output.weight` is tied by convention (llama.cpp falls back to `token_embd.weight`).
pub(crate) fn load(
    ld: &mut WeightLoader<'_>,
    cfg: &ModelConfig,
    d: Dims,
    embed: &Tensor,
) -> Result<(Linear, bool)> {
    let must_exist = ld.kind() == SourceKind::HuggingFace && !cfg.tie_word_embeddings;
    if ld.has(WeightName::LmHead) || must_exist {
        Ok((ld.linear(WeightName::LmHead, d.vocab, d.hidden)?, false))
    } else {
        let name = format!("{} (tied output)", WeightName::Embed.path(ld.kind()));
        // Token rows then come from the packed copy (`embed_tokens`), so `embed`'s pages may go.
        Ok((ld.linear_of(&name, embed.clone(), d.vocab, d.hidden)?, true))
    }
}

/// `out[i] = embed[ids[i]]`. With a tied, packed head the rows come from the packed copy (the same
/// values), so a decode step reads the table once, not twice, and the loader may release the
/// original table's pages.
pub(crate) fn embed_tokens(
    embed: &Tensor, // [vocab, hidden]
    head: &Linear,  // [vocab, hidden]
    tied: bool,
    ids: &[u32],     // [n]
    out: &mut [f32], // [n, hidden]
) -> Result<()> {
    match head.packed() {
        Some(p) if tied => embedding_packed(p, ids, out)?,
        _ => embedding(embed, ids, out)?,
    }
    Ok(())
}
