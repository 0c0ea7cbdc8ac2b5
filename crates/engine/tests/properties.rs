//! Random submit / abort / step sequences under random limits. After every operation the
//! scheduler's audit recomputes every block's holders (request tables + prefix cache) and the
//! queues; every step the fake runner checks each token's KV context (tests/common). At the
//! end: every request finished exactly once, every output equals the deterministic model's run
//! directly (a prefix of it when aborted), and with the cache evicted the pool is whole.

mod common;

use common::{reference_output, Harness, STOP};
use engine::{AddError, FinishReason, RequestId, SchedulerConfig};
use proptest::prelude::*;
use proptest::sample::Index;

#[derive(Debug, Clone)]
enum Op {
    /// A request: one of a few shared prefixes (or none), a suffix, limits, `n` completions.
    Submit {
        prefix: Option<usize>,
        suffix: Vec<u32>,
        max_tokens: usize,
        priority: i32,
        n: usize,
    },
    Abort(Index),
    Step,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            prop::option::of(0usize..3),
            prop::collection::vec(1u32..4, 1..10),
            1usize..12,
            -1i32..2,
            prop_oneof![4 => Just(1usize), 1 => 2usize..4],
        )
            .prop_map(|(prefix, suffix, max_tokens, priority, n)| Op::Submit { prefix, suffix, max_tokens, priority, n }),
        1 => any::<Index>().prop_map(Op::Abort),
        6 => Just(Op::Step),
    ]
}

fn config() -> impl Strategy<Value = SchedulerConfig> {
    (
        1usize..5,
        4usize..24,
        1usize..5,
        0usize..24,
        1usize..8,
        any::<bool>(),
    )
        .prop_map(
            |(
                block_size,
                num_blocks,
                max_running,
                extra_budget,
                max_waiting,
                enable_prefix_cache,
            )| SchedulerConfig {
                max_batched_tokens: max_running + extra_budget,
                max_running,
                max_waiting,
                block_size,
                num_blocks,
                enable_prefix_cache,
                max_model_len: (block_size * num_blocks).min(40),
            },
        )
}

struct Submitted {
    prompt: Vec<u32>,
    max_tokens: usize,
    salt: u64,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn accounting_balances_and_outputs_match_the_model(cfg in config(), ops in prop::collection::vec(op(), 1..60)) {
        let prefixes: Vec<Vec<u32>> = (0..3u32).map(|p| (0..4 + 3 * p).map(|i| 1 + (i * (p + 2)) % 3).collect()).collect();
        let mut h = Harness::new(cfg.clone());
        let mut submitted: Vec<(RequestId, Submitted)> = Vec::new();
        for op in ops {
            match op {
                Op::Submit { prefix, suffix, max_tokens, priority, n } => {
                    let prompt = [prefix.map(|p| prefixes[p].clone()).unwrap_or_default(), suffix].concat();
                    let waiting = h.sched.num_waiting();
                    match h.try_add(&prompt, max_tokens, priority, vec![STOP]) {
                        Ok(id) => {
                            if n > 1 {
                                h.forks.insert(id, n - 1);
                            }
                            submitted.push((id, Submitted { prompt, max_tokens, salt: 0 }));
                        }
                        // Preempted requests may push the queue past the limit.
                        Err(AddError::QueueFull { .. }) => prop_assert!(waiting >= cfg.max_waiting),
                        Err(AddError::TooLong { .. }) => prop_assert!(prompt.len() + max_tokens > cfg.max_model_len),
                        Err(e) => prop_assert!(false, "unexpected {e}"),
                    }
                }
                Op::Abort(i) => {
                    if !submitted.is_empty() {
                        let id = submitted[i.index(submitted.len())].0;
                        h.abort(id);
                    }
                }
                Op::Step => {
                    if h.sched.has_unfinished() {
                        h.step();
                    }
                }
            }
            record_children(&h, &mut submitted);
        }
        h.run_to_completion(5000);
        record_children(&h, &mut submitted);

        prop_assert_eq!(h.done.len(), submitted.len(), "every request finished exactly once");
        for (id, s) in &submitted {
            let done = &h.done[id];
            let (want, reason) = reference_output(&s.prompt, s.max_tokens, &[STOP], s.salt, cfg.max_model_len);
            if done.reason == FinishReason::Abort {
                prop_assert!(want.starts_with(&done.output), "{id} aborted output {:?} not a prefix of {:?}", done.output, want);
            } else {
                prop_assert_eq!(&done.output, &want, "{} output", id);
                prop_assert_eq!(done.reason, reason);
            }
            prop_assert_eq!(done.usage.completion_tokens, done.output.len());
        }
        prop_assert_eq!(h.sched.pool().num_used(), h.sched.prefix_cache().num_nodes());
        h.sched.evict_prefix_cache().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(h.sched.pool().num_free(), h.sched.pool().num_total());
        h.sched.audit().map_err(|e| TestCaseError::fail(e.to_string()))?;
    }
}

/// Adds the `n > 1` siblings the harness forked to the submitted list, with their salt.
fn record_children(h: &Harness, submitted: &mut Vec<(RequestId, Submitted)>) {
    let mut new = Vec::new();
    for (parent, kids) in &h.children {
        let Some((_, p)) = submitted.iter().find(|(id, _)| id == parent) else {
            continue;
        };
        for (k, kid) in kids.iter().enumerate() {
            if !submitted.iter().any(|(id, _)| id == kid)
                && !new.iter().any(|(id, _): &(RequestId, Submitted)| id == kid)
            {
                new.push((
                    *kid,
                    Submitted {
                        prompt: p.prompt.clone(),
                        max_tokens: p.max_tokens,
                        salt: k as u64 + 1,
                    },
                ));
            }
        }
    }
    submitted.extend(new);
}
