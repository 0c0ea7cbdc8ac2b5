//! A linear layer `y = x·Wᵀ` over a weight in its stored dtype (f32, f16, bf16 or quantized blocks);
//! the dtype dispatch lives in `tensor::ops::matmul`. Quantized weights of the types the packed
//! kernels cover are interleaved once here, at load (`tensor::ops::PackedWeight`, in parallel by
//! the loader's `Packer`), and multiplied by `matmul_packed`: the same results for any batch,
//! several times faster. A packed layer never reads its original weight again, so a loader may
//! release the weight's mapped pages.

use tensor::ops::{matmul, matmul_packed, matmul_packed_many, MatmulScratch, PackedWeight};
use tensor::{Tensor, ThreadPool};

use crate::error::{Error, Result};
use crate::pack::Packer;

#[derive(Debug)]
pub struct Linear {
    /// `[out_features, in_features]`
    weight: Tensor,
    /// The weight's rows interleaved for the packed kernels, when its dtype has them.
    packed: Option<PackedWeight>,
    out_features: usize,
    in_features: usize,
}

impl Linear {
    /// Wraps a `[out_features, in_features]` weight; `name` is for the error.
    pub fn new(
        name: &str,
        weight: Tensor,
        out_features: usize,
        in_features: usize,
    ) -> Result<Self> {
        Linear::with_packer(name, weight, out_features, in_features, &Packer::default())
    }

    /// [`Linear::new`], interleaving (when the dtype has packed kernels) with `packer`.
    pub(crate) fn with_packer(
        name: &str,
        weight: Tensor,
        out_features: usize,
        in_features: usize,
        packer: &Packer,
    ) -> Result<Self> {
        if weight.shape != [out_features, in_features] {
            return Err(Error::WeightShape {
                name: name.to_string(),
                expected: vec![out_features, in_features],
                found: weight.shape.clone(),
            });
        }
        let packed = if PackedWeight::supports(weight.dtype) {
            Some(
                packer
                    .pack(&weight, out_features, in_features)
                    .map_err(|e| Error::WeightDtype {
                        name: name.to_string(),
                        reason: format!("cannot interleave {} rows: {e}", weight.dtype.name()),
                    })?,
            )
        } else {
            None
        };
        Ok(Linear {
            weight,
            packed,
            out_features,
            in_features,
        })
    }

    /// The weight as loaded. When the layer is packed its mapped pages may have been released
    /// (reading it is correct but brings them back from the file): compute with [`Linear::forward`].
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// The interleaved copy the matmul uses, when the dtype has packed kernels.
    pub fn packed(&self) -> Option<&PackedWeight> {
        self.packed.as_ref()
    }

    pub fn out_features(&self) -> usize {
        self.out_features
    }

    pub fn in_features(&self) -> usize {
        self.in_features
    }

    /// `x [n, in_features]` → `out [n, out_features]`.
    pub fn forward(
        &self,
        pool: &ThreadPool,
        x: &[f32],
        out: &mut [f32],
        scratch: &mut MatmulScratch,
    ) -> Result<()> {
        match &self.packed {
            Some(p) => matmul_packed(pool, x, p, out, scratch)?,
            None => matmul(pool, x, &self.weight, out, scratch)?,
        }
        Ok(())
    }
}

/// Several linear layers of the same input (q/k/v, gate/up): `outs[i] = x · layers[i]ᵀ`. When all
/// are packed, one activation quantization and one pool job serve them all; each output is
/// exactly what `layers[i].forward` gives.
pub fn forward_many<const N: usize>(
    pool: &ThreadPool,
    x: &[f32], // [n, in_features]
    layers: [&Linear; N],
    outs: [&mut [f32]; N], // [n, out_features_i]
    scratch: &mut MatmulScratch,
) -> Result<()> {
    if layers.iter().all(|l| l.packed.is_some()) {
        let ws: [&PackedWeight; N] = std::array::from_fn(|i| match &layers[i].packed {
            Some(p) => p,
            None => unreachable!("checked above"),
        });
        matmul_packed_many(pool, x, ws, outs, scratch)?;
        return Ok(());
    }
    for (l, out) in layers.iter().zip(outs) {
        l.forward(pool, x, out, scratch)?;
    }
    Ok(())
}
