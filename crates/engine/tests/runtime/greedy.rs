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

/// Runs every prompt alone (one at a time, prefix cache off), then all at once with `cfg`;
/// returns (alone, together, stats after together).
fn alone_and_together(
    load: fn() -> (Box<dyn Model>, Arc<Tokenizer>),
    prompts_of: impl Fn(&Tokenizer) -> Vec<Vec<u32>>,
    max_tokens: usize,
    together_cfg: EngineConfig,
    first_alone: bool,
) -> (Vec<Vec<u32>>, Vec<Vec<u32>>, engine::EngineStats) {
    let (model, tok) = load();
    let ps = prompts_of(&tok);
    let mut alone_cfg = config(256, 16, 256);
    alone_cfg.scheduler.enable_prefix_cache = false;
    let h = engine::spawn(model, Arc::clone(&tok), alone_cfg).unwrap();
    let alone: Vec<Vec<u32>> = ps
        .iter()
        .map(|p| run(&h, greedy(p.clone(), max_tokens)).remove(0).tokens)
        .collect();
    h.shutdown(std::time::Instant::now());
    h.join();

    let (model, _) = load();
    let h = engine::spawn(model, tok, together_cfg).unwrap();
    let mut together = Vec::new();
    let mut rest = &ps[..];
    if first_alone {
        // The first request fills the prefix cache before the others arrive.
        together.push(run(&h, greedy(ps[0].clone(), max_tokens)).remove(0).tokens);
        rest = &ps[1..];
    }
    let streams: Vec<_> = rest
        .iter()
        .map(|p| h.submit(greedy(p.clone(), max_tokens)).unwrap())
        .collect();
    together.extend(streams.into_iter().map(|s| collect(s).remove(0).tokens));
    let stats = wait_idle(&h);
    (alone, together, stats)
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
    let (alone, together, stats) =
        alone_and_together(tiny, |t| prompts(t, 16), 16, config(256, 16, 256), false);
    assert_same(&alone, &together);
    // They did share steps: fewer forwards than the tokens generated.
    assert!(stats.steps < 16 * 16, "{} steps", stats.steps);
}

#[test]
fn smollm_sixteen_concurrent_equal_alone() {
    let (alone, together, stats) =
        alone_and_together(smollm, |t| prompts(t, 16), 12, config(256, 16, 256), false);
    assert_same(&alone, &together);
    assert!(stats.steps < 16 * 12, "{} steps", stats.steps);
}

/// A shared system prompt of several blocks: the later requests take it from the prefix cache
/// (K/V computed in another request's batch) and still produce the same tokens.
#[test]
fn tiny_shared_system_prompt_from_the_cache_equals_alone() {
    let with_system = |t: &Tokenizer| -> Vec<Vec<u32>> {
        let system = t.encode(
            "<|im_start|>system\nYou are a careful assistant. Answer briefly, in plain English, \
             and never invent facts you are not sure about. Cite your sources when you can.<|im_end|>\n<|im_start|>user\n",
            false,
        );
        assert!(
            system.len() >= 32,
            "system prompt of {} tokens",
            system.len()
        );
        prompts(t, 16)
            .into_iter()
            .map(|p| [system.clone(), p].concat())
            .collect()
    };
    let (alone, together, stats) =
        alone_and_together(tiny, with_system, 16, config(256, 16, 256), true);
    assert_same(&alone, &together);
    assert!(
        stats.prefix_hit_tokens >= 15 * 32,
        "15 requests should each find the system prompt's 2+ blocks: {stats:?}"
    );
}

#[test]
fn smollm_shared_system_prompt_from_the_cache_equals_alone() {
    let with_system = |t: &Tokenizer| -> Vec<Vec<u32>> {
        let system = t.encode(
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by \
             Hugging Face. Answer in one short sentence, and be kind to the user.<|im_end|>\n<|im_start|>user\n",
            false,
        );
        assert!(
            system.len() >= 32,
            "system prompt of {} tokens",
            system.len()
        );
        prompts(t, 16)
            .into_iter()
            .map(|p| [system.clone(), p].concat())
            .collect()
    };
    let (alone, together, stats) =
        alone_and_together(smollm, with_system, 8, config(256, 16, 256), true);
    assert_same(&alone, &together);
    assert!(stats.prefix_hit_tokens >= 15 * 32, "{stats:?}");
}

/// A pool far too small for 16 requests at once: sequences are preempted and recomputed, and
/// the outputs do not change.
#[test]
fn tiny_preemption_keeps_outputs() {
    // 16 requests of ~10-20 prompt tokens + 24 generated need 2-3 blocks of 16 each (≥ 40
    // blocks together); the pool has 12.
    let mut cfg = config(12, 16, 256);
    cfg.scheduler.max_model_len = 12 * 16;
    let (alone, together, stats) = alone_and_together(tiny, |t| prompts(t, 16), 24, cfg, false);
    assert_same(&alone, &together);
    assert!(stats.preemptions > 0, "no preemption happened: {stats:?}");
    assert_eq!(stats.finished.length + stats.finished.stop, 16);
}

#[test]
fn smollm_preemption_keeps_outputs() {
    let mut cfg = config(10, 16, 256);
    cfg.scheduler.max_model_len = 10 * 16;
    let (alone, together, stats) = alone_and_together(smollm, |t| prompts(t, 16), 20, cfg, false);
    assert_same(&alone, &together);
    assert!(stats.preemptions > 0, "no preemption happened: {stats:?}");
}
