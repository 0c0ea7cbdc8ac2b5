//! The kernels against HF transformers' own f32 activations for qwen3-tiny (prompt `p0_plain`,
//! `tests/fixtures/qwen3-tiny/activations`), using the real bf16 checkpoint bytes: embedding,
//! RMSNorm, bf16 matmul, per-head q/k norm, NeoX RoPE (θ = 1e6), paged GQA attention over a
//! shuffled block table, SwiGLU MLP, for both layers. Every layer's inputs are taken from the
//! reference, so each op is checked on its own.

mod common;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use common::Rng;
use quant::GgmlType;
use tensor::ops::{
    embedding, matmul, rms_norm, rms_norm_inplace, rope, silu_mul, MatmulScratch, RopeStyle,
};
use tensor::{
    paged_attention, write_kv, AttnSeq, KvLayout, PagedKvLayer, Storage, Tensor, ThreadPool,
};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/qwen3-tiny")
}

/// The bf16 tensors of `model.safetensors`, mapped in place (no copy).
fn load_weights() -> HashMap<String, Tensor> {
    let path = fixture_dir().join("model.safetensors");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // SAFETY: the fixture file is not modified while mapped.
    let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.expect("mmap"));
    let header_len = u64::from_le_bytes(map[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&map[8..8 + header_len]).expect("header");
    let mut out = HashMap::new();
    for (name, info) in header.as_object().unwrap() {
        if name == "__metadata__" {
            continue;
        }
        assert_eq!(info["dtype"], "BF16", "{name}");
        let shape: Vec<usize> = info["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let offs: Vec<usize> = info["data_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let storage = Storage::Mapped {
            map: Arc::clone(&map),
            offset: 8 + header_len + offs[0],
            len: offs[1] - offs[0],
        };
        out.insert(
            name.clone(),
            Tensor::new(GgmlType::BF16, shape, storage).expect(name),
        );
    }
    out
}

fn f32_of(t: &Tensor) -> Vec<f32> {
    let mut v = vec![0.0; t.numel()];
    quant::dequantize_row(t.dtype, t.bytes(), &mut v).unwrap();
    v
}

struct Reference {
    ids: Vec<u32>,
    acts: HashMap<String, Vec<f32>>,
}

fn load_reference() -> Reference {
    let dir = fixture_dir();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .unwrap();
    let prompt = &expected["prompts"][0];
    assert_eq!(prompt["name"], "p0_plain");
    let ids = prompt["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let mut acts = HashMap::new();
    for f in expected["activations"]["files"].as_array().unwrap() {
        let bytes = std::fs::read(dir.join(f["file"].as_str().unwrap())).unwrap();
        let v: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let numel: u64 = f["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .product();
        assert_eq!(v.len() as u64, numel);
        acts.insert(f["name"].as_str().unwrap().to_string(), v);
    }
    Reference { ids, acts }
}

/// Max |got − want| must stay below `abs` (the reference itself is f32 and rounded differently).
fn check(got: &[f32], want: &[f32], abs: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    let (i, err) = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .enumerate()
        .fold((0, 0f32), |best, (i, e)| {
            if e > best.1 || e.is_nan() {
                (i, e)
            } else {
                best
            }
        });
    assert!(
        err <= abs,
        "{what}: max |err| {err:e} at {i} (got {}, want {}) > {abs:e}",
        got[i],
        want[i]
    );
}

const S: usize = 19;
const HIDDEN: usize = 64;
const HEADS: usize = 4;
const KV_HEADS: usize = 2;
const HEAD_DIM: usize = 32;
const INTER: usize = 192;
const EPS: f32 = 1e-6;
const THETA: f32 = 1e6;

#[test]
fn every_op_matches_transformers_f32_activations() {
    let w = load_weights();
    let r = load_reference();
    let act = |name: &str| {
        r.acts
            .get(name)
            .unwrap_or_else(|| panic!("activation {name}"))
            .clone()
    };
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    let mm = |x: &[f32], name: &str, m: usize, scratch: &mut MatmulScratch| {
        let mut out = vec![0.0; x.len() / w[name].shape[1] * m];
        matmul(&pool, x, &w[name], &mut out, scratch).expect(name);
        out
    };

    // Embedding: bf16 rows upcast exactly.
    let mut embed = vec![0.0; S * HIDDEN];
    embedding(&w["model.embed_tokens.weight"], &r.ids, &mut embed).unwrap();
    check(&embed, &act("embed"), 0.0, "embed");

    let positions: Vec<u32> = (0..S as u32).collect();
    for layer in 0..2 {
        let p = format!("model.layers.{layer}.");
        let a = |n: &str| act(&format!("layer{layer}.{n}"));
        let input = if layer == 0 {
            act("embed")
        } else {
            act("layer0.out")
        };

        let mut h = vec![0.0; S * HIDDEN];
        rms_norm(
            &input,
            &f32_of(&w[&format!("{p}input_layernorm.weight")]),
            EPS,
            &mut h,
        );
        check(
            &h,
            &a("input_layernorm_out"),
            2e-6,
            &format!("layer {layer} input_layernorm"),
        );

        let h = a("input_layernorm_out");
        let q = mm(
            &h,
            &format!("{p}self_attn.q_proj.weight"),
            HEADS * HEAD_DIM,
            &mut scratch,
        );
        let k = mm(
            &h,
            &format!("{p}self_attn.k_proj.weight"),
            KV_HEADS * HEAD_DIM,
            &mut scratch,
        );
        let v = mm(
            &h,
            &format!("{p}self_attn.v_proj.weight"),
            KV_HEADS * HEAD_DIM,
            &mut scratch,
        );
        check(&q, &a("q_proj_out"), 2e-6, &format!("layer {layer} q_proj"));
        check(&k, &a("k_proj_out"), 2e-6, &format!("layer {layer} k_proj"));
        check(&v, &a("v_proj_out"), 2e-6, &format!("layer {layer} v_proj"));

        let mut qn = a("q_proj_out");
        rms_norm_inplace(
            &mut qn,
            &f32_of(&w[&format!("{p}self_attn.q_norm.weight")]),
            EPS,
        );
        check(
            &qn,
            &a("q_norm_out"),
            4e-6,
            &format!("layer {layer} q_norm"),
        );
        let mut kn = a("k_proj_out");
        rms_norm_inplace(
            &mut kn,
            &f32_of(&w[&format!("{p}self_attn.k_norm.weight")]),
            EPS,
        );
        check(
            &kn,
            &a("k_norm_out"),
            4e-6,
            &format!("layer {layer} k_norm"),
        );

        let mut qr = a("q_norm_out");
        rope(&mut qr, &positions, HEADS, HEAD_DIM, THETA, RopeStyle::Neox);
        check(
            &qr,
            &a("q_rope_out"),
            4e-6,
            &format!("layer {layer} q rope"),
        );
        let mut kr = a("k_norm_out");
        rope(
            &mut kr,
            &positions,
            KV_HEADS,
            HEAD_DIM,
            THETA,
            RopeStyle::Neox,
        );
        check(
            &kr,
            &a("k_rope_out"),
            4e-6,
            &format!("layer {layer} k rope"),
        );

        // Paged attention: K/V written through a shuffled block table of 4-slot blocks, the prompt
        // in two chunks (prefill 12 tokens, then 7 more over the cached 12) and in one go.
        let layout = KvLayout {
            num_blocks: 16,
            block_size: 4,
            n_kv_heads: KV_HEADS,
            head_dim: HEAD_DIM,
        };
        let mut cache = PagedKvLayer::new(&layout).unwrap();
        let mut blocks: Vec<u32> = (0..16).collect();
        Rng::new(layer as u64).shuffle(&mut blocks);
        let table = &blocks[..S.div_ceil(4)];
        let slots: Vec<u32> = (0..S).map(|p| table[p / 4] * 4 + (p % 4) as u32).collect();
        write_kv(
            &mut cache,
            &layout,
            &a("k_rope_out"),
            &a("v_proj_out"),
            &slots,
        )
        .unwrap();
        let qs = a("q_rope_out");
        let scale = 1.0 / (HEAD_DIM as f32).sqrt();
        let mut ctx = vec![0.0; S * HEADS * HEAD_DIM];
        let whole = [AttnSeq {
            token_start: 0,
            n_tokens: S,
            ctx_len: S,
            block_table: table,
        }];
        paged_attention(&pool, &qs, &cache, &layout, &whole, HEADS, scale, &mut ctx).unwrap();
        check(
            &ctx,
            &a("attn_context"),
            2e-6,
            &format!("layer {layer} attention"),
        );
        let chunks = [
            AttnSeq {
                token_start: 0,
                n_tokens: 12,
                ctx_len: 12,
                block_table: table,
            },
            AttnSeq {
                token_start: 12,
                n_tokens: 7,
                ctx_len: S,
                block_table: table,
            },
        ];
        let mut ctx2 = vec![0.0; S * HEADS * HEAD_DIM];
        for c in &chunks {
            paged_attention(
                &pool,
                &qs,
                &cache,
                &layout,
                std::slice::from_ref(c),
                HEADS,
                scale,
                &mut ctx2,
            )
            .unwrap();
        }
        check(
            &ctx2,
            &a("attn_context"),
            2e-6,
            &format!("layer {layer} chunked attention"),
        );

        let o = mm(
            &a("attn_context"),
            &format!("{p}self_attn.o_proj.weight"),
            HIDDEN,
            &mut scratch,
        );
        check(&o, &a("attn_out"), 2e-6, &format!("layer {layer} o_proj"));

        let h2 = a("post_attention_layernorm_out");
        let mut gate = mm(
            &h2,
            &format!("{p}mlp.gate_proj.weight"),
            INTER,
            &mut scratch,
        );
        let up = mm(&h2, &format!("{p}mlp.up_proj.weight"), INTER, &mut scratch);
        silu_mul(&mut gate, &up);
        let down = mm(
            &gate,
            &format!("{p}mlp.down_proj.weight"),
            HIDDEN,
            &mut scratch,
        );
        check(&down, &a("mlp_out"), 4e-6, &format!("layer {layer} mlp"));
    }
    let mut fin = vec![0.0; S * HIDDEN];
    rms_norm(
        &act("layer1.out"),
        &f32_of(&w["model.norm.weight"]),
        EPS,
        &mut fin,
    );
    check(&fin, &act("final_norm_out"), 4e-6, "final norm");
}
