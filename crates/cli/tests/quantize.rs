//! `inferno quantize`: the tiny Qwen3 HF directory quantized to Q8_0 equals the file llama.cpp's
//! convert_hf_to_gguf.py --outtype q8_0 wrote (tensors byte for byte, metadata key for key, the
//! pre-tokenizer found by hash), the result loads and decodes greedily exactly as that file does,
//! and malformed inputs are clear errors, never panics, with no output left behind.

mod common;

use std::path::{Path, PathBuf};

use common::{ids, inferno, inferno_json, model};
use formats::GgufFile;

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cli-quantize-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn qwen3_tiny_q8_0_equals_llamacpp_convert_and_decodes_the_same() {
    let dir = temp_dir("q8_0");
    let out = dir.join("tiny-q8_0.gguf");
    let hf = model("qwen3-tiny");
    let reference_path = model("qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf");
    let run = inferno(
        &["quantize", s(&hf), s(&out), "--type", "q8_0", "-t", "2"],
        None,
    );
    assert!(
        run.status.success(),
        "quantize failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!dir.join("tiny-q8_0.gguf.tmp").exists());

    let ours = GgufFile::open(&out).expect("open ours");
    let reference = GgufFile::open(&reference_path).expect("open fixture");
    assert_eq!(ours.tensors.len(), reference.tensors.len());
    for (a, b) in ours.tensors.iter().zip(&reference.tensors) {
        assert_eq!(
            (&a.name, a.dtype, &a.shape),
            (&b.name, b.dtype, &b.shape),
            "tensor index"
        );
        assert!(
            ours.tensor_data(a).expect("ours") == reference.tensor_data(b).expect("fixture"),
            "{} data differs",
            a.name
        );
    }
    // Every key convert wrote, with its value (tokenizer.ggml.pre = qwen2 found by hash).
    for (k, v) in &reference.metadata {
        assert_eq!(ours.get(k), Some(v), "metadata {k}");
    }

    // Loads (models::load through `generate`) and decodes exactly as the fixture file.
    for prompt in ["The capital of France is", "def fib(n):"] {
        let greedy = |m: &Path| {
            let v = inferno_json(&[
                "generate",
                "-m",
                s(m),
                "-p",
                prompt,
                "-n",
                "24",
                "--ignore-eos",
                "--json",
                "-t",
                "2",
            ]);
            (ids(&v["prompt_ids"]), ids(&v["ids"]))
        };
        assert_eq!(greedy(&out), greedy(&reference_path), "{prompt:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Llama's q/k row permutation (convert_hf_to_gguf.py's `LlamaModel.permute`): a Llama HF directory
/// (the tiny Qwen3 weights and tokenizer under a Llama config) decodes the same greedy tokens from
/// the directory (HF rotate-half RoPE) as from its BF16 GGUF (llama.cpp's adjacent-pair RoPE on the
/// permuted rows). Without the permutation the GGUF diverges from the first token.
#[test]
fn llama_q_k_rows_are_permuted_for_llamacpp_rope() {
    let dir = temp_dir("llama");
    let hf = dir.join("llama-tiny");
    std::fs::create_dir_all(&hf).expect("mkdir");
    let src = model("qwen3-tiny");
    for f in [
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ] {
        std::fs::copy(src.join(f), hf.join(f)).expect("copy");
    }
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(src.join("config.json")).expect("read config"))
            .expect("config json");
    cfg["model_type"] = "llama".into();
    cfg["architectures"] = serde_json::json!(["LlamaForCausalLM"]);
    std::fs::write(hf.join("config.json"), cfg.to_string()).expect("write config");

    let out = dir.join("llama-tiny-bf16.gguf");
    let run = inferno(
        &["quantize", s(&hf), s(&out), "--type", "bf16", "-t", "2"],
        None,
    );
    assert!(
        run.status.success(),
        "quantize failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let gguf = GgufFile::open(&out).expect("open");
    assert_eq!(gguf.get_str("general.architecture"), Some("llama"));
    assert_eq!(gguf.get_u64("llama.rope.dimension_count"), Some(32));
    for prompt in ["The capital of France is", "def fib(n):"] {
        let greedy = |m: &Path| {
            let v = inferno_json(&[
                "generate",
                "-m",
                s(m),
                "-p",
                prompt,
                "-n",
                "24",
                "--ignore-eos",
                "--json",
                "-t",
                "2",
            ]);
            ids(&v["ids"])
        };
        assert_eq!(greedy(&out), greedy(&hf), "{prompt:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn malformed_inputs_are_errors_not_panics() {
    let dir = temp_dir("bad");
    let out = dir.join("out.gguf");
    let fixture = model("qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf");

    let truncated = dir.join("truncated.gguf");
    let bytes = std::fs::read(&fixture).expect("read fixture");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    let garbage = dir.join("garbage.gguf");
    std::fs::write(&garbage, b"not a gguf at all").expect("write");
    let empty_dir = dir.join("empty");
    std::fs::create_dir_all(&empty_dir).expect("mkdir");

    let cases: Vec<Vec<&str>> = vec![
        vec!["quantize", s(&truncated), s(&out), "--type", "q8_0"],
        vec!["quantize", s(&garbage), s(&out), "--type", "q8_0"],
        vec!["quantize", s(&empty_dir), s(&out), "--type", "q8_0"],
        vec![
            "quantize",
            "/nonexistent/model.gguf",
            s(&out),
            "--type",
            "q8_0",
        ],
        vec!["quantize", s(&fixture), s(&out), "--type", "q3_k_xl"],
        vec!["quantize", s(&fixture), s(&fixture), "--type", "q8_0"],
        vec![
            "quantize",
            s(&fixture),
            "/nonexistent-dir/out.gguf",
            "--type",
            "q8_0",
        ],
    ];
    for args in &cases {
        let run = inferno(args, None);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} succeeded");
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
        assert!(
            !out.exists() && !dir.join("out.gguf.tmp").exists(),
            "{args:?} left output"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_lists_the_types() {
    let run = inferno(&["quantize", "--help"], None);
    assert!(run.status.success());
    let text = String::from_utf8_lossy(&run.stdout);
    for t in [
        "q8_0",
        "q4_0",
        "q4_k_m",
        "q6_k",
        "bf16",
        "--type",
        "--threads",
    ] {
        assert!(text.contains(t), "--help lacks {t}: {text}");
    }
}
