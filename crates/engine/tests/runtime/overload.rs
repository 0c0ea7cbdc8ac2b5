//! Overload: far more demand than KV blocks still completes every request with the outputs of
//! an unconstrained run; a full waiting queue answers `QueueFull`.

use engine::{FinishReason, SubmitError};

use crate::support::{collect, config, greedy, prompts, run, tiny, wait_idle, Gated};

#[test]
fn sixty_four_requests_through_a_tiny_pool() {
    let (model, tok) = tiny();
    let ps = prompts(&tok, 64);
    let mut roomy = config(1024, 16, 2048);
    roomy.scheduler.enable_prefix_cache = false;
    let h = engine::spawn(model, tok.clone(), roomy).unwrap();
    let streams: Vec<_> = ps
        .iter()
        .map(|p| h.submit(greedy(p.clone(), 24)).unwrap())
        .collect();
    let want: Vec<Vec<u32>> = streams
        .into_iter()
        .map(|s| collect(s).remove(0).tokens)
        .collect();
    assert_eq!(wait_idle(&h).preemptions, 0);

    // 64 × (9..25 prompt + 24 generated) tokens need ≥ 128 blocks of 16 at once; the pool
    // has 12, and the budget admits at most 256 tokens per step.
    let (model, _) = tiny();
    let mut tight = config(12, 16, 256);
    tight.scheduler.max_model_len = 12 * 16;
    let h = engine::spawn(model, tok, tight).unwrap();
    let streams: Vec<_> = ps
        .iter()
        .map(|p| h.submit(greedy(p.clone(), 24)).unwrap())
        .collect();
    for (i, s) in streams.into_iter().enumerate() {
        let c = collect(s).remove(0);
        assert_eq!(c.tokens, want[i], "request {i}");
        assert_eq!(c.reason, Some(FinishReason::Length));
    }
    let st = wait_idle(&h);
    assert_eq!(st.finished.length, 64);
    assert!(st.preemptions > 0, "{st:?}");
    assert!(st.kv_blocks_used <= st.kv_blocks_cached_only);
}

#[test]
fn a_full_waiting_queue_answers_queue_full() {
    let (model, tok) = tiny();
    let (model, mut gate) = Gated::wrap(model);
    let mut cfg = config(64, 16, 64);
    cfg.scheduler.max_waiting = 4;
    cfg.scheduler.max_running = 2;
    let h = engine::spawn(model, tok.clone(), cfg).unwrap();
    let p = |i: usize| tok.encode(&format!("Request number {i} waits in line."), false);
    let first = h.submit(greedy(p(0), 4)).unwrap();
    gate.wait_entered(); // the first is admitted and its step is held in the forward
    let mut accepted = vec![first];
    for i in 1..=4 {
        accepted.push(
            h.submit(greedy(p(i), 4))
                .unwrap_or_else(|e| panic!("{i}: {e}")),
        );
    }
    assert_eq!(
        h.submit(greedy(p(5), 4)).err(),
        Some(SubmitError::QueueFull)
    );
    gate.open();
    for s in accepted {
        let c = collect(s).remove(0);
        assert_eq!(c.tokens.len(), 4);
    }
    wait_idle(&h);
    // Room again.
    assert_eq!(run(&h, greedy(p(6), 2)).remove(0).tokens.len(), 2);
}
