//! Fetches weights by role from a `WeightSource`, checks each shape against the config and reports
//! progress. Linear weights keep their stored dtype and storage (mmapped, quantized blocks stay
//! quantized); only the small 1-D norm weights become `Vec<f32>`. Linear weights the packed
//! kernels cover are interleaved right away, on the model's threads, and their mapped pages
//! released (see `pack.rs`).

use formats::{SourceKind, WeightSource};
use tensor::Tensor;

use crate::error::{Error, Result};
use crate::linear::Linear;
use crate::names::WeightName;
use crate::pack::Packer;

pub(crate) struct WeightLoader<'a> {
    src: &'a dyn WeightSource,
    kind: SourceKind,
    packer: Packer,
    progress: &'a mut dyn FnMut(usize, usize),
    done: usize,
    total: usize,
}

impl<'a> WeightLoader<'a> {
    /// `total` is the number of tensors the caller will fetch (for the progress callback);
    /// `threads` pack the quantized weights (the model's threads).
    pub(crate) fn new(
        src: &'a dyn WeightSource,
        total: usize,
        threads: usize,
        progress: &'a mut dyn FnMut(usize, usize),
    ) -> Self {
        WeightLoader {
            src,
            kind: src.kind(),
            packer: Packer::new(threads, src.page_releaser()),
            progress,
            done: 0,
            total,
        }
    }

    pub(crate) fn kind(&self) -> SourceKind {
        self.kind
    }

    pub(crate) fn has(&self, w: WeightName) -> bool {
        self.src.has(&w.path(self.kind))
    }

    /// A `[out_features, in_features]` weight as a `Linear`.
    pub(crate) fn linear(
        &mut self,
        w: WeightName,
        out_features: usize,
        in_features: usize,
    ) -> Result<Linear> {
        let (name, t) = self.fetch(w, &[out_features, in_features])?;
        if !quant::can_vec_dot(t.dtype) {
            return Err(Error::WeightDtype {
                name,
                reason: format!("no matmul kernel for {} weights", t.dtype.name()),
            });
        }
        Linear::with_packer(&name, t, out_features, in_features, &self.packer)
    }

    /// A `Linear` over a tensor already fetched (the token embedding as tied LM head). Once it is
    /// packed, `t`'s mapped pages are released: the caller must read its rows from the packed
    /// copy from then on.
    pub(crate) fn linear_of(
        &self,
        name: &str,
        t: Tensor,
        out_features: usize,
        in_features: usize,
    ) -> Result<Linear> {
        Linear::with_packer(name, t, out_features, in_features, &self.packer)
    }

    /// A `[rows, cols]` table (the token embedding, also the tied output projection), in its stored
    /// dtype.
    pub(crate) fn matrix(&mut self, w: WeightName, rows: usize, cols: usize) -> Result<Tensor> {
        let (name, t) = self.fetch(w, &[rows, cols])?;
        if !(quant::can_dequantize(t.dtype) && quant::can_vec_dot(t.dtype)) {
            return Err(Error::WeightDtype {
                name,
                reason: format!("no kernels for {} tables", t.dtype.name()),
            });
        }
        Ok(t)
    }

    /// A `[len]` norm weight, converted to f32.
    pub(crate) fn norm(&mut self, w: WeightName, len: usize) -> Result<Vec<f32>> {
        let (name, t) = self.fetch(w, &[len])?;
        let mut out = vec![0.0f32; len];
        quant::dequantize_row(t.dtype, t.bytes(), &mut out).map_err(|e| Error::WeightDtype {
            name,
            reason: format!("cannot read {} as f32: {e}", t.dtype.name()),
        })?;
        Ok(out)
    }

    fn fetch(&mut self, w: WeightName, expected: &[usize]) -> Result<(String, Tensor)> {
        let name = w.path(self.kind);
        let t = self.src.tensor(&name).map_err(|source| Error::Weight {
            name: name.clone(),
            source,
        })?;
        if t.shape != expected {
            return Err(Error::WeightShape {
                name,
                expected: expected.to_vec(),
                found: t.shape.clone(),
            });
        }
        self.done += 1;
        (self.progress)(self.done, self.total.max(self.done));
        Ok((name, t))
    }
}
