//! Priority preemption with the fake runner (tests/common): a waiting request more important
//! (lower `priority`) than a running one takes its running slot or its blocks; the victim is
//! the lowest-priority, latest-arrival running request, recomputed later with the same output.
//! Equal or lower priorities never preempt, nothing is preempted in vain, and a victim is not
//! re-admitted and re-preempted step after step.

mod common;

use common::{config, reference_output, tokens, Harness};
use engine::RequestId;

fn assert_reference(h: &Harness, id: RequestId, prompt: &[u32], max_tokens: usize) {
    let max_model_len = h.sched.config().max_model_len;
    let (want, reason) = reference_output(prompt, max_tokens, &[], 0, max_model_len);
    let done = &h.done[&id];
    assert_eq!(done.output, want, "{id} output");
    assert_eq!(done.reason, reason, "{id} finish reason");
}

/// Steps to the end; returns the ids in the order they finished and every step's preempted.
fn finish_order(h: &mut Harness) -> (Vec<RequestId>, Vec<RequestId>) {
    let (mut order, mut preempted) = (Vec::new(), Vec::new());
    let mut steps = 0;
    while h.sched.has_unfinished() {
        steps += 1;
        assert!(steps < 1000, "no completion");
        let out = h.step();
        preempted.extend(out.preempted.iter().copied());
        let mut ids: Vec<RequestId> = h.done.keys().copied().collect();
        ids.sort();
        for id in ids {
            if !order.contains(&id) {
                order.push(id);
            }
        }
    }
    (order, preempted)
}

#[test]
fn a_more_important_request_takes_a_running_slot() {
    let mut cfg = config(64, 4, 64);
    cfg.max_running = 1;
    let mut h = Harness::new(cfg);
    let (pl, ph) = (tokens(100, 6), tokens(101, 5));
    let low = h.add_with_stop(&pl, 8, 5, vec![]);
    h.step(); // low's prompt
    h.step(); // low's first decode
    let high = h.add_with_stop(&ph, 3, 0, vec![]);
    let out = h.step();
    assert_eq!(out.preempted, vec![low], "{out}");
    assert_eq!(out.scheduled.len(), 1, "{out}");
    assert_eq!(
        (out.scheduled[0].id, out.scheduled[0].range.clone()),
        (high, 0..5)
    );
    assert_eq!(h.sched.request(low).map(|r| r.num_preemptions()), Some(1));
    let (order, preempted) = finish_order(&mut h);
    assert_eq!(order, vec![high, low]);
    assert!(preempted.is_empty(), "the victim is preempted once");
    assert_reference(&h, high, &ph, 3);
    assert_reference(&h, low, &pl, 8);
    assert_eq!(h.sched.stats().num_preemptions, 1);
}

#[test]
fn a_more_important_request_takes_the_blocks_it_needs() {
    // 8 blocks of 4: low holds 7 once it decodes past 24 tokens; high needs 3.
    let mut cfg = config(64, 4, 8);
    cfg.max_model_len = 32;
    let mut h = Harness::new(cfg);
    let (pl, ph) = (tokens(110, 24), tokens(111, 12));
    let low = h.add_with_stop(&pl, 6, 3, vec![]);
    h.step();
    let high = h.add_with_stop(&ph, 4, -2, vec![]);
    let out = h.step();
    assert_eq!(out.preempted, vec![low], "{out}");
    assert_eq!(
        out.scheduled
            .iter()
            .map(|s| (s.id, s.range.clone()))
            .collect::<Vec<_>>(),
        vec![(high, 0..12)],
        "low's decode of this step is undone"
    );
    let (order, preempted) = finish_order(&mut h);
    assert_eq!(order, vec![high, low]);
    assert!(preempted.is_empty(), "the victim is preempted once");
    assert_reference(&h, high, &ph, 4);
    assert_reference(&h, low, &pl, 6);
}

#[test]
fn the_lowest_priority_then_latest_arrival_goes_first() {
    let mut cfg = config(64, 4, 64);
    cfg.max_running = 3;
    let mut h = Harness::new(cfg);
    let prompts: Vec<Vec<u32>> = (0..4).map(|i| tokens(120 + i, 5)).collect();
    let a = h.add_with_stop(&prompts[0], 10, 4, vec![]);
    let b = h.add_with_stop(&prompts[1], 10, 6, vec![]);
    let c = h.add_with_stop(&prompts[2], 10, 6, vec![]);
    h.step();
    let top = h.add_with_stop(&prompts[3], 2, 1, vec![]);
    assert_eq!(
        h.step().preempted,
        vec![c],
        "priority 6 and the later of b, c"
    );
    h.run_to_completion(200);
    for (id, p, m) in [(a, 0, 10), (b, 1, 10), (c, 2, 10), (top, 3, 2)] {
        assert_reference(&h, id, &prompts[p], m);
    }
    assert_eq!(h.sched.stats().num_preemptions, 1);
}

#[test]
fn equal_or_lower_priority_never_preempts() {
    let mut cfg = config(64, 4, 10);
    cfg.max_running = 1;
    cfg.max_model_len = 40;
    let mut h = Harness::new(cfg);
    let prompts: Vec<Vec<u32>> = (0..3).map(|i| tokens(130 + i, 7)).collect();
    let a = h.add_with_stop(&prompts[0], 9, 1, vec![]);
    h.step();
    let b = h.add_with_stop(&prompts[1], 9, 1, vec![]);
    let c = h.add_with_stop(&prompts[2], 9, 2, vec![]);
    let (order, preempted) = finish_order(&mut h);
    assert!(preempted.is_empty());
    assert_eq!(order, vec![a, b, c]);
    for (i, id) in [a, b, c].into_iter().enumerate() {
        assert_reference(&h, id, &prompts[i], 9);
    }
}

#[test]
fn nothing_is_preempted_in_vain() {
    // 8 blocks of 4. `keep` (priority 0) holds 6 blocks, `low` (5) 1: a priority-1 request
    // needing 4 blocks could get at most 1 free + low's 1 (keep's blocks are pinned).
    let mut cfg = config(64, 4, 8);
    cfg.max_model_len = 32;
    cfg.enable_prefix_cache = false;
    let mut h = Harness::new(cfg);
    let (pk, pl, pm) = (tokens(140, 22), tokens(141, 3), tokens(142, 16));
    let keep = h.add_with_stop(&pk, 3, 0, vec![]);
    let low = h.add_with_stop(&pl, 3, 5, vec![]);
    h.step();
    let mid = h.add_with_stop(&pm, 3, 1, vec![]);
    let out = h.step();
    assert!(out.preempted.is_empty(), "{out}");
    assert!(out.scheduled.iter().all(|s| s.id != mid), "{out}");
    h.run_to_completion(200);
    assert_reference(&h, keep, &pk, 3);
    assert_reference(&h, low, &pl, 3);
    assert_reference(&h, mid, &pm, 3);
}

#[test]
fn a_stream_of_important_requests_does_not_thrash_the_victim() {
    // One running slot; a new, more important request arrives every few steps. Each arrival
    // preempts the long low-priority request at most once, and it still finishes correctly.
    let mut cfg = config(16, 4, 32);
    cfg.max_running = 1;
    cfg.max_model_len = 64;
    let mut h = Harness::new(cfg);
    let pl = tokens(150, 20);
    let low = h.add_with_stop(&pl, 30, 9, vec![]);
    let mut arrivals = Vec::new();
    let mut preempted = 0;
    for step in 0..200 {
        if step % 7 == 3 && arrivals.len() < 6 {
            let p = tokens(160 + step, 6);
            arrivals.push((h.add_with_stop(&p, 2, 0, vec![]), p));
        }
        if !h.sched.has_unfinished() {
            break;
        }
        let out = h.step();
        preempted += out.preempted.len();
        for id in &out.preempted {
            assert!(
                out.scheduled.iter().all(|s| s.id != *id),
                "{id} preempted and scheduled in one step: {out}"
            );
        }
    }
    assert!(!h.sched.has_unfinished());
    assert!(
        preempted >= 1 && preempted <= arrivals.len(),
        "{preempted} preemptions"
    );
    assert_reference(&h, low, &pl, 30);
    for (id, p) in &arrivals {
        assert_reference(&h, *id, p, 2);
    }
}
