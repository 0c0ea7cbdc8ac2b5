//! safetensors parsing: valid files from the test-only writer, the real tiny Qwen3 file, and
//! malformed inputs that must give errors naming the problem.

mod common;

use common::st_writer::{f32_tensor, with_header, write, StTensor};
use formats::{Error, SafetensorsDtype, SafetensorsFile};
use quant::GgmlType;
use serde_json::json;

fn err(bytes: &[u8]) -> String {
    match SafetensorsFile::from_bytes(bytes) {
        Ok(f) => panic!("expected an error, parsed {} tensors", f.tensors.len()),
        Err(e) => e.to_string(),
    }
}

fn assert_err(bytes: &[u8], needles: &[&str]) {
    let msg = err(bytes);
    for n in needles {
        assert!(
            msg.contains(n),
            "error message {msg:?} does not contain {n:?}"
        );
    }
}

fn sample() -> Vec<u8> {
    write(
        &[
            f32_tensor("a", &[2, 3], (0..6).map(|i| i as f32)),
            StTensor {
                name: "b".into(),
                dtype: "BF16".into(),
                shape: vec![4],
                data: vec![0x80, 0x3f, 0, 0x40, 0x40, 0x40, 0x80, 0x40],
            },
            StTensor {
                name: "c".into(),
                dtype: "F16".into(),
                shape: vec![1, 2],
                data: vec![0, 0x3c, 0, 0xc0],
            },
            StTensor {
                name: "ids".into(),
                dtype: "I64".into(),
                shape: vec![2],
                data: vec![0; 16],
            },
        ],
        Some(json!({"format": "pt"})),
    )
}

#[test]
fn sample_parses() {
    let f = SafetensorsFile::from_bytes(&sample()).unwrap();
    assert_eq!(f.metadata, [("format".to_string(), "pt".to_string())]);
    let names: Vec<_> = f
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.dtype, t.shape.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("a", SafetensorsDtype::F32, vec![2, 3]),
            ("b", SafetensorsDtype::BF16, vec![4]),
            ("c", SafetensorsDtype::F16, vec![1, 2]),
            ("ids", SafetensorsDtype::I64, vec![2]),
        ]
    );
    let a = f.tensor("a").unwrap();
    assert_eq!((a.dtype, a.shape.clone()), (GgmlType::F32, vec![2, 3]));
    assert_eq!(&a.bytes()[4..8], &1f32.to_le_bytes());
    assert_eq!(f.tensor("b").unwrap().dtype, GgmlType::BF16);
    assert_eq!(f.tensor("c").unwrap().dtype, GgmlType::F16);
    // Listed, but not usable as a weight.
    let e = f.tensor("ids").unwrap_err();
    assert!(matches!(e.root(), Error::UnsupportedDtype { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("unsupported dtype I64 for tensor 'ids'"),
        "{e}"
    );
    let e = f.tensor("zzz").unwrap_err().to_string();
    assert_eq!(e, "tensor 'zzz' not found in <in-memory safetensors>");
}

#[test]
fn header_length_is_bounded() {
    let mut b = u64::MAX.to_le_bytes().to_vec();
    b.extend(b"{}");
    assert_err(
        &b,
        &["header length 18446744073709551615 exceeds the limit"],
    );
    let mut b = 200_000_000u64.to_le_bytes().to_vec();
    b.extend(b"{}");
    assert_err(&b, &["header length 200000000 exceeds the limit"]);
    let mut b = 64u64.to_le_bytes().to_vec();
    b.extend(b"{}");
    assert_err(
        &b,
        &["header length 64 runs past the end of the 10-byte file"],
    );
    assert_err(b"", &["fewer than the 8-byte header length"]);
    assert_err(b"\x02\x00\x00", &["fewer than the 8-byte header length"]);
}

#[test]
fn bad_json() {
    assert_err(&with_header("{\"a\": ", &[]), &["invalid header JSON"]);
    assert_err(&with_header("[1, 2]", &[]), &["invalid header JSON"]);
    assert_err(&with_header("\u{0}\u{0}", &[]), &["invalid header JSON"]);
    assert_err(
        &with_header(r#"{"a": 3}"#, &[]),
        &[
            "tensor 'a'",
            "expected an object with dtype, shape and data_offsets",
        ],
    );
    assert_err(
        &with_header(r#"{"a": {"shape": [1], "data_offsets": [0, 4]}}"#, &[0; 4]),
        &["tensor 'a'", "missing field `dtype`"],
    );
    assert_err(
        &with_header(
            r#"{"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
        &["tensor 'a': shape", "-1"],
    );
    assert_err(
        &with_header(
            r#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}"#,
            &[0; 4],
        ),
        &["tensor 'a': data_offsets", "invalid length 1"],
    );
    assert_err(
        &with_header(r#"{"__metadata__": {"x": 1}}"#, &[]),
        &["__metadata__ must map strings to strings"],
    );
    assert_err(
        &with_header(
            r#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#,
            &[0; 4],
        ),
        &["duplicate header key 'a'"],
    );
    let dims = vec!["1"; 65].join(", ");
    assert_err(
        &with_header(
            &format!(r#"{{"a": {{"dtype": "F32", "shape": [{dims}], "data_offsets": [0, 4]}}}}"#),
            &[0; 4],
        ),
        &["tensor 'a': shape", "more than 64 dimensions"],
    );
    // Unknown fields are ignored (the format may grow).
    let ok = r#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "extra": [1, {"x": null}]}}"#;
    assert!(SafetensorsFile::from_bytes(&with_header(ok, &[0; 4])).is_ok());
}

#[test]
fn offsets_and_sizes_are_validated() {
    let entry = |dtype: &str, shape: &str, b: u64, e: u64| {
        format!(r#"{{"w": {{"dtype": "{dtype}", "shape": {shape}, "data_offsets": [{b}, {e}]}}}}"#)
    };
    assert_err(
        &with_header(&entry("F32", "[2]", 0, 8), &[0; 4]),
        &[
            "tensor 'w'",
            "data_offsets [0, 8] are not inside the 4-byte data section",
        ],
    );
    assert_err(
        &with_header(&entry("F32", "[2]", 8, 0), &[0; 16]),
        &["tensor 'w'", "data_offsets [8, 0]"],
    );
    assert_err(
        &with_header(&entry("F32", "[3]", 0, 8), &[0; 16]),
        &[
            "tensor 'w'",
            "needs 12 bytes but data_offsets [0, 8] hold 8",
        ],
    );
    assert_err(
        &with_header(&entry("F32", "[4294967296, 4294967296]", 0, 8), &[0; 16]),
        &["tensor 'w'", "overflows"],
    );
    assert_err(
        &with_header(
            &entry("F32", "[2]", 18446744073709551615, 18446744073709551615),
            &[0; 16],
        ),
        &["tensor 'w'", "not inside"],
    );
    assert_err(
        &with_header(&entry("Q4", "[2]", 0, 8), &[0; 16]),
        &["unsupported dtype Q4 for tensor 'w'"],
    );
    let two = r#"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}"#;
    assert_err(
        &with_header(two, &[0; 16]),
        &["tensor 'b' data overlaps tensor 'a'"],
    );
}

#[test]
fn every_truncation_and_bit_flip_of_the_sample() {
    let bytes = sample();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for cut in 0..bytes.len() {
        let msg = err(&bytes[..cut]);
        assert!(
            msg.contains("not inside")
                || msg.contains("past the end")
                || msg.contains("fewer than"),
            "cut at {cut}: {msg}"
        );
    }
    for at in 0..header_end {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[at] ^= 1 << bit;
            if let Ok(f) = SafetensorsFile::from_bytes(&b) {
                for t in &f.tensors {
                    let _ = f.tensor(&t.name);
                }
            }
        }
    }
}

#[test]
fn real_tiny_safetensors() {
    let path = common::fixtures_dir().join("qwen3-tiny/model.safetensors");
    let f = SafetensorsFile::open(&path).unwrap();
    assert_eq!(f.tensors.len(), 24);
    let n_params: usize = f
        .tensors
        .iter()
        .map(|t| t.shape.iter().product::<usize>())
        .sum();
    assert_eq!(n_params, 9_847_232, "fixtures README: stored params");
    assert!(f.tensors.iter().all(|t| t.dtype == SafetensorsDtype::BF16));
    assert_eq!(f.metadata, [("format".to_string(), "pt".to_string())]);
    let e = f.tensor_info("model.embed_tokens.weight").unwrap();
    assert_eq!(e.shape, [151936, 64]);
    assert!(
        f.tensor_info("lm_head.weight").is_none(),
        "tied: no lm_head"
    );

    // Truncated copies: inside the length, the JSON, and the data.
    let bytes = std::fs::read(&path).unwrap();
    let header_end = f.data_offset as usize;
    for cut in [
        0,
        4,
        8,
        9,
        100,
        header_end / 2,
        header_end - 1,
        header_end,
        header_end + 1,
        bytes.len() - 1,
    ] {
        let msg = err(&bytes[..cut]);
        assert!(
            msg.contains("fewer than")
                || msg.contains("past the end")
                || msg.contains("not inside"),
            "cut at {cut}: {msg}"
        );
    }
    let e = SafetensorsFile::open("/nonexistent/x.safetensors")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/x.safetensors"), "{e}");
}
