//! Resident memory of a loaded model: interleaving the quantized weights must not leave the
//! mapped file pages resident beside the packed copies (that doubled the footprint). Its own test
//! binary, with one test, so that no other test's allocations run in the process meanwhile.

mod common;

use formats::{GgufFile, ModelConfig};

/// This process's resident set in bytes (`VmRSS` of /proc/self/status).
fn vm_rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("reading /proc/self/status");
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .expect("VmRSS line in /proc/self/status");
    kb * 1024
}

#[test]
fn loading_smollm2_q4_1_adds_at_most_its_weights_plus_ten_percent() {
    let gguf = GgufFile::open(common::model_file("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let cfg = ModelConfig::from_gguf(&gguf).unwrap();
    let weights: usize = gguf.tensors.iter().map(|t| t.n_bytes).sum();
    let before = vm_rss();
    let model = models::load(&gguf, &cfg, 2, &mut |_, _| {}).unwrap();
    let grown = vm_rss().saturating_sub(before);
    drop(model);
    let limit = weights + weights / 10;
    eprintln!(
        "weights {} KiB, resident set grew by {} KiB",
        weights >> 10,
        grown >> 10
    );
    assert!(
        grown <= limit,
        "loading grew the resident set by {} MiB; the weights are {} MiB (limit {} MiB): are \
         the mapped pages of packed weights released?",
        grown >> 20,
        weights >> 20,
        limit >> 20
    );
}
