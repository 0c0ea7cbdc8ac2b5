//! The q/k row permutation convert_hf_to_gguf.py applies to Llama (`LlamaModel.permute`): HF
//! checkpoints rotate halves (`rotate_half`, rows `[head, 2, head_dim/2]`), llama.cpp's Llama RoPE
//! rotates adjacent pairs, so each head's rows are reordered to `[head, head_dim/2, 2]`.

use crate::Error;

/// Which source row each output row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// Row `r` from row `r`.
    Identity,
    /// Rows grouped in `n_heads` heads of `head_rows` rows; output row `(h, i, j)` of shape
    /// `[n_heads, head_rows/2, 2]` comes from input row `(h, j, i)` of `[n_heads, 2, head_rows/2]`.
    LlamaRope { n_heads: usize, head_rows: usize },
}

impl RowOrder {
    /// The permutation of a `[rows, ..]` q or k weight with `n_heads` heads (the kv heads for k).
    pub fn llama_rope(rows: usize, n_heads: usize) -> Result<RowOrder, Error> {
        if n_heads == 0 || !rows.is_multiple_of(n_heads) || !(rows / n_heads).is_multiple_of(2) {
            return Err(Error::Config(format!(
                "cannot permute {rows} rows for RoPE in {n_heads} heads (need an even number per head)"
            )));
        }
        Ok(RowOrder::LlamaRope {
            n_heads,
            head_rows: rows / n_heads,
        })
    }

    /// The source row of output row `r`.
    pub fn source_row(self, r: usize) -> usize {
        match self {
            RowOrder::Identity => r,
            RowOrder::LlamaRope { head_rows, .. } => {
                let half = head_rows / 2;
                let (h, within) = (r / head_rows, r % head_rows);
                let (i, j) = (within / 2, within % 2);
                h * head_rows + j * half + i
            }
        }
    }
}
