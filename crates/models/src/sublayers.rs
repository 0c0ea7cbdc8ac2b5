//! The two sublayers of every decoder layer here — attention and the SwiGLU MLP, each with its
//! pre-norm and residual add — as typed weights and plain functions. Each architecture's forward
//! calls them in order and adds only what is its own (Qwen3's q/k norm between projection and RoPE).

use tensor::ops::{add_inplace, rms_norm, rope, RopeStyle};
use tensor::{AttnSeq, KvLayout, PagedKvLayer, ThreadPool};

use crate::attention::paged_self_attention;
use crate::batch::ForwardBatch;
use crate::dims::Dims;
use crate::error::Result;
use crate::linear::{forward_many, Linear};
use crate::mlp::swiglu_mlp;
use crate::names::{LayerWeight as L, WeightName as W};
use crate::scratch::Views;
use crate::trace::Tracer;
use crate::weight_loader::WeightLoader;

/// Attention weights of one layer: the norm before it and the four projections.
#[derive(Debug)]
pub(crate) struct AttnWeights {
    pub norm: Vec<f32>, // [hidden]
    pub q_proj: Linear, // [n_heads * head_dim, hidden]
    pub k_proj: Linear, // [n_kv_heads * head_dim, hidden]
    pub v_proj: Linear, // [n_kv_heads * head_dim, hidden]
    pub o_proj: Linear, // [hidden, n_heads * head_dim]
}

impl AttnWeights {
    /// Tensors `load` reads (for progress totals).
    pub(crate) const TENSORS: usize = 5;

    pub(crate) fn load(ld: &mut WeightLoader<'_>, i: usize, d: &Dims) -> Result<Self> {
        Ok(AttnWeights {
            norm: ld.norm(W::Layer(i, L::AttnNorm), d.hidden)?,
            q_proj: ld.linear(W::Layer(i, L::Q), d.q_dim(), d.hidden)?,
            k_proj: ld.linear(W::Layer(i, L::K), d.kv_dim(), d.hidden)?,
            v_proj: ld.linear(W::Layer(i, L::V), d.kv_dim(), d.hidden)?,
            o_proj: ld.linear(W::Layer(i, L::O), d.hidden, d.q_dim())?,
        })
    }
}

/// MLP weights of one layer: the norm before it and the SwiGLU projections.
#[derive(Debug)]
pub(crate) struct MlpWeights {
    pub norm: Vec<f32>,    // [hidden]
    pub gate_proj: Linear, // [intermediate, hidden]
    pub up_proj: Linear,   // [intermediate, hidden]
    pub down_proj: Linear, // [hidden, intermediate]
}

impl MlpWeights {
    /// Tensors `load` reads (for progress totals).
    pub(crate) const TENSORS: usize = 4;

    pub(crate) fn load(ld: &mut WeightLoader<'_>, i: usize, d: &Dims) -> Result<Self> {
        Ok(MlpWeights {
            norm: ld.norm(W::Layer(i, L::MlpNorm), d.hidden)?,
            gate_proj: ld.linear(W::Layer(i, L::Gate), d.intermediate, d.hidden)?,
            up_proj: ld.linear(W::Layer(i, L::Up), d.intermediate, d.hidden)?,
            down_proj: ld.linear(W::Layer(i, L::Down), d.hidden, d.intermediate)?,
        })
    }
}

/// What attention needs of the batch beyond the activations: positions, the layer's paged cache.
pub(crate) struct AttnStep<'a, 'b> {
    pub pool: &'a ThreadPool,
    pub d: &'a Dims,
    pub rope_style: RopeStyle,
    pub batch: &'a ForwardBatch,
    pub seqs: &'a [AttnSeq<'b>],
    pub layout: &'a KvLayout,
}

/// `s.h = RMSNorm(s.x)`, then `s.q`, `s.k`, `s.v` from `s.h` (one pool job).
pub(crate) fn project_qkv(
    st: &AttnStep<'_, '_>,
    a: &AttnWeights,
    s: &mut Views<'_>,
    i: usize,
    tr: &mut Tracer<'_, '_>,
) -> Result<()> {
    rms_norm(s.x, &a.norm, st.d.rms_eps, s.h); // [n, hidden]
    tr.emit_layer(i, "input_layernorm_out", s.h);
    // q [n, n_heads * head_dim], k and v [n, n_kv_heads * head_dim]
    let qkv = [&a.q_proj, &a.k_proj, &a.v_proj];
    forward_many(
        st.pool,
        s.h,
        qkv,
        [&mut *s.q, &mut *s.k, &mut *s.v],
        s.matmul,
    )?;
    tr.emit_layer(i, "q_proj_out", s.q);
    tr.emit_layer(i, "k_proj_out", s.k);
    tr.emit_layer(i, "v_proj_out", s.v);
    Ok(())
}

/// RoPE on `s.q` and `s.k`, paged attention of every sequence over its cache (this step's k/v
/// written first), `o_proj`, and `s.x += ` the result.
pub(crate) fn attend_residual(
    st: &AttnStep<'_, '_>,
    a: &AttnWeights,
    cache: &mut PagedKvLayer,
    s: &mut Views<'_>,
    i: usize,
    tr: &mut Tracer<'_, '_>,
) -> Result<()> {
    let (d, pos) = (st.d, &st.batch.positions);
    rope(s.q, pos, d.n_heads, d.head_dim, d.rope_theta, st.rope_style); // [n, n_heads, head_dim]
    rope(
        s.k,
        pos,
        d.n_kv_heads,
        d.head_dim,
        d.rope_theta,
        st.rope_style,
    ); // [n, n_kv_heads, head_dim]
    tr.emit_layer(i, "q_rope_out", s.q);
    tr.emit_layer(i, "k_rope_out", s.k);
    let (q, k, v) = (&*s.q, &*s.k, &*s.v);
    paged_self_attention(
        st.pool, q, k, v, cache, st.layout, st.batch, st.seqs, d.n_heads, s.ctx,
    )?;
    tr.emit_layer(i, "attn_context", s.ctx); // [n, n_heads * head_dim]
    a.o_proj.forward(st.pool, s.ctx, s.attn_out, s.matmul)?; // [n, hidden]
    tr.emit_layer(i, "attn_out", s.attn_out);
    add_inplace(s.x, s.attn_out);
    Ok(())
}

/// `s.x += down(silu(gate(h)) * up(h))` with `h = RMSNorm(s.x)`; emits the layer's output.
pub(crate) fn mlp_residual(
    pool: &ThreadPool,
    m: &MlpWeights,
    eps: f32,
    s: &mut Views<'_>,
    i: usize,
    tr: &mut Tracer<'_, '_>,
) -> Result<()> {
    rms_norm(s.x, &m.norm, eps, s.h); // [n, hidden]
    tr.emit_layer(i, "post_attention_layernorm_out", s.h);
    let (gate, up, down) = (&m.gate_proj, &m.up_proj, &m.down_proj);
    swiglu_mlp(pool, s.matmul, s.h, gate, up, down, s.gate, s.up, s.mlp_out)?; // [n, hidden]
    tr.emit_layer(i, "mlp_out", s.mlp_out);
    add_inplace(s.x, s.mlp_out);
    tr.emit_layer(i, "out", s.x);
    Ok(())
}
