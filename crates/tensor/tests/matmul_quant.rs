//! matmul with quantized weights: equal bit for bit to `quant::vec_dot` of the weight row with the
//! quantized activation row, and close to f64 math on the dequantized weight and activation
//! (1e-5 of Σ|w·a|, plus the f16 rounding of Q8_1's `s` for Q4_1 / Q5_1, as the quant crate's own
//! dot-vs-dequantize test); batch and thread invariance; embedding of quantized rows.

mod common;
use common::{assert_bits_eq, Rng};
use quant::{cast_blocks, AlignedBytes, BlockQ4_1, BlockQ5_1, BlockQ8K, BlockQ8_1, GgmlType};
use tensor::ops::{embedding, matmul, MatmulScratch};
use tensor::{Storage, Tensor, ThreadPool};

const QUANTS: [GgmlType; 8] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

/// `rows × k` f32 values quantized row by row (llama.cpp's reference quantizers).
fn quantize_rows(ty: GgmlType, v: &[f32], k: usize) -> AlignedBytes {
    let row = ty.row_bytes(k).unwrap();
    let mut out = AlignedBytes::new();
    out.resize(v.len() / k * row);
    for (src, dst) in v.chunks(k).zip(out.as_bytes_mut().chunks_mut(row)) {
        quant::quantize_row_into(ty, src, dst).unwrap();
    }
    out
}

/// Dequantizes one row of any weight or activation type (Q8_1 / Q8K by their fields: value = d·q).
fn dequantize(ty: GgmlType, bytes: &[u8], k: usize) -> Vec<f64> {
    let v: Vec<f32> = match ty {
        GgmlType::Q8_1 => cast_blocks::<BlockQ8_1>(bytes)
            .unwrap()
            .iter()
            .flat_map(|b| b.qs.iter().map(move |&q| b.d.to_f32() * f32::from(q)))
            .collect(),
        GgmlType::Q8K => cast_blocks::<BlockQ8K>(bytes)
            .unwrap()
            .iter()
            .flat_map(|b| b.qs.iter().map(move |&q| b.d * f32::from(q)))
            .collect(),
        _ => {
            let mut d = vec![0.0; k];
            quant::dequantize_row(ty, bytes, &mut d).unwrap();
            d
        }
    };
    v.into_iter().map(f64::from).collect()
}

/// |m|·|s − d·Σq| summed over blocks: Q8_1 stores `s` as its own f16 (see the quant crate's test).
fn s_rounding(ty: GgmlType, w: &[u8], a: &[u8]) -> f64 {
    let m: Vec<f32> = match ty {
        GgmlType::Q4_1 => cast_blocks::<BlockQ4_1>(w)
            .unwrap()
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        GgmlType::Q5_1 => cast_blocks::<BlockQ5_1>(w)
            .unwrap()
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        _ => return 0.0,
    };
    let a: &[BlockQ8_1] = cast_blocks(a).unwrap();
    m.iter()
        .zip(a)
        .map(|(&m, b)| {
            let sum: i32 = b.qs.iter().map(|&q| i32::from(q)).sum();
            f64::from(m).abs()
                * (f64::from(b.s.to_f32()) - f64::from(b.d.to_f32()) * f64::from(sum)).abs()
        })
        .sum()
}

fn owned(ty: GgmlType, shape: Vec<usize>, bytes: &AlignedBytes) -> Tensor {
    // Storage::Bytes holds a Vec<u8>; its alignment is whatever the allocator gives, which the
    // kernels check (a misaligned copy takes the slow path, still correct).
    Tensor::new(ty, shape, Storage::Bytes(bytes.as_bytes().to_vec().into())).unwrap()
}

#[test]
fn quantized_matmul_equals_vec_dot_and_the_dequantized_math() {
    let mut rng = Rng::new(30);
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    for ty in QUANTS {
        let at = quant::vec_dot_type(ty);
        for &(n, m, k) in &[
            (1usize, 1usize, 256usize),
            (1, 37, 512),
            (5, 70, 256),
            (9, 300, 1024),
        ] {
            let x = rng.vec(n * k, 1.0);
            let wq = quantize_rows(ty, &rng.vec(m * k, 0.3), k);
            let w = owned(ty, vec![m, k], &wq);
            let mut out = vec![f32::NAN; n * m];
            matmul(&pool, &x, &w, &mut out, &mut scratch).expect("matmul");

            let aq = quantize_rows(at, &x, k);
            let (w_row, a_row) = (ty.row_bytes(k).unwrap(), at.row_bytes(k).unwrap());
            for i in 0..n {
                let ab = &aq.as_bytes()[i * a_row..(i + 1) * a_row];
                let ad = dequantize(at, ab, k);
                for j in 0..m {
                    let wb = &wq.as_bytes()[j * w_row..(j + 1) * w_row];
                    let got = out[i * m + j];
                    let want_bits = quant::vec_dot(ty, wb, ab, k).unwrap();
                    assert_eq!(
                        got.to_bits(),
                        want_bits.to_bits(),
                        "{ty} n={n} m={m} k={k} [{i},{j}] vs vec_dot"
                    );
                    let wd = dequantize(ty, wb, k);
                    let exact: f64 = wd.iter().zip(&ad).map(|(a, b)| a * b).sum();
                    let mag: f64 = wd.iter().zip(&ad).map(|(a, b)| (a * b).abs()).sum();
                    let tol = 1e-5 * mag + s_rounding(ty, wb, ab) + 1e-30;
                    assert!(
                        (f64::from(got) - exact).abs() <= tol,
                        "{ty} [{i},{j}]: {got} vs {exact} (tol {tol})"
                    );
                }
            }
        }
    }
}

#[test]
fn quantized_matmul_is_batch_and_thread_invariant() {
    let mut rng = Rng::new(31);
    let (m, k) = (150, 512);
    let pools = [ThreadPool::new(1), ThreadPool::new(2), ThreadPool::new(3)];
    let mut scratch = MatmulScratch::new();
    for ty in QUANTS {
        let w = owned(ty, vec![m, k], &quantize_rows(ty, &rng.vec(m * k, 0.3), k));
        let rows: Vec<Vec<f32>> = (0..7).map(|_| rng.vec(k, 1.0)).collect();
        let alone: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| {
                let mut o = vec![0.0; m];
                matmul(&pools[0], r, &w, &mut o, &mut scratch).unwrap();
                o
            })
            .collect();
        for pool in &pools {
            let mut order: Vec<usize> = (0..7).collect();
            rng.shuffle(&mut order);
            let x: Vec<f32> = order
                .iter()
                .flat_map(|&i| rows[i].iter().copied())
                .collect();
            let mut out = vec![0.0; 7 * m];
            matmul(pool, &x, &w, &mut out, &mut scratch).unwrap();
            for (slot, &i) in order.iter().enumerate() {
                assert_bits_eq(
                    &out[slot * m..(slot + 1) * m],
                    &alone[i],
                    &format!("{ty} row {i} at {slot}"),
                );
            }
        }
    }
}

#[test]
fn misaligned_quantized_weights_still_work() {
    let mut rng = Rng::new(32);
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    let (m, k) = (40, 256);
    for ty in QUANTS {
        let wq = quantize_rows(ty, &rng.vec(m * k, 0.3), k);
        let aligned = owned(ty, vec![m, k], &wq);
        let mut map = memmap2::MmapMut::map_anon(wq.len() + 1).unwrap();
        map[1..].copy_from_slice(wq.as_bytes());
        let map = map.make_read_only().unwrap();
        let storage = Storage::Mapped {
            map: std::sync::Arc::new(map),
            offset: 1,
            len: wq.len(),
        };
        let misaligned = Tensor::new(ty, vec![m, k], storage).unwrap();
        let x = rng.vec(3 * k, 1.0);
        let (mut a, mut b) = (vec![0.0; 3 * m], vec![0.0; 3 * m]);
        matmul(&pool, &x, &aligned, &mut a, &mut scratch).unwrap();
        matmul(&pool, &x, &misaligned, &mut b, &mut scratch).unwrap();
        assert_bits_eq(&a, &b, &format!("{ty} misaligned"));
        // The explicit once-only copy.
        assert!(!misaligned.is_block_aligned());
        let fixed = misaligned.to_block_aligned();
        assert!(fixed.is_block_aligned() && matches!(fixed.storage, Storage::Aligned(_)));
        let mut c = vec![0.0; 3 * m];
        matmul(&pool, &x, &fixed, &mut c, &mut scratch).unwrap();
        assert_bits_eq(&a, &c, &format!("{ty} to_block_aligned"));
    }
}

#[test]
fn unsupported_weight_types_are_errors() {
    let pool = ThreadPool::new(1);
    let mut scratch = MatmulScratch::new();
    // Q8_1 / Q8K are activation formats with no weight dot; Q2K has no kernel.
    for ty in [GgmlType::Q8_1, GgmlType::Q8K, GgmlType::Q2K] {
        let bytes = vec![0u8; ty.row_bytes(256).unwrap()];
        let w = Tensor::new(ty, vec![1, 256], Storage::Bytes(bytes.into())).unwrap();
        let err =
            matmul(&pool, &[0.0; 256], &w, &mut [0.0], &mut scratch).expect_err("unsupported");
        assert!(err.to_string().contains(ty.name()), "{err}");
    }
}

#[test]
fn embedding_dequantizes_rows_of_every_type() {
    let mut rng = Rng::new(33);
    let (vocab, d) = (50, 256);
    let table = rng.vec(vocab * d, 1.0);
    let ids = [3u32, 0, 49, 3, 17];
    for ty in QUANTS
        .into_iter()
        .chain([GgmlType::F32, GgmlType::F16, GgmlType::BF16])
    {
        let q = quantize_rows(ty, &table, d);
        let w = owned(ty, vec![vocab, d], &q);
        let mut out = vec![f32::NAN; ids.len() * d];
        embedding(&w, &ids, &mut out).unwrap();
        let row = ty.row_bytes(d).unwrap();
        for (i, &id) in ids.iter().enumerate() {
            let mut want = vec![0.0; d];
            quant::dequantize_row(ty, &q.as_bytes()[id as usize * row..][..row], &mut want)
                .unwrap();
            assert_bits_eq(&out[i * d..(i + 1) * d], &want, &format!("{ty} id {id}"));
        }
        let err = embedding(&w, &[1, 50], &mut vec![0.0; 2 * d]).expect_err("id 50 of 50");
        assert!(
            matches!(
                err,
                tensor::Error::TokenOutOfRange {
                    index: 1,
                    id: 50,
                    vocab: 50
                }
            ),
            "{err}"
        );
        assert!(
            embedding(&w, &[1], &mut vec![0.0; d + 1]).is_err(),
            "out size"
        );
    }
}

#[test]
fn speed_sanity_no_asserts() {
    let mut rng = Rng::new(34);
    let pool = ThreadPool::with_available_parallelism();
    let mut scratch = MatmulScratch::new();
    let (m, k) = (2048, 2048);
    for ty in [GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4K, GgmlType::Q6K] {
        let w = owned(ty, vec![m, k], &quantize_rows(ty, &rng.vec(m * k, 0.3), k));
        for n in [1usize, 32] {
            let x = rng.vec(n * k, 1.0);
            let mut out = vec![0.0; n * m];
            matmul(&pool, &x, &w, &mut out, &mut scratch).unwrap();
            let reps = if n == 1 { 50 } else { 5 };
            let t = std::time::Instant::now();
            for _ in 0..reps {
                matmul(&pool, &x, &w, &mut out, &mut scratch).unwrap();
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            eprintln!(
                "{ty} n={n} [{m}x{k}]: {:.0} µs, {:.1} GMAC/s",
                s * 1e6,
                (n * m * k) as f64 / s / 1e9
            );
        }
    }
}
