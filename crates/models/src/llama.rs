//! Llama (SmolLM2 and friends): RMSNorm, GQA attention with RoPE, SwiGLU MLP; no biases, no q/k norm.
//!
//! RoPE pairing depends on the checkpoint: Hugging Face weights rotate dimension i with i + d/2
//! (NeoX / `rotate_half`); llama.cpp's convert script permutes the rows of q and k so that GGUF files
//! rotate adjacent pairs (2i, 2i+1), llama.cpp's `LLAMA_ROPE_TYPE_NORM`.

use formats::{ModelConfig, SourceKind, WeightSource};
use tensor::ops::{add_inplace, rms_norm, rope, RopeStyle};
use tensor::{Tensor, ThreadPool};

use crate::attention::{paged_self_attention, AttnSeqBuf};
use crate::batch::ForwardBatch;
use crate::dims::Dims;
use crate::error::Result;
use crate::kv_cache::{KvSpec, KvTensors};
use crate::linear::{forward_many, Linear};
use crate::lm_head::embed_tokens;
use crate::mlp::swiglu_mlp;
use crate::model::Model;
use crate::names::{LayerWeight as L, WeightName as W};
use crate::output::logits_of_rows;
use crate::scratch::Scratch;
use crate::trace::{TraceFn, Tracer};
use crate::weight_loader::WeightLoader;

/// The weights of one Llama decoder layer.
#[derive(Debug)]
pub struct LlamaLayer {
    pub attn_norm: Vec<f32>, // [hidden]
    pub q_proj: Linear,      // [n_heads * head_dim, hidden]
    pub k_proj: Linear,      // [n_kv_heads * head_dim, hidden]
    pub v_proj: Linear,      // [n_kv_heads * head_dim, hidden]
    pub o_proj: Linear,      // [hidden, n_heads * head_dim]
    pub mlp_norm: Vec<f32>,  // [hidden]
    pub gate_proj: Linear,   // [intermediate, hidden]
    pub up_proj: Linear,     // [intermediate, hidden]
    pub down_proj: Linear,   // [hidden, intermediate]
}

#[derive(Debug)]
pub struct LlamaWeights {
    pub embed: Tensor, // [vocab, hidden]
    pub layers: Vec<LlamaLayer>,
    pub norm: Vec<f32>, // [hidden]
    /// `[vocab, hidden]`; the token embedding's tensor when tied.
    pub lm_head: Linear,
    /// The LM head is the token embedding (token rows are then read from its packed copy).
    pub tied_head: bool,
    /// How q/k rows are laid out for RoPE, from the checkpoint kind.
    pub rope_style: RopeStyle,
}

impl LlamaWeights {
    /// Reads every weight from `src` (HF or GGUF names), checking its shape against `cfg`.
    pub fn load(
        src: &dyn WeightSource,
        cfg: &ModelConfig,
        threads: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        let d = Dims::from_config(cfg)?;
        let has_head = src.has(&W::LmHead.path(src.kind()));
        let total = 2 + 9 * d.n_layers + usize::from(has_head);
        let mut ld = WeightLoader::new(src, total, threads, progress);
        let embed = ld.matrix(W::Embed, d.vocab, d.hidden)?;
        let layers = (0..d.n_layers)
            .map(|i| {
                Ok(LlamaLayer {
                    attn_norm: ld.norm(W::Layer(i, L::AttnNorm), d.hidden)?,
                    q_proj: ld.linear(W::Layer(i, L::Q), d.q_dim(), d.hidden)?,
                    k_proj: ld.linear(W::Layer(i, L::K), d.kv_dim(), d.hidden)?,
                    v_proj: ld.linear(W::Layer(i, L::V), d.kv_dim(), d.hidden)?,
                    o_proj: ld.linear(W::Layer(i, L::O), d.hidden, d.q_dim())?,
                    mlp_norm: ld.norm(W::Layer(i, L::MlpNorm), d.hidden)?,
                    gate_proj: ld.linear(W::Layer(i, L::Gate), d.intermediate, d.hidden)?,
                    up_proj: ld.linear(W::Layer(i, L::Up), d.intermediate, d.hidden)?,
                    down_proj: ld.linear(W::Layer(i, L::Down), d.hidden, d.intermediate)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = ld.norm(W::FinalNorm, d.hidden)?;
        let (lm_head, tied_head) = crate::lm_head::load(&mut ld, cfg, d, &embed)?;
        let rope_style = match src.kind() {
            SourceKind::HuggingFace => RopeStyle::Neox,
            SourceKind::Gguf => RopeStyle::Interleaved,
        };
        Ok(LlamaWeights {
            embed,
            layers,
            norm,
            lm_head,
            tied_head,
            rope_style,
        })
    }
}

pub struct Llama {
    cfg: ModelConfig,
    dims: Dims,
    weights: LlamaWeights,
    pool: ThreadPool,
    scratch: Scratch,
    seqs: AttnSeqBuf,
}

impl Llama {
    /// A model over loaded weights, computing with `threads` threads.
    pub fn new(cfg: &ModelConfig, weights: LlamaWeights, threads: usize) -> Result<Self> {
        let dims = Dims::from_config(cfg)?;
        Ok(Llama {
            cfg: cfg.clone(),
            dims,
            weights,
            pool: ThreadPool::new(threads.max(1)),
            scratch: Scratch::new(dims),
            seqs: AttnSeqBuf::default(),
        })
    }

    fn run(
        &mut self,
        batch: &ForwardBatch,
        kv: &mut KvTensors,
        mut tr: Tracer<'_, '_>,
    ) -> Result<&[f32]> {
        let spec = self.kv_spec();
        kv.check_spec(&spec)?;
        batch.validate(kv.num_blocks(), kv.block_size())?;
        let Dims {
            n_heads,
            n_kv_heads,
            head_dim,
            rms_eps: eps,
            rope_theta: theta,
            ..
        } = self.dims;
        let (n, n_out) = (batch.tokens.len(), batch.logits_rows.len());
        let (w, pool, rope_style) = (&self.weights, &self.pool, self.weights.rope_style);
        let s = self.scratch.views(n, n_out)?;
        let seqs = self.seqs.fill(batch);
        let pos = &batch.positions; // [n]
        let KvTensors {
            layers: caches,
            layout,
            ..
        } = kv;

        embed_tokens(&w.embed, &w.lm_head, w.tied_head, &batch.tokens, s.x)?; // [n, hidden]
        tr.emit("embed", s.x);

        for (i, (layer, cache)) in w.layers.iter().zip(caches.iter_mut()).enumerate() {
            // Attention: h = RMSNorm(x); q, k, v; RoPE; paged attention; o_proj.
            rms_norm(s.x, &layer.attn_norm, eps, s.h); // [n, hidden]
            tr.emit_layer(i, "input_layernorm_out", s.h);
            // q [n, n_heads * head_dim], k and v [n, n_kv_heads * head_dim]
            let qkv = [&layer.q_proj, &layer.k_proj, &layer.v_proj];
            forward_many(pool, s.h, qkv, [&mut *s.q, &mut *s.k, &mut *s.v], s.matmul)?;
            tr.emit_layer(i, "q_proj_out", s.q);
            tr.emit_layer(i, "k_proj_out", s.k);
            tr.emit_layer(i, "v_proj_out", s.v);
            rope(s.q, pos, n_heads, head_dim, theta, rope_style); // [n, n_heads, head_dim]
            rope(s.k, pos, n_kv_heads, head_dim, theta, rope_style); // [n, n_kv_heads, head_dim]
            tr.emit_layer(i, "q_rope_out", s.q);
            tr.emit_layer(i, "k_rope_out", s.k);
            paged_self_attention(
                pool, s.q, s.k, s.v, cache, layout, batch, &seqs, n_heads, s.ctx,
            )?;
            tr.emit_layer(i, "attn_context", s.ctx); // [n, n_heads * head_dim]
            layer.o_proj.forward(pool, s.ctx, s.attn_out, s.matmul)?; // [n, hidden]
            tr.emit_layer(i, "attn_out", s.attn_out);
            add_inplace(s.x, s.attn_out);

            // MLP: x += down(silu(gate(h)) * up(h)), h = RMSNorm(x).
            rms_norm(s.x, &layer.mlp_norm, eps, s.h); // [n, hidden]
            tr.emit_layer(i, "post_attention_layernorm_out", s.h);
            let (gate, up, down) = (&layer.gate_proj, &layer.up_proj, &layer.down_proj);
            swiglu_mlp(pool, s.matmul, s.h, gate, up, down, s.gate, s.up, s.mlp_out)?; // [n, hidden]
            tr.emit_layer(i, "mlp_out", s.mlp_out);
            add_inplace(s.x, s.mlp_out);
            tr.emit_layer(i, "out", s.x);
        }

        if tr.is_on() {
            rms_norm(s.x, &w.norm, eps, s.h); // [n, hidden], every row only for the trace
            tr.emit("final_norm_out", s.h);
        }
        logits_of_rows(
            pool,
            s.matmul,
            s.x,
            &batch.logits_rows,
            &w.norm,
            eps,
            &w.lm_head, // [vocab, hidden]
            s.out_x,
            s.out_h,
            s.logits,
        )?;
        self.seqs.keep(seqs);
        Ok(self.scratch.logits(n_out)) // [n_out, vocab]
    }
}

impl Model for Llama {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    fn kv_spec(&self) -> KvSpec {
        KvSpec {
            n_layers: self.dims.n_layers,
            n_kv_heads: self.dims.n_kv_heads,
            head_dim: self.dims.head_dim,
        }
    }

    fn forward(&mut self, batch: &ForwardBatch, kv: &mut KvTensors) -> Result<&[f32]> {
        self.run(batch, kv, Tracer::off())
    }

    fn forward_traced(
        &mut self,
        batch: &ForwardBatch,
        kv: &mut KvTensors,
        trace: &mut TraceFn<'_>,
    ) -> Result<&[f32]> {
        self.run(batch, kv, Tracer::on(trace))
    }
}
