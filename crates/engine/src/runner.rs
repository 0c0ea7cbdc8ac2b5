//! `Runner`: owns the model and the paged K/V tensors, and turns one `SchedulerOutput` into one
//! batched forward pass: copy-on-write block copies first, then every scheduled sequence
//! (decodes and prefill chunks together) as ONE `ForwardBatch`, returning the logits rows of the
//! sequences that need them. The batch's buffers are kept between steps.

use models::{ForwardBatch, KvTensors, Model, SeqSlice};

use crate::{Error, RequestId, SchedulerOutput};

pub struct Runner {
    model: Box<dyn Model>,
    kv: KvTensors,
    batch: ForwardBatch,
    /// The request owning each sampling row of the last step's logits, in order.
    row_ids: Vec<RequestId>,
    /// The prompt-logprob rows of the last step, after the sampling rows: (request, position,
    /// row in the batch).
    prompt_rows: Vec<(RequestId, usize, usize)>,
    vocab: usize,
}

/// The logits of one step: row `i` (`[vocab]`) belongs to `ids()[i]`, in the order of the
/// scheduled sequences that needed logits; the prompt-logprob rows follow (`prompt_rows`).
#[derive(Debug, Clone, Copy)]
pub struct StepLogits<'a> {
    ids: &'a [RequestId],
    /// `[ids.len() + prompt_rows.len(), vocab]`
    logits: &'a [f32],
    vocab: usize,
    prompt_rows: &'a [(RequestId, usize, usize)],
}

impl<'a> StepLogits<'a> {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn ids(&self) -> &'a [RequestId] {
        self.ids
    }

    /// `(request, [vocab] logits)` of row `i`.
    pub fn row(&self, i: usize) -> Option<(RequestId, &'a [f32])> {
        let id = *self.ids.get(i)?;
        let row = self.logits.get(i * self.vocab..(i + 1) * self.vocab)?;
        Some((id, row))
    }

    pub fn iter(&self) -> impl Iterator<Item = (RequestId, &'a [f32])> + '_ {
        (0..self.len()).filter_map(|i| self.row(i))
    }

    /// `(request, position q, [vocab] logits at q)` of every prompt-logprob row
    /// (`ScheduledSeq::prompt_logprob_rows`): they give the logprob of prompt token `q + 1`.
    pub fn prompt_rows(&self) -> impl Iterator<Item = (RequestId, usize, &'a [f32])> + 'a {
        let this = *self;
        this.prompt_rows
            .iter()
            .enumerate()
            .filter_map(move |(i, &(id, pos, _))| {
                let r = this.ids.len() + i;
                let row = this.logits.get(r * this.vocab..(r + 1) * this.vocab)?;
                Some((id, pos, row))
            })
    }
}

impl Runner {
    /// A runner whose cache has `num_blocks` blocks of `block_size` tokens for `model`'s
    /// `kv_spec()` (the scheduler's pool, block for block).
    pub fn new(model: Box<dyn Model>, num_blocks: usize, block_size: usize) -> Result<Self, Error> {
        Self::with_kv_dtype(model, num_blocks, block_size, tensor::KvDtype::F32)
    }

    /// [`Runner::new`] with the cache stored as `kv_dtype`.
    pub fn with_kv_dtype(
        model: Box<dyn Model>,
        num_blocks: usize,
        block_size: usize,
        kv_dtype: tensor::KvDtype,
    ) -> Result<Self, Error> {
        let kv = KvTensors::with_dtype(model.kv_spec(), num_blocks, block_size, kv_dtype)
            .map_err(|e| Error::Model(format!("building the KV cache: {e}")))?;
        let vocab = model.config().vocab_size;
        Ok(Self {
            model,
            kv,
            batch: ForwardBatch::default(),
            row_ids: Vec::new(),
            prompt_rows: Vec::new(),
            vocab,
        })
    }

    pub fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    pub fn kv(&self) -> &KvTensors {
        &self.kv
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab
    }

    /// The batch built by the last `run` (for inspection in tests).
    pub fn last_batch(&self) -> &ForwardBatch {
        &self.batch
    }

    /// Runs one step: performs `out.copies` (every slot of `src` onto `dst`, K and V, in every
    /// layer), then one forward over all of `out.scheduled` in order. Returns the logits of the
    /// sequences with `needs_logits`. An empty step runs nothing.
    pub fn run(&mut self, out: &SchedulerOutput) -> Result<StepLogits<'_>, Error> {
        for c in &out.copies {
            for (i, layer) in self.kv.layers.iter_mut().enumerate() {
                layer
                    .copy_block(&self.kv.layout, c.src.0, c.dst.0)
                    .map_err(|e| {
                        Error::Model(format!("copy {} -> {} in layer {i}: {e}", c.src, c.dst))
                    })?;
            }
        }
        self.build_batch(out);
        if self.batch.tokens.is_empty() {
            return Ok(StepLogits {
                ids: &self.row_ids,
                logits: &[],
                vocab: self.vocab,
                prompt_rows: &[],
            });
        }
        let logits = self
            .model
            .forward(&self.batch, &mut self.kv)
            .map_err(|e| Error::Model(format!("forward of {out}: {e}")))?;
        let rows = self.row_ids.len() + self.prompt_rows.len();
        if logits.len() != rows * self.vocab {
            return Err(Error::Model(format!(
                "forward returned {} logits for {rows} rows of {}",
                logits.len(),
                self.vocab
            )));
        }
        Ok(StepLogits {
            ids: &self.row_ids,
            logits,
            vocab: self.vocab,
            prompt_rows: &self.prompt_rows,
        })
    }

    /// Fills the batch from `out`, reusing its buffers (also each sequence's block table).
    fn build_batch(&mut self, out: &SchedulerOutput) {
        let b = &mut self.batch;
        b.tokens.clear();
        b.positions.clear();
        b.slot_mapping.clear();
        b.logits_rows.clear();
        self.row_ids.clear();
        self.prompt_rows.clear();
        b.seqs.truncate(out.scheduled.len());
        b.seqs.resize_with(out.scheduled.len(), SeqSlice::default);
        for (seq, s) in b.seqs.iter_mut().zip(&out.scheduled) {
            seq.token_start = b.tokens.len();
            seq.n_tokens = s.num_tokens();
            seq.ctx_len = s.range.end;
            seq.block_table.clear();
            seq.block_table.extend_from_slice(&s.block_table);
            b.tokens.extend_from_slice(&s.token_ids);
            b.positions.extend_from_slice(&s.positions);
            b.slot_mapping.extend_from_slice(&s.slot_mapping);
            if s.needs_logits && !s.token_ids.is_empty() {
                b.logits_rows.push(b.tokens.len() - 1);
                self.row_ids.push(s.id);
            }
            for q in s.prompt_logprob_rows.clone() {
                if let Some(offset) = q.checked_sub(s.range.start).filter(|&o| o < seq.n_tokens) {
                    self.prompt_rows.push((s.id, q, seq.token_start + offset));
                }
            }
        }
        b.logits_rows
            .extend(self.prompt_rows.iter().map(|&(_, _, row)| row));
    }
}
