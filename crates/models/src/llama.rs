//! Llama (SmolLM2 and friends): RMSNorm, GQA attention with RoPE, SwiGLU MLP; no biases, no q/k norm.
//!
//! RoPE pairing depends on the checkpoint: Hugging Face weights rotate dimension i with i + d/2
//! (NeoX / `rotate_half`); llama.cpp's convert script permutes the rows of q and k so that GGUF files
//! rotate adjacent pairs (2i, 2i+1), llama.cpp's `LLAMA_ROPE_TYPE_NORM`.

use formats::SourceKind;
use tensor::ops::RopeStyle;
use tensor::PagedKvLayer;

use crate::decoder::{Decoder, DecoderLayer, DecoderWeights};
use crate::dims::Dims;
use crate::error::Result;
use crate::scratch::Views;
use crate::sublayers::{
    attend_residual, mlp_residual, project_qkv, AttnStep, AttnWeights, MlpWeights,
};
use crate::trace::Tracer;
use crate::weight_loader::WeightLoader;

/// The weights of one Llama decoder layer.
#[derive(Debug)]
pub(crate) struct LlamaLayer {
    pub attn: AttnWeights,
    pub mlp: MlpWeights,
}

pub(crate) type LlamaWeights = DecoderWeights<LlamaLayer>;
pub(crate) type Llama = Decoder<LlamaLayer>;

impl DecoderLayer for LlamaLayer {
    const TENSORS: usize = AttnWeights::TENSORS + MlpWeights::TENSORS;

    fn rope_style(kind: SourceKind) -> RopeStyle {
        match kind {
            SourceKind::HuggingFace => RopeStyle::Neox,
            SourceKind::Gguf => RopeStyle::Interleaved,
        }
    }

    fn load(ld: &mut WeightLoader<'_>, i: usize, d: &Dims) -> Result<Self> {
        Ok(LlamaLayer {
            attn: AttnWeights::load(ld, i, d)?,
            mlp: MlpWeights::load(ld, i, d)?,
        })
    }

    fn forward(
        &self,
        st: &AttnStep<'_, '_>,
        cache: &mut PagedKvLayer,
        s: &mut Views<'_>,
        i: usize,
        tr: &mut Tracer<'_, '_>,
    ) -> Result<()> {
        // Attention: h = RMSNorm(x); q, k, v; RoPE; paged attention; o_proj.
        project_qkv(st, &self.attn, s, i, tr)?;
        attend_residual(st, &self.attn, cache, s, i, tr)?;
        // MLP: x += down(silu(gate(h)) * up(h)), h = RMSNorm(x).
        mlp_residual(st.pool, &self.mlp, st.d.rms_eps, s, i, tr)
    }
}
