//! The hand-written pre-tokenizers against the real regexes run by an independent engine
//! (Python's `regex` module; tests/data/pretok_reference.json, made by
//! scripts/gen_pretok_reference.py): 1000 random strings over an edge-case alphabet (case
//! folding, \r\n runs, Unicode spaces, marks, Nl/No numbers, emoji, ZWJ) and random code points.

use tokenizer::PreTokenizer;

#[test]
fn splits_like_the_regex_engine() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/pretok_reference.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let data: serde_json::Value = serde_json::from_str(&text).expect("parsing the reference");
    let cases = data["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 1000);
    let kinds = [
        ("qwen2", PreTokenizer::Qwen2 { max_digits: 1 }),
        ("llama3", PreTokenizer::Qwen2 { max_digits: 3 }),
        (
            "gpt2",
            PreTokenizer::Gpt2 {
                split_digits: false,
            },
        ),
        ("smollm", PreTokenizer::Gpt2 { split_digits: true }),
    ];
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        for (name, pre) in kinds {
            let want: Vec<&str> = case[name]
                .as_array()
                .expect("pieces")
                .iter()
                .map(|p| p.as_str().expect("piece"))
                .collect();
            let got = pre.pieces(text);
            if got != want {
                failures.push(format!("{name} {text:?}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
