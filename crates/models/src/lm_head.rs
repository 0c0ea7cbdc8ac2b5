//! Which output projection a checkpoint has: its own LM head, or the token embedding (tied).

use formats::{ModelConfig, SourceKind};
use tensor::Tensor;

use crate::dims::Dims;
use crate::error::Result;
use crate::linear::Linear;
use crate::names::WeightName;
use crate::weight_loader::WeightLoader;

/// The stored LM head when there is one (`lm_head.weight` / `output.weight`), else the token
/// embedding `embed` (tied; its tensor is shared, only a packed copy is made for the matmul).
/// A Hugging Face checkpoint whose config says the embeddings are not tied must store it; a GGUF
/// without `output.weight` is tied by convention (llama.cpp falls back to `token_embd.weight`).
pub(crate) fn load(
    ld: &mut WeightLoader<'_>,
    cfg: &ModelConfig,
    d: Dims,
    embed: &Tensor,
) -> Result<Linear> {
    let must_exist = ld.kind() == SourceKind::HuggingFace && !cfg.tie_word_embeddings;
    if ld.has(WeightName::LmHead) || must_exist {
        ld.linear(WeightName::LmHead, d.vocab, d.hidden)
    } else {
        let name = format!("{} (tied output)", WeightName::Embed.path(ld.kind()));
        Linear::new(&name, embed.clone(), d.vocab, d.hidden)
    }
}
