//! Hand-built blocks from the format descriptions (ggml-common.h), with expected values worked out
//! by hand: field order, little-endian scales, nibble / bit positions, and a few dots.

use half::f16;
use quant::{blocks_as_bytes, cast_blocks, dequantize_row, quantize_row_into, vec_dot};
use quant::{AlignedBytes, GgmlType};
use quant::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8K};
use quant::{BlockQ8_0, BlockQ8_1};
use std::mem::offset_of;

fn aligned(bytes: &[u8]) -> AlignedBytes {
    let mut b = AlignedBytes::new();
    b.resize(bytes.len());
    b.as_bytes_mut().copy_from_slice(bytes);
    b
}

fn deq(ty: GgmlType, bytes: &[u8]) -> Vec<f32> {
    let mut out = vec![f32::NAN; ty.block_size() * bytes.len() / ty.type_size()];
    dequantize_row(ty, aligned(bytes).as_bytes(), &mut out).unwrap();
    out
}

#[test]
fn field_offsets_follow_ggml_common_h() {
    assert_eq!(
        (offset_of!(BlockQ4_0, d), offset_of!(BlockQ4_0, qs)),
        (0, 2)
    );
    assert_eq!(
        (
            offset_of!(BlockQ4_1, d),
            offset_of!(BlockQ4_1, m),
            offset_of!(BlockQ4_1, qs)
        ),
        (0, 2, 4)
    );
    assert_eq!(
        (offset_of!(BlockQ5_0, qh), offset_of!(BlockQ5_0, qs)),
        (2, 6)
    );
    assert_eq!(
        (offset_of!(BlockQ5_1, qh), offset_of!(BlockQ5_1, qs)),
        (4, 8)
    );
    assert_eq!(offset_of!(BlockQ8_0, qs), 2);
    assert_eq!(
        (offset_of!(BlockQ8_1, s), offset_of!(BlockQ8_1, qs)),
        (2, 4)
    );
    assert_eq!(
        (
            offset_of!(BlockQ4K, dmin),
            offset_of!(BlockQ4K, scales),
            offset_of!(BlockQ4K, qs)
        ),
        (2, 4, 16)
    );
    assert_eq!(
        (
            offset_of!(BlockQ5K, scales),
            offset_of!(BlockQ5K, qh),
            offset_of!(BlockQ5K, qs)
        ),
        (4, 16, 48)
    );
    assert_eq!(
        (
            offset_of!(BlockQ6K, qh),
            offset_of!(BlockQ6K, scales),
            offset_of!(BlockQ6K, d)
        ),
        (128, 192, 208)
    );
    assert_eq!(
        (offset_of!(BlockQ8K, qs), offset_of!(BlockQ8K, bsums)),
        (4, 260)
    );
}

#[test]
fn struct_and_bytes_agree() {
    let block = BlockQ4_0 {
        d: f16::from_f32(1.0),
        qs: std::array::from_fn(|j| j as u8 | ((15 - j as u8) << 4)),
    };
    assert_eq!(blocks_as_bytes(&[block]), &q4_0_block()[..]);
    let raw = aligned(&q4_0_block());
    assert_eq!(cast_blocks::<BlockQ4_0>(raw.as_bytes()).unwrap(), &[block]);
}

const F16_ONE: [u8; 2] = [0x00, 0x3c];
const F16_HALF: [u8; 2] = [0x00, 0x38];
const F16_QUARTER: [u8; 2] = [0x00, 0x34];
const F16_TWO: [u8; 2] = [0x00, 0x40];
const F16_MINUS_ONE: [u8; 2] = [0x00, 0xbc];

fn q4_0_block() -> Vec<u8> {
    // d = 1; byte j: low nibble j (value j), high nibble 15 - j (value j + 16)
    let mut b = F16_ONE.to_vec();
    b.extend((0..16u8).map(|j| j | ((15 - j) << 4)));
    b
}

#[test]
fn q4_0_nibbles_0_to_15_are_minus_8_to_7() {
    let v = deq(GgmlType::Q4_0, &q4_0_block());
    let lo: Vec<f32> = vec![
        -8., -7., -6., -5., -4., -3., -2., -1., 0., 1., 2., 3., 4., 5., 6., 7.,
    ];
    let hi: Vec<f32> = vec![
        7., 6., 5., 4., 3., 2., 1., 0., -1., -2., -3., -4., -5., -6., -7., -8.,
    ];
    assert_eq!(&v[..16], &lo[..]);
    assert_eq!(&v[16..], &hi[..]);
}

#[test]
fn q4_1_is_d_times_q_plus_m() {
    // d = 0.5, m = -1; qs[0] = 0x21 (value 0: 1, value 16: 2); qs[15] = 0xf0 (value 15: 0, value 31: 15)
    let mut b = [&F16_HALF[..], &F16_MINUS_ONE[..]].concat();
    let mut qs = [0u8; 16];
    qs[0] = 0x21;
    qs[15] = 0xf0;
    b.extend(qs);
    let v = deq(GgmlType::Q4_1, &b);
    assert_eq!(
        (v[0], v[16], v[15], v[31], v[5]),
        (-0.5, 0.0, -1.0, 6.5, -1.0)
    );
}

#[test]
fn q5_0_fifth_bits_come_from_qh() {
    // d = 1; qh bits 0, 16, 31 set; qs[0] = 0x0f, qs[15] = 0xf0
    let mut b = F16_ONE.to_vec();
    b.extend([0x01, 0x00, 0x01, 0x80]);
    let mut qs = [0u8; 16];
    qs[0] = 0x0f;
    qs[15] = 0xf0;
    b.extend(qs);
    let v = deq(GgmlType::Q5_0, &b);
    // value 0: 15 | 16 = 31 → 15; value 16: 0 | 16 → 0; value 31: 15 | 16 → 15; others 0 → -16
    assert_eq!(
        (v[0], v[16], v[31], v[1], v[17]),
        (15.0, 0.0, 15.0, -16.0, -16.0)
    );
}

#[test]
fn q5_1_fifth_bits_and_min() {
    // d = 2, m = 0.5; qh bit 1; qs[1] = 0x03 → value 1 = 3 | 16 = 19 → 38.5; value 17 = 0 → 0.5
    let mut b = [&F16_TWO[..], &F16_HALF[..]].concat();
    b.extend([0x02, 0, 0, 0]);
    let mut qs = [0u8; 16];
    qs[1] = 0x03;
    b.extend(qs);
    let v = deq(GgmlType::Q5_1, &b);
    assert_eq!((v[1], v[17], v[0]), (38.5, 0.5, 0.5));
}

fn q8_0_block(d: [u8; 2], qs: [i8; 32]) -> Vec<u8> {
    let mut b = d.to_vec();
    b.extend(qs.iter().map(|&q| q as u8));
    b
}

#[test]
fn q8_0_is_d_times_q() {
    let mut qs = [0i8; 32];
    qs[..6].copy_from_slice(&[-128, -1, 0, 1, 127, 5]);
    let v = deq(GgmlType::Q8_0, &q8_0_block(F16_QUARTER, qs));
    assert_eq!(&v[..6], &[-32.0, -0.25, 0.0, 0.25, 31.75, 1.25]);
}

fn q4_k_block() -> Vec<u8> {
    // d = 1, dmin = 0.5
    let mut b = [&F16_ONE[..], &F16_HALF[..]].concat();
    let mut scales = [0u8; 12];
    scales[0] = 3; // sub-block 0: scale 3
    scales[4] = 4; // sub-block 0: min 4
                   // sub-block 5: scale 50 = 0b11_0010, min 20 = 0b01_0100
    scales[9] = 0x42; // low nibbles: scale 0b0010, min 0b0100
    scales[1] = 0xc0; // scale top bits 0b11 (sub-block 1 keeps scale 0)
    scales[5] = 0x40; // min top bits 0b01 (sub-block 1 keeps min 0)
    b.extend(scales);
    let mut qs = [0u8; 128];
    qs[0] = 0x57; // value 0 (sub-block 0) = 7, value 32 (sub-block 1) = 5
    qs[64] = 0x90; // value 128 (sub-block 4) = 0, value 160 (sub-block 5) = 9
    b.extend(qs);
    b
}

#[test]
fn q4_k_six_bit_scales_and_mins() {
    let v = deq(GgmlType::Q4K, &q4_k_block());
    assert_eq!(v[0], 19.0); // 1·3·7 - 0.5·4
    assert_eq!(v[1], -2.0); // 1·3·0 - 0.5·4
    assert_eq!(v[32], 0.0); // scale 0, min 0
    assert_eq!(v[128], 0.0);
    assert_eq!(v[160], 440.0); // 1·50·9 - 0.5·20
    assert_eq!(v[161], -10.0);
}

#[test]
fn q5_k_high_bits() {
    let mut b = [&F16_ONE[..], &F16_ONE[..]].concat();
    let mut scales = [0u8; 12];
    scales[0] = 1; // sub-block 0: scale 1
    scales[4] = 2; // sub-block 0: min 2
    scales[2] = 4; // sub-block 2: scale 4
    scales[6] = 1; // sub-block 2: min 1
    b.extend(scales);
    let mut qh = [0u8; 32];
    qh[0] = 0b01; // bit 0: value 0 (sub-block 0)
    qh[5] = 0b100; // bit 2: value 64 + 5 (sub-block 2)
    b.extend(qh);
    let mut qs = [0u8; 128];
    qs[0] = 0x03;
    b.extend(qs);
    let v = deq(GgmlType::Q5K, &b);
    assert_eq!(v[0], 17.0); // 1·(3 + 16) - 2
    assert_eq!(v[1], -2.0);
    assert_eq!(v[69], 63.0); // 4·16 - 1
    assert_eq!(v[64], -1.0);
}

fn q6_k_block() -> Vec<u8> {
    let mut ql = [0u8; 128];
    ql[0] = 0x5f; // value 0: low 0xf, value 64: low 5
    let mut qh = [0u8; 64];
    qh[0] = 0b11_10_01_11; // values 0, 32, 64, 96 get top bits 3, 1, 2, 3
    let mut sc = [0i8; 16];
    sc[0] = 2; // values 0..16
    sc[2] = -1; // values 32..48
    sc[4] = 3; // values 64..80
    sc[6] = 1; // values 96..112
    sc[8] = 1; // values 128..144
    let mut b = ql.to_vec();
    b.extend(qh);
    b.extend(sc.iter().map(|&s| s as u8));
    b.extend(F16_HALF); // d = 0.5, last field
    b
}

#[test]
fn q6_k_layout() {
    let v = deq(GgmlType::Q6K, &q6_k_block());
    assert_eq!(v[0], 31.0); // 0.5·2·(63 - 32)
    assert_eq!(v[1], -32.0); // 0.5·2·(0 - 32)
    assert_eq!(v[32], 8.0); // 0.5·-1·(16 - 32)
    assert_eq!(v[64], 7.5); // 0.5·3·(37 - 32)
    assert_eq!(v[96], 8.0); // 0.5·1·(48 - 32)
    assert_eq!(v[128], -16.0); // 0.5·1·(0 - 32)
    assert_eq!(v[200], 0.0); // scale 0
}

/// A Q8K activation block: f32 d first, then 256 quants, then 16 i16 sums.
fn q8_k_block(d: f32, quants: &[(usize, i8)]) -> Vec<u8> {
    let mut qs = [0i8; 256];
    for &(i, q) in quants {
        qs[i] = q;
    }
    let mut b = d.to_le_bytes().to_vec();
    b.extend(qs.iter().map(|&q| q as u8));
    for g in qs.chunks(16) {
        b.extend(g.iter().map(|&q| i16::from(q)).sum::<i16>().to_le_bytes());
    }
    b
}

#[test]
fn known_dots() {
    // Q8_0: 32 · (1·2) · (0.5·3) = 96
    let w = aligned(&q8_0_block(F16_ONE, [2; 32]));
    let a = aligned(&q8_0_block(F16_HALF, [3; 32]));
    assert_eq!(
        vec_dot(GgmlType::Q8_0, w.as_bytes(), a.as_bytes(), 32).unwrap(),
        96.0
    );

    // Q4_0 (values -8..7, 7..-8) · Q8_0 of ones = -8 + -8
    let w = aligned(&q4_0_block());
    let a = aligned(&q8_0_block(F16_ONE, [1; 32]));
    assert_eq!(
        vec_dot(GgmlType::Q4_0, w.as_bytes(), a.as_bytes(), 32).unwrap(),
        -16.0
    );

    // Q4_1 values all 1·1 + 1 = 2; Q8_1 all 1 with s = 32: 32·2 = 64 = d·d·Σq·a + m·s
    let mut w = [&F16_ONE[..], &F16_ONE[..]].concat();
    w.extend([0x11u8; 16]);
    let mut a = [&F16_ONE[..], &[0x00, 0x50][..]].concat(); // s = 32.0
    a.extend([1u8; 32]);
    assert_eq!(
        vec_dot(
            GgmlType::Q4_1,
            aligned(&w).as_bytes(),
            aligned(&a).as_bytes(),
            32
        )
        .unwrap(),
        64.0
    );

    // Q4K: value 0 = 19, value 160 = 440; activation 1 at 0 and 2 at 160 → 19 + 880
    let w = aligned(&q4_k_block());
    let a = aligned(&q8_k_block(1.0, &[(0, 1), (160, 2)]));
    assert_eq!(
        vec_dot(GgmlType::Q4K, w.as_bytes(), a.as_bytes(), 256).unwrap(),
        899.0
    );

    // Q6K: value 0 = 31, value 64 = 7.5; activation 1 at 0 and 2 at 64, d 0.5 → 0.5·(31 + 15)
    let w = aligned(&q6_k_block());
    let a = aligned(&q8_k_block(0.5, &[(0, 1), (64, 2)]));
    assert_eq!(
        vec_dot(GgmlType::Q6K, w.as_bytes(), a.as_bytes(), 256).unwrap(),
        23.0
    );
}

#[test]
fn q8_rounding_rules() {
    // amax 127 → d = 1, so the quants are the inputs rounded. Q8_0 / Q8_1 round half away from
    // zero (roundf); Q8K rounds half to even and folds the sign of the largest value into d.
    let mut x = [0f32; 256];
    x[..5].copy_from_slice(&[127.0, 0.5, -0.5, 1.5, 2.5]);
    let mut q8_0 = AlignedBytes::new();
    q8_0.resize(8 * 34);
    quantize_row_into(GgmlType::Q8_0, &x, q8_0.as_bytes_mut()).unwrap();
    assert_eq!(&q8_0.as_bytes()[..2], &F16_ONE);
    assert_eq!(&q8_0.as_bytes()[2..7], &[127, 1, (-1i8) as u8, 2, 3]);

    let mut q8_1 = AlignedBytes::new();
    q8_1.resize(8 * 36);
    quantize_row_into(GgmlType::Q8_1, &x, q8_1.as_bytes_mut()).unwrap();
    assert_eq!(&q8_1.as_bytes()[..4], &[0x00, 0x3c, 0x20, 0x58]); // d = 1, s = 132 = 0x5820
    assert_eq!(&q8_1.as_bytes()[4..9], &[127, 1, (-1i8) as u8, 2, 3]);

    let mut q8_k = AlignedBytes::new();
    q8_k.resize(292);
    quantize_row_into(GgmlType::Q8K, &x, q8_k.as_bytes_mut()).unwrap();
    let b: &[BlockQ8K] = cast_blocks(q8_k.as_bytes()).unwrap();
    assert_eq!(b[0].d, -1.0);
    assert_eq!(&b[0].qs[..5], &[-127, 0, 0, -2, -2]);
    assert_eq!(b[0].bsums[0], -131);
    assert_eq!(&b[0].bsums[1..], &[0; 15]);
}

#[test]
fn q4_0_reference_quantizer_maps_largest_magnitude_to_minus_8() {
    // max = -4 (largest magnitude, negative) → d = 0.5, so -4 → q 0 (-8·0.5) and 3.5 → q 15.
    let mut x = [0f32; 32];
    x[0] = -4.0;
    x[1] = 3.5;
    x[2] = 1.0;
    let mut out = AlignedBytes::new();
    out.resize(18);
    quantize_row_into(GgmlType::Q4_0, &x, out.as_bytes_mut()).unwrap();
    assert_eq!(&out.as_bytes()[..2], &F16_HALF);
    assert_eq!(out.as_bytes()[2], 8 << 4); // value 0 → q 0 (low), value 16 (0.0) → q 8 (high)
    assert_eq!(out.as_bytes()[3] & 0x0f, 15);
    assert_eq!(out.as_bytes()[4] & 0x0f, 10); // 1.0 / 0.5 + 8
}
