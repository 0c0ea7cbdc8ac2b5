//! Greedy outputs through the engine: equal to the fixture references, and identical whatever
//! else is in the batch (concurrent requests, prefixes from the cache, preemption).

use std::sync::Arc;

use engine::{EngineConfig, FinishReason};
use models::Model;
use tokenizer::Tokenizer;

use crate::support::{
    collect, config, greedy, prompts, run, smollm, tiny, tiny_greedy_fixtures, wait_idle,
};

#[test]
fn tiny_greedy_equals_the_fixture_references_when_batched() {
    let (model, tok) = tiny();
    let h = engine::spawn(model, tok, config(256, 16, 512)).unwrap();
    let fixtures = tiny_greedy_fixtures();
    assert_eq!(fixtures.len(), 4);
    // All four prompts at once: they share steps (the 332-token one in chunks).
    let streams: Vec<_> = fixtures
        .iter()
        .map(|(_, ids, _)| {
            let mut req = greedy(ids.clone(), 32);
            req.ignore_eos = true; // the references run 32 steps with no EOS stop
            h.submit(req).unwrap()
        })
        .collect();
    for ((name, ids, want), s) in fixtures.iter().zip(streams) {
        let c = collect(s);
        assert_eq!(c.len(), 1);
        assert_eq!(
            &c[0].tokens, want,
            "{name}: greedy ids differ from expected.json"
        );
        assert_eq!(c[0].reason, Some(FinishReason::Length));
        assert_eq!(c[0].usage.prompt_tokens, ids.len());
        assert_eq!(c[0].usage.completion_tokens, 32);
    }
}

/// Every prompt run alone, one at a time, with the prefix cache off.
fn alone(
    load: fn() -> (Box<dyn Model>, Arc<Tokenizer>),
    ps: &[Vec<u32>],
    max_tokens: usize,
) -> Vec<Vec<u32>> {
    let (model, tok) = load();
    let mut cfg = config(256, 16, 256);
    cfg.scheduler.enable_prefix_cache = false;
    let h = engine::spawn(model, tok, cfg).unwrap();
    ps.iter()
        .map(|p| run(&h, greedy(p.clone(), max_tokens)).remove(0).tokens)
        .collect()
}

/// Every prompt at once on a fresh engine with `cfg` (after the first one alone when
/// `first_alone`, so that the others find its blocks in the prefix cache); returns the outputs
/// and the stats once idle.
fn together(
    load: fn() -> (Box<dyn Model>, Arc<Tokenizer>),
    ps: &[Vec<u32>],
    max_tokens: usize,
    cfg: EngineConfig,
    first_alone: bool,
) -> (Vec<Vec<u32>>, engine::EngineStats) {
    let (model, tok) = load();
    let h = engine::spawn(model, tok, cfg).unwrap();
    let mut out = Vec::new();
    let mut rest = ps;
    if first_alone {
        out.push(run(&h, greedy(ps[0].clone(), max_tokens)).remove(0).tokens);
        rest = &ps[1..];
    }
    let streams: Vec<_> = rest
        .iter()
        .map(|p| h.submit(greedy(p.clone(), max_tokens)).unwrap())
        .collect();
    out.extend(streams.into_iter().map(|s| collect(s).remove(0).tokens));
    (out, wait_idle(&h))
}

/// Prompts made with the model's tokenizer.
fn prompts_for(
    load: fn() -> (Box<dyn Model>, Arc<Tokenizer>),
    f: impl Fn(&Tokenizer) -> Vec<Vec<u32>>,
) -> Vec<Vec<u32>> {
    // Loading is cheap (weights are mapped); only the tokenizer is used.
    f(&load().1)
}

/// A system prompt of 2+ full blocks shared by 16 different user prompts.
fn with_system(t: &Tokenizer, system: &str) -> Vec<Vec<u32>> {
    let system = t.encode(system, false);
    assert!(
        system.len() >= 32,
        "system prompt of {} tokens",
        system.len()
    );
    prompts(t, 16)
        .into_iter()
        .map(|p| [system.clone(), p].concat())
        .collect()
}

fn assert_same(alone: &[Vec<u32>], together: &[Vec<u32>]) {
    assert_eq!(alone.len(), together.len());
    for (i, (a, t)) in alone.iter().zip(together).enumerate() {
        assert!(!a.is_empty());
        assert_eq!(
            a, t,
            "request {i}: batched output differs from running alone"
        );
    }
}

#[test]
fn tiny_sixteen_concurrent_equal_alone() {
    let ps = prompts_for(tiny, |t| prompts(t, 16));
    let want = alone(tiny, &ps, 16);
    let (got, stats) = together(tiny, &ps, 16, config(256, 16, 256), false);
    assert_same(&want, &got);
    // They did share steps: fewer forwards than the tokens generated.
    assert!(stats.steps < 16 * 16, "{} steps", stats.steps);
}

/// A shared system prompt of several blocks: the later requests take it from the prefix cache
/// (K/V computed in another request's batch) and still produce the same tokens.
#[test]
fn tiny_shared_system_prompt_from_the_cache_equals_alone() {
    let ps = prompts_for(tiny, |t| {
        with_system(
            t,
            "<|im_start|>system\nYou are a careful assistant. Answer briefly, in plain English, \
             and never invent facts you are not sure about. Cite your sources when you can.\
             <|im_end|>\n<|im_start|>user\n",
        )
    });
    let want = alone(tiny, &ps, 16);
    let (got, stats) = together(tiny, &ps, 16, config(256, 16, 256), true);
    assert_same(&want, &got);
    assert!(
        stats.prefix_hit_tokens >= 15 * 32,
        "15 requests should each find the system prompt's 2+ blocks: {stats:?}"
    );
}

/// A pool far too small for 16 requests at once: sequences are preempted and recomputed, and
/// the outputs do not change.
#[test]
fn tiny_preemption_keeps_outputs() {
    let ps = prompts_for(tiny, |t| prompts(t, 16));
    let want = alone(tiny, &ps, 24);
    // 16 requests of 9..25 prompt tokens + 24 generated need 2-3 blocks of 16 each (≥ 40
    // blocks together); the pool has 12.
    let mut cfg = config(12, 16, 256);
    cfg.scheduler.max_model_len = 12 * 16;
    let (got, stats) = together(tiny, &ps, 24, cfg, false);
    assert_same(&want, &got);
    assert!(stats.preemptions > 0, "no preemption happened: {stats:?}");
    assert_eq!(stats.finished.length + stats.finished.stop, 16);
}

/// SmolLM2 (real weights, Q4_1): 16 prompts sharing a system prompt, each run alone, equal the
/// same prompts run together (a) all at once, (b) with the system prompt from the prefix cache,
/// (c) through a pool so small that sequences are preempted and recomputed.
#[test]
fn smollm_batched_cached_and_preempted_equal_alone() {
    let ps = prompts_for(smollm, |t| {
        with_system(
            t,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by \
             Hugging Face. Answer in one short sentence, and be kind to the user.<|im_end|>\n\
             <|im_start|>user\n",
        )
    });
    let max_tokens = 10;
    let want = alone(smollm, &ps, max_tokens);

    let mut no_cache = config(256, 16, 256);
    no_cache.scheduler.enable_prefix_cache = false;
    let (got, stats) = together(smollm, &ps, max_tokens, no_cache, false);
    assert_same(&want, &got);
    assert!(
        stats.steps < 16 * max_tokens as u64,
        "{} steps",
        stats.steps
    );

    let (got, stats) = together(smollm, &ps, max_tokens, config(256, 16, 256), true);
    assert_same(&want, &got);
    assert!(stats.prefix_hit_tokens >= 15 * 32, "{stats:?}");

    // 16 × (~45 prompt + 10) tokens need ≥ 64 blocks of 16; the pool has 12.
    let mut tight = config(12, 16, 256);
    tight.scheduler.max_model_len = 12 * 16;
    let (got, stats) = together(smollm, &ps, max_tokens, tight, false);
    assert_same(&want, &got);
    assert!(stats.preemptions > 0, "no preemption happened: {stats:?}");
}
