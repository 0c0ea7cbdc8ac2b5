//! Malformed GGUF input: every case must give an `Error` whose message names the problem, never a
//! panic or a hang. Files are built by the test-only writer (tests/common/gguf_writer.rs) and cut
//! from the real tiny Qwen3 GGUF.

mod common;

use common::gguf_writer::{Gguf, TensorSpec, V};
use formats::{Error, GgufArray, GgufFile, GgufValue, ModelConfig, WeightSource};
use quant::GgmlType;

fn err_of(bytes: &[u8]) -> (String, Error) {
    match GgufFile::from_bytes(bytes) {
        Ok(g) => panic!("expected an error, parsed {} tensors", g.tensors.len()),
        Err(e) => (e.to_string(), e),
    }
}

fn assert_err(bytes: &[u8], needles: &[&str]) {
    let (msg, _) = err_of(bytes);
    for n in needles {
        assert!(
            msg.contains(n),
            "error message {msg:?} does not contain {n:?}"
        );
    }
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn sample_parses_with_every_value_type() {
    let (bytes, layout) = Gguf::sample().build();
    let g = GgufFile::from_bytes(&bytes).unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.alignment, 32);
    assert_eq!(g.data_offset as usize, layout.data_at);
    assert_eq!(g.metadata.len(), Gguf::sample().kvs.len());
    assert_eq!(g.get("t.u8"), Some(&GgufValue::U8(200)));
    assert_eq!(g.get("t.i8"), Some(&GgufValue::I8(-100)));
    assert_eq!(g.get("t.u16"), Some(&GgufValue::U16(60000)));
    assert_eq!(g.get("t.i16"), Some(&GgufValue::I16(-30000)));
    assert_eq!(g.get("t.u32"), Some(&GgufValue::U32(4_000_000_000)));
    assert_eq!(g.get("t.i32"), Some(&GgufValue::I32(-2_000_000_000)));
    assert_eq!(g.get("t.f32"), Some(&GgufValue::F32(1.5)));
    assert_eq!(g.get("t.bool"), Some(&GgufValue::Bool(true)));
    assert_eq!(g.get("t.u64"), Some(&GgufValue::U64(u64::MAX)));
    assert_eq!(g.get("t.i64"), Some(&GgufValue::I64(i64::MIN)));
    assert_eq!(g.get("t.f64"), Some(&GgufValue::F64(-2.25)));
    assert_eq!(
        g.get("t.nested"),
        Some(&GgufValue::Array(GgufArray::Array(vec![
            GgufArray::I32(vec![1, -2]),
            GgufArray::I32(vec![])
        ])))
    );
    assert_eq!(
        g.get("t.bools"),
        Some(&GgufValue::Array(GgufArray::Bool(vec![false, true])))
    );
    // Typed getters convert across integer / float widths; `require_*` name the key on a mismatch.
    assert_eq!(g.get_u64("t.u8"), Some(200));
    assert_eq!(g.get_u64("t.u64"), Some(u64::MAX));
    assert_eq!(g.get_u64("t.i8"), None, "negative");
    assert_eq!(g.get_u32("t.u64"), None, "out of range");
    assert_eq!(g.get_f32("t.f64"), Some(-2.25));
    assert_eq!(g.get_str("general.name"), Some("sample"));
    assert_eq!(g.get_str("t.f32"), None);
    assert_eq!(g.get_bool("t.bool"), Some(true));
    let e = |r: Result<(), Error>| r.unwrap_err().to_string();
    assert!(e(g.require_u64("t.i8").map(drop)).contains("'t.i8'"));
    assert!(e(g.require_str("t.f32").map(drop)).contains("'t.f32' has type f32, expected string"));
    assert!(e(g.require_str("nope").map(drop)).contains("'nope' not found"));
    assert!(e(g.get_i32_array("t.u8").map(drop)).contains("'t.u8'"));
    assert!(g.opt_f32("t.u8").is_err(), "present with the wrong type");
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap(),
        ["a", "b", "ab", "<s>"]
    );
    assert_eq!(
        g.get_i32_array("tokenizer.ggml.token_type").unwrap(),
        [1, 1, 1, 3]
    );
    assert_eq!(
        g.get_f32_array("tokenizer.ggml.scores").unwrap(),
        [0.0, -1.0, -2.0, 0.5]
    );
    assert_eq!(g.opt_u64("missing").unwrap(), None);

    let names: Vec<_> = g
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.dtype, t.shape.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("token_embd.weight", GgmlType::F32, vec![4, 8]),
            ("blk.0.attn_q.weight", GgmlType::Q8_0, vec![2, 32]),
            ("output_norm.weight", GgmlType::BF16, vec![8]),
        ]
    );
    for (t, spec) in g.tensors.iter().zip(&Gguf::sample().tensors) {
        let tensor = g.tensor(&t.name).unwrap();
        assert_eq!(tensor.bytes(), &spec.data[..], "{}", t.name);
        assert_eq!(t.offset % 32, 0);
    }
    let cfg = ModelConfig::from_gguf(&g).unwrap();
    assert_eq!((cfg.vocab_size, cfg.head_dim, cfg.n_kv_heads), (4, 8, 2));
}

#[test]
fn version_2_is_read_and_version_1_and_99_are_not() {
    let mut g = Gguf::sample();
    g.version = 2;
    assert_eq!(GgufFile::from_bytes(&g.bytes()).unwrap().version, 2);
    g.version = 1;
    assert_err(&g.bytes(), &["unsupported GGUF version 1"]);
    g.version = 99;
    assert_err(&g.bytes(), &["unsupported GGUF version 99"]);
    g.version = 3u32.swap_bytes();
    assert_err(&g.bytes(), &["big-endian"]);
}

#[test]
fn wrong_magic_and_tiny_files() {
    let mut g = Gguf::sample();
    g.magic = *b"GGML";
    assert_err(&g.bytes(), &["not a GGUF file", "magic"]);
    assert_err(b"", &["truncated", "magic"]);
    assert_err(b"GGU", &["truncated", "magic"]);
    assert_err(b"GGUF", &["truncated", "version"]);
    assert_err(b"GGUF\x03\x00\x00\x00", &["truncated", "tensor count"]);
}

#[test]
fn every_truncation_of_the_sample_is_an_error() {
    let g = Gguf::sample();
    let (bytes, layout) = g.build();
    let last = g.tensors.last().unwrap();
    let data_end = layout.data_at + 224 + last.data.len();
    assert_eq!(
        data_end,
        bytes.len() - 16,
        "the sample ends with 16 bytes of padding"
    );
    for cut in 0..data_end {
        let (msg, _) = err_of(&bytes[..cut]);
        assert!(
            msg.contains("truncated") || msg.contains("past the end"),
            "cut at {cut}: {msg}"
        );
    }
    // Cutting only padding after the last tensor leaves a valid file.
    for cut in data_end..=bytes.len() {
        assert!(GgufFile::from_bytes(&bytes[..cut]).is_ok());
    }
}

#[test]
fn truncations_of_the_real_tiny_gguf() {
    let bytes = std::fs::read(common::model_file(common::QWEN3_TINY_BF16)).unwrap();
    let g = GgufFile::from_bytes(&bytes).unwrap();
    let data = g.data_offset as usize;
    // Inside the fixed header, spread over the metadata (tokens, merges, chat template) and the
    // tensor infos, at the data start, and inside the data.
    let mut cuts: Vec<usize> = (0..24).collect();
    cuts.extend((1..24).map(|i| data / 24 * i + i));
    cuts.extend([
        data - 1,
        data,
        data + 1,
        bytes.len() / 2,
        bytes.len() - 256,
        bytes.len() - 1,
    ]);
    for cut in cuts {
        let (msg, _) = err_of(&bytes[..cut]);
        if cut < data - 1 - 64 {
            assert!(msg.contains("truncated"), "cut at {cut}: {msg}");
        } else {
            assert!(
                msg.contains("past the end") || msg.contains("truncated"),
                "cut at {cut}: {msg}"
            );
        }
    }
    // Cutting into the last tensor names it.
    let (msg, _) = err_of(&bytes[..bytes.len() - 1]);
    assert!(
        msg.contains("output_norm.weight") && msg.contains("past the end"),
        "{msg}"
    );
}

#[test]
fn bit_flips_in_the_sample_never_panic() {
    let (bytes, layout) = Gguf::sample().build();
    let mut n_err = 0;
    for at in 0..layout.data_at {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[at] ^= 1 << bit;
            match GgufFile::from_bytes(&b) {
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    n_err += 1;
                }
                Ok(g) => {
                    // Whatever parsed must be usable without panics.
                    for t in &g.tensors {
                        let _ = g.tensor(&t.name);
                    }
                    let _ = ModelConfig::from_gguf(&g);
                    let _ = formats::inspect::render_gguf(&g);
                }
            }
        }
    }
    assert!(n_err > 0);
}

#[test]
fn bit_flips_in_the_real_header_never_panic() {
    let bytes = std::fs::read(common::model_file(common::QWEN3_TINY_Q8_0)).unwrap();
    let data = GgufFile::from_bytes(&bytes).unwrap().data_offset as usize;
    // Each parse reads the whole 5.9 MB header (40 ms), so this samples: the first 24 bytes (counts,
    // first key) and a spread over the rest.
    let positions = (0..24).chain((0..16).map(|i| 48 + (data - 600) / 16 * i + 3 * i));
    let mut b = bytes.clone();
    for at in positions {
        let bit = at % 8;
        b[at] ^= 1 << bit;
        if let Ok(g) = GgufFile::from_bytes(&b) {
            let _ = ModelConfig::from_gguf(&g);
        }
        b[at] ^= 1 << bit;
    }
}

#[test]
fn lying_counts_are_rejected_before_allocating() {
    let (bytes, layout) = Gguf::sample().build();

    let mut b = bytes.clone();
    put_u64(&mut b, layout.tensor_count_at, u64::MAX);
    assert_err(
        &b,
        &["truncated", "tensor count (count 18446744073709551615"],
    );

    let mut b = bytes.clone();
    put_u64(&mut b, layout.kv_count_at, 1 << 40);
    assert_err(&b, &["truncated", "metadata kv count (count 1099511627776"]);

    // Key string length.
    let mut b = bytes.clone();
    put_u64(&mut b, layout.kv_at[0], u64::MAX / 2);
    assert_err(&b, &["metadata entry #0", "truncated", "metadata key"]);

    // A string value's length: general.name = "sample" is kv #1.
    let mut b = bytes.clone();
    let at = layout.kv_at[1] + 8 + "general.name".len() + 4;
    put_u64(&mut b, at, 1 << 33);
    assert_err(
        &b,
        &["metadata key 'general.name'", "truncated", "string value"],
    );

    // An array length: tokenizer.ggml.token_type holds 4 i32; claim 2^61 of them.
    let i = Gguf::sample()
        .kvs
        .iter()
        .position(|(k, _)| k == "tokenizer.ggml.token_type")
        .unwrap();
    let mut b = bytes.clone();
    let at = layout.kv_at[i] + 8 + "tokenizer.ggml.token_type".len() + 4 + 4;
    put_u64(&mut b, at, 1 << 61);
    assert_err(
        &b,
        &[
            "metadata key 'tokenizer.ggml.token_type'",
            "array (count 2305843009213693952, at least 4 bytes each)",
        ],
    );

    // Just one element more than present is also caught (needs 4 more bytes than... it eats the next key).
    let i = Gguf::sample()
        .kvs
        .iter()
        .position(|(k, _)| k == "tokenizer.ggml.tokens")
        .unwrap();
    let mut b = bytes.clone();
    let at = layout.kv_at[i] + 8 + "tokenizer.ggml.tokens".len() + 4 + 4;
    put_u64(&mut b, at, 1 << 50);
    assert_err(
        &b,
        &[
            "'tokenizer.ggml.tokens'",
            "array (count 1125899906842624, at least 8 bytes each)",
        ],
    );

    // Tensor name length and n_dims.
    let mut b = bytes.clone();
    put_u64(&mut b, layout.tensor_info_at[1], 1 << 40);
    assert_err(&b, &["tensor info #1", "truncated", "tensor name"]);
    let mut b = bytes.clone();
    put_u32(
        &mut b,
        layout.tensor_info_at[1] + 8 + "blk.0.attn_q.weight".len(),
        5,
    );
    assert_err(
        &b,
        &[
            "tensor 'blk.0.attn_q.weight'",
            "n_dims 5 exceeds the maximum of 4",
        ],
    );
}

fn sample_with(edit: impl FnOnce(&mut Gguf)) -> Vec<u8> {
    let mut g = Gguf::sample();
    edit(&mut g);
    g.bytes()
}

/// The sample with tensor `i`'s stored (relative) data offset patched to `off`.
fn with_offset(i: usize, off: u64) -> Vec<u8> {
    let g = Gguf::sample();
    let (mut b, layout) = g.build();
    let t = &g.tensors[i];
    let at = layout.tensor_info_at[i] + 8 + t.name.len() + 4 + 8 * t.ne.len() + 4;
    put_u64(&mut b, at, off);
    b
}

#[test]
fn tensor_data_ranges_are_checked() {
    // Past the end of the file.
    assert_err(
        &with_offset(2, 1 << 20),
        &["tensor 'output_norm.weight'", "past the end of the file"],
    );
    assert_err(
        &with_offset(2, u64::MAX - 31),
        &["tensor 'output_norm.weight'", "overflows"],
    );
    // Overlapping another tensor (token_embd is 128 bytes at 0).
    assert_err(
        &with_offset(1, 96),
        &["overlaps", "blk.0.attn_q.weight", "token_embd.weight"],
    );
    // Not aligned.
    assert_err(
        &with_offset(1, 136),
        &[
            "tensor 'blk.0.attn_q.weight'",
            "not a multiple of the alignment 32",
        ],
    );
    // Offsets need not follow file order, but each range must fit: moving token_embd (128 bytes)
    // to the last slot (224) and output_norm to 0 runs past the end.
    let g = Gguf::sample();
    let (mut b, layout) = g.build();
    let off_at = |i: usize| {
        let t = &g.tensors[i];
        layout.tensor_info_at[i] + 8 + t.name.len() + 4 + 8 * t.ne.len() + 4
    };
    put_u64(&mut b, off_at(2), 0);
    put_u64(&mut b, off_at(0), 224);
    let e = GgufFile::from_bytes(&b)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("token_embd.weight") && e.contains("past the end"),
        "{e}"
    );
    // A larger alignment moves the data start; the writer pads to it, so the file stays valid.
    let b = sample_with(|g| {
        g.alignment = 64;
        g.set_kv("general.alignment", V::U32(64));
    });
    let g = GgufFile::from_bytes(&b).unwrap();
    assert_eq!((g.alignment, g.data_offset % 64), (64, 0));
}

#[test]
fn bad_alignment_values() {
    for (v, needle) in [
        (V::U32(0), "alignment 0 is not a nonzero power of two"),
        (V::U32(48), "alignment 48 is not a nonzero power of two"),
        (V::U64(3), "alignment 3 is not a nonzero power of two"),
        (V::I32(-32), "expected an unsigned integer"),
        (V::Str("32".into()), "expected an unsigned integer"),
    ] {
        let b = sample_with(|g| g.set_kv("general.alignment", v));
        assert_err(&b, &["general.alignment", needle]);
    }
    // Alignment 2^31 puts the data start past the end of this small file.
    let b = sample_with(|g| g.set_kv("general.alignment", V::U32(1 << 31)));
    assert_err(&b, &["past the end"]);
}

#[test]
fn tensor_info_errors_name_the_tensor() {
    let b = sample_with(|g| g.tensors[1].type_id = 99);
    assert_err(
        &b,
        &["tensor 'blk.0.attn_q.weight'", "unknown ggml type id 99"],
    );
    let b = sample_with(|g| g.tensors[2].name = "token_embd.weight".into());
    assert_err(&b, &["duplicate tensor name 'token_embd.weight'"]);
    let b = sample_with(|g| g.tensors[0].ne = vec![1 << 62, 1 << 62]);
    assert_err(&b, &["tensor 'token_embd.weight'", "overflows"]);
    let b = sample_with(|g| g.tensors[0].ne = vec![u64::MAX]);
    assert_err(
        &b,
        &[
            "tensor 'token_embd.weight'",
            "dimension 18446744073709551615 is out of range",
        ],
    );
    let b = sample_with(|g| g.tensors[1].ne = vec![16, 4]);
    assert_err(
        &b,
        &[
            "tensor 'blk.0.attn_q.weight'",
            "ne[0] = 16 is not a multiple of the q8_0 block size 32",
        ],
    );
    // Claims more data than the file has.
    let b = sample_with(|g| g.tensors[0].ne = vec![8, 1 << 30]);
    assert_err(&b, &["tensor 'token_embd.weight'", "past the end"]);
}

#[test]
fn metadata_errors_name_the_key() {
    let mut g = Gguf::sample();
    g.kvs.push(("general.name".into(), V::Str("again".into())));
    assert_err(
        &g.bytes(),
        &["metadata key 'general.name'", "duplicate metadata key"],
    );

    // Unknown value type id: patch t.u8's type (u32 after the key).
    let (bytes, layout) = Gguf::sample().build();
    let i = Gguf::sample()
        .kvs
        .iter()
        .position(|(k, _)| k == "t.u8")
        .unwrap();
    let mut b = bytes.clone();
    put_u32(&mut b, layout.kv_at[i] + 8 + 4, 13);
    assert_err(&b, &["metadata key 't.u8'", "unknown value type id 13"]);

    // A bool byte other than 0/1.
    let i = Gguf::sample()
        .kvs
        .iter()
        .position(|(k, _)| k == "t.bool")
        .unwrap();
    let mut b = bytes.clone();
    b[layout.kv_at[i] + 8 + 6 + 4] = 2;
    assert_err(&b, &["metadata key 't.bool'", "bool byte is 2"]);

    // Invalid UTF-8 in a string value.
    let i = Gguf::sample()
        .kvs
        .iter()
        .position(|(k, _)| k == "general.name")
        .unwrap();
    let mut b = bytes.clone();
    b[layout.kv_at[i] + 8 + 12 + 4 + 8] = 0xff;
    assert_err(&b, &["metadata key 'general.name'", "not valid UTF-8"]);

    // Unknown array element type.
    let b = sample_with(|g| g.set_kv("t.bad", V::Arr(77, vec![])));
    assert_err(
        &b,
        &["metadata key 't.bad'", "unknown array element type id 77"],
    );

    // Arrays nested 100 deep are refused (no unbounded recursion).
    let mut v = V::Arr(5, vec![]);
    for _ in 0..100 {
        v = V::Arr(9, vec![v]);
    }
    let b = sample_with(|g| g.set_kv("t.deep", v));
    assert_err(&b, &["metadata key 't.deep'", "nested more than 8 levels"]);
    let mut v = V::Arr(5, vec![V::I32(7)]);
    for _ in 0..6 {
        v = V::Arr(9, vec![v]);
    }
    let b = sample_with(|g| g.set_kv("t.deep", v));
    assert!(GgufFile::from_bytes(&b).is_ok());
}

#[test]
fn zero_tensors_and_zero_sized_tensors() {
    let b = sample_with(|g| g.tensors.clear());
    let g = GgufFile::from_bytes(&b).unwrap();
    assert!(g.tensors.is_empty());
    let b = sample_with(|g| {
        g.tensors.push(TensorSpec {
            name: "empty".into(),
            ne: vec![0, 4],
            type_id: 0,
            data: vec![],
            offset: None,
        })
    });
    let g = GgufFile::from_bytes(&b).unwrap();
    assert_eq!(g.tensor("empty").unwrap().bytes().len(), 0);
}
