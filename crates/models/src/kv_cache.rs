//! The paged K/V cache tensors. The runner owns them and lends them to `Model::forward`; a model
//! only describes their shape (`KvSpec`).

use tensor::{KvDtype, KvLayout, PagedKvLayer};

use crate::error::{Error, Result};

/// What a model needs from its cache: per layer, `n_kv_heads × head_dim` values of K and of V per
/// token (stored as f32, f16 or bf16: the runner's choice, [`KvTensors::with_dtype`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvSpec {
    pub n_layers: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

impl KvSpec {
    /// Bytes of K plus V for one token over all layers, stored as f32.
    pub fn bytes_per_token(&self) -> usize {
        self.bytes_per_token_as(KvDtype::F32)
    }

    /// Bytes of K plus V for one token over all layers, stored as `dtype`.
    pub fn bytes_per_token_as(&self, dtype: KvDtype) -> usize {
        2 * self.n_layers * self.n_kv_heads * self.head_dim * dtype.bytes()
    }
}

/// One `PagedKvLayer` per layer, each K and V `[num_blocks, block_size, n_kv_heads, head_dim]` in
/// one [`KvDtype`] (models write K/V with `tensor::write_kv`, which rounds to it).
#[derive(Debug)]
pub struct KvTensors {
    pub spec: KvSpec,
    pub layout: KvLayout,
    pub layers: Vec<PagedKvLayer>,
}

impl KvTensors {
    /// Allocates (zeroed) an f32 cache of `num_blocks` blocks of `block_size` tokens for `spec`.
    /// Errors on zero sizes, on element counts that overflow, and on pools whose slots do not fit
    /// in `u32`.
    pub fn new(spec: KvSpec, num_blocks: usize, block_size: usize) -> Result<Self> {
        Self::with_dtype(spec, num_blocks, block_size, KvDtype::F32)
    }

    /// [`KvTensors::new`] storing K and V as `dtype`.
    pub fn with_dtype(
        spec: KvSpec,
        num_blocks: usize,
        block_size: usize,
        dtype: KvDtype,
    ) -> Result<Self> {
        if spec.n_layers == 0 || spec.n_kv_heads == 0 || spec.head_dim == 0 {
            return Err(Error::Kv(format!("empty spec {spec:?}")));
        }
        if num_blocks == 0 || block_size == 0 {
            return Err(Error::Kv(format!(
                "{num_blocks} blocks of {block_size} tokens"
            )));
        }
        let slots = num_blocks
            .checked_mul(block_size)
            .filter(|&s| s <= u32::MAX as usize + 1)
            .ok_or_else(|| {
                Error::Kv(format!(
                    "{num_blocks} blocks × {block_size} slots do not fit u32 slot ids"
                ))
            })?;
        let per_layer = slots
            .checked_mul(spec.n_kv_heads)
            .and_then(|x| x.checked_mul(spec.head_dim))
            .ok_or_else(|| Error::Kv(format!("{slots} slots × {spec:?} overflow")))?;
        // K and V of every layer, in bytes, must be addressable.
        per_layer
            .checked_mul(2 * spec.n_layers)
            .and_then(|x| x.checked_mul(dtype.bytes()))
            .filter(|&b| b <= isize::MAX as usize)
            .ok_or_else(|| {
                Error::Kv(format!(
                    "{per_layer} values per layer × {} layers overflow",
                    spec.n_layers
                ))
            })?;
        let layout = KvLayout {
            num_blocks,
            block_size,
            n_kv_heads: spec.n_kv_heads,
            head_dim: spec.head_dim,
        };
        let layers = (0..spec.n_layers)
            .map(|_| PagedKvLayer::with_dtype(&layout, dtype))
            .collect::<Result<_, _>>()?;
        Ok(KvTensors {
            spec,
            layout,
            layers,
        })
    }

    /// The element type K and V are stored as.
    pub fn dtype(&self) -> KvDtype {
        self.layers.first().map_or(KvDtype::F32, |l| l.dtype())
    }

    pub fn num_blocks(&self) -> usize {
        self.layout.num_blocks
    }

    pub fn block_size(&self) -> usize {
        self.layout.block_size
    }

    /// Errors unless this cache was built for `spec`.
    pub fn check_spec(&self, spec: &KvSpec) -> Result<()> {
        if &self.spec != spec || self.layers.len() != spec.n_layers {
            return Err(Error::Kv(format!(
                "cache built for {:?}, the model needs {spec:?}",
                self.spec
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let spec = KvSpec {
            n_layers: 3,
            n_kv_heads: 2,
            head_dim: 4,
        };
        let kv = KvTensors::new(spec, 5, 16).unwrap();
        assert_eq!(kv.layers.len(), 3);
        assert_eq!(kv.layers[0].k.len(), 5 * 16 * 2 * 4);
        assert_eq!(kv.layers[2].v.len(), 5 * 16 * 2 * 4);
        assert_eq!(kv.dtype(), KvDtype::F32);
        let half = KvTensors::with_dtype(spec, 5, 16, KvDtype::F16).unwrap();
        assert_eq!(half.dtype(), KvDtype::F16);
        assert_eq!(half.layers[1].k.len(), 5 * 16 * 2 * 4);
        assert_eq!(spec.bytes_per_token_as(KvDtype::Bf16), 2 * 3 * 2 * 4 * 2);
        assert_eq!(kv.num_blocks(), 5);
        assert_eq!(kv.block_size(), 16);
        assert_eq!(spec.bytes_per_token(), 2 * 3 * 2 * 4 * 4);
        kv.check_spec(&spec).unwrap();
        assert!(kv
            .check_spec(&KvSpec {
                head_dim: 8,
                ..spec
            })
            .is_err());
    }

    #[test]
    fn rejects_zero_and_overflow() {
        let spec = KvSpec {
            n_layers: 1,
            n_kv_heads: 1,
            head_dim: 1,
        };
        assert!(KvTensors::new(spec, 0, 16).is_err());
        assert!(KvTensors::new(spec, 4, 0).is_err());
        assert!(KvTensors::new(
            KvSpec {
                n_layers: 0,
                ..spec
            },
            4,
            16
        )
        .is_err());
        assert!(KvTensors::new(spec, usize::MAX / 2, 4).is_err());
        let wide = KvSpec {
            n_layers: 1,
            n_kv_heads: usize::MAX / 2,
            head_dim: 8,
        };
        assert!(KvTensors::new(wide, 1, 1).is_err());
        let many = KvSpec {
            n_layers: usize::MAX / 4,
            n_kv_heads: 1,
            head_dim: 1,
        };
        assert!(KvTensors::new(many, 1, 1).is_err());
    }
}
