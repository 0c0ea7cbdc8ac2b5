//! `inferno tokenize`, `inspect`, `chat` and `bench` end to end.

mod common;

use common::*;

#[test]
fn tokenize_matches_hf_tokenizer() {
    let expected = fixture_json("qwen3-tiny/expected.json");
    let m = model("qwen3-tiny");
    for case in expected["tokenizer"]["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .take(12)
    {
        let text = case["text"].as_str().expect("text");
        if text.is_empty() {
            continue;
        }
        let out = inferno_json(&["tokenize", "-m", m.to_str().expect("path"), text, "--json"]);
        assert_eq!(ids(&out["ids"]), ids(&case["ids"]), "tokenize {text:?}");
    }
}

#[test]
fn inspect_lists_metadata_and_tensors() {
    for (m, tensor) in [
        (
            "qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf",
            "blk.1.ffn_down.weight",
        ),
        ("SmolLM2-135M-Instruct.Q4_1.gguf", "blk.29.attn_q.weight"),
        ("gemma-3-270m-q4_k_m.gguf", "blk.17.ffn_down.weight"),
        ("qwen3-tiny", "model.layers.1.mlp.down_proj.weight"),
    ] {
        let p = model(m);
        let out = inferno(&["inspect", p.to_str().expect("path")], None);
        assert!(
            out.status.success(),
            "inspect {m}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(tensor), "inspect {m} lists {tensor}");
    }
}

#[test]
fn inspect_rejects_a_truncated_file_cleanly() {
    let src = std::fs::read(model("qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf")).expect("read");
    let dir = std::env::temp_dir().join(format!("inferno-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("truncated.gguf");
    std::fs::write(&path, &src[..src.len() / 2]).expect("write");
    let out = inferno(&["inspect", path.to_str().expect("path")], None);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error:") && !err.contains("panicked"),
        "{err}"
    );
}

/// Two chat turns through the template: the second turn reuses the cached first turn.
#[test]
fn chat_two_turns_reuse_the_cache() {
    let m = model("qwen3-tiny");
    let out = inferno(
        &[
            "chat",
            "-m",
            m.to_str().expect("path"),
            "-n",
            "8",
            "--no-think",
            "-t",
            "2",
        ],
        Some("Hello there\nAnd a second question\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let cached: Vec<usize> = err
        .lines()
        .filter_map(|l| l.split(" prompt tokens (").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    assert_eq!(cached.len(), 2, "two turns reported: {err}");
    assert_eq!(cached[0], 0);
    // The whole first user turn, `<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\n`
    // (10 tokens), is reused; the template renders the earlier reply without its empty think block,
    // so the cache diverges there.
    assert!(
        cached[1] >= 10,
        "the second turn reused the first turn's tokens: {err}"
    );
}

#[test]
fn bench_prints_llama_bench_json() {
    let m = model("qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf");
    let v = inferno_json(&[
        "bench",
        "-m",
        m.to_str().expect("path"),
        "-p",
        "32",
        "-n",
        "4",
        "-r",
        "2",
        "-o",
        "json",
        "-t",
        "2",
    ]);
    let rows = v.as_array().expect("array");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["n_prompt"], 32);
    assert_eq!(rows[1]["n_gen"], 4);
    for r in rows {
        assert!(r["avg_ts"].as_f64().expect("avg_ts") > 0.0);
        assert!(r["stddev_ts"].as_f64().is_some());
        assert_eq!(r["n_threads"], 2);
    }
}
