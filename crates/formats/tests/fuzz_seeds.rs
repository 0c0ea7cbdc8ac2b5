//! Writes the small valid seed files under `fuzz/seeds/` (run with `--ignored`; not a check).

mod common;

use common::gguf_writer::Gguf;
use common::st_writer::{f32_tensor, write, StTensor};
use serde_json::json;

#[test]
#[ignore]
fn write_fuzz_seeds() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds");
    let gguf = root.join("gguf");
    let st = root.join("safetensors");
    std::fs::create_dir_all(&gguf).unwrap();
    std::fs::create_dir_all(&st).unwrap();

    std::fs::write(gguf.join("sample-v3.gguf"), Gguf::sample().bytes()).unwrap();
    let mut v2 = Gguf::sample();
    v2.version = 2;
    v2.tensors.truncate(1);
    v2.kvs.truncate(3);
    std::fs::write(gguf.join("small-v2.gguf"), v2.bytes()).unwrap();

    let sample = write(
        &[
            f32_tensor("a", &[2, 3], (0..6).map(|i| i as f32)),
            StTensor {
                name: "b".into(),
                dtype: "BF16".into(),
                shape: vec![4],
                data: vec![0x80, 0x3f, 0, 0x40, 0x40, 0x40, 0x80, 0x40],
            },
            StTensor {
                name: "ids".into(),
                dtype: "I64".into(),
                shape: vec![1],
                data: vec![0; 8],
            },
        ],
        Some(json!({"format": "pt"})),
    );
    std::fs::write(st.join("sample.safetensors"), sample).unwrap();
}
