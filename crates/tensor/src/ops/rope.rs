//! Rotary position embedding, applied in place to q or k.

/// Which pairs of a head's values are rotated together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Value `i` pairs with `i + head_dim / 2` (HF `rotate_half`: Qwen3, HF Llama weights; llama.cpp
    /// "NEOX").
    Neox,
    /// Value `2i` pairs with `2i + 1` (llama.cpp "NORM": Llama GGUFs, whose q/k rows were permuted
    /// by `convert_hf_to_gguf`).
    Interleaved,
}

/// Largest `head_dim / 2` whose inverse frequencies are precomputed on the stack; larger heads
/// compute them inline (slower, same values).
const MAX_STACK_PAIRS: usize = 256;

/// Rotates every head of every token by its position: for pair `(a, b)` with frequency index `i`,
/// `a' = a·cos − b·sin`, `b' = b·cos + a·sin`, angle `= pos · θ^(−2i / head_dim)`.
///
/// The inverse frequency, the angle and cos/sin are computed in f32 as HF does
/// (`inv_freq = 1 / θ^(arange(0, d, 2) / d)`, `freqs = pos · inv_freq`). Nothing is allocated.
///
/// # Panics
/// If `head_dim` is odd or zero, or `x.len() != positions.len() * n_heads * head_dim` (caller bugs).
pub fn rope(
    x: &mut [f32],     // [n_tokens, n_heads, head_dim]
    positions: &[u32], // [n_tokens]
    n_heads: usize,
    head_dim: usize,
    theta: f32,
    style: RopeStyle,
) {
    assert!(
        head_dim > 0 && head_dim.is_multiple_of(2),
        "rope: head_dim {head_dim} must be even and > 0"
    );
    let token_len = n_heads * head_dim;
    assert_eq!(
        x.len(),
        positions.len() * token_len,
        "rope: x length vs positions * n_heads * head_dim"
    );
    let half = head_dim / 2;
    let inv_freq_at = |i: usize| 1.0 / theta.powf((2 * i) as f32 / head_dim as f32);
    let mut table = [0f32; MAX_STACK_PAIRS];
    let stacked = half <= MAX_STACK_PAIRS;
    if stacked {
        for (i, f) in table[..half].iter_mut().enumerate() {
            *f = inv_freq_at(i);
        }
    }
    if token_len == 0 {
        return;
    }
    for (tok, &pos) in x.chunks_exact_mut(token_len).zip(positions) {
        let p = pos as f32;
        for i in 0..half {
            let inv_freq = match table.get(i) {
                Some(&f) if stacked => f,
                _ => inv_freq_at(i),
            };
            let (sin, cos) = (p * inv_freq).sin_cos();
            let (ia, ib) = match style {
                RopeStyle::Neox => (i, i + half),
                RopeStyle::Interleaved => (2 * i, 2 * i + 1),
            };
            for head in tok.chunks_exact_mut(head_dim) {
                let (a, b) = (head[ia], head[ib]);
                head[ia] = a * cos - b * sin;
                head[ib] = b * cos + a * sin;
            }
        }
    }
}
