//! Paged attention against naive causal attention (f64) over contiguous K/V; shuffled block
//! tables; batch invariance; identical results on every SIMD tier; input validation.

mod common;
use common::{assert_bits_eq, assert_close, Rng};
use tensor::{
    paged_attention, paged_attention_split, paged_attention_with_isa, write_kv, AttnSeq, Isa,
    KvDtype, KvLayout, PagedKvLayer, SplitMode, ThreadPool,
};

/// One sequence's data: K/V for positions 0..ctx_len (contiguous) and q for its new tokens.
struct SeqData {
    ctx_len: usize,
    n_new: usize,
    k: Vec<f32>, // [ctx_len, n_kv_heads, head_dim]
    v: Vec<f32>, // [ctx_len, n_kv_heads, head_dim]
    q: Vec<f32>, // [n_new, n_heads, head_dim]
    block_table: Vec<u32>,
}

/// Naive causal attention in f64: the new tokens sit at positions ctx_len - n_new ..
fn naive(s: &SeqData, n_heads: usize, n_kv: usize, hd: usize, scale: f32) -> Vec<f64> {
    let group = n_heads / n_kv;
    let mut out = vec![0.0; s.n_new * n_heads * hd];
    for t in 0..s.n_new {
        let pos = s.ctx_len - s.n_new + t;
        for h in 0..n_heads {
            let kvh = h / group;
            let q = &s.q[(t * n_heads + h) * hd..][..hd];
            let scores: Vec<f64> = (0..=pos)
                .map(|j| {
                    let k = &s.k[(j * n_kv + kvh) * hd..][..hd];
                    q.iter()
                        .zip(k)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum::<f64>()
                        * f64::from(scale)
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = e.iter().sum();
            for (j, p) in e.iter().enumerate() {
                let v = &s.v[(j * n_kv + kvh) * hd..][..hd];
                for d in 0..hd {
                    out[(t * n_heads + h) * hd + d] += p / sum * f64::from(v[d]);
                }
            }
        }
    }
    out
}

/// Builds sequences with random data, assigns them disjoint random (shuffled) blocks of a cache
/// that also holds garbage elsewhere, and writes their K/V through `write_kv`.
fn setup(
    rng: &mut Rng,
    layout: &KvLayout,
    n_heads: usize,
    shapes: &[(usize, usize)], // (ctx_len, n_new)
) -> (PagedKvLayer, Vec<SeqData>) {
    setup_as(rng, layout, n_heads, shapes, KvDtype::F32)
}

/// [`setup`] with the cache stored as `dtype` (`SeqData` keeps the unrounded f32 K/V).
fn setup_as(
    rng: &mut Rng,
    layout: &KvLayout,
    n_heads: usize,
    shapes: &[(usize, usize)], // (ctx_len, n_new)
    dtype: KvDtype,
) -> (PagedKvLayer, Vec<SeqData>) {
    let (bs, n_kv, hd) = (layout.block_size, layout.n_kv_heads, layout.head_dim);
    let mut layer = PagedKvLayer::with_dtype(layout, dtype).expect("layer");
    // Garbage everywhere: a block the table does not name must not be read.
    let n_slots = layout.num_blocks * bs;
    let all: Vec<u32> = (0..n_slots as u32).collect();
    let gk = rng.vec(n_slots * n_kv * hd, 100.0);
    let gv = rng.vec(n_slots * n_kv * hd, 100.0);
    write_kv(&mut layer, layout, &gk, &gv, &all).expect("garbage");
    let mut free: Vec<u32> = (0..layout.num_blocks as u32).collect();
    rng.shuffle(&mut free);
    let mut seqs = Vec::new();
    for &(ctx_len, n_new) in shapes {
        let n_blocks = ctx_len.div_ceil(bs);
        let block_table: Vec<u32> = free.drain(..n_blocks).collect();
        let k = rng.vec(ctx_len * n_kv * hd, 1.0);
        let v = rng.vec(ctx_len * n_kv * hd, 1.0);
        let q = rng.vec(n_new * n_heads * hd, 1.0);
        let slots: Vec<u32> = (0..ctx_len)
            .map(|p| block_table[p / bs] * bs as u32 + (p % bs) as u32)
            .collect();
        write_kv(&mut layer, layout, &k, &v, &slots).expect("write_kv");
        seqs.push(SeqData {
            ctx_len,
            n_new,
            k,
            v,
            q,
            block_table,
        });
    }
    (layer, seqs)
}

/// Runs attention for `order` (indices into `seqs`) as one batch; returns each sequence's output.
#[allow(clippy::too_many_arguments)]
fn run_batch(
    isa: Isa,
    pool: &ThreadPool,
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[SeqData],
    order: &[usize],
    n_heads: usize,
    scale: f32,
) -> Vec<Vec<f32>> {
    let hd = layout.head_dim;
    let row = n_heads * hd;
    let mut q = Vec::new();
    let mut attn = Vec::new();
    for &i in order {
        attn.push(AttnSeq {
            token_start: q.len() / row,
            n_tokens: seqs[i].n_new,
            ctx_len: seqs[i].ctx_len,
            block_table: &seqs[i].block_table,
        });
        q.extend_from_slice(&seqs[i].q);
    }
    let mut out = vec![f32::NAN; q.len()];
    paged_attention_with_isa(
        isa, pool, &q, layer, layout, &attn, n_heads, scale, &mut out,
    )
    .expect("attention");
    attn.iter()
        .map(|a| out[a.token_start * row..(a.token_start + a.n_tokens) * row].to_vec())
        .collect()
}

#[test]
fn paged_attention_matches_naive_causal_attention() {
    let mut rng = Rng::new(20);
    let pool = ThreadPool::new(2);
    // (block_size, n_heads, n_kv_heads, head_dim)
    for &(bs, n_heads, n_kv, hd) in &[
        (16, 4, 2, 32),
        (4, 8, 2, 64),
        (1, 2, 2, 16),
        (32, 16, 4, 128),
        (7, 3, 1, 100),
        (16, 2, 1, 8),
    ] {
        let layout = KvLayout {
            num_blocks: 64,
            block_size: bs,
            n_kv_heads: n_kv,
            head_dim: hd,
        };
        // Prefill, chunked prefill, decode, a single token, a long one.
        let shapes: Vec<(usize, usize)> = [(19usize, 19usize), (40, 9), (33, 1), (1, 1), (90, 30)]
            .into_iter()
            .filter(|&(ctx, _)| ctx.div_ceil(bs) <= 64 / 5)
            .collect();
        let (layer, seqs) = setup(&mut rng, &layout, n_heads, &shapes);
        let scale = 1.0 / (hd as f32).sqrt();
        let order: Vec<usize> = (0..seqs.len()).collect();
        for isa in Isa::all_supported() {
            let outs = run_batch(isa, &pool, &layer, &layout, &seqs, &order, n_heads, scale);
            for (s, got) in seqs.iter().zip(&outs) {
                let want = naive(s, n_heads, n_kv, hd, scale);
                // Outputs are convex combinations of V (|v| ~ 1): f32 softmax/accumulation error.
                assert_close(
                    got,
                    &want,
                    1e-5,
                    2e-6,
                    &format!(
                        "bs={bs} heads={n_heads}/{n_kv} hd={hd} ctx={} new={} {isa:?}",
                        s.ctx_len, s.n_new
                    ),
                );
            }
        }
    }
}

#[test]
fn paged_attention_is_batch_invariant() {
    let mut rng = Rng::new(21);
    let layout = KvLayout {
        num_blocks: 128,
        block_size: 16,
        n_kv_heads: 2,
        head_dim: 72,
    };
    let n_heads = 8;
    let shapes = [(50, 50), (70, 1), (33, 5), (100, 1), (17, 17), (260, 3)];
    let (layer, seqs) = setup(&mut rng, &layout, n_heads, &shapes);
    let scale = 0.125;
    let pools = [ThreadPool::new(1), ThreadPool::new(2), ThreadPool::new(3)];
    for isa in Isa::all_supported() {
        // Each sequence alone, single-threaded, is the reference for this tier.
        let alone: Vec<Vec<f32>> = (0..seqs.len())
            .map(|i| {
                run_batch(isa, &pools[0], &layer, &layout, &seqs, &[i], n_heads, scale).remove(0)
            })
            .collect();
        for pool in &pools {
            for _ in 0..4 {
                let mut order: Vec<usize> = (0..seqs.len()).collect();
                rng.shuffle(&mut order);
                order.truncate(1 + rng.below(seqs.len()));
                let outs = run_batch(isa, pool, &layer, &layout, &seqs, &order, n_heads, scale);
                for (&i, got) in order.iter().zip(&outs) {
                    assert_bits_eq(
                        got,
                        &alone[i],
                        &format!(
                            "seq {i} in batch {order:?} {isa:?} threads {}",
                            pool.n_threads()
                        ),
                    );
                }
            }
        }
    }
}

#[test]
fn a_token_gets_the_same_output_in_a_prefill_chunk_and_as_a_decode_step() {
    // A prefill chunk gives each task up to 64 query rows (K/V tiles packed first); a decode
    // step a handful (tiles read in place). The last token's output must not depend on which.
    let mut rng = Rng::new(8);
    for (n_kv, n_heads, hd) in [(2, 8, 64), (3, 9, 64), (1, 4, 128)] {
        let layout = KvLayout {
            num_blocks: 64,
            block_size: 16,
            n_kv_heads: n_kv,
            head_dim: hd,
        };
        for ctx in [150, 700] {
            let (layer, mut seqs) = setup(&mut rng, &layout, n_heads, &[(ctx, ctx)]);
            let row = n_heads * hd;
            let last_q = seqs[0].q[(ctx - 1) * row..].to_vec();
            let pool = ThreadPool::new(2);
            for isa in Isa::all_supported() {
                let prefill = run_batch(isa, &pool, &layer, &layout, &seqs, &[0], n_heads, 0.1);
                let full = seqs[0].q.clone();
                (seqs[0].q, seqs[0].n_new) = (last_q.clone(), 1);
                let decode = run_batch(isa, &pool, &layer, &layout, &seqs, &[0], n_heads, 0.1);
                (seqs[0].q, seqs[0].n_new) = (full, ctx);
                assert_bits_eq(
                    &decode[0],
                    &prefill[0][(ctx - 1) * row..],
                    &format!("{isa:?} n_kv {n_kv} heads {n_heads} hd {hd} ctx {ctx}"),
                );
            }
        }
    }
}

#[test]
fn rows_outside_every_sequence_are_untouched() {
    let mut rng = Rng::new(22);
    let layout = KvLayout {
        num_blocks: 4,
        block_size: 8,
        n_kv_heads: 1,
        head_dim: 16,
    };
    let (layer, seqs) = setup(&mut rng, &layout, 2, &[(5, 2)]);
    let row = 2 * 16;
    let mut q = vec![0.0; 4 * row];
    q[row..3 * row].copy_from_slice(&seqs[0].q);
    let mut out = vec![7.0; 4 * row];
    let a = [AttnSeq {
        token_start: 1,
        n_tokens: 2,
        ctx_len: 5,
        block_table: &seqs[0].block_table,
    }];
    paged_attention(
        &ThreadPool::new(2),
        &q,
        &layer,
        &layout,
        &a,
        2,
        0.25,
        &mut out,
    )
    .expect("attention");
    assert!(out[..row].iter().chain(&out[3 * row..]).all(|&v| v == 7.0));
    assert!(out[row..3 * row].iter().all(|&v| v != 7.0));
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let layout = KvLayout {
        num_blocks: 4,
        block_size: 4,
        n_kv_heads: 2,
        head_dim: 8,
    };
    let mut layer = PagedKvLayer::new(&layout).expect("layer");
    let pool = ThreadPool::new(2);
    let (n_heads, row) = (4, 32);
    let q = vec![0.5; 3 * row];
    let mut out = vec![0.0; 3 * row];
    let table = [3u32, 1];
    let ok = AttnSeq {
        token_start: 0,
        n_tokens: 3,
        ctx_len: 7,
        block_table: &table,
    };
    paged_attention(&pool, &q, &layer, &layout, &[ok], n_heads, 1.0, &mut out)
        .expect("valid input");

    let cases: Vec<(&str, Vec<AttnSeq>, usize)> = vec![
        (
            "table too short",
            vec![AttnSeq { ctx_len: 9, ..ok }],
            n_heads,
        ),
        (
            "block id out of range",
            vec![AttnSeq {
                block_table: &[3, 4],
                ..ok
            }],
            n_heads,
        ),
        (
            "more new tokens than ctx",
            vec![AttnSeq {
                n_tokens: 3,
                ctx_len: 2,
                ..ok
            }],
            n_heads,
        ),
        (
            "rows beyond q",
            vec![AttnSeq {
                token_start: 2,
                n_tokens: 2,
                ..ok
            }],
            n_heads,
        ),
        (
            "overlapping rows",
            vec![
                AttnSeq { n_tokens: 2, ..ok },
                AttnSeq {
                    token_start: 1,
                    n_tokens: 2,
                    ..ok
                },
            ],
            n_heads,
        ),
        (
            "overlapping rows, unsorted",
            vec![
                AttnSeq {
                    token_start: 2,
                    n_tokens: 1,
                    ..ok
                },
                AttnSeq {
                    token_start: 0,
                    n_tokens: 3,
                    ..ok
                },
            ],
            n_heads,
        ),
        ("heads not a multiple of kv heads", vec![ok], 3),
        ("zero heads", vec![ok], 0),
    ];
    for (what, seqs, heads) in cases {
        let r = paged_attention(&pool, &q, &layer, &layout, &seqs, heads, 1.0, &mut out);
        assert!(r.is_err(), "{what}: expected an error");
    }
    assert!(
        paged_attention(
            &pool,
            &q[..row + 1],
            &layer,
            &layout,
            &[],
            n_heads,
            1.0,
            &mut out[..row + 1]
        )
        .is_err(),
        "q not whole rows"
    );
    assert!(
        paged_attention(
            &pool,
            &q,
            &layer,
            &layout,
            &[],
            n_heads,
            1.0,
            &mut out[..row]
        )
        .is_err(),
        "out size"
    );
    let bad_layout = KvLayout {
        num_blocks: 5,
        ..layout
    };
    assert!(
        paged_attention(
            &pool,
            &q,
            &layer,
            &bad_layout,
            &[ok],
            n_heads,
            1.0,
            &mut out
        )
        .is_err(),
        "layer/layout mismatch"
    );

    // write_kv: bad slot (checked before anything is written), bad lengths.
    let kv = vec![1.0; 2 * 16];
    let before = layer.k.clone();
    let err = write_kv(&mut layer, &layout, &kv, &kv, &[3, 16]).expect_err("slot 16 of 16");
    assert!(
        matches!(
            err,
            tensor::Error::SlotOutOfRange {
                index: 1,
                slot: 16,
                n_slots: 16
            }
        ),
        "{err}"
    );
    assert_eq!(layer.k, before, "nothing written on error");
    assert!(write_kv(&mut layer, &layout, &kv, &kv, &[u32::MAX, 0]).is_err());
    assert!(write_kv(&mut layer, &layout, &kv[..16], &kv, &[0, 1]).is_err());
    write_kv(&mut layer, &layout, &kv, &kv, &[15, 0]).expect("valid slots");
    assert!(KvLayout {
        num_blocks: 0,
        ..layout
    }
    .layer_len()
    .is_err());
    assert!(PagedKvLayer::new(&KvLayout {
        head_dim: usize::MAX,
        ..layout
    })
    .is_err());
}

#[test]
fn copy_block_copies_k_and_v() {
    let mut rng = Rng::new(23);
    let layout = KvLayout {
        num_blocks: 3,
        block_size: 2,
        n_kv_heads: 1,
        head_dim: 4,
    };
    let mut layer = PagedKvLayer::new(&layout).expect("layer");
    let k = rng.vec(2 * 4, 1.0);
    let v = rng.vec(2 * 4, 1.0);
    write_kv(&mut layer, &layout, &k, &v, &[2, 3]).expect("write");
    layer.copy_block(&layout, 1, 2).expect("copy");
    assert_eq!(&layer.k.to_f32_vec()[16..24], &k[..]);
    assert_eq!(&layer.v.to_f32_vec()[16..24], &v[..]);
    assert!(layer.copy_block(&layout, 1, 3).is_err());
}

#[test]
fn speed_sanity_no_asserts() {
    let mut rng = Rng::new(24);
    let layout = KvLayout {
        num_blocks: 300,
        block_size: 16,
        n_kv_heads: 8,
        head_dim: 128,
    };
    let n_heads = 16;
    let (layer, seqs) = setup(&mut rng, &layout, n_heads, &[(4096, 1), (512, 512)]);
    let pool = ThreadPool::with_available_parallelism();
    for (i, what) in [(0usize, "decode ctx 4096"), (1, "prefill 512")] {
        let t = std::time::Instant::now();
        let reps = 5;
        for _ in 0..reps {
            run_batch(
                Isa::detect(),
                &pool,
                &layer,
                &layout,
                &seqs,
                &[i],
                n_heads,
                0.088,
            );
        }
        eprintln!(
            "attention {what}, 16/8 heads x 128: {:.0} µs",
            t.elapsed().as_secs_f64() * 1e6 / reps as f64
        );
    }
}

/// Runs `order` as one batch with an explicit split mode.
#[allow(clippy::too_many_arguments)]
fn run_batch_split(
    isa: Isa,
    mode: SplitMode,
    pool: &ThreadPool,
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[SeqData],
    order: &[usize],
    n_heads: usize,
    scale: f32,
) -> Vec<Vec<f32>> {
    let row = n_heads * layout.head_dim;
    let mut q = Vec::new();
    let mut attn = Vec::new();
    for &i in order {
        attn.push(AttnSeq {
            token_start: q.len() / row,
            n_tokens: seqs[i].n_new,
            ctx_len: seqs[i].ctx_len,
            block_table: &seqs[i].block_table,
        });
        q.extend_from_slice(&seqs[i].q);
    }
    let mut out = vec![f32::NAN; q.len()];
    paged_attention_split(
        isa, mode, pool, &q, layer, layout, &attn, n_heads, scale, &mut out,
    )
    .expect("attention");
    attn.iter()
        .map(|a| out[a.token_start * row..(a.token_start + a.n_tokens) * row].to_vec())
        .collect()
}

/// `x` rounded to `dtype` and widened back (the scalar reference rounding, `half`).
fn round_to(dtype: KvDtype, x: f32) -> f32 {
    match dtype {
        KvDtype::F32 => x,
        KvDtype::F16 => half::f16::from_f32(x).to_f32(),
        KvDtype::Bf16 => half::bf16::from_f32(x).to_f32(),
    }
}

#[test]
fn f16_and_bf16_caches_match_the_reference_within_their_rounding() {
    let mut rng = Rng::new(31);
    let pool = ThreadPool::new(2);
    // (block_size, n_heads, n_kv_heads, head_dim)
    for &(bs, n_heads, n_kv, hd) in &[
        (16, 9, 3, 64),
        (16, 16, 8, 128),
        (7, 3, 1, 100),
        (4, 4, 2, 24),
    ] {
        let layout = KvLayout {
            num_blocks: 160,
            block_size: bs,
            n_kv_heads: n_kv,
            head_dim: hd,
        };
        let shapes = [(19usize, 19usize), (600, 1), (300, 7), (1, 1)];
        let shapes: Vec<_> = shapes
            .into_iter()
            .filter(|&(c, _)| c.div_ceil(bs) <= 160 / 4)
            .collect();
        let scale = 1.0 / (hd as f32).sqrt();
        for (dtype, u) in [
            (KvDtype::F16, 2f64.powi(-11)),
            (KvDtype::Bf16, 2f64.powi(-8)),
        ] {
            let (layer, seqs) = setup_as(&mut rng, &layout, n_heads, &shapes, dtype);
            let order: Vec<usize> = (0..seqs.len()).collect();
            for isa in Isa::all_supported() {
                let outs = run_batch(isa, &pool, &layer, &layout, &seqs, &order, n_heads, scale);
                for (s, got) in seqs.iter().zip(&outs) {
                    let what = format!(
                        "{dtype} bs={bs} heads={n_heads}/{n_kv} hd={hd} ctx={} new={} {isa:?}",
                        s.ctx_len, s.n_new
                    );
                    // 1. Against the exact attention of the values the cache holds (K/V rounded
                    //    by the scalar reference): only f32 arithmetic error, as for an f32 cache.
                    let rounded = SeqData {
                        k: s.k.iter().map(|&x| round_to(dtype, x)).collect(),
                        v: s.v.iter().map(|&x| round_to(dtype, x)).collect(),
                        q: s.q.clone(),
                        block_table: s.block_table.clone(),
                        ..*s
                    };
                    let exact = naive(&rounded, n_heads, n_kv, hd, scale);
                    assert_close(got, &exact, 1e-5, 2e-6, &format!("{what} (rounded K/V)"));
                    // 2. Against the f32 K/V: |k' − k| <= u|k| + 2^-25 (f16 subnormals) moves
                    //    each score by at most δ = scale·Σ_d |q_d|(u|k_d| + 2^-25), so each
                    //    weight by a factor within e^(±2δ); then
                    //    |Δout| <= (e^(2δ) − 1)·max|v'| + u·max|v| + 2^-25 (+ f32 error).
                    let want = naive(s, n_heads, n_kv, hd, scale);
                    let group = n_heads / n_kv;
                    for t in 0..s.n_new {
                        let pos = s.ctx_len - s.n_new + t;
                        for h in 0..n_heads {
                            let kvh = h / group;
                            let q = &s.q[(t * n_heads + h) * hd..][..hd];
                            let (mut delta, mut vmax) = (0f64, 0f64);
                            for j in 0..=pos {
                                let k = &s.k[(j * n_kv + kvh) * hd..][..hd];
                                let d: f64 = q
                                    .iter()
                                    .zip(k)
                                    .map(|(&a, &b)| {
                                        f64::from(a).abs() * (u * f64::from(b).abs() + 3e-8)
                                    })
                                    .sum();
                                delta = delta.max(d * f64::from(scale));
                                let v = &s.v[(j * n_kv + kvh) * hd..][..hd];
                                vmax = v.iter().fold(vmax, |m, &x| m.max(f64::from(x).abs()));
                            }
                            let bound =
                                ((2.0 * delta).exp() - 1.0) * vmax * (1.0 + u) + u * vmax + 3e-8;
                            for d in 0..hd {
                                let i = (t * n_heads + h) * hd + d;
                                let err = (f64::from(got[i]) - want[i]).abs();
                                let tol = bound + 1e-5 * want[i].abs() + 2e-6;
                                assert!(
                                    err <= tol,
                                    "{what}: token {t} head {h} dim {d}: {} vs f32 {} (err {err:.3e} > bound {tol:.3e})",
                                    got[i],
                                    want[i]
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn split_kv_equals_unsplit_bit_for_bit_and_matches_the_reference() {
    let mut rng = Rng::new(32);
    let pools = [ThreadPool::new(1), ThreadPool::new(2), ThreadPool::new(3)];
    for &(bs, n_heads, n_kv, hd) in &[(16, 9, 3, 64), (16, 16, 8, 128), (7, 3, 1, 100)] {
        let layout = KvLayout {
            num_blocks: 600,
            block_size: bs,
            n_kv_heads: n_kv,
            head_dim: hd,
        };
        // Decodes and short prefills at contexts of one to eight partitions, and a prefill chunk
        // whose rows span a partition boundary.
        let shapes = [(2048usize, 1usize), (700, 3), (513, 1), (300, 40), (100, 1)];
        let scale = 1.0 / (hd as f32).sqrt();
        for dtype in [KvDtype::F32, KvDtype::F16, KvDtype::Bf16] {
            let (layer, seqs) = setup_as(&mut rng, &layout, n_heads, &shapes, dtype);
            for isa in Isa::all_supported() {
                let reference: Vec<Vec<f32>> = (0..seqs.len())
                    .map(|i| {
                        run_batch_split(
                            isa,
                            SplitMode::Never,
                            &pools[0],
                            &layer,
                            &layout,
                            &seqs,
                            &[i],
                            n_heads,
                            scale,
                        )
                        .remove(0)
                    })
                    .collect();
                if dtype == KvDtype::F32 {
                    for (s, got) in seqs.iter().zip(&reference) {
                        let want = naive(s, n_heads, n_kv, hd, scale);
                        assert_close(
                            got,
                            &want,
                            1e-5,
                            2e-6,
                            &format!("hd={hd} ctx={} new={} {isa:?}", s.ctx_len, s.n_new),
                        );
                    }
                }
                for pool in &pools {
                    for mode in [SplitMode::Never, SplitMode::Always, SplitMode::Auto] {
                        // Each sequence alone, then all together in a shuffled batch.
                        let mut orders: Vec<Vec<usize>> =
                            (0..seqs.len()).map(|i| vec![i]).collect();
                        let mut all: Vec<usize> = (0..seqs.len()).collect();
                        rng.shuffle(&mut all);
                        orders.push(all);
                        for order in &orders {
                            let outs = run_batch_split(
                                isa, mode, pool, &layer, &layout, &seqs, order, n_heads, scale,
                            );
                            for (&i, got) in order.iter().zip(&outs) {
                                assert_bits_eq(
                                    got,
                                    &reference[i],
                                    &format!(
                                        "{dtype} hd={hd} seq {i} in {order:?} {mode:?} {isa:?} threads {}",
                                        pool.n_threads()
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn a_long_decode_is_the_same_alone_split_and_among_sixteen_unsplit() {
    // Alone on two threads the long sequence's partitions run as separate tasks; among fifteen
    // other decodes there are enough tasks and they do not. The bits must not change.
    let mut rng = Rng::new(33);
    let layout = KvLayout {
        num_blocks: 1200,
        block_size: 16,
        n_kv_heads: 3,
        head_dim: 64,
    };
    let n_heads = 9;
    let mut shapes = vec![(4096usize, 1usize)];
    shapes.extend((0..15).map(|i| (200 + 40 * i, 1)));
    let pool = ThreadPool::new(2);
    for dtype in [KvDtype::F32, KvDtype::F16] {
        let (layer, seqs) = setup_as(&mut rng, &layout, n_heads, &shapes, dtype);
        let all: Vec<usize> = (0..16).collect();
        for isa in Isa::all_supported() {
            let alone = run_batch(isa, &pool, &layer, &layout, &seqs, &[0], n_heads, 0.125);
            let batch = run_batch(isa, &pool, &layer, &layout, &seqs, &all, n_heads, 0.125);
            assert_bits_eq(&batch[0], &alone[0], &format!("{dtype} {isa:?}"));
        }
    }
}
