//! "Never allocate more than the input could justify": a counting allocator measures the peak heap
//! use of each parse (per thread), for inputs whose counts lie (claiming up to 2^64 items) and for
//! the real tiny GGUF.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::gguf_writer::Gguf;
use formats::{GgufFile, SafetensorsFile};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add_signed(delta);
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// Peak heap growth (bytes) on this thread while running `f`.
fn peak_of<T>(f: impl FnOnce() -> T) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    drop(out);
    PEAK.with(Cell::get) - base
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn lying_gguf_counts_allocate_little() {
    let g = Gguf::sample();
    let (bytes, layout) = g.build();
    let n = bytes.len();
    let tokens = g
        .kvs
        .iter()
        .position(|(k, _)| k == "tokenizer.ggml.tokens")
        .unwrap();
    let types = g
        .kvs
        .iter()
        .position(|(k, _)| k == "tokenizer.ggml.token_type")
        .unwrap();
    let cases: Vec<(&str, usize, u64)> = vec![
        ("tensor count", layout.tensor_count_at, u64::MAX),
        ("tensor count", layout.tensor_count_at, 1 << 30),
        ("kv count", layout.kv_count_at, 1 << 40),
        ("key length", layout.kv_at[0], 1 << 35),
        (
            "string array length",
            layout.kv_at[tokens] + 8 + 21 + 8,
            1 << 40,
        ),
        (
            "i32 array length",
            layout.kv_at[types] + 8 + 25 + 8,
            (1 << 62) + 5,
        ),
        ("tensor name length", layout.tensor_info_at[0], 1 << 33),
    ];
    for (what, at, v) in cases {
        let mut b = bytes.clone();
        put_u64(&mut b, at, v);
        let peak = peak_of(|| assert!(GgufFile::from_bytes(&b).is_err(), "{what}"));
        assert!(
            peak <= 64 * n,
            "{what} = {v}: parse of a {n}-byte input peaked at {peak} bytes"
        );
    }
}

#[test]
fn real_gguf_header_parse_is_proportional_to_the_header() {
    let bytes = std::fs::read(common::model_file(common::QWEN3_TINY_BF16)).unwrap();
    let header = GgufFile::from_bytes(&bytes).unwrap().data_offset as usize;
    // Cut just before the data: parses the whole header (tokens, merges) and then fails.
    let cut = &bytes[..header + 100];
    let peak = peak_of(|| assert!(GgufFile::from_bytes(cut).is_err()));
    assert!(
        peak <= 6 * header,
        "{header}-byte header peaked at {peak} bytes"
    );
    eprintln!(
        "header {header} bytes, parse peak {peak} bytes ({:.1}x)",
        peak as f64 / header as f64
    );
}

#[test]
fn lying_safetensors_header_allocates_little() {
    for len in [u64::MAX, 99_000_000, 1 << 20] {
        let mut b = len.to_le_bytes().to_vec();
        b.extend(b"{}");
        let peak = peak_of(|| assert!(SafetensorsFile::from_bytes(&b).is_err()));
        assert!(peak <= 4096, "header length {len}: peak {peak}");
    }
}

#[test]
fn large_safetensors_header_parse_is_proportional_to_the_header() {
    // 20000 empty tensors: the smallest entries, so the most bookkeeping per header byte.
    let entries: Vec<String> = (0..20000)
        .map(|i| format!(r#""t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#))
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let mut b = (header.len() as u64).to_le_bytes().to_vec();
    b.extend(header.as_bytes());
    let peak = peak_of(|| {
        assert_eq!(
            SafetensorsFile::from_bytes(&b).unwrap().tensors.len(),
            20000
        )
    });
    eprintln!(
        "header {} bytes, parse peak {peak} bytes ({:.1}x)",
        header.len(),
        peak as f64 / header.len() as f64
    );
    assert!(
        peak <= 8 * header.len(),
        "peak {peak} for a {}-byte header",
        header.len()
    );
}
