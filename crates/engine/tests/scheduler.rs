//! Scheduler behaviour with the fake runner (tests/common): every step the runner checks that
//! each scheduled token's attention context holds the request's own tokens, and outputs are
//! compared with the deterministic model run directly (`reference_output`).

mod common;

use common::{config, reference_output, tokens, Harness, STOP};
use engine::{
    AddError, Error, FinishReason, NewRequest, RequestEvent, RequestId, Scheduler, SchedulerConfig,
};

fn ranges(out: &engine::SchedulerOutput) -> Vec<(RequestId, std::ops::Range<usize>, bool)> {
    out.scheduled
        .iter()
        .map(|s| (s.id, s.range.clone(), s.needs_logits))
        .collect()
}

fn assert_reference(h: &Harness, id: RequestId, prompt: &[u32], max_tokens: usize, stop: &[u32]) {
    let max_model_len = h.sched.config().max_model_len;
    let (want, reason) = reference_output(prompt, max_tokens, stop, 0, max_model_len);
    let done = &h.done[&id];
    assert_eq!(done.output, want, "{id} output");
    assert_eq!(done.reason, reason, "{id} finish reason");
}

#[test]
fn chunked_prefill_under_a_small_budget() {
    let mut h = Harness::new(config(8, 4, 32));
    let prompt = tokens(1, 20);
    let a = h.add_with_stop(&prompt, 3, 0, vec![]);
    assert_eq!(ranges(&h.step()), vec![(a, 0..8, false)]);
    assert_eq!(ranges(&h.step()), vec![(a, 8..16, false)]);
    assert_eq!(ranges(&h.step()), vec![(a, 16..20, true)]);
    assert_eq!(ranges(&h.step()), vec![(a, 20..21, true)]);
    assert_eq!(ranges(&h.step()), vec![(a, 21..22, true)]);
    assert!(!h.sched.has_unfinished());
    assert_reference(&h, a, &prompt, 3, &[]);
    assert_eq!(h.done[&a].reason, FinishReason::Length);
    assert_eq!(h.done[&a].usage.completion_tokens, 3);
    assert_eq!(h.done[&a].usage.prompt_tokens, 20);
}

#[test]
fn decodes_are_scheduled_before_prefill_chunks() {
    let mut h = Harness::new(config(8, 4, 32));
    let pa = tokens(2, 4);
    let a = h.add_with_stop(&pa, 10, 0, vec![]);
    assert_eq!(ranges(&h.step()), vec![(a, 0..4, true)]);
    // B has a higher priority, but A decodes first; B's prefill gets what is left.
    let pb = tokens(3, 20);
    let b = h.add_with_stop(&pb, 2, -5, vec![]);
    assert_eq!(ranges(&h.step()), vec![(a, 4..5, true), (b, 0..7, false)]);
    assert_eq!(ranges(&h.step()), vec![(a, 5..6, true), (b, 7..14, false)]);
    assert_eq!(ranges(&h.step()), vec![(a, 6..7, true), (b, 14..20, true)]);
    h.run_to_completion(100);
    assert_reference(&h, a, &pa, 10, &[]);
    assert_reference(&h, b, &pb, 2, &[]);
}

#[test]
fn max_running_limits_admission() {
    let mut cfg = config(64, 4, 64);
    cfg.max_running = 2;
    let mut h = Harness::new(cfg);
    let prompts: Vec<Vec<u32>> = (0..3).map(|i| tokens(10 + i, 6)).collect();
    let ids: Vec<RequestId> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| h.add_with_stop(p, 3 + 2 * i, 0, vec![]))
        .collect();
    let out = h.step();
    assert_eq!(
        ranges(&out),
        vec![(ids[0], 0..6, true), (ids[1], 0..6, true)]
    );
    assert_eq!((h.sched.num_running(), h.sched.num_waiting()), (2, 1));
    let mut third_started = None;
    while h.sched.has_unfinished() {
        assert!(h.sched.num_running() <= 2);
        let out = h.step();
        assert!(out.scheduled.len() <= 2, "{out}");
        if third_started.is_none() && out.scheduled.iter().any(|s| s.id == ids[2]) {
            third_started = Some(h.steps);
            assert!(
                h.done.contains_key(&ids[0]),
                "the third starts once the first finished"
            );
        }
    }
    for (i, p) in prompts.iter().enumerate() {
        assert_reference(&h, ids[i], p, 3 + 2 * i, &[]);
    }
}

#[test]
fn add_request_rejects_full_queue_and_impossible_requests() {
    let mut cfg = config(64, 4, 16);
    cfg.max_waiting = 2;
    cfg.max_model_len = 32;
    let mut s = Scheduler::new(cfg).unwrap();
    let req = |n: usize, max_tokens: usize| NewRequest {
        prompt: tokens(5, n),
        max_tokens,
        priority: 0,
        stop_token_ids: vec![],
        prompt_logprobs: false,
    };
    s.add_request(req(4, 4)).unwrap();
    s.add_request(req(4, 4)).unwrap();
    assert_eq!(
        s.add_request(req(4, 4)),
        Err(AddError::QueueFull { max_waiting: 2 })
    );
    assert_eq!(
        s.add_request(req(30, 3)),
        Err(AddError::TooLong {
            prompt_tokens: 30,
            max_tokens: 3,
            max_model_len: 32
        })
    );
    assert_eq!(s.add_request(req(0, 3)), Err(AddError::EmptyPrompt));
    assert_eq!(s.add_request(req(3, 0)), Err(AddError::ZeroMaxTokens));
    // Admission empties the queue: room again.
    let _ = s.schedule().unwrap();
    assert_eq!(s.num_waiting(), 0);
    s.add_request(req(29, 3)).unwrap();
    s.audit().unwrap();
}

#[test]
fn config_limits_are_checked() {
    let ok = config(64, 4, 16);
    assert!(Scheduler::new(ok.clone()).is_ok());
    let bad = |f: &dyn Fn(&mut SchedulerConfig)| {
        let mut c = ok.clone();
        f(&mut c);
        match Scheduler::new(c) {
            Err(Error::InvalidConfig { field, .. }) => field,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    };
    assert_eq!(bad(&|c| c.block_size = 0), "block_size");
    assert_eq!(bad(&|c| c.max_model_len = 65), "max_model_len");
    assert_eq!(
        bad(&|c| c.max_batched_tokens = c.max_running - 1),
        "max_batched_tokens"
    );
    assert_eq!(
        bad(&|c| {
            c.num_blocks = 1 << 29;
            c.block_size = 16
        }),
        "num_blocks"
    );
}

#[test]
fn waiting_requests_start_by_priority_then_arrival() {
    let mut cfg = config(64, 4, 64);
    cfg.max_running = 1;
    let mut h = Harness::new(cfg);
    let low = h.add_with_stop(&tokens(20, 5), 2, 5, vec![]);
    let mid_a = h.add_with_stop(&tokens(21, 5), 2, 1, vec![]);
    let high = h.add_with_stop(&tokens(22, 5), 2, -1, vec![]);
    let mid_b = h.add_with_stop(&tokens(23, 5), 2, 1, vec![]);
    let mut started = Vec::new();
    while h.sched.has_unfinished() {
        for s in h.step().scheduled {
            if s.range.start == 0 {
                started.push(s.id);
            }
        }
    }
    assert_eq!(started, vec![high, mid_a, mid_b, low]);
}

#[test]
fn preemption_takes_the_lowest_priority_then_the_latest_arrival() {
    // 6 blocks of 2: two 4-token prompts (2 blocks each), each decode grows a block every 2 steps.
    let mut cfg = config(64, 2, 6);
    cfg.max_model_len = 12;
    let mut h = Harness::new(cfg.clone());
    let (pa, pb) = (tokens(30, 4), tokens(31, 4));
    let a = h.add_with_stop(&pa, 7, 5, vec![]); // first, but least important
    let b = h.add_with_stop(&pb, 7, 0, vec![]);
    let mut first_preempted = None;
    while h.sched.has_unfinished() {
        let out = h.step();
        if first_preempted.is_none() {
            first_preempted = out.preempted.first().copied();
        }
    }
    assert_eq!(first_preempted, Some(a));
    assert_reference(&h, a, &pa, 7, &[]);
    assert_reference(&h, b, &pb, 7, &[]);

    // Same priority: the later arrival goes.
    let mut h = Harness::new(cfg);
    let a = h.add_with_stop(&pa, 7, 0, vec![]);
    let b = h.add_with_stop(&pb, 7, 0, vec![]);
    let mut first_preempted = None;
    while h.sched.has_unfinished() {
        let out = h.step();
        if first_preempted.is_none() {
            first_preempted = out.preempted.first().copied();
        }
    }
    assert_eq!(first_preempted, Some(b));
    assert_reference(&h, a, &pa, 7, &[]);
    assert_reference(&h, b, &pb, 7, &[]);
    assert!(h.sched.stats().num_preemptions >= 1);
}

#[test]
fn shared_system_prompt_is_prefilled_once() {
    let mut h = Harness::new(config(256, 4, 64));
    let system = tokens(40, 32); // 8 full blocks
    let pa = [system.clone(), tokens(41, 5)].concat();
    let pb = [system.clone(), tokens(42, 6)].concat();
    let a = h.add_with_stop(&pa, 6, 0, vec![]);
    assert_eq!(ranges(&h.step()), vec![(a, 0..37, true)]);
    // B arrives while A runs: its first 32 tokens come from A's blocks.
    let b = h.add_with_stop(&pb, 6, 0, vec![]);
    let out = h.step();
    assert_eq!(ranges(&out), vec![(a, 37..38, true), (b, 32..38, true)]);
    let (ta, tb) = (&out.scheduled[0].block_table, &out.scheduled[1].block_table);
    assert_eq!(
        ta[..8],
        tb[..8],
        "the system prompt's blocks are shared, not copied"
    );
    assert_ne!(ta[8], tb[8]);
    for &blk in &ta[..8] {
        // A's table, B's table and the prefix cache.
        assert_eq!(h.sched.pool().ref_count(kv::BlockId(blk)), 3);
    }
    h.run_to_completion(100);
    assert_eq!(h.done[&a].usage.cached_tokens, 0);
    assert_eq!(h.done[&b].usage.cached_tokens, 32);
    assert_reference(&h, a, &pa, 6, &[]);
    assert_reference(&h, b, &pb, 6, &[]);

    // The same prompt again: all of it is cached but its last token is computed for logits.
    let c = h.add_with_stop(&pa, 2, 0, vec![]);
    assert_eq!(ranges(&h.step()), vec![(c, 36..37, true)]);
    // A prompt of whole blocks, entirely cached: the last block is recomputed.
    let d = h.add_with_stop(&pa[..36], 2, 0, vec![]);
    assert_eq!(
        ranges(&h.step()),
        vec![(c, 37..38, true), (d, 32..36, true)]
    );
    h.run_to_completion(10);
    assert_eq!(h.done[&c].usage.cached_tokens, 36);
    assert_eq!(h.done[&d].usage.cached_tokens, 32);
    assert_reference(&h, c, &pa, 2, &[]);
    assert_reference(&h, d, &pa[..36], 2, &[]);
    let stats = h.sched.stats();
    assert_eq!(stats.prefix_hit_tokens, 32 + 36 + 32);
}

#[test]
fn earlier_turns_of_a_conversation_are_reused() {
    let mut h = Harness::new(config(256, 4, 64));
    let mut prompt = [tokens(50, 10), tokens(51, 7)].concat(); // system + user
    let mut expected_cached = 0;
    for turn in 0..4u64 {
        let id = h.add_with_stop(&prompt, 9, 0, vec![]);
        let out = h.step();
        assert_eq!(out.scheduled[0].range.start, expected_cached, "turn {turn}");
        h.run_to_completion(20);
        assert_reference(&h, id, &prompt, 9, &[]);
        assert_eq!(h.done[&id].usage.cached_tokens, expected_cached);
        // Computed: the prompt and all generated tokens but the last (sampled, never fed back).
        let computed = prompt.len() + 9 - 1;
        prompt.extend_from_slice(&h.done[&id].output.clone());
        prompt.extend(tokens(52 + turn, 6)); // the next user message
        expected_cached = computed / 4 * 4;
    }
}

/// Several requests, some sharing a prefix, with a stop token; returns their outputs.
fn mixed_workload(cfg: SchedulerConfig) -> (Vec<Vec<u32>>, Harness) {
    let mut h = Harness::new(cfg);
    let shared = tokens(60, 9);
    let mut ids = Vec::new();
    for i in 0..8u64 {
        let prompt = if i % 2 == 0 {
            [shared.clone(), tokens(61 + i, 3 + i as usize)].concat()
        } else {
            tokens(70 + i, 4 + 2 * i as usize)
        };
        ids.push((h.add(&prompt, 12 + i as usize, (i % 3) as i32), prompt));
    }
    h.run_to_completion(2000);
    for (id, prompt) in &ids {
        assert_reference(&h, *id, prompt, 12 + (id.0 as usize), &[STOP]);
    }
    (
        ids.iter()
            .map(|(id, _)| h.done[id].output.clone())
            .collect(),
        h,
    )
}

#[test]
fn preemption_under_a_tiny_pool_gives_the_same_outputs() {
    let big = SchedulerConfig {
        max_batched_tokens: 512,
        max_running: 16,
        max_waiting: 64,
        block_size: 4,
        num_blocks: 256,
        enable_prefix_cache: true,
        max_model_len: 48,
    };
    let (want, hb) = mixed_workload(big.clone());
    assert_eq!(hb.sched.stats().num_preemptions, 0);
    for prefix in [true, false] {
        for (num_blocks, budget) in [(12, 16), (14, 7), (20, 32)] {
            let cfg = SchedulerConfig {
                num_blocks,
                max_batched_tokens: budget,
                max_running: 6,
                enable_prefix_cache: prefix,
                ..big.clone()
            };
            let (got, h) = mixed_workload(cfg);
            assert_eq!(
                got, want,
                "{num_blocks} blocks, budget {budget}, prefix cache {prefix}"
            );
            assert!(
                h.sched.stats().num_preemptions > 0,
                "{num_blocks} blocks: expected preemptions"
            );
        }
    }
}

#[test]
fn abort_frees_blocks_mid_prefill_mid_decode_and_while_waiting() {
    let mut cfg = config(4, 4, 16);
    cfg.max_running = 1;
    let mut h = Harness::new(cfg);
    let a = h.add_with_stop(&tokens(80, 16), 8, 0, vec![]);
    let w = h.add_with_stop(&tokens(81, 5), 8, 0, vec![]);
    assert_eq!(ranges(&h.step()), vec![(a, 0..4, false)]);
    assert_eq!(ranges(&h.step()), vec![(a, 4..8, false)]);
    let held = h.sched.request(a).unwrap().block_table().num_blocks();
    assert_eq!(held, 2);
    h.abort(w); // waiting: nothing to free
    h.abort(a); // mid-prefill
    assert_eq!(h.done[&a].reason, FinishReason::Abort);
    // Only the cache's references on the 2 computed full blocks remain.
    assert_eq!(
        h.sched.pool().num_used(),
        h.sched.prefix_cache().num_nodes()
    );
    assert_eq!(h.sched.pool().num_used(), 2);
    assert_eq!(h.sched.abort(a), Ok(None), "aborting twice is a no-op");

    let b = h.add_with_stop(&tokens(82, 3), 8, 0, vec![]);
    h.step();
    h.step();
    h.step();
    assert_eq!(h.sched.request(b).unwrap().output().len(), 3);
    h.abort(b); // mid-decode
    assert_eq!(h.done[&b].usage.completion_tokens, 3);
    assert_eq!(
        h.sched.pool().num_used(),
        h.sched.prefix_cache().num_nodes()
    );
    assert!(!h.sched.has_unfinished());
    assert_eq!(h.sched.evict_prefix_cache(), Ok(3));
    assert_eq!(h.sched.pool().num_free(), 16);
}

#[test]
fn abort_between_schedule_and_update_skips_the_request() {
    let mut s = Scheduler::new(config(64, 4, 16)).unwrap();
    let new = |seed| NewRequest {
        prompt: tokens(seed, 6),
        max_tokens: 4,
        priority: 0,
        stop_token_ids: vec![],
        prompt_logprobs: false,
    };
    let a = s.add_request(new(90)).unwrap();
    let b = s.add_request(new(91)).unwrap();
    let out = s.schedule().unwrap();
    assert!(matches!(s.schedule(), Err(Error::StepPending { .. })));
    assert_eq!(
        s.update_from_output(&out, &[(a, Some(1))]),
        Err(Error::MissingSample { id: b })
    );
    assert_eq!(
        s.request(a).unwrap().num_computed_tokens(),
        0,
        "a failed update changes nothing"
    );
    s.abort(a).unwrap();
    let events = s
        .update_from_output(&out, &[(a, Some(1)), (b, Some(2))])
        .unwrap();
    assert_eq!(events, vec![RequestEvent::Token { id: b, token: 2 }]);
    assert_eq!(s.request(b).unwrap().num_computed_tokens(), 6);
    s.audit().unwrap();
    assert!(format!("{out}").contains("req-1 [0..6) +logits"), "{out}");
    // A step that failed in the runner: abort its requests and the scheduler goes on.
    let out = s.schedule().unwrap();
    assert_eq!(out.scheduled.len(), 1);
    assert!(matches!(s.schedule(), Err(Error::StepPending { id }) if id == b));
    s.abort(b).unwrap();
    assert!(s.schedule().unwrap().is_empty());
    assert_eq!(s.pool().num_used(), s.prefix_cache().num_nodes());
}

#[test]
fn n_greater_than_one_shares_the_prompt_blocks() {
    let mut h = Harness::new(config(64, 4, 32));
    let prompt = tokens(100, 10); // 2 full blocks + 2 tokens in a third
    let a = h.add_with_stop(&prompt, 5, 0, vec![]);
    h.forks.insert(a, 2);
    assert_eq!(ranges(&h.step()), vec![(a, 0..10, true)]);
    let kids = h.children[&a].clone();
    assert_eq!(kids.len(), 2);
    let table = h.sched.request(a).unwrap().block_table().blocks().to_vec();
    for &k in &kids {
        assert_eq!(
            h.sched.request(k).unwrap().block_table().blocks(),
            &table[..]
        );
    }
    // 3 tables + the cache on the full blocks; the partial block is in 3 tables only.
    assert_eq!(h.sched.pool().ref_count(table[0]), 4);
    assert_eq!(h.sched.pool().ref_count(table[2]), 3);
    let out = h.step();
    assert_eq!(out.scheduled.len(), 3);
    assert_eq!(
        out.copies.len(),
        2,
        "two of the three copy the shared partial block: {out}"
    );
    assert!(out.copies.iter().all(|c| c.src == table[2]));
    h.run_to_completion(20);
    let max_model_len = h.sched.config().max_model_len;
    for (salt, id) in [(0, a), (1, kids[0]), (2, kids[1])] {
        let (want, _) = reference_output(&prompt, 5, &[], salt, max_model_len);
        assert_eq!(h.done[&id].output, want, "sibling {salt}");
    }
    assert_ne!(h.done[&kids[0]].output, h.done[&kids[1]].output);
    assert_eq!(
        h.runner.tokens_computed,
        10 + 3 * 4,
        "the prompt is computed once"
    );
}

#[test]
fn fork_needs_the_end_of_the_prompt_scheduled() {
    let mut cfg = config(4, 4, 16);
    cfg.max_running = 4;
    let mut s = Scheduler::new(cfg).unwrap();
    let a = s
        .add_request(NewRequest {
            prompt: tokens(110, 6),
            max_tokens: 3,
            priority: 0,
            stop_token_ids: vec![9],
            prompt_logprobs: false,
        })
        .unwrap();
    assert!(
        matches!(s.fork(a, 1), Err(Error::ForkNotReady { .. })),
        "waiting"
    );
    let out = s.schedule().unwrap(); // 4 of 6 prompt tokens
    assert!(
        matches!(s.fork(a, 1), Err(Error::ForkNotReady { .. })),
        "mid-prefill"
    );
    s.update_from_output(&out, &[]).unwrap();
    let out = s.schedule().unwrap();
    // A sibling whose first token is a stop token ends at once and frees its references.
    let (k, events) = s.fork(a, 9).unwrap();
    assert_eq!(events[0], RequestEvent::Token { id: k, token: 9 });
    assert!(matches!(
        events[1],
        RequestEvent::Finished {
            reason: FinishReason::Stop,
            ..
        }
    ));
    s.update_from_output(&out, &[(a, Some(2))]).unwrap();
    s.audit().unwrap();
    assert_eq!(
        s.fork(RequestId(99), 1),
        Err(Error::UnknownRequest { id: RequestId(99) })
    );
}

#[test]
fn everything_finished_and_evicted_leaves_the_pool_whole() {
    let (_, mut h) = mixed_workload(SchedulerConfig {
        max_batched_tokens: 16,
        max_running: 4,
        max_waiting: 64,
        block_size: 4,
        num_blocks: 14,
        enable_prefix_cache: true,
        max_model_len: 48,
    });
    assert!(h.sched.prefix_cache().num_nodes() > 0);
    assert_eq!(
        h.sched.pool().num_used(),
        h.sched.prefix_cache().num_nodes()
    );
    h.sched.evict_prefix_cache().unwrap();
    assert_eq!(h.sched.prefix_cache().num_nodes(), 0);
    assert_eq!(h.sched.pool().num_free(), h.sched.pool().num_total());
    h.sched.audit().unwrap();
}

#[test]
fn a_request_that_cannot_fit_does_not_evict_the_cache() {
    let mut cfg = config(64, 2, 8);
    cfg.max_model_len = 16;
    let mut h = Harness::new(cfg);
    let pa = tokens(120, 6);
    let a = h.add_with_stop(&pa, 1, 0, vec![]);
    h.step(); // A: 3 full blocks computed and cached, then finished
    assert!(h.done.contains_key(&a));
    let b = h.add_with_stop(&tokens(121, 8), 8, 0, vec![]);
    h.step(); // B holds 4 blocks; 1 free
    let c = h.add_with_stop(&tokens(122, 10), 1, 0, vec![]);
    let out = h.step(); // B's decode takes the last free block; C needs 5, only 3 evictable
    assert_eq!(ranges(&out), vec![(b, 8..9, true)]);
    assert_eq!(
        h.sched.prefix_cache().match_len(&pa),
        6,
        "A's cached prompt survives"
    );
    h.run_to_completion(50);
    assert!(h.done.contains_key(&c));
}
