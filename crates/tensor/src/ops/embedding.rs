//! Token embedding lookup: dequantize the rows of the embedding table picked by the token ids.

use crate::ops::matmul::weight_dims;
use crate::ops::PackedWeight;
use crate::{Error, Tensor};

/// `out[i, :] = w[ids[i], :]` upcast to f32, for any dtype `quant::dequantize_row` handles.
/// Errors (before writing anything) when an id is `>= vocab` or shapes disagree.
pub fn embedding(
    w: &Tensor,      // [vocab, d]
    ids: &[u32],     // [n]
    out: &mut [f32], // [n, d]
) -> Result<(), Error> {
    let (vocab, d, row_bytes) = weight_dims(w, "embedding")?;
    if Some(out.len()) != ids.len().checked_mul(d) {
        return Err(Error::Shape(format!(
            "embedding: out has {} values, expected {} ids * d {d}",
            out.len(),
            ids.len()
        )));
    }
    if let Some((index, &id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
        return Err(Error::TokenOutOfRange { index, id, vocab });
    }
    if d == 0 {
        return Ok(());
    }
    for (&id, dst) in ids.iter().zip(out.chunks_exact_mut(d)) {
        let start = id as usize * row_bytes;
        let src = w.bytes().get(start..start + row_bytes).ok_or_else(|| {
            Error::Shape(format!(
                "embedding: row {id} lies outside the {}-byte table",
                w.bytes().len()
            ))
        })?;
        quant::dequantize_row(w.dtype, src, dst)?;
    }
    Ok(())
}

/// [`embedding`] from a packed table (a tied LM head kept only in its packed form): the same
/// values, bit for bit, as from the unpacked tensor.
pub fn embedding_packed(
    w: &PackedWeight, // [vocab, d]
    ids: &[u32],      // [n]
    out: &mut [f32],  // [n, d]
) -> Result<(), Error> {
    let [vocab, d] = w.shape();
    if Some(out.len()) != ids.len().checked_mul(d) {
        return Err(Error::Shape(format!(
            "embedding_packed: out has {} values, expected {} ids * d {d}",
            out.len(),
            ids.len()
        )));
    }
    if let Some((index, &id)) = ids.iter().enumerate().find(|(_, &id)| id as usize >= vocab) {
        return Err(Error::TokenOutOfRange { index, id, vocab });
    }
    if d == 0 {
        return Ok(());
    }
    for (&id, dst) in ids.iter().zip(out.chunks_exact_mut(d)) {
        w.dequantize_row(id as usize, dst)?;
    }
    Ok(())
}
