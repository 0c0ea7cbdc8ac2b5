//! Arbitrary bytes into the GGUF parser; whatever parses is then used the way loaders use it.
#![no_main]

use formats::{GgufFile, ModelConfig, WeightSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = GgufFile::from_bytes(data) else {
        return;
    };
    for t in &g.tensors {
        if let Ok(t) = g.tensor(&t.name) {
            let _ = t.bytes().len();
        }
    }
    for (k, _) in &g.metadata {
        let _ = g.get_u64(k);
        let _ = g.get_f32(k);
        let _ = g.get_str_array(k);
        let _ = g.get_i32_array(k);
        let _ = g.get_f32_array(k);
    }
    let _ = ModelConfig::from_gguf(&g);
    let _ = formats::inspect::render_gguf(&g);
});
