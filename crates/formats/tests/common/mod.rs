//! Paths shared by the integration tests.
#![allow(dead_code)]

pub mod gguf_writer;
pub mod qwen3_names;
pub mod st_writer;

use std::path::PathBuf;

/// `tests/fixtures` at the repo root (committed).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The fetched models dir: `$INFERNO_MODELS_DIR` or `<repo>/models`.
pub fn models_dir() -> PathBuf {
    match std::env::var_os("INFERNO_MODELS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

/// A file under the models dir; panics (fails the test) with instructions when it is absent.
pub fn model_file(rel: &str) -> PathBuf {
    let p = models_dir().join(rel);
    assert!(
        p.exists(),
        "model file {} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)",
        p.display()
    );
    p
}

pub const QWEN3_TINY_BF16: &str = "qwen3-tiny-gguf/qwen3-tiny-bf16.gguf";
pub const QWEN3_TINY_Q8_0: &str = "qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf";
pub const SMOLLM2_Q4_1: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
pub const GEMMA3_Q4_K_M: &str = "gemma-3-270m-q4_k_m.gguf";

/// A fresh empty directory under the system temp dir for this test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("formats-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}
