//! Arbitrary bytes into the safetensors parser; whatever parses is then read tensor by tensor.
#![no_main]

use formats::SafetensorsFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(f) = SafetensorsFile::from_bytes(data) else {
        return;
    };
    for t in &f.tensors {
        if let Ok(t) = f.tensor(&t.name) {
            let _ = t.bytes().len();
        }
    }
    let _ = formats::inspect::render_safetensors(&f);
});
