//! The paged KV cache of one layer: fixed-size blocks of token slots, addressed by slot ids.

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

    /// f32 values in one of K or V, with every size checked non-zero and overflow-free.
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
        Ok(())
    }
}

/// One layer's cache; K and V are each `[num_blocks, block_size, n_kv_heads, head_dim]` f32.
#[derive(Clone, Debug)]
pub struct PagedKvLayer {
    pub k: Vec<f32>,
    pub v: Vec<f32>,
}

impl PagedKvLayer {
    /// A zeroed layer of the given layout.
    pub fn new(layout: &KvLayout) -> Result<Self, Error> {
        let len = layout.layer_len()?;
        Ok(PagedKvLayer {
            k: vec![0.0; len],
            v: vec![0.0; len],
        })
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

/// Stores the new tokens' K and V at their slots (`slot = block_id * block_size + offset`).
/// Every slot is checked before anything is written; a bad one is an error naming it.
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
    for ((&slot, kr), vr) in slot_mapping
        .iter()
        .zip(k.chunks_exact(tl))
        .zip(v.chunks_exact(tl))
    {
        let at = slot as usize * tl;
        layer.k[at..at + tl].copy_from_slice(kr);
        layer.v[at..at + tl].copy_from_slice(vr);
    }
    Ok(())
}
