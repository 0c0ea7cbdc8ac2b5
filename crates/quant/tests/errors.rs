//! Malformed calls return errors (never panic, never read out of bounds).

use quant::{
    cast_blocks, dequantize_row, quantize_row_into, vec_dot, AlignedBytes, BlockQ4_0, Error,
    GgmlType,
};

fn buf(len: usize) -> AlignedBytes {
    let mut b = AlignedBytes::new();
    b.resize(len);
    b
}

#[test]
fn dequantize_row_errors() {
    let mut out = vec![0f32; 32];
    let b = buf(72);
    assert!(matches!(
        dequantize_row(GgmlType::Q4_0, &b.as_bytes()[..17], &mut out),
        Err(Error::Length {
            expected: 18,
            got: 17,
            ..
        })
    ));
    assert!(matches!(
        dequantize_row(GgmlType::Q4_0, &b.as_bytes()[..18], &mut out[..31]),
        Err(Error::NotBlockMultiple {
            n: 31,
            block: 32,
            ..
        })
    ));
    assert!(matches!(
        dequantize_row(GgmlType::Q4_0, &b.as_bytes()[1..19], &mut out),
        Err(Error::Misaligned { align: 2, .. })
    ));
    assert!(matches!(
        dequantize_row(GgmlType::Q2K, &b.as_bytes()[..0], &mut out[..0]),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        dequantize_row(GgmlType::I8, &b.as_bytes()[..32], &mut out),
        Err(Error::Unsupported { .. })
    ));
    // float rows read byte-wise: any alignment works
    dequantize_row(GgmlType::F16, &b.as_bytes()[1..65], &mut out).unwrap();
    dequantize_row(GgmlType::F32, &b.as_bytes()[3..3 + 4 * 8], &mut out[..8]).unwrap();
    dequantize_row(GgmlType::BF16, &b.as_bytes()[1..5], &mut out[..2]).unwrap();
}

#[test]
fn quantize_row_into_errors() {
    let x = vec![0.5f32; 256];
    let mut b = buf(292 + 4);
    assert!(matches!(
        quantize_row_into(GgmlType::Q8K, &x, &mut b.as_bytes_mut()[..291]),
        Err(Error::Length { .. })
    ));
    assert!(matches!(
        quantize_row_into(GgmlType::Q8K, &x, &mut b.as_bytes_mut()[2..294]),
        Err(Error::Misaligned { align: 4, .. })
    ));
    assert!(matches!(
        quantize_row_into(GgmlType::Q8K, &x[..255], &mut b.as_bytes_mut()[..292]),
        Err(Error::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        quantize_row_into(GgmlType::Q3K, &x, &mut b.as_bytes_mut()[..110]),
        Err(Error::Unsupported { .. })
    ));
    quantize_row_into(GgmlType::Q8K, &x, &mut b.as_bytes_mut()[..292]).unwrap();
    quantize_row_into(GgmlType::F16, &x[..3], &mut b.as_bytes_mut()[1..7]).unwrap();
}

#[test]
fn vec_dot_errors() {
    let w = buf(18 * 2);
    let a = buf(34 * 2 + 4);
    let (w, a) = (w.as_bytes(), a.as_bytes());
    assert!(matches!(
        vec_dot(GgmlType::Q4_0, &w[..18], &a[..68], 64),
        Err(Error::Length { .. })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q4_0, &w[..36], &a[..67], 64),
        Err(Error::Length { .. })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q4_0, &w[..36], &a[..68], 63),
        Err(Error::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q4_0, &w[..36], &a[1..69], 64),
        Err(Error::Misaligned { .. })
    ));
    assert!(matches!(
        vec_dot(GgmlType::Q8_1, &w[..0], &a[..0], 0),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        vec_dot(GgmlType::I32, &w[..4], &a[..4], 1),
        Err(Error::Unsupported { .. })
    ));
    // f32 activations must be aligned; f32 weights need not be
    assert!(matches!(
        vec_dot(GgmlType::F32, &w[..8], &a[2..10], 2),
        Err(Error::Misaligned { .. })
    ));
    assert_eq!(vec_dot(GgmlType::F32, &w[1..9], &a[..8], 2).unwrap(), 0.0);
    assert_eq!(vec_dot(GgmlType::Q4_0, &w[..0], &a[..0], 0).unwrap(), 0.0);
}

#[test]
fn cast_blocks_errors() {
    let b = buf(40);
    assert!(matches!(
        cast_blocks::<BlockQ4_0>(&b.as_bytes()[..19]),
        Err(Error::Length { .. })
    ));
    assert!(matches!(
        cast_blocks::<BlockQ4_0>(&b.as_bytes()[1..19]),
        Err(Error::Misaligned { .. })
    ));
    assert!(matches!(
        cast_blocks::<f32>(&b.as_bytes()[2..6]),
        Err(Error::Misaligned { .. })
    ));
    assert_eq!(
        cast_blocks::<BlockQ4_0>(&b.as_bytes()[..36]).unwrap().len(),
        2
    );
    assert_eq!(
        cast_blocks::<BlockQ4_0>(&b.as_bytes()[2..2]).unwrap().len(),
        0
    );
}

#[test]
fn errors_name_the_type() {
    let mut out = vec![0f32; 32];
    let err = dequantize_row(GgmlType::Q6K, &[0u8; 10], &mut out).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("q6_K"), "{msg}");
}

#[test]
fn nan_and_infinite_inputs_do_not_panic() {
    let mut x = vec![1.0f32; 256];
    x[3] = f32::NAN;
    x[7] = f32::INFINITY;
    x[100] = f32::NEG_INFINITY;
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q8_1,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
        GgmlType::Q8K,
        GgmlType::F16,
        GgmlType::BF16,
    ] {
        let mut b = buf(ty.row_bytes(256).unwrap());
        quantize_row_into(ty, &x, b.as_bytes_mut()).unwrap();
    }
}
