//! Aborts: a dropped (or aborted) stream stops its request at the next step boundary, in
//! prefill as in decode, and its KV blocks are freed. With the prefix cache on, what stays
//! used is exactly the blocks the cache alone holds (`kv_blocks_used == kv_blocks_cached_only`);
//! with it off, nothing stays used.

use engine::Event;

use crate::support::{config, greedy, next_event, tiny, wait_stats, Gated};
use std::time::Duration;

/// A 100-token prompt under a 16-token budget: prefill takes 7 steps. The stream is dropped
/// while step 2 runs; step 3 never comes.
fn abort_in_prefill(prefix_cache: bool) {
    let (model, tok) = tiny();
    let (model, gate) = Gated::wrap(model);
    let mut cfg = config(64, 16, 16);
    cfg.scheduler.max_running = 4;
    cfg.scheduler.enable_prefix_cache = prefix_cache;
    let h = engine::spawn(model, tok.clone(), cfg).unwrap();
    let prompt: Vec<u32> =
        tok.encode(&"Abort me while you read this. ".repeat(20), false)[..100].to_vec();
    let s = h.submit(greedy(prompt, 8)).unwrap();
    assert_eq!(gate.step(), 16);
    assert_eq!(gate.wait_entered(), 16); // step 2 is inside the forward
    drop(s);
    gate.permit();
    let st = wait_stats(&h, "the abort", |s| {
        s.finished.abort == 1 && s.running == 0 && s.waiting == 0
    });
    assert_eq!(st.steps, 2, "no step after the abort");
    assert_eq!(st.prompt_tokens_computed, 32);
    assert_eq!(st.generation_tokens, 0);
    if prefix_cache {
        // The two computed full blocks stay cached (for a later request), nothing else.
        assert_eq!(st.kv_blocks_cached, 2, "{st:?}");
        assert_eq!(st.kv_blocks_used, st.kv_blocks_cached_only, "{st:?}");
    } else {
        assert_eq!(st.kv_blocks_used, 0, "{st:?}");
    }
    assert_eq!(st.kv_blocks_free + st.kv_blocks_used, st.kv_blocks_total);
    assert!(
        gate.entered.try_recv().is_err(),
        "a forward started after the abort"
    );
}

#[test]
fn dropping_the_stream_in_prefill_frees_its_blocks() {
    abort_in_prefill(false);
}

#[test]
fn dropping_the_stream_in_prefill_keeps_only_cached_blocks() {
    abort_in_prefill(true);
}

/// Three tokens are read, then `abort()`; the step running then completes and the request
/// goes at the next boundary.
#[test]
fn aborting_in_decode_frees_its_blocks() {
    let (model, tok) = tiny();
    let (model, gate) = Gated::wrap(model);
    let h = engine::spawn(model, tok.clone(), config(64, 16, 64)).unwrap();
    let prompt = tok.encode(
        "Tell me a very long story about a lighthouse keeper.",
        false,
    );
    assert!(prompt.len() + 4 <= 16, "{} tokens", prompt.len());
    let mut req = greedy(prompt.clone(), 50);
    req.ignore_eos = true;
    let mut s = h.submit(req).unwrap();
    for i in 0..3 {
        gate.step();
        match next_event(&mut s, Duration::from_secs(60)) {
            Some(Event::Token { choice: 0, .. }) => {}
            other => panic!("event {i}: {other:?}"),
        }
    }
    assert_eq!(gate.wait_entered(), 1); // step 4 is inside the forward
    s.abort();
    gate.permit();
    let st = wait_stats(&h, "the abort", |s| {
        s.finished.abort == 1 && s.running == 0 && s.waiting == 0
    });
    assert_eq!(st.steps, 4);
    assert_eq!(st.generation_tokens, 4);
    // prompt + 3 decoded tokens computed: all in one partly filled block, which is freed.
    assert_eq!(st.kv_blocks_cached, 0);
    assert_eq!(st.kv_blocks_used, 0, "{st:?}");
    // Events sent before the abort can still be read; the stream then ends.
    let mut rest = Vec::new();
    while let Some(ev) = next_event(&mut s, Duration::from_secs(60)) {
        rest.push(ev);
    }
    assert!(rest.len() <= 1, "{rest:?}");
    assert!(
        gate.entered.try_recv().is_err(),
        "a forward started after the abort"
    );
}
