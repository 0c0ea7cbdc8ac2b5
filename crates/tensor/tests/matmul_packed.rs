//! matmul over interleaved (packed) quantized weights: every output equals
//! `quant::packed::dot_reference` of its weight row and activation row bit for bit, whatever the
//! batch size (row tiles of 4 and the remainder), the thread count, and a row's place in the batch;
//! and it stays close to the row-layout matmul (same quantized values, float order only).

mod common;
use common::{assert_bits_eq, Rng};
use quant::{AlignedBytes, GgmlType};
use tensor::ops::{
    embedding, embedding_packed, matmul, matmul_packed, matmul_packed_many, MatmulScratch,
    PackedWeight,
};
use tensor::{Storage, Tensor, ThreadPool};

const PACKED: [GgmlType; 7] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4K,
    GgmlType::Q6K,
];

fn weight(ty: GgmlType, m: usize, k: usize, rng: &mut Rng) -> (Tensor, AlignedBytes) {
    let v = rng.vec(m * k, 0.5);
    let row = ty.row_bytes(k).unwrap();
    let mut b = AlignedBytes::new();
    b.resize(m * row);
    for (src, dst) in v.chunks(k).zip(b.as_bytes_mut().chunks_mut(row)) {
        quant::quantize_row_into(ty, src, dst).unwrap();
    }
    let t = Tensor::new(ty, vec![m, k], Storage::Aligned(b.clone().into())).unwrap();
    (t, b)
}

fn k_of(ty: GgmlType) -> usize {
    if matches!(ty, GgmlType::Q4K | GgmlType::Q6K) {
        512
    } else {
        576
    }
}

#[test]
fn packed_matmul_equals_the_reference_for_any_batch_and_threads() {
    let mut rng = Rng::new(41);
    let pools = [ThreadPool::new(1), ThreadPool::new(2), ThreadPool::new(3)];
    for ty in PACKED {
        let (m, k) = (100, k_of(ty)); // 7 groups, the last one padded
        let (w, wb) = weight(ty, m, k, &mut rng);
        let p = PackedWeight::new(&w).unwrap();
        assert_eq!(p.shape(), [m, k]);
        let row = ty.row_bytes(k).unwrap();
        let n_max = 9;
        let x = rng.vec(n_max * k, 1.0);
        // The reference, one (row, output) at a time.
        let mut want = vec![0f32; n_max * m];
        let mut act = vec![0u8; quant::packed::act_row_bytes(ty, k).unwrap()];
        for i in 0..n_max {
            quant::packed::quantize_act_row(ty, &x[i * k..(i + 1) * k], &mut act).unwrap();
            for j in 0..m {
                want[i * m + j] =
                    quant::packed::dot_reference(ty, &wb.as_bytes()[j * row..][..row], &act, k)
                        .unwrap();
            }
        }
        let mut scratch = MatmulScratch::new();
        for pool in &pools {
            for n in [1, 2, 3, 4, 5, 8, 9] {
                let mut out = vec![f32::NAN; n * m];
                matmul_packed(pool, &x[..n * k], &p, &mut out, &mut scratch).unwrap();
                assert_bits_eq(
                    &out,
                    &want[..n * m],
                    &format!("{ty} n={n} threads={}", pool.n_threads()),
                );
            }
            // A row alone, at every position of the batch.
            for i in 0..n_max {
                let mut out = vec![0f32; m];
                matmul_packed(pool, &x[i * k..(i + 1) * k], &p, &mut out, &mut scratch).unwrap();
                assert_bits_eq(
                    &out,
                    &want[i * m..(i + 1) * m],
                    &format!("{ty} row {i} alone"),
                );
            }
        }
        // Close to the row-layout kernels (same quantized values; float order differs).
        let mut rows_out = vec![0f32; n_max * m];
        matmul(&pools[0], &x, &w, &mut rows_out, &mut scratch).unwrap();
        for (i, (a, b)) in want.iter().zip(&rows_out).enumerate() {
            let tol = 1e-4 * (1.0 + b.abs());
            assert!((a - b).abs() <= tol, "{ty} out {i}: packed {a} vs rows {b}");
        }
    }
}

#[test]
fn packed_weight_rejects_what_it_cannot_pack() {
    let f = Tensor::from_f32(vec![2, 32], vec![0.0; 64]).unwrap();
    assert!(!PackedWeight::supports(GgmlType::F32));
    assert!(PackedWeight::new(&f).is_err());
    let mut rng = Rng::new(1);
    let (w, _) = weight(GgmlType::Q8_0, 3, 64, &mut rng);
    let p = PackedWeight::new(&w).unwrap();
    let pool = ThreadPool::new(1);
    let mut s = MatmulScratch::new();
    assert!(
        matmul_packed(&pool, &[0.0; 63], &p, &mut [0.0; 3], &mut s).is_err(),
        "x not k"
    );
    assert!(
        matmul_packed(&pool, &[0.0; 64], &p, &mut [0.0; 4], &mut s).is_err(),
        "out size"
    );
    assert!(
        matmul_packed(&pool, &[], &p, &mut [], &mut s).is_ok(),
        "empty batch"
    );
}

#[test]
fn embedding_from_a_packed_table_equals_the_plain_one() {
    let mut rng = Rng::new(7);
    for ty in PACKED {
        let (m, k) = (37, k_of(ty));
        let (w, _) = weight(ty, m, k, &mut rng);
        let p = PackedWeight::new(&w).unwrap();
        let ids: Vec<u32> = vec![0, 15, 16, 36, 5, 36];
        let mut want = vec![0f32; ids.len() * k];
        let mut got = vec![f32::NAN; ids.len() * k];
        embedding(&w, &ids, &mut want).unwrap();
        embedding_packed(&p, &ids, &mut got).unwrap();
        assert_bits_eq(&got, &want, &format!("{ty} embedding"));
        assert!(
            embedding_packed(&p, &[37], &mut vec![0.0; k]).is_err(),
            "id >= vocab"
        );
        assert!(
            embedding_packed(&p, &[1], &mut vec![0.0; k + 1]).is_err(),
            "out size"
        );
    }
}

#[test]
fn several_weights_at_once_equal_each_alone() {
    let mut rng = Rng::new(3);
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    let k = 512;
    // Same activation format (Q4K + Q6K share Q8K; Q4_0 + Q8_0 share Q8_0) and a mixed one.
    for tys in [
        [GgmlType::Q4K, GgmlType::Q6K, GgmlType::Q4K],
        [GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q5_0],
        [GgmlType::Q4_1, GgmlType::Q8_0, GgmlType::Q6K],
    ] {
        let ms = [200, 40, 72];
        let ws: Vec<PackedWeight> = tys
            .iter()
            .zip(ms)
            .map(|(&ty, m)| PackedWeight::new(&weight(ty, m, k, &mut rng).0).unwrap())
            .collect();
        for n in [1, 6] {
            let x = rng.vec(n * k, 1.0);
            let mut alone: Vec<Vec<f32>> = ms.iter().map(|m| vec![0f32; n * m]).collect();
            for (w, o) in ws.iter().zip(alone.iter_mut()) {
                matmul_packed(&pool, &x, w, o, &mut scratch).unwrap();
            }
            let (mut a, mut b, mut c) = (
                vec![0f32; n * ms[0]],
                vec![0f32; n * ms[1]],
                vec![0f32; n * ms[2]],
            );
            matmul_packed_many(
                &pool,
                &x,
                [&ws[0], &ws[1], &ws[2]],
                [&mut a, &mut b, &mut c],
                &mut scratch,
            )
            .unwrap();
            for (got, want) in [a, b, c].iter().zip(&alone) {
                assert_bits_eq(got, want, &format!("{tys:?} n={n}"));
            }
        }
    }
    let w1 = PackedWeight::new(&weight(GgmlType::Q8_0, 16, 64, &mut rng).0).unwrap();
    let w2 = PackedWeight::new(&weight(GgmlType::Q8_0, 16, 96, &mut rng).0).unwrap();
    let (mut a, mut b) = (vec![0f32; 16], vec![0f32; 16]);
    assert!(
        matmul_packed_many(
            &pool,
            &[0.0; 64],
            [&w1, &w2],
            [&mut a, &mut b],
            &mut scratch
        )
        .is_err(),
        "different k"
    );
}
