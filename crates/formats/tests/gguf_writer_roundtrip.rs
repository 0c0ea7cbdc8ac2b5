//! `GgufWriter`: every metadata value type (nested arrays and string arrays too) and tensors of
//! several types read back through `GgufFile` (the reader checked against llama.cpp's files), data
//! aligned; misuse is an error and leaves no file behind.

mod common;

use formats::{GgufArray, GgufFile, GgufTensorSpec, GgufValue, GgufWriter};
use quant::GgmlType;

fn all_values() -> Vec<(String, GgufValue)> {
    use GgufValue as V;
    vec![
        ("general.architecture".into(), V::String("llama".into())),
        ("t.u8".into(), V::U8(200)),
        ("t.i8".into(), V::I8(-100)),
        ("t.u16".into(), V::U16(60000)),
        ("t.i16".into(), V::I16(-30000)),
        ("t.u32".into(), V::U32(4_000_000_000)),
        ("t.i32".into(), V::I32(-2_000_000_000)),
        ("t.u64".into(), V::U64(u64::MAX - 1)),
        ("t.i64".into(), V::I64(i64::MIN + 1)),
        ("t.f32".into(), V::F32(1e-6)),
        ("t.f64".into(), V::F64(-2.5e300)),
        ("t.bool".into(), V::Bool(true)),
        ("t.string".into(), V::String("héllo \u{1f980}\n".into())),
        ("t.empty_string".into(), V::String(String::new())),
        (
            "t.strings".into(),
            V::Array(GgufArray::String(vec![
                "a".into(),
                String::new(),
                "Ġb c".into(),
            ])),
        ),
        ("t.i32s".into(), V::Array(GgufArray::I32(vec![1, -2, 3]))),
        ("t.f32s".into(), V::Array(GgufArray::F32(vec![0.5, -1.0]))),
        (
            "t.bools".into(),
            V::Array(GgufArray::Bool(vec![true, false])),
        ),
        ("t.u8s".into(), V::Array(GgufArray::U8(vec![]))),
        (
            "t.nested".into(),
            V::Array(GgufArray::Array(vec![
                GgufArray::U16(vec![1, 2]),
                GgufArray::U16(vec![3]),
            ])),
        ),
    ]
}

fn spec(name: &str, dtype: GgmlType, shape: &[usize]) -> GgufTensorSpec {
    GgufTensorSpec {
        name: name.into(),
        dtype,
        shape: shape.to_vec(),
    }
}

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn writes_what_the_reader_reads() {
    let dir = common::temp_dir("writer-roundtrip");
    let path = dir.join("all.gguf");
    let tensors = vec![
        spec("norm.weight", GgmlType::F32, &[3]), // 12 bytes: the next one needs padding
        spec("w.q8", GgmlType::Q8_0, &[2, 64]),
        spec("w.q4k", GgmlType::Q4K, &[1, 256]),
        spec("w.bf16", GgmlType::BF16, &[2, 3, 5]),
    ];
    let meta = all_values();
    let mut w = GgufWriter::create(&path, &meta, &tensors).expect("create");
    let mut datas = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        let n = t.n_bytes().expect("size") as usize;
        let d = pattern(n, i as u8);
        if i == 1 {
            // In parts, as the converter streams slabs of rows.
            w.write_tensor_part(&t.name, &d[..34]).expect("part 1");
            w.write_tensor_part(&t.name, &d[34..]).expect("part 2");
        } else {
            w.write_tensor(&t.name, &d).expect("write");
        }
        datas.push(d);
    }
    assert!(!path.exists(), "only the .tmp exists before finish");
    w.finish().expect("finish");
    assert!(!dir.join("all.gguf.tmp").exists());

    let f = GgufFile::open(&path).expect("open");
    assert_eq!(f.version, 3);
    assert_eq!(f.alignment, 32);
    assert_eq!(f.get("general.alignment"), Some(&GgufValue::U32(32)));
    for (k, v) in &meta {
        assert_eq!(f.get(k), Some(v), "metadata {k}");
    }
    assert_eq!(f.metadata.len(), meta.len() + 1);
    assert_eq!(f.tensors.len(), tensors.len());
    for ((info, t), d) in f.tensors.iter().zip(&tensors).zip(&datas) {
        assert_eq!(info.name, t.name);
        assert_eq!(info.dtype, t.dtype);
        assert_eq!(info.shape, t.shape);
        assert_eq!(info.offset % 32, 0, "{} aligned", t.name);
        assert_eq!(
            f.tensor_data(info).expect("data"),
            d.as_slice(),
            "{}",
            t.name
        );
    }
    assert_eq!(f.file_size() % 32, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn misuse_is_an_error_and_leaves_no_file() {
    let dir = common::temp_dir("writer-misuse");
    let path = dir.join("bad.gguf");
    let tmp = dir.join("bad.gguf.tmp");
    let meta = vec![(
        "general.architecture".to_string(),
        GgufValue::String("x".into()),
    )];
    let two = [
        spec("a", GgmlType::F32, &[4]),
        spec("b", GgmlType::Q8_0, &[1, 32]),
    ];

    // Bad indexes.
    for bad in [
        vec![spec("a", GgmlType::Q8_0, &[2, 33])], // row not a whole number of blocks
        vec![
            spec("a", GgmlType::F32, &[4]),
            spec("a", GgmlType::F32, &[4]),
        ], // duplicate
        vec![spec("", GgmlType::F32, &[4])],
        vec![spec("a", GgmlType::F32, &[])],
        vec![spec("a", GgmlType::F32, &[0, 4])],
        vec![spec("a", GgmlType::F32, &[1, 1, 1, 1, 1])],
    ] {
        assert!(GgufWriter::create(&path, &meta, &bad).is_err(), "{bad:?}");
    }
    let dup_key = vec![meta[0].clone(), meta[0].clone()];
    assert!(GgufWriter::create(&path, &dup_key, &two).is_err());

    // Out of order, too many bytes, unfinished.
    let mut w = GgufWriter::create(&path, &meta, &two).expect("create");
    assert!(w.write_tensor("b", &[0; 34]).is_err(), "out of order");
    assert!(w.write_tensor("a", &[0; 20]).is_err(), "too many bytes");
    w.write_tensor("a", &[0; 16]).expect("a");
    assert!(w.write_tensor("b", &[0; 33]).is_err(), "too few bytes");
    assert!(w.finish().is_err(), "b incomplete");
    assert!(!path.exists() && !tmp.exists(), "nothing left behind");

    // Dropped half-way (an error upstream): the temporary file goes.
    let mut w = GgufWriter::create(&path, &meta, &two).expect("create");
    w.write_tensor("a", &[0; 16]).expect("a");
    assert!(tmp.exists());
    drop(w);
    assert!(!path.exists() && !tmp.exists());
    let _ = std::fs::remove_dir_all(&dir);
}
