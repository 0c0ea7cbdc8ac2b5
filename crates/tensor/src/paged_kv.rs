//! The paged KV cache of one layer: fixed-size blocks of token slots, addressed by slot ids, stored
//! as f32, f16 or bf16 ([`KvDtype`]).

use crate::cpu::Isa;
use crate::kv_convert::{convert_row, Half, KvDtype};
use crate::Error;

/// Shape of one layer's paged cache: `[num_blocks, block_size, n_kv_heads, head_dim]` for K and V.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KvLayout {
    pub num_blocks: usize,
    pub block_size: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
}

impl KvLayout {
    /// Values per token slot: `n_kv_heads * head_dim`.
    pub fn token_len(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }

    /// Token slots in the cache: `num_blocks * block_size`.
    pub fn n_slots(&self) -> usize {
        self.num_blocks.saturating_mul(self.block_size)
    }

    /// Values in one of K or V, with every size checked non-zero and overflow-free.
    pub fn layer_len(&self) -> Result<usize, Error> {
        if self.num_blocks == 0
            || self.block_size == 0
            || self.n_kv_heads == 0
            || self.head_dim == 0
        {
            return Err(Error::KvLayout(format!(
                "every dimension must be > 0: {self:?}"
            )));
        }
        [self.block_size, self.n_kv_heads, self.head_dim]
            .iter()
            .try_fold(self.num_blocks, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::KvLayout(format!("size overflows: {self:?}")))
    }

    /// Checks that `layer` has this layout's size.
    pub fn check_layer(&self, layer: &PagedKvLayer) -> Result<(), Error> {
        let len = self.layer_len()?;
        if layer.k.len() != len || layer.v.len() != len {
            return Err(Error::KvLayout(format!(
                "layer has k {} / v {} values, layout {self:?} needs {len}",
                layer.k.len(),
                layer.v.len()
            )));
        }
        if layer.k.dtype() != layer.v.dtype() {
            return Err(Error::KvLayout(format!(
                "layer stores k as {} and v as {}",
                layer.k.dtype(),
                layer.v.dtype()
            )));
        }
        Ok(())
    }
}

/// The values of one of K or V: `[num_blocks, block_size, n_kv_heads, head_dim]` in the cache's
/// [`KvDtype`] (f16 / bf16 as their bit patterns).
#[derive(Clone, Debug, PartialEq)]
pub enum KvStore {
    F32(Vec<f32>),
    F16(Vec<u16>),
    Bf16(Vec<u16>),
}

impl KvStore {
    /// `len` zeros of `dtype`.
    pub fn zeros(dtype: KvDtype, len: usize) -> Self {
        match dtype {
            KvDtype::F32 => KvStore::F32(vec![0.0; len]),
            KvDtype::F16 => KvStore::F16(vec![0; len]),
            KvDtype::Bf16 => KvStore::Bf16(vec![0; len]),
        }
    }

    pub fn dtype(&self) -> KvDtype {
        match self {
            KvStore::F32(_) => KvDtype::F32,
            KvStore::F16(_) => KvDtype::F16,
            KvStore::Bf16(_) => KvDtype::Bf16,
        }
    }

    /// Values (not bytes).
    pub fn len(&self) -> usize {
        match self {
            KvStore::F32(x) => x.len(),
            KvStore::F16(x) | KvStore::Bf16(x) => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Value `i` widened to f32 (exact), or `None` past the end.
    pub fn get(&self, i: usize) -> Option<f32> {
        match self {
            KvStore::F32(x) => x.get(i).copied(),
            KvStore::F16(x) => x.get(i).map(|&b| half::f16::from_bits(b).to_f32()),
            KvStore::Bf16(x) => x.get(i).map(|&b| half::bf16::from_bits(b).to_f32()),
        }
    }

    /// Every value widened to f32 (tests, debugging).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        (0..self.len()).filter_map(|i| self.get(i)).collect()
    }

    /// Stores `src` (rounded to nearest even in a 16-bit dtype) at values `at..at + src.len()`.
    /// The caller checked the range.
    pub(crate) fn write(&mut self, isa: Isa, at: usize, src: &[f32]) {
        match self {
            KvStore::F32(x) => x[at..at + src.len()].copy_from_slice(src),
            KvStore::F16(x) => convert_row(isa, Half::F16, src, &mut x[at..at + src.len()]),
            KvStore::Bf16(x) => convert_row(isa, Half::Bf16, src, &mut x[at..at + src.len()]),
        }
    }

    fn copy_within(&mut self, src: std::ops::Range<usize>, dst: usize) {
        match self {
            KvStore::F32(x) => x.copy_within(src, dst),
            KvStore::F16(x) | KvStore::Bf16(x) => x.copy_within(src, dst),
        }
    }

    /// The first byte of the values (f32 or 16-bit patterns, little-endian, naturally aligned).
    pub(crate) fn as_byte_ptr(&self) -> *const u8 {
        match self {
            KvStore::F32(x) => x.as_ptr().cast(),
            KvStore::F16(x) | KvStore::Bf16(x) => x.as_ptr().cast(),
        }
    }
}

/// One layer's cache; K and V are each `[num_blocks, block_size, n_kv_heads, head_dim]`, both in
/// the same [`KvDtype`].
#[derive(Clone, Debug)]
pub struct PagedKvLayer {
    pub k: KvStore,
    pub v: KvStore,
}

impl PagedKvLayer {
    /// A zeroed f32 layer of the given layout.
    pub fn new(layout: &KvLayout) -> Result<Self, Error> {
        Self::with_dtype(layout, KvDtype::F32)
    }

    /// A zeroed layer of the given layout storing `dtype`.
    pub fn with_dtype(layout: &KvLayout, dtype: KvDtype) -> Result<Self, Error> {
        let len = layout.layer_len()?;
        Ok(PagedKvLayer {
            k: KvStore::zeros(dtype, len),
            v: KvStore::zeros(dtype, len),
        })
    }

    /// The element type of K and V.
    pub fn dtype(&self) -> KvDtype {
        self.k.dtype()
    }

    /// Copies block `src` onto block `dst` in K and V (copy-on-write of a shared partial block).
    pub fn copy_block(&mut self, layout: &KvLayout, src: u32, dst: u32) -> Result<(), Error> {
        layout.check_layer(self)?;
        let block_len = layout.block_size * layout.token_len();
        for id in [src, dst] {
            if id as usize >= layout.num_blocks {
                return Err(Error::KvLayout(format!(
                    "copy_block: block {id} is out of range ({} blocks)",
                    layout.num_blocks
                )));
            }
        }
        let (s, d) = (src as usize * block_len, dst as usize * block_len);
        self.k.copy_within(s..s + block_len, d);
        self.v.copy_within(s..s + block_len, d);
        Ok(())
    }
}

/// Stores the new tokens' K and V at their slots (`slot = block_id * block_size + offset`),
/// converted to the layer's dtype (round to nearest even). Every slot is checked before anything
/// is written; a bad one is an error naming it.
pub fn write_kv(
    layer: &mut PagedKvLayer,
    layout: &KvLayout,
    k: &[f32],            // [n_tokens, n_kv_heads * head_dim]
    v: &[f32],            // [n_tokens, n_kv_heads * head_dim]
    slot_mapping: &[u32], // [n_tokens]
) -> Result<(), Error> {
    layout.check_layer(layer)?;
    let tl = layout.token_len();
    let expect = slot_mapping.len() * tl;
    if k.len() != expect || v.len() != expect {
        return Err(Error::Shape(format!(
            "write_kv: k {} / v {} values, expected {} tokens * {tl}",
            k.len(),
            v.len(),
            slot_mapping.len()
        )));
    }
    let n_slots = layout.n_slots();
    if let Some((index, &slot)) = slot_mapping
        .iter()
        .enumerate()
        .find(|(_, &s)| s as usize >= n_slots)
    {
        return Err(Error::SlotOutOfRange {
            index,
            slot,
            n_slots,
        });
    }
    let isa = Isa::detect();
    for ((&slot, kr), vr) in slot_mapping
        .iter()
        .zip(k.chunks_exact(tl))
        .zip(v.chunks_exact(tl))
    {
        let at = slot as usize * tl;
        layer.k.write(isa, at, kr);
        layer.v.write(isa, at, vr);
    }
    Ok(())
}
