//! Speed sanity: encoding 1 MB must take well under a second or two, also for inputs that are
//! one huge pre-tokenizer piece (no quadratic merge loop). Times are printed, not asserted.

mod common;

use std::time::Instant;

use common::qwen3_tokenizer;

fn mixed_text(n_bytes: usize) -> String {
    let parts = [
        "The quick brown fox jumps over the lazy dog. ",
        "fn main() { println!(\"{}\", 1_000_000); }\n",
        "你好，世界！今天天气很好 ☀️🌈 ",
        "Ünïcödé àccents naïve café — Ελληνικά и русский текст\r\n",
        "    indented   code\t\twith  tabs\n\n",
        "3.14159 -42 1e-9 0x1F 100% don't HE'S ",
        "<|im_start|>user\nHi<|im_end|>\n",
    ];
    let mut s = String::with_capacity(n_bytes + 64);
    let mut i = 0;
    while s.len() < n_bytes {
        s.push_str(parts[i % parts.len()]);
        i += 1;
    }
    s
}

#[test]
fn encode_one_megabyte() {
    let t0 = Instant::now();
    let tok = qwen3_tokenizer();
    eprintln!("load tokenizer.json: {:?}", t0.elapsed());

    let inputs = [
        ("mixed text", mixed_text(1 << 20)),
        ("one 1 MB word", "a".repeat(1 << 20)),
        ("1 MB of spaces", " ".repeat(1 << 20)),
        ("1 MB of CJK", "語".repeat((1 << 20) / 3)),
        ("1 MB of punctuation", "!?".repeat(1 << 19)),
    ];
    for (name, text) in &inputs {
        let t = Instant::now();
        let ids = tok.encode(text, false);
        let enc = t.elapsed();
        let t = Instant::now();
        let back = tok.decode(&ids, false);
        let dec = t.elapsed();
        eprintln!(
            "{name}: {} bytes -> {} ids, encode {enc:?}, decode {dec:?}",
            text.len(),
            ids.len()
        );
        assert_eq!(&back, text, "{name}: decode(encode(text)) == text");
    }
}
