//! Prompt logprobs (`GenerateRequest::prompt_logprobs`) against HF transformers' qwen3-tiny
//! references (`tests/fixtures/qwen3-tiny`): at every prompt position the top alternatives are
//! HF's top-k, with HF's logit differences; the token after the whole reference prompt has
//! `log_softmax` of HF's last-position logits. The values do not depend on prefill chunks, the
//! prefix cache (never used for them) or a second run.

use engine::TokenLogprob;

use crate::support::*;

/// HF logits agree with ours within 1e-4 (crates/models/tests/qwen3_tiny_hf.rs); a difference
/// of two of them within twice that.
const TOL: f32 = 2e-4;

struct Reference {
    ids: Vec<u32>,
    greedy: Vec<u32>,
    /// `[position][rank]` (id, logit), HF's top-10.
    topk: Vec<Vec<(u32, f32)>>,
    /// `[vocab]` HF's logits at the last prompt position.
    last: Vec<f32>,
}

fn reference() -> Reference {
    let dir = fixtures_dir().join("qwen3-tiny");
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let exp: serde_json::Value = serde_json::from_str(&text).expect("json");
    let p = &exp["prompts"][0];
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .expect("ids")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect()
    };
    let topk = p["topk"]
        .as_array()
        .expect("topk")
        .iter()
        .map(|t| {
            ids(&t["ids"])
                .into_iter()
                .zip(t["values"].as_array().expect("values"))
                .map(|(id, v)| (id, v.as_f64().expect("value") as f32))
                .collect()
        })
        .collect();
    let file = p["last_logits_file"].as_str().expect("last logits file");
    let bytes = std::fs::read(dir.join(file)).expect("last logits");
    let last = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Reference {
        ids: ids(&p["ids"]),
        greedy: ids(&p["greedy"]["ids"]),
        topk,
        last,
    }
}

fn with_prompt_logprobs(prompt: Vec<u32>, top_n: usize) -> engine::GenerateRequest {
    let mut req = greedy(prompt, 2);
    req.prompt_logprobs = Some(top_n);
    req.ignore_eos = true;
    req
}

fn prompt_logprobs(c: &Choice, prompt: &[u32]) -> Vec<TokenLogprob> {
    let (first, lps) = c.prompt_logprobs.clone().expect("prompt logprobs");
    assert_eq!(first, prompt[0]);
    assert_eq!(lps.len(), prompt.len() - 1);
    for (i, lp) in lps.iter().enumerate() {
        assert_eq!(
            lp.token,
            prompt[i + 1],
            "entry {i} rates prompt token {}",
            i + 1
        );
    }
    lps
}

fn assert_close(a: &[TokenLogprob], b: &[TokenLogprob], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x.token, y.token, "{i}");
        assert!((x.logprob - y.logprob).abs() <= tol, "{i}: {x:?} {y:?}");
        assert_eq!(x.top.len(), y.top.len());
        for (p, q) in x.top.iter().zip(&y.top) {
            assert!((p.1 - q.1).abs() <= tol, "{i}: {x:?} {y:?}");
        }
    }
}

#[test]
fn prompt_logprobs_equal_the_hf_reference() {
    let r = reference();
    let (model, tok) = tiny();
    let h = engine::spawn(model, tok, config(64, 16, 512)).unwrap();
    // The reference prompt and its first three greedy tokens.
    let prompt = [r.ids.clone(), r.greedy[..3].to_vec()].concat();
    let c = run(&h, with_prompt_logprobs(prompt.clone(), 3)).remove(0);
    let lps = prompt_logprobs(&c, &prompt);
    for (q, hf) in r.topk.iter().enumerate() {
        let lp = &lps[q];
        assert_eq!(lp.top.len(), 3);
        for j in 0..3 {
            // Ranks are compared where HF's logits are clearly apart.
            let apart = |a: usize, b: usize| (hf[a].1 - hf[b].1).abs() > 1e-3;
            if (j == 0 || apart(j - 1, j)) && apart(j, j + 1) {
                assert_eq!(lp.top[j].0, hf[j].0, "position {q} rank {j}");
            }
            let (ours, theirs) = (lp.top[j].1 - lp.top[0].1, hf[j].1 - hf[0].1);
            assert!(
                (ours - theirs).abs() <= TOL,
                "position {q} rank {j}: {ours} vs {theirs}"
            );
        }
        if let Some(&(_, v)) = hf.iter().find(|&&(id, _)| id == lp.token) {
            let (ours, theirs) = (lp.logprob - lp.top[0].1, v - hf[0].1);
            assert!(
                (ours - theirs).abs() <= TOL,
                "position {q}: {ours} vs {theirs}"
            );
        }
    }
    // After the whole reference prompt: log_softmax of HF's last logits.
    let max = r.last.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let lse = max
        + r.last
            .iter()
            .map(|&l| (l as f64 - max).exp())
            .sum::<f64>()
            .ln();
    let want = (r.last[r.greedy[0] as usize] as f64 - lse) as f32;
    let got = lps[r.ids.len() - 1].logprob;
    assert!((got - want).abs() <= TOL, "{got} vs {want}");

    // The prompt's greedy tokens rated as prompt = as generated.
    let mut req = greedy(r.ids.clone(), 3);
    req.logprobs = Some(3);
    req.ignore_eos = true;
    let gen = run(&h, req).remove(0);
    assert_eq!(gen.tokens, r.greedy[..3]);
    let gen: Vec<TokenLogprob> = gen.logprobs.into_iter().map(Option::unwrap).collect();
    assert_close(&lps[r.ids.len() - 1..], &gen, 1e-4);
    assert_eq!(c.tokens, r.greedy[3..5], "the completion goes on greedily");
}

#[test]
fn prompt_logprobs_ignore_the_prefix_cache_and_chunks() {
    let r = reference();
    let (model, tok) = tiny();
    let h = engine::spawn(model, tok, config(64, 16, 512)).unwrap();
    // 95 tokens: computed in chunks of at most PROMPT_LOGPROBS_CHUNK (64).
    let long = r.ids.repeat(5);
    assert!(long.len() > engine::PROMPT_LOGPROBS_CHUNK);
    // Fill the cache with the whole prompt first.
    let warm = run(&h, greedy(long.clone(), 2)).remove(0);
    let hit = run(&h, greedy(long.clone(), 2)).remove(0);
    assert!(hit.usage.cached_tokens >= 80, "{:?}", hit.usage);
    assert_eq!(hit.tokens, warm.tokens);

    let a = run(&h, with_prompt_logprobs(long.clone(), 2)).remove(0);
    assert_eq!(
        a.usage.cached_tokens, 0,
        "prompt logprobs never come from the cache"
    );
    assert_eq!(a.tokens, warm.tokens);
    let lps = prompt_logprobs(&a, &long);
    // Again: the same values.
    let b = run(&h, with_prompt_logprobs(long.clone(), 2)).remove(0);
    assert_eq!(prompt_logprobs(&b, &long), lps);
    // The first copy of the prompt alone rates its tokens the same.
    let short = run(&h, with_prompt_logprobs(r.ids.clone(), 2)).remove(0);
    assert_close(
        &prompt_logprobs(&short, &r.ids),
        &lps[..r.ids.len() - 1],
        1e-4,
    );
    // A one-token prompt has nothing to rate.
    let one = run(&h, with_prompt_logprobs(r.ids[..1].to_vec(), 2)).remove(0);
    assert_eq!(prompt_logprobs(&one, &r.ids[..1]), Vec::new());
}
