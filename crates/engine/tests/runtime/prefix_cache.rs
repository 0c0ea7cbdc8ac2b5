//! The prefix cache through the engine: a request sharing a long prefix with an earlier one
//! reports the shared full blocks as `cached_tokens` and computes only the rest; a follow-up
//! turn reuses the previous answer's blocks too.

use crate::support::{config, greedy, run, tiny, wait_idle};

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[test]
fn shared_prefix_is_served_from_the_cache() {
    const BS: usize = 16;
    let (model, tok) = tiny();
    let h = engine::spawn(model, tok.clone(), config(256, BS, 64)).unwrap();
    let long = tok.encode(
        &"A long shared document that several requests quote in full before asking. ".repeat(8),
        false,
    );
    assert!(long.len() > 5 * BS, "{} tokens", long.len());
    let p1 = [long.clone(), tok.encode(" First question: why?", false)].concat();
    let p2 = [long.clone(), tok.encode(" Second question: how?", false)].concat();

    let r1 = run(&h, greedy(p1.clone(), 6)).remove(0);
    assert_eq!(r1.usage.cached_tokens, 0, "nothing cached yet");
    let before = wait_idle(&h);

    let r2 = run(&h, greedy(p2.clone(), 6)).remove(0);
    let after = wait_idle(&h);
    let shared = common_prefix(&p1, &p2);
    let want_cached = shared / BS * BS;
    assert!(want_cached >= 5 * BS);
    assert_eq!(r2.usage.cached_tokens, want_cached);
    assert_eq!(r2.usage.prompt_tokens, p2.len());
    assert_eq!(
        after.prompt_tokens_computed - before.prompt_tokens_computed,
        (p2.len() - want_cached) as u64,
        "only the uncached part of the prompt is computed"
    );
    assert_eq!(
        after.prefix_hit_tokens - before.prefix_hit_tokens,
        want_cached as u64
    );

    // The next turn: the previous prompt and answer, then a new question. Everything request 1
    // computed (its prompt and all but its last generated token) is in the cache.
    let p3 = [
        p1.clone(),
        r1.tokens.clone(),
        tok.encode(" And a follow-up.", false),
    ]
    .concat();
    let r3 = run(&h, greedy(p3.clone(), 4)).remove(0);
    let computed_by_r1 = p1.len() + r1.tokens.len() - 1;
    let want =
        common_prefix(&p3, &[p1.as_slice(), &r1.tokens].concat()).min(computed_by_r1) / BS * BS;
    assert!(
        want > p1.len() / BS * BS,
        "the answer's blocks are reused too"
    );
    assert_eq!(r3.usage.cached_tokens, want);

    // Cached or not, the outputs are those of an engine without a prefix cache.
    let (model, tok2) = tiny();
    let mut cold = config(256, BS, 64);
    cold.scheduler.enable_prefix_cache = false;
    let cold = engine::spawn(model, tok2, cold).unwrap();
    assert_eq!(run(&cold, greedy(p2, 6)).remove(0).tokens, r2.tokens);
    assert_eq!(run(&cold, greedy(p3, 4)).remove(0).tokens, r3.tokens);
}
