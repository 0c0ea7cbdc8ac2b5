//! The reference check of the GGUF exporter: `models/qwen3-tiny` (HF dir, bf16) exported as Q8_0
//! equals `qwen3-tiny-q8_0.gguf`, which llama.cpp's convert_hf_to_gguf.py --outtype q8_0 wrote:
//! the same tensor names, order, shapes, types and data bytes, and the same metadata except
//! `general.alignment` (we write it; convert leaves the default implicit). Also the export rules
//! that do not need a fixture file: malformed inputs are errors.

mod common;

use formats::gguf_export::{write_plan, ExportPlan, FileType};
use formats::{GgufFile, HfModelDir};
use quant::GgmlType;

fn export(dir: &HfModelDir, ft: FileType, out: &std::path::Path) -> GgufFile {
    // convert_hf_to_gguf.py names the Qwen3 pre-tokenizer `qwen2` (the CLI finds it by hash).
    let plan = ExportPlan::from_hf(dir, ft, "qwen2").expect("plan");
    let mut calls = 0usize;
    write_plan(dir, &plan, out, 2, &mut |_| calls += 1).expect("write");
    assert!(calls >= plan.tensors.len());
    GgufFile::open(out).expect("open export")
}

#[test]
fn qwen3_tiny_q8_0_equals_convert_hf_to_gguf() {
    let hf = HfModelDir::open(common::model_file("qwen3-tiny")).expect("hf dir");
    let reference = GgufFile::open(common::model_file(common::QWEN3_TINY_Q8_0)).expect("fixture");
    let dir = common::temp_dir("export-q8_0");
    let ours = export(&hf, FileType::Q8_0, &dir.join("q8_0.gguf"));

    let names = |f: &GgufFile| f.tensors.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ours), names(&reference), "tensor names and order");
    for (a, b) in ours.tensors.iter().zip(&reference.tensors) {
        assert_eq!((a.dtype, &a.shape), (b.dtype, &b.shape), "{}", a.name);
        let (da, db) = (
            ours.tensor_data(a).expect("ours"),
            reference.tensor_data(b).expect("reference"),
        );
        let differing = da.iter().zip(db).filter(|(x, y)| x != y).count();
        assert!(
            da == db,
            "{}: {differing} of {} bytes differ",
            a.name,
            da.len()
        );
    }
    // The norms stay F32, everything else is Q8_0 (9 + 15).
    let f32s = ours
        .tensors
        .iter()
        .filter(|t| t.dtype == GgmlType::F32)
        .count();
    assert_eq!(f32s, 9);

    for (k, v) in &reference.metadata {
        assert_eq!(ours.get(k), Some(v), "metadata {k}");
    }
    let extra: Vec<&str> = ours
        .metadata
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| reference.get(k).is_none())
        .collect();
    assert_eq!(extra, ["general.alignment"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// BF16 from a bf16 checkpoint is a copy: every tensor equals the convert_hf_to_gguf.py bf16 file.
#[test]
fn qwen3_tiny_bf16_equals_convert_hf_to_gguf() {
    let hf = HfModelDir::open(common::model_file("qwen3-tiny")).expect("hf dir");
    let reference = GgufFile::open(common::model_file(common::QWEN3_TINY_BF16)).expect("fixture");
    let dir = common::temp_dir("export-bf16");
    let ours = export(&hf, FileType::BF16, &dir.join("bf16.gguf"));
    assert_eq!(ours.tensors.len(), reference.tensors.len());
    for (a, b) in ours.tensors.iter().zip(&reference.tensors) {
        assert_eq!((&a.name, a.dtype, &a.shape), (&b.name, b.dtype, &b.shape));
        assert!(
            ours.tensor_data(a).expect("ours") == reference.tensor_data(b).expect("ref"),
            "{}",
            a.name
        );
    }
    assert_eq!(
        ours.get("general.file_type"),
        reference.get("general.file_type")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Requantizing a GGUF: the fixture Q8_0 file to Q8_0 again is a byte copy (llama-quantize copies a
/// tensor already in its target type), and to F32 every value equals the dequantized fixture.
#[test]
fn gguf_input_is_copied_or_requantized() {
    let src_path = common::model_file(common::QWEN3_TINY_Q8_0);
    let src = GgufFile::open(&src_path).expect("fixture");
    let dir = common::temp_dir("export-gguf");
    for ft in [FileType::Q8_0, FileType::F32] {
        let plan = ExportPlan::from_gguf(&src, ft).expect("plan");
        let out = dir.join(format!("{ft}.gguf"));
        write_plan(&src, &plan, &out, 2, &mut |_| {}).expect("write");
        let ours = GgufFile::open(&out).expect("open");
        assert_eq!(
            ours.get("general.file_type").and_then(|v| v.as_u64()),
            Some(u64::from(ft.llama_ftype()))
        );
        assert_eq!(ours.tensors.len(), src.tensors.len());
        // llama.cpp's loader order: non-layer tensors by name, then layer by layer.
        let order: Vec<&str> = ours.tensors.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            order[..3],
            [
                "output_norm.weight",
                "token_embd.weight",
                "blk.0.attn_k.weight"
            ]
        );
        for a in &ours.tensors {
            let b = src.tensor_info(&a.name).expect("same names");
            assert_eq!(a.shape, b.shape, "{}", a.name);
            let (da, db) = (
                ours.tensor_data(a).expect("a"),
                src.tensor_data(b).expect("b"),
            );
            if ft == FileType::Q8_0 {
                assert_eq!(a.dtype, b.dtype);
                assert!(da == db, "{} copied", a.name);
            } else {
                assert_eq!(a.dtype, GgmlType::F32);
                let mut want = vec![0f32; b.numel()];
                quant::dequantize_row(b.dtype, db, &mut want).expect("dequantize");
                let got: Vec<f32> = da
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                assert!(got == want, "{} dequantized", a.name);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_inputs_are_errors() {
    assert!(FileType::parse("q3_k").is_err());
    assert_eq!(FileType::parse("Q4_K_M").ok(), Some(FileType::Q4KM));

    // A checkpoint with a tensor this converter has no GGUF name for.
    let dir = common::temp_dir("export-bad");
    let hf_src = common::model_file("qwen3-tiny");
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(hf_src.join(f), dir.join(f)).expect("copy");
    }
    let st = std::fs::read(hf_src.join("model.safetensors")).expect("read");
    let hlen = u64::from_le_bytes(st[..8].try_into().expect("8 bytes")) as usize;
    let header = std::str::from_utf8(&st[8..8 + hlen]).expect("utf-8 header");
    let renamed = header.replace("model.norm.weight", "model.nrm0.weight");
    assert_eq!(renamed.len(), header.len());
    let mut bytes = st[..8].to_vec();
    bytes.extend_from_slice(renamed.as_bytes());
    bytes.extend_from_slice(&st[8 + hlen..]);
    std::fs::write(dir.join("model.safetensors"), &bytes).expect("write");
    let hf = HfModelDir::open(&dir).expect("opens");
    let err = ExportPlan::from_hf(&hf, FileType::Q8_0, "qwen2").expect_err("unknown tensor");
    assert!(err.to_string().contains("model.nrm0.weight"), "{err}");

    // A tokenizer.json that is not a BPE vocabulary.
    std::fs::write(dir.join("model.safetensors"), &st).expect("write");
    std::fs::write(dir.join("tokenizer.json"), br#"{"model": {"type": "BPE"}}"#).expect("w");
    let hf = HfModelDir::open(&dir).expect("opens");
    let err = ExportPlan::from_hf(&hf, FileType::Q8_0, "qwen2").expect_err("no vocab");
    assert!(err.to_string().contains("vocab"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
