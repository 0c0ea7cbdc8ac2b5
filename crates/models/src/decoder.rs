//! The shell every decoder architecture here shares: token embedding, the layers in order, the
//! output head, the scratch buffers and the thread pool. An architecture supplies only its layer
//! ([`DecoderLayer`]): its weights, how they load, and its forward, which reads top to bottom.

use formats::{ModelConfig, SourceKind, WeightSource};
use tensor::ops::RopeStyle;
use tensor::{PagedKvLayer, Tensor, ThreadPool};

use crate::attention::AttnSeqBuf;
use crate::batch::ForwardBatch;
use crate::dims::Dims;
use crate::error::Result;
use crate::kv_cache::{KvSpec, KvTensors};
use crate::linear::Linear;
use crate::lm_head::embed_tokens;
use crate::model::Model;
use crate::names::WeightName as W;
use crate::output::logits_of_rows;
use crate::scratch::{Scratch, Views};
use crate::sublayers::AttnStep;
use crate::trace::{TraceFn, Tracer};
use crate::weight_loader::WeightLoader;

/// One decoder layer of an architecture.
pub(crate) trait DecoderLayer: Sized + Send {
    /// Tensors [`DecoderLayer::load`] reads (for progress totals).
    const TENSORS: usize;

    /// How this architecture's q/k rows pair dimensions for RoPE in a checkpoint of `kind`.
    fn rope_style(kind: SourceKind) -> RopeStyle;

    /// Reads layer `i`'s weights, checking their shapes against `d`.
    fn load(ld: &mut WeightLoader<'_>, i: usize, d: &Dims) -> Result<Self>;

    /// The layer over the residual stream `s.x` `[n, hidden]`, in place.
    fn forward(
        &self,
        st: &AttnStep<'_, '_>,
        cache: &mut PagedKvLayer,
        s: &mut Views<'_>,
        i: usize,
        tr: &mut Tracer<'_, '_>,
    ) -> Result<()>;
}

/// Every weight of a decoder with layers `L`.
#[derive(Debug)]
pub(crate) struct DecoderWeights<L> {
    pub embed: Tensor, // [vocab, hidden]
    pub layers: Vec<L>,
    pub norm: Vec<f32>, // [hidden]
    /// `[vocab, hidden]`; the token embedding's tensor when tied.
    pub lm_head: Linear,
    /// The LM head is the token embedding (token rows are then read from its packed copy).
    pub tied_head: bool,
    /// How q/k rows are laid out for RoPE, from the checkpoint kind.
    pub rope_style: RopeStyle,
}

impl<L: DecoderLayer> DecoderWeights<L> {
    /// Reads every weight from `src` (HF or GGUF names), checking its shape against `cfg`;
    /// `threads` interleave the quantized ones, `progress(done, total)` follows each tensor.
    pub(crate) fn load(
        src: &dyn WeightSource,
        cfg: &ModelConfig,
        threads: usize,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Self> {
        let d = Dims::from_config(cfg)?;
        let has_head = src.has(&W::LmHead.path(src.kind()));
        let total = 2 + L::TENSORS * d.n_layers + usize::from(has_head);
        let mut ld = WeightLoader::new(src, total, threads, progress);
        let embed = ld.matrix(W::Embed, d.vocab, d.hidden)?;
        let layers = (0..d.n_layers)
            .map(|i| L::load(&mut ld, i, &d))
            .collect::<Result<Vec<_>>>()?;
        let norm = ld.norm(W::FinalNorm, d.hidden)?;
        let (lm_head, tied_head) = crate::lm_head::load(&mut ld, cfg, d, &embed)?;
        Ok(DecoderWeights {
            embed,
            layers,
            norm,
            lm_head,
            tied_head,
            rope_style: L::rope_style(src.kind()),
        })
    }
}

/// A runnable decoder: weights, thread pool and preallocated activations.
pub(crate) struct Decoder<L> {
    cfg: ModelConfig,
    dims: Dims,
    weights: DecoderWeights<L>,
    pool: ThreadPool,
    scratch: Scratch,
    seqs: AttnSeqBuf,
}

impl<L: DecoderLayer> Decoder<L> {
    /// A model over loaded weights, computing with `threads` threads.
    pub(crate) fn new(
        cfg: &ModelConfig,
        weights: DecoderWeights<L>,
        threads: usize,
    ) -> Result<Self> {
        let dims = Dims::from_config(cfg)?;
        Ok(Decoder {
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
        kv.check_spec(&self.kv_spec())?;
        batch.validate(kv.num_blocks(), kv.block_size())?;
        let (d, w, pool) = (&self.dims, &self.weights, &self.pool);
        let (n, n_out) = (batch.tokens.len(), batch.logits_rows.len());
        let mut s = self.scratch.views(n, n_out)?;
        let seqs = self.seqs.fill(batch);
        let KvTensors {
            layers: caches,
            layout,
            ..
        } = kv;
        let st = AttnStep {
            pool,
            d,
            rope_style: w.rope_style,
            batch,
            seqs: &seqs,
            layout,
        };

        embed_tokens(&w.embed, &w.lm_head, w.tied_head, &batch.tokens, s.x)?; // [n, hidden]
        tr.emit("embed", s.x);
        for (i, (layer, cache)) in w.layers.iter().zip(caches.iter_mut()).enumerate() {
            layer.forward(&st, cache, &mut s, i, &mut tr)?; // [n, hidden]
        }
        let rows = &batch.logits_rows;
        logits_of_rows(pool, &mut s, rows, &w.norm, d.rms_eps, &w.lm_head, &mut tr)?;

        self.seqs.keep(seqs);
        Ok(self.scratch.logits(n_out)) // [n_out, vocab]
    }
}

impl<L: DecoderLayer> Model for Decoder<L> {
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
