//! Which positions a request with prompt logprobs gets logits for (`prompt_logprob_rows`),
//! with the fake runner (tests/common): every prompt position but the last exactly once,
//! in chunks of at most `PROMPT_LOGPROBS_CHUNK`, never served from the prefix cache, and
//! after a preemption only the rows not computed yet.

mod common;

use common::{config, reference_output, tokens, Harness, STOP};
use engine::{NewRequest, RequestId, PROMPT_LOGPROBS_CHUNK};

fn add(h: &mut Harness, prompt: &[u32], max_tokens: usize, priority: i32) -> RequestId {
    let id = h
        .sched
        .add_request(NewRequest {
            prompt: prompt.to_vec(),
            max_tokens,
            priority,
            stop_token_ids: vec![STOP],
            prompt_logprobs: true,
        })
        .expect("added");
    h.runner.expected.insert(id, prompt.to_vec());
    id
}

/// Steps to the end; every position whose logits `id` got for prompt logprobs, in order.
fn rows_of(h: &mut Harness, id: RequestId) -> Vec<usize> {
    let mut rows = Vec::new();
    while h.sched.has_unfinished() {
        for s in h.step().scheduled.iter().filter(|s| s.id == id) {
            let r = &s.prompt_logprob_rows;
            assert!(
                r.start >= s.range.start && r.end <= s.range.end,
                "{r:?} in {:?}",
                s.range
            );
            assert!(s.range.len() <= PROMPT_LOGPROBS_CHUNK || r.is_empty());
            rows.extend(r.clone());
        }
    }
    rows
}

#[test]
fn every_prompt_position_but_the_last_once_in_chunks() {
    let mut h = Harness::new(config(512, 4, 128));
    let prompt = tokens(200, 150);
    let id = add(&mut h, &prompt, 5, 0);
    let first = h.step();
    assert_eq!(first.scheduled[0].range, 0..PROMPT_LOGPROBS_CHUNK);
    assert_eq!(
        first.scheduled[0].prompt_logprob_rows,
        0..PROMPT_LOGPROBS_CHUNK
    );
    let mut rows: Vec<usize> = first.scheduled[0].prompt_logprob_rows.clone().collect();
    rows.extend(rows_of(&mut h, id));
    assert_eq!(rows, (0..149).collect::<Vec<_>>());
    let (want, _) = reference_output(&prompt, 5, &[STOP], 0, 256);
    assert_eq!(h.output(id), want);
}

#[test]
fn the_prefix_cache_does_not_serve_them() {
    let mut h = Harness::new(config(512, 4, 128));
    let prompt = tokens(210, 40);
    let plain = h.add(&prompt, 3, 0);
    h.run_to_completion(100);
    let id = add(&mut h, &prompt, 3, 0);
    assert_eq!(rows_of(&mut h, id), (0..39).collect::<Vec<_>>());
    assert_eq!(h.done[&id].usage.cached_tokens, 0);
    assert_eq!(h.output(id), h.output(plain));
    // Without prompt logprobs the same prompt is served from the cache.
    let again = h.add(&prompt, 3, 0);
    h.run_to_completion(100);
    assert_eq!(h.done[&again].usage.cached_tokens, 36);
}

#[test]
fn a_preempted_request_resumes_its_rows() {
    // Budget 16 and one slot: the low-priority request is preempted mid-prompt by a more
    // important one, and later computes only the rows it had not.
    let mut cfg = config(16, 4, 64);
    cfg.max_running = 1;
    let mut h = Harness::new(cfg);
    let prompt = tokens(220, 40);
    let low = add(&mut h, &prompt, 3, 5);
    let mut rows = Vec::new();
    for _ in 0..2 {
        let out = h.step();
        rows.extend(out.scheduled[0].prompt_logprob_rows.clone());
    }
    assert_eq!(rows, (0..32).collect::<Vec<_>>());
    let high = h.add(&tokens(221, 6), 2, 0);
    let out = h.step();
    assert_eq!(out.preempted, vec![low]);
    rows.extend(rows_of(&mut h, low));
    assert_eq!(rows, (0..39).collect::<Vec<_>>());
    let (want, _) = reference_output(&prompt, 3, &[STOP], 0, 256);
    assert_eq!(h.output(low), want);
    assert!(h.done.contains_key(&high));
    // It came back from the cache up to the rows it had (32 tokens, 8 blocks).
    assert_eq!(h.sched.stats().prefix_hit_tokens, 32);
}
