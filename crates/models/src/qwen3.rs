//! Qwen3: a Llama-style decoder with a per-head RMSNorm of q and k (over head_dim, before RoPE),
//! NeoX RoPE, GQA and a SwiGLU MLP; no biases.

use formats::SourceKind;
use tensor::ops::{rms_norm_inplace, RopeStyle};
use tensor::PagedKvLayer;

use crate::decoder::{Decoder, DecoderLayer, DecoderWeights};
use crate::dims::Dims;
use crate::error::Result;
use crate::names::{LayerWeight as L, WeightName as W};
use crate::scratch::Views;
use crate::sublayers::{
    attend_residual, mlp_residual, project_qkv, AttnStep, AttnWeights, MlpWeights,
};
use crate::trace::Tracer;
use crate::weight_loader::WeightLoader;

/// The weights of one Qwen3 decoder layer.
#[derive(Debug)]
pub(crate) struct Qwen3Layer {
    pub attn: AttnWeights,
    pub q_norm: Vec<f32>, // [head_dim]
    pub k_norm: Vec<f32>, // [head_dim]
    pub mlp: MlpWeights,
}

pub(crate) type Qwen3Weights = DecoderWeights<Qwen3Layer>;
pub(crate) type Qwen3 = Decoder<Qwen3Layer>;

impl DecoderLayer for Qwen3Layer {
    const TENSORS: usize = AttnWeights::TENSORS + 2 + MlpWeights::TENSORS;

    /// Qwen3 checkpoints of both kinds rotate (i, i + d/2).
    fn rope_style(_: SourceKind) -> RopeStyle {
        RopeStyle::Neox
    }

    fn load(ld: &mut WeightLoader<'_>, i: usize, d: &Dims) -> Result<Self> {
        Ok(Qwen3Layer {
            attn: AttnWeights::load(ld, i, d)?,
            q_norm: ld.norm(W::Layer(i, L::QNorm), d.head_dim)?,
            k_norm: ld.norm(W::Layer(i, L::KNorm), d.head_dim)?,
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
        let eps = st.d.rms_eps;
        // Attention: h = RMSNorm(x); q, k, v; per-head q/k norm; RoPE; paged attention; o_proj.
        project_qkv(st, &self.attn, s, i, tr)?;
        rms_norm_inplace(s.q, &self.q_norm, eps); // [n, n_heads, head_dim], per head
        rms_norm_inplace(s.k, &self.k_norm, eps); // [n, n_kv_heads, head_dim]
        tr.emit_layer(i, "q_norm_out", s.q);
        tr.emit_layer(i, "k_norm_out", s.k);
        attend_residual(st, &self.attn, cache, s, i, tr)?;
        // MLP: x += down(silu(gate(h)) * up(h)), h = RMSNorm(x).
        mlp_residual(st.pool, &self.mlp, eps, s, i, tr)
    }
}
