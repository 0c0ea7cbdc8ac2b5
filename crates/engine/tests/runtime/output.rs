//! Output processing through the engine: streamed text equals the tokenizer's decode of the
//! tokens, stop strings split across tokens never leak, logprobs are present and shaped, and
//! `n = 2` shares the prompt with reproducible seeds.

use std::time::Duration;

use engine::{Event, FinishReason, GenerateRequest};
use models::{ForwardBatch, KvTensors};
use sampling::SamplerConfig;

use crate::support::{config, greedy, next_event, prompts, run, smollm, tiny, wait_idle, Choice};

#[test]
fn streamed_text_is_the_decode_of_the_tokens() {
    // qwen3-tiny is random: its tokens split UTF-8 sequences and include specials and ids
    // without a tokenizer entry. SmolLM2 writes real text.
    for (model, tok) in [tiny(), smollm()] {
        let h = engine::spawn(model, tok.clone(), config(128, 16, 256)).unwrap();
        for p in prompts(&tok, 3) {
            for skip in [true, false] {
                let mut req = greedy(p.clone(), 40);
                req.ignore_eos = true;
                req.skip_special_tokens = skip;
                let c = run(&h, req).remove(0);
                assert_eq!(c.tokens.len(), 40);
                assert_eq!(c.text(), tok.decode(&c.tokens, skip), "skip_special {skip}");
            }
        }
    }
}

/// A stop string made of the end of one token's text and the start of the next one's.
#[test]
fn stop_string_split_across_tokens_never_leaks() {
    let (model, tok) = smollm();
    let h = engine::spawn(model, tok.clone(), config(128, 16, 256)).unwrap();
    let prompt = tok.encode(
        "The three primary colours are red, yellow and blue. Mixing",
        false,
    );
    let mut base = greedy(prompt, 40);
    base.ignore_eos = true;
    let full = run(&h, base.clone()).remove(0);
    let text = full.text();
    // Token k ends with 2+ chars and token k+1 starts with 2+ chars; the stop string's first
    // occurrence must be the one across that boundary.
    let (k, stop, at) = (3..full.texts.len() - 1)
        .find_map(|k| {
            let (a, b) = (&full.texts[k], &full.texts[k + 1]);
            let ca: Vec<char> = a.chars().collect();
            let cb: Vec<char> = b.chars().collect();
            if ca.len() < 2 || cb.len() < 2 || a.trim().len() < 2 || b.trim().len() < 2 {
                return None;
            }
            let stop: String = ca[ca.len() - 2..].iter().chain(&cb[..2]).collect();
            let at = full.texts[..=k].concat().len()
                - ca[ca.len() - 2..]
                    .iter()
                    .map(|c| c.len_utf8())
                    .sum::<usize>();
            (text.find(&stop) == Some(at)).then_some((k, stop, at))
        })
        .expect("no token boundary to put a stop string across");

    let mut req = base.clone();
    req.stop_strings = vec!["never appears in this text at all".into(), stop.clone()];
    let mut s = h.submit(req).unwrap();
    let allowed = &text[..at];
    let mut acc = String::new();
    let mut tokens = Vec::new();
    let mut finished = None;
    while let Some(ev) = next_event(&mut s, Duration::from_secs(60)) {
        match ev {
            Event::Token { token, text, .. } => {
                tokens.push(token);
                acc.push_str(&text);
                assert!(
                    allowed.starts_with(&acc),
                    "leaked {acc:?} (stop {stop:?} at byte {at} of {text:?})"
                );
            }
            Event::Finished {
                reason,
                matched_stop,
                usage,
                ..
            } => finished = Some((reason, matched_stop, usage)),
            Event::Error(e) => panic!("{e}"),
            Event::PromptLogprobs { .. } => panic!("prompt logprobs not asked for"),
        }
    }
    assert_eq!(
        acc, allowed,
        "the text before the stop string is emitted in full"
    );
    assert_eq!(
        tokens,
        full.tokens[..k + 2],
        "generation stops at the completing token"
    );
    let (reason, matched, usage) = finished.expect("finished");
    assert_eq!(reason, FinishReason::Stop);
    assert_eq!(matched.as_deref(), Some(stop.as_str()));
    assert_eq!(usage.completion_tokens, k + 2);
}

#[test]
fn logprobs_are_present_and_shaped() {
    let (model, tok) = smollm();
    let cfg = config(64, 16, 256);
    let prompt = tok.encode("The capital of France is", false);
    // The raw logits of the first generated position, straight from the model.
    let (mut direct, _) = smollm();
    let mut kv = KvTensors::new(direct.kv_spec(), 4, 16).unwrap();
    let mut batch = ForwardBatch::default();
    batch.push_seq(&prompt, 0, &[0, 1, 2, 3], 16, true).unwrap();
    let first_logits = direct.forward(&batch, &mut kv).unwrap().to_vec();
    let max = first_logits
        .iter()
        .copied()
        .fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max
        + first_logits
            .iter()
            .map(|&l| (l as f64 - max).exp())
            .sum::<f64>()
            .ln();

    let h = engine::spawn(model, tok, cfg).unwrap();
    let mut req = greedy(prompt.clone(), 8);
    req.logprobs = Some(5);
    let c = run(&h, req).remove(0);
    assert_eq!(c.logprobs.len(), c.tokens.len());
    for (i, (lp, &token)) in c.logprobs.iter().zip(&c.tokens).enumerate() {
        let lp = lp.as_ref().expect("logprob asked for");
        assert_eq!(lp.token, token);
        assert_eq!(lp.top.len(), 5);
        assert!(lp.top.windows(2).all(|w| w[0].1 >= w[1].1), "{:?}", lp.top);
        assert!(lp.top.iter().all(|&(_, l)| l <= 0.0));
        let mass: f64 = lp.top.iter().map(|&(_, l)| (l as f64).exp()).sum();
        assert!(mass <= 1.0 + 1e-5, "top-5 mass {mass}");
        // Greedy: the chosen token is the most likely one.
        assert_eq!(lp.top[0], (token, lp.logprob), "position {i}");
        if i == 0 {
            let want = first_logits[token as usize] as f64 - lse;
            assert!(
                (lp.logprob as f64 - want).abs() < 1e-4,
                "{} vs {want}",
                lp.logprob
            );
        }
    }
    // Without the field: no logprobs.
    let c = run(&h, greedy(prompt, 2)).remove(0);
    assert!(c.logprobs.iter().all(Option::is_none));
}

fn sampled(prompt: Vec<u32>, n: usize, seed: u64) -> GenerateRequest {
    GenerateRequest {
        sampling: SamplerConfig {
            temperature: 1.0,
            seed: Some(seed),
            ..SamplerConfig::default()
        },
        n,
        ignore_eos: true,
        ..GenerateRequest::new(prompt, 16)
    }
}

#[test]
fn n_two_shares_the_prompt_and_seeds_reproduce() {
    let (model, tok) = tiny();
    let h = engine::spawn(model, tok.clone(), config(128, 16, 256)).unwrap();
    // 37 tokens: the last block is partly filled and shared, so the choices copy it on write.
    let prompt = tok.encode(&"Two answers to one question, please. ".repeat(5), false);
    assert!(prompt.len() % 16 != 0, "{} tokens", prompt.len());
    let two = run(&h, sampled(prompt.clone(), 2, 1234));
    let st = wait_idle(&h);
    assert_eq!(two.len(), 2);
    assert_eq!(st.prompt_tokens, prompt.len() as u64);
    assert_eq!(
        st.prompt_tokens_computed,
        prompt.len() as u64,
        "the prompt is computed once for both choices"
    );
    assert_eq!(st.generation_tokens, 32);
    assert_eq!(
        st.block_copies, 1,
        "the first of the two to write its shared last prompt block copies it"
    );
    for c in &two {
        assert_eq!(c.tokens.len(), 16);
        assert_eq!(c.usage.prompt_tokens, prompt.len());
        assert_eq!(c.usage.completion_tokens, 16);
        assert_eq!(c.reason, Some(FinishReason::Length));
    }
    assert_ne!(two[0].tokens, two[1].tokens, "two seeds, two samples");

    // The same request again (now with the prompt's full blocks from the cache): the same.
    let again = run(&h, sampled(prompt.clone(), 2, 1234));
    let toks = |cs: &[Choice]| cs.iter().map(|c| c.tokens.clone()).collect::<Vec<_>>();
    assert_eq!(toks(&again), toks(&two));
    assert_eq!(again[0].usage.cached_tokens, prompt.len() / 16 * 16);
    assert_eq!(wait_idle(&h).block_copies, 2);

    // Choice i is what a single request seeded with seed + i samples.
    let (model, tok) = tiny();
    let fresh = engine::spawn(model, tok, config(128, 16, 256)).unwrap();
    assert_eq!(
        run(&fresh, sampled(prompt.clone(), 1, 1234))[0].tokens,
        two[0].tokens
    );
    assert_eq!(
        run(&fresh, sampled(prompt, 1, 1235))[0].tokens,
        two[1].tokens
    );
}

#[test]
fn eos_stops_unless_ignored_and_stop_token_ids_apply() {
    let (model, tok) = smollm();
    let h = engine::spawn(model, tok.clone(), config(128, 16, 256)).unwrap();
    let prompt = tok.encode("The capital of France is", false);
    let eos = *tok.eos_ids().first().expect("SmolLM2 has an EOS");
    // A +100 bias makes EOS the only likely token.
    let forced = |ignore_eos: bool| {
        let mut r = greedy(prompt.clone(), 5);
        r.sampling.logit_bias = vec![(eos, 100.0)];
        r.ignore_eos = ignore_eos;
        r.skip_special_tokens = false;
        run(&h, r).remove(0)
    };
    let c = forced(false);
    assert_eq!(c.tokens, vec![eos]);
    assert_eq!(c.reason, Some(FinishReason::Stop));
    assert_eq!(c.usage.completion_tokens, 1);
    assert_eq!(
        c.text(),
        "",
        "the stop token's text is not shown, even with specials"
    );
    let c = forced(true);
    assert_eq!(c.tokens, vec![eos; 5]);
    assert_eq!(c.reason, Some(FinishReason::Length));
    assert_eq!(
        c.text(),
        tok.decode(&[eos; 5], false),
        "not a stop token: shown"
    );

    // A stop token id ends the choice at its first occurrence, also with ignore_eos.
    let mut free = greedy(prompt.clone(), 24);
    free.ignore_eos = true;
    let c = run(&h, free.clone()).remove(0);
    let mut by_id = free;
    by_id.stop_token_ids = vec![c.tokens[3]];
    let s = run(&h, by_id).remove(0);
    assert_eq!(s.reason, Some(FinishReason::Stop));
    let first_at = c.tokens.iter().position(|&t| t == c.tokens[3]).unwrap();
    assert_eq!(s.tokens, c.tokens[..=first_at]);
    assert_eq!(s.text(), tok.decode(&c.tokens[..first_at], true));
}
