//! Activation buffers of a decoder forward, sized for the largest batch seen so far and grown only
//! when a bigger one arrives: a decode step allocates nothing.

use tensor::ops::MatmulScratch;

use crate::dims::Dims;
use crate::error::{Error, Result};

pub(crate) struct Scratch {
    dims: Dims,
    tokens_cap: usize,
    logits_cap: usize,
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    ctx: Vec<f32>,
    attn_out: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    mlp_out: Vec<f32>,
    out_x: Vec<f32>,
    out_h: Vec<f32>,
    logits: Vec<f32>,
    matmul: MatmulScratch,
}

/// Exact-length views of the buffers for one batch of `n` tokens and `n_out` logits rows.
pub(crate) struct Views<'a> {
    /// `[n, hidden]` residual stream
    pub x: &'a mut [f32],
    /// `[n, hidden]` normed input of attention / MLP
    pub h: &'a mut [f32],
    /// `[n, n_heads * head_dim]`
    pub q: &'a mut [f32],
    /// `[n, n_kv_heads * head_dim]`
    pub k: &'a mut [f32],
    /// `[n, n_kv_heads * head_dim]`
    pub v: &'a mut [f32],
    /// `[n, n_heads * head_dim]` attention context
    pub ctx: &'a mut [f32],
    /// `[n, hidden]`
    pub attn_out: &'a mut [f32],
    /// `[n, intermediate]`
    pub gate: &'a mut [f32],
    /// `[n, intermediate]`
    pub up: &'a mut [f32],
    /// `[n, hidden]`
    pub mlp_out: &'a mut [f32],
    /// `[n_out, hidden]` residual rows that need logits
    pub out_x: &'a mut [f32],
    /// `[n_out, hidden]` those rows after the final norm
    pub out_h: &'a mut [f32],
    /// `[n_out, vocab]`
    pub logits: &'a mut [f32],
    pub matmul: &'a mut MatmulScratch,
}

impl Scratch {
    pub(crate) fn new(dims: Dims) -> Self {
        Scratch {
            dims,
            tokens_cap: 0,
            logits_cap: 0,
            x: Vec::new(),
            h: Vec::new(),
            q: Vec::new(),
            k: Vec::new(),
            v: Vec::new(),
            ctx: Vec::new(),
            attn_out: Vec::new(),
            gate: Vec::new(),
            up: Vec::new(),
            mlp_out: Vec::new(),
            out_x: Vec::new(),
            out_h: Vec::new(),
            logits: Vec::new(),
            matmul: MatmulScratch::default(),
        }
    }

    /// The buffers for `n` tokens and `n_out` logits rows, growing them if needed.
    pub(crate) fn views(&mut self, n: usize, n_out: usize) -> Result<Views<'_>> {
        let d = self.dims;
        let (hidden, qd, kvd, inter, vocab) =
            (d.hidden, d.q_dim(), d.kv_dim(), d.intermediate, d.vocab);
        let len = |rows: usize, width: usize| {
            rows.checked_mul(width)
                .ok_or_else(|| Error::Batch(format!("{rows} rows × {width} overflow")))
        };
        if n > self.tokens_cap {
            for (buf, l) in [
                (&mut self.x, len(n, hidden)?),
                (&mut self.h, len(n, hidden)?),
                (&mut self.q, len(n, qd)?),
                (&mut self.k, len(n, kvd)?),
                (&mut self.v, len(n, kvd)?),
                (&mut self.ctx, len(n, qd)?),
                (&mut self.attn_out, len(n, hidden)?),
                (&mut self.gate, len(n, inter)?),
                (&mut self.up, len(n, inter)?),
                (&mut self.mlp_out, len(n, hidden)?),
            ] {
                buf.resize(l, 0.0);
            }
            self.tokens_cap = n;
        }
        if n_out > self.logits_cap {
            self.out_x.resize(len(n_out, hidden)?, 0.0);
            self.out_h.resize(len(n_out, hidden)?, 0.0);
            self.logits.resize(len(n_out, vocab)?, 0.0);
            self.logits_cap = n_out;
        }
        Ok(Views {
            x: &mut self.x[..n * hidden],
            h: &mut self.h[..n * hidden],
            q: &mut self.q[..n * qd],
            k: &mut self.k[..n * kvd],
            v: &mut self.v[..n * kvd],
            ctx: &mut self.ctx[..n * qd],
            attn_out: &mut self.attn_out[..n * hidden],
            gate: &mut self.gate[..n * inter],
            up: &mut self.up[..n * inter],
            mlp_out: &mut self.mlp_out[..n * hidden],
            out_x: &mut self.out_x[..n_out * hidden],
            out_h: &mut self.out_h[..n_out * hidden],
            logits: &mut self.logits[..n_out * vocab],
            matmul: &mut self.matmul,
        })
    }

    /// The logits written by the last forward, `[n_out, vocab]`.
    pub(crate) fn logits(&self, n_out: usize) -> &[f32] {
        let n = (n_out * self.dims.vocab).min(self.logits.len());
        &self.logits[..n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dims() -> Dims {
        Dims {
            vocab: 10,
            hidden: 4,
            intermediate: 6,
            n_layers: 1,
            n_heads: 2,
            n_kv_heads: 1,
            head_dim: 2,
            rms_eps: 1e-6,
            rope_theta: 1e4,
        }
    }

    #[test]
    fn grows_only_for_bigger_batches() {
        let mut s = Scratch::new(dims());
        {
            let v = s.views(3, 1).unwrap();
            assert_eq!(v.x.len(), 12);
            assert_eq!(v.q.len(), 12);
            assert_eq!(v.k.len(), 6);
            assert_eq!(v.gate.len(), 18);
            assert_eq!(v.logits.len(), 10);
        }
        let ptr = s.x.as_ptr();
        {
            let v = s.views(1, 1).unwrap();
            assert_eq!(v.x.len(), 4);
        }
        assert_eq!(s.x.as_ptr(), ptr, "a smaller batch must not reallocate");
        assert_eq!(s.views(5, 2).unwrap().logits.len(), 20);
        assert_eq!(s.logits(2).len(), 20);
    }
}
