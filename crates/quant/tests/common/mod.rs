//! Shared helpers for the quant tests: a small deterministic RNG and byte-buffer wrappers.
#![allow(dead_code)]

use quant::{AlignedBytes, GgmlType};

/// xorshift64* — deterministic, dependency-free test data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
        let u2 = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }

    pub fn byte(&mut self) -> u8 {
        (self.next_u64() >> 56) as u8
    }

    pub fn normals(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.normal() * scale).collect()
    }
}

/// `x` quantized to `ty` in a 4-byte-aligned buffer.
pub fn quantize(ty: GgmlType, x: &[f32]) -> AlignedBytes {
    let mut buf = AlignedBytes::new();
    buf.resize(ty.row_bytes(x.len()).expect("whole blocks"));
    quant::quantize_row_into(ty, x, buf.as_bytes_mut()).expect("quantize");
    buf
}

/// `n` values of `ty` back to f32 (activation formats included, via their plain d·q meaning).
pub fn dequantize(ty: GgmlType, bytes: &[u8], n: usize) -> Vec<f32> {
    let mut out = vec![0f32; n];
    match ty {
        GgmlType::Q8_1 => {
            let blocks: &[quant::BlockQ8_1] = quant::cast_blocks(bytes).expect("q8_1 blocks");
            for (b, y) in blocks.iter().zip(out.chunks_exact_mut(32)) {
                for (y, &q) in y.iter_mut().zip(&b.qs) {
                    *y = f32::from(q) * b.d.to_f32();
                }
            }
        }
        GgmlType::Q8K => {
            let blocks: &[quant::BlockQ8K] = quant::cast_blocks(bytes).expect("q8_k blocks");
            for (b, y) in blocks.iter().zip(out.chunks_exact_mut(256)) {
                for (y, &q) in y.iter_mut().zip(&b.qs) {
                    *y = b.d * f32::from(q);
                }
            }
        }
        _ => quant::dequantize_row(ty, bytes, &mut out).expect("dequantize"),
    }
    out
}

/// Random bytes that form valid blocks of `ty` with finite, moderate f16/f32 scales: quants are
/// arbitrary, scale fields are overwritten by `fix`.
pub fn random_blocks(rng: &mut Rng, ty: GgmlType, n_blocks: usize) -> AlignedBytes {
    let mut buf = AlignedBytes::new();
    buf.resize(n_blocks * ty.type_size());
    for b in buf.as_bytes_mut() {
        *b = rng.byte();
    }
    buf
}

/// Σ|a_i·b_i| in f64: the scale of rounding errors in a dot product.
pub fn abs_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) * f64::from(*y)).abs())
        .sum()
}

/// Σ a_i·b_i in f64.
pub fn dot64(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}
