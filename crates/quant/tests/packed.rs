//! The interleaved (packed) kernels: every tier, for 1 to 4 activation rows per call, equals the
//! canonical scalar reference bit for bit (so a row's result never depends on its batch), and the
//! reference computes the same dot as the llama.cpp-order `vec_dot` (exactly with unit scales,
//! within float-order noise with random ones).

mod common;

use common::Rng;
use half::f16;
use quant::packed::{self, GroupKernels, MAX_ACT_ROWS, ROWS};
use quant::{cast_blocks_mut, AlignedBytes, GgmlType, SimdLevel};
use quant::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0};

const TYPES: [GgmlType; 7] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4K,
    GgmlType::Q6K,
];

/// `m` rows of random quant bytes with scales `unit ? 1 : small random`.
fn random_rows(rng: &mut Rng, ty: GgmlType, m: usize, k: usize, unit: bool) -> AlignedBytes {
    let mut buf = AlignedBytes::new();
    buf.resize(m * ty.row_bytes(k).unwrap());
    for b in buf.as_bytes_mut() {
        *b = rng.byte();
    }
    let mut s = || {
        if unit {
            f16::ONE
        } else {
            f16::from_f32(rng.uniform() * 0.05)
        }
    };
    let bytes = buf.as_bytes_mut();
    match ty {
        GgmlType::Q4_0 => cast_blocks_mut::<BlockQ4_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q5_0 => cast_blocks_mut::<BlockQ5_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q8_0 => cast_blocks_mut::<BlockQ8_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q4_1 => cast_blocks_mut::<BlockQ4_1>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.m) = (s(), s())),
        GgmlType::Q5_1 => cast_blocks_mut::<BlockQ5_1>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.m) = (s(), s())),
        GgmlType::Q4K => cast_blocks_mut::<BlockQ4K>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.dmin) = (s(), s())),
        GgmlType::Q6K => cast_blocks_mut::<BlockQ6K>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        _ => unreachable!(),
    }
    buf
}

fn act_row(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let mut a = vec![0u8; packed::act_row_bytes(ty, x.len()).unwrap()];
    packed::quantize_act_row(ty, x, &mut a).unwrap();
    a
}

fn ks(ty: GgmlType) -> &'static [usize] {
    if matches!(ty, GgmlType::Q4K | GgmlType::Q6K) {
        &[256, 768]
    } else {
        &[32, 96, 576]
    }
}

#[test]
fn every_tier_and_row_count_equals_the_reference_bitwise() {
    let tiers = GroupKernels::available();
    if std::is_x86_feature_detected!("avx512vnni") && std::is_x86_feature_detected!("avx512bw") {
        assert!(tiers.iter().any(|t| t.level == SimdLevel::Avx512Vnni));
    }
    let mut rng = Rng::new(11);
    for ty in TYPES {
        for &k in ks(ty) {
            for unit in [false, true] {
                let m = 37; // three groups, the last one padded
                let w = random_rows(&mut rng, ty, m, k, unit);
                let row = ty.row_bytes(k).unwrap();
                let packed = packed::pack_rows(ty, w.as_bytes(), m, k).unwrap();
                let gbytes = packed::group_bytes(ty, k).unwrap();
                assert_eq!(packed.len(), m.div_ceil(ROWS) * gbytes);
                let acts: Vec<Vec<u8>> = (0..MAX_ACT_ROWS)
                    .map(|i| {
                        let scale = if i == 3 { 0.0 } else { 1.0 + i as f32 };
                        act_row(ty, &rng.normals(k, scale))
                    })
                    .collect();
                let want: Vec<Vec<f32>> = acts
                    .iter()
                    .map(|a| {
                        (0..m)
                            .map(|j| {
                                packed::dot_reference(ty, &w.as_bytes()[j * row..][..row], a, k)
                                    .unwrap()
                            })
                            .collect()
                    })
                    .collect();
                let all: Vec<u8> = acts.concat();
                for tier in &tiers {
                    // All groups × all rows in one call (tiles of 4), as matmul uses it.
                    let mut seen = 0;
                    tier.for_each_tile(
                        ty,
                        k,
                        packed.as_bytes(),
                        &all,
                        MAX_ACT_ROWS,
                        |g, i, tile| {
                            for (r, o) in tile.iter().enumerate() {
                                for (jj, &got) in o.iter().enumerate() {
                                    let j = g * ROWS + jj;
                                    let exp = if j < m { want[i + r][j] } else { 0.0 };
                                    assert_eq!(
                                        got.to_bits(),
                                        exp.to_bits(),
                                        "{ty} k={k} {:?} tile",
                                        tier.level
                                    );
                                    seen += 1;
                                }
                            }
                        },
                    )
                    .unwrap();
                    assert_eq!(seen, m.div_ceil(ROWS) * ROWS * MAX_ACT_ROWS);
                    for n in 1..=MAX_ACT_ROWS {
                        for first in 0..=MAX_ACT_ROWS - n {
                            let rows: Vec<&[u8]> =
                                acts[first..first + n].iter().map(|a| &a[..]).collect();
                            for (g, group) in packed.as_bytes().chunks_exact(gbytes).enumerate() {
                                let mut out = vec![[0f32; ROWS]; n];
                                tier.group_dot(ty, group, &rows, &mut out).unwrap();
                                for (r, o) in out.iter().enumerate() {
                                    for (jj, &got) in o.iter().enumerate() {
                                        let j = g * ROWS + jj;
                                        let exp = if j < m { want[first + r][j] } else { 0.0 };
                                        assert_eq!(
                                            got.to_bits(),
                                            exp.to_bits(),
                                            "{ty} k={k} unit={unit} {:?} rows={n} act {} out row {j}: {got} vs {exp}",
                                            tier.level,
                                            first + r
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The llama.cpp-layout activation row (vec_dot_type) of the same values.
fn std_act(ty: GgmlType, x: &[f32]) -> AlignedBytes {
    common::quantize(quant::vec_dot_type(ty), x)
}

#[test]
fn reference_computes_the_vec_dot() {
    let mut rng = Rng::new(5);
    for ty in TYPES {
        for &k in ks(ty) {
            let m = 8;
            let w = random_rows(&mut rng, ty, m, k, false);
            let row = ty.row_bytes(k).unwrap();
            for _ in 0..4 {
                let x = rng.normals(k, 1.0);
                let (a, sa) = (act_row(ty, &x), std_act(ty, &x));
                for j in 0..m {
                    let wr = &w.as_bytes()[j * row..][..row];
                    let got = packed::dot_reference(ty, wr, &a, k).unwrap();
                    let exp = quant::vec_dot(ty, wr, sa.as_bytes(), k).unwrap();
                    // Float-order noise only: bounded by a few ulps of the magnitudes involved.
                    let wf = common::dequantize(ty, wr, k);
                    let af = common::dequantize(quant::vec_dot_type(ty), sa.as_bytes(), k);
                    let scale = common::abs_dot(&wf, &af) + 1e-3;
                    assert!(
                        (f64::from(got) - f64::from(exp)).abs() <= 1e-5 * scale,
                        "{ty} k={k} row {j}: reference {got} vs vec_dot {exp} (scale {scale})"
                    );
                }
            }
        }
    }
}

#[test]
fn reference_equals_vec_dot_exactly_on_integer_sums() {
    // Unit weight scales and unit activation scales: every partial sum is a small integer, so
    // both orders are exact and any integer slip (offsets, bit layout) shows as inequality.
    let mut rng = Rng::new(9);
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
    ] {
        let k = 96;
        let w = random_rows(&mut rng, ty, 4, k, true);
        let row = ty.row_bytes(k).unwrap();
        let x = rng.normals(k, 1.0);
        let mut a = act_row(ty, &x);
        let mut sa = std_act(ty, &x);
        // d = 1 (and s = 1) in both layouts.
        let nb = k / 32;
        for b in 0..nb {
            a[k + 4 * b..k + 4 * b + 4].copy_from_slice(&1.0f32.to_le_bytes());
            if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                a[k + 4 * nb + 4 * b..k + 4 * nb + 4 * b + 4]
                    .copy_from_slice(&1.0f32.to_le_bytes());
            }
        }
        for blk in sa
            .as_bytes_mut()
            .chunks_exact_mut(quant::vec_dot_type(ty).type_size())
        {
            blk[0..2].copy_from_slice(&f16::ONE.to_bits().to_le_bytes());
            if matches!(ty, GgmlType::Q4_1 | GgmlType::Q5_1) {
                blk[2..4].copy_from_slice(&f16::ONE.to_bits().to_le_bytes());
            }
        }
        for j in 0..4 {
            let wr = &w.as_bytes()[j * row..][..row];
            let got = packed::dot_reference(ty, wr, &a, k).unwrap();
            let exp = quant::vec_dot(ty, wr, sa.as_bytes(), k).unwrap();
            assert_eq!(got, exp, "{ty} row {j}");
        }
    }
}

#[test]
fn bad_lengths_are_errors() {
    let k = 64;
    let ty = GgmlType::Q4_1;
    let w = vec![0u8; 3 * ty.row_bytes(k).unwrap()];
    assert!(packed::pack_rows(ty, &w, 4, k).is_err(), "weight too short");
    assert!(
        packed::pack_rows(GgmlType::F32, &w, 1, 8).is_err(),
        "unsupported type"
    );
    assert!(
        packed::pack_rows(ty, &w, 3, 48).is_err(),
        "k not whole blocks"
    );
    let g = packed::pack_rows(ty, &w, 3, k).unwrap();
    let a = act_row(ty, &[0.5; 64]);
    let kern = packed::group_kernels();
    let mut out = vec![[0f32; ROWS]; 1];
    assert!(kern.group_dot(ty, g.as_bytes(), &[&a], &mut out).is_ok());
    assert!(kern
        .group_dot(ty, &g.as_bytes()[1..], &[&a], &mut out)
        .is_err());
    assert!(kern
        .group_dot(ty, g.as_bytes(), &[&a[1..]], &mut out)
        .is_err());
    assert!(kern.group_dot(ty, g.as_bytes(), &[], &mut []).is_err());
    let five: Vec<&[u8]> = vec![&a; 5];
    assert!(kern
        .group_dot(ty, g.as_bytes(), &five, &mut vec![[0f32; ROWS]; 5])
        .is_err());
    assert!(kern
        .group_dot(GgmlType::Q8_0, g.as_bytes(), &[&a], &mut out)
        .is_err());
}
