//! Sampler behaviour against the definitions (HF logits processors, OpenAI's penalty formula,
//! softmax) rather than against outputs of this crate.

use sampling::{logprobs, Error, Rng, Sampler, SamplerConfig, SamplingContext};

fn cfg() -> SamplerConfig {
    SamplerConfig {
        seed: Some(42),
        ..SamplerConfig::default()
    }
}

fn random_row(rng: &mut Rng, n: usize, spread: f64) -> Vec<f32> {
    (0..n)
        .map(|_| ((rng.next_f64() - 0.5) * spread) as f32)
        .collect()
}

/// Plain argmax written out: first index of the maximum.
fn reference_argmax(row: &[f32]) -> u32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    row.iter().position(|&l| l == max).unwrap() as u32
}

#[test]
fn greedy_picks_argmax_lowest_id_on_ties_never_nan() {
    let mut s = Sampler::new(SamplerConfig::greedy()).unwrap();
    assert_eq!(s.sample(&[0.1, 3.0, -1.0, 2.9], &[]), 1);
    assert_eq!(s.sample(&[1.0, 5.0, 5.0, 5.0], &[]), 1);
    assert_eq!(s.sample(&[f32::NAN, 1.0, f32::NAN, 0.5], &[]), 1);
    assert_eq!(s.sample(&[f32::NAN, -1.0, f32::NAN, -0.5], &[]), 3);
    assert_eq!(s.sample(&[f32::NEG_INFINITY, f32::NEG_INFINITY], &[]), 0);
    let mut rng = Rng::from_seed(1);
    for _ in 0..100 {
        let row = random_row(&mut rng, 1000, 10.0);
        assert_eq!(s.sample(&row, &[]), reference_argmax(&row));
    }
}

#[test]
fn degenerate_rows_are_errors_not_panics() {
    let mut s = Sampler::new(cfg()).unwrap();
    let ctx = SamplingContext::default();
    assert_eq!(s.try_sample_with(&[], &ctx), Err(Error::EmptyLogits));
    assert_eq!(
        s.try_sample_with(&[f32::NAN; 3], &ctx),
        Err(Error::AllNan { n: 3 })
    );
    assert_eq!(s.sample(&[], &[]), 0);
    let mut g = Sampler::new(SamplerConfig::greedy()).unwrap();
    assert_eq!(
        g.try_sample_with(&[f32::NAN; 2], &ctx),
        Err(Error::AllNan { n: 2 })
    );
    // History ids past the vocabulary are ignored, not indexed.
    let mut p = Sampler::new(SamplerConfig {
        repetition_penalty: 1.3,
        frequency_penalty: 0.5,
        ..cfg()
    })
    .unwrap();
    let id = p.sample(&[0.0, 1.0], &[7, 1_000_000, u32::MAX]);
    assert!(id < 2);
}

#[test]
fn same_seed_same_tokens_different_seed_different_tokens() {
    let mut rng = Rng::from_seed(9);
    let rows: Vec<Vec<f32>> = (0..300).map(|_| random_row(&mut rng, 500, 4.0)).collect();
    let run = |seed: u64| -> Vec<u32> {
        let mut s = Sampler::new(SamplerConfig {
            seed: Some(seed),
            temperature: 0.9,
            top_k: 50,
            top_p: 0.95,
            min_p: 0.01,
            ..SamplerConfig::default()
        })
        .unwrap();
        rows.iter().map(|r| s.sample(r, &[])).collect()
    };
    assert_eq!(run(1234), run(1234));
    assert_ne!(run(1234), run(1235));
}

#[test]
fn top_k_one_equals_greedy() {
    let mut rng = Rng::from_seed(2);
    let mut s = Sampler::new(SamplerConfig {
        top_k: 1,
        temperature: 1.5,
        ..cfg()
    })
    .unwrap();
    for _ in 0..200 {
        let row = random_row(&mut rng, 2000, 6.0);
        assert_eq!(s.sample(&row, &[]), reference_argmax(&row));
    }
}

#[test]
fn tiny_top_p_equals_greedy() {
    let mut rng = Rng::from_seed(3);
    let mut s = Sampler::new(SamplerConfig {
        top_p: 1e-6,
        ..cfg()
    })
    .unwrap();
    for _ in 0..200 {
        let row = random_row(&mut rng, 5000, 6.0);
        assert_eq!(s.sample(&row, &[]), reference_argmax(&row));
    }
}

#[test]
fn min_p_one_equals_greedy_and_min_p_removes_the_tail() {
    let mut rng = Rng::from_seed(4);
    let mut s = Sampler::new(SamplerConfig {
        min_p: 1.0,
        ..cfg()
    })
    .unwrap();
    for _ in 0..100 {
        let row = random_row(&mut rng, 1000, 6.0);
        assert_eq!(s.sample(&row, &[]), reference_argmax(&row));
    }
    // p = [0.5, 0.3, 0.15, 0.05], min_p 0.2 → threshold 0.1: token 3 never drawn, the others
    // in proportion 0.5 : 0.3 : 0.15.
    let row: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
    let mut s = Sampler::new(SamplerConfig {
        min_p: 0.2,
        ..cfg()
    })
    .unwrap();
    let freq = frequencies(&mut s, &row, 20_000);
    assert_eq!(freq[3], 0.0);
    for (i, p) in [0.5, 0.3, 0.15].iter().enumerate() {
        assert!((freq[i] - p / 0.95).abs() < 0.015, "{freq:?}");
    }
}

/// transformers' `test_repetition_penalty_dist_process`: vocab 10, uniform scores 1/10,
/// scores[0,0] = -1/10, scores[1,5] = 4/10, input_ids [[0,1],[5,0]], penalty 2.
#[test]
fn repetition_penalty_matches_hf_processor_test() {
    let v = 10.0f32;
    let mut s = Sampler::new(SamplerConfig {
        repetition_penalty: 2.0,
        ..cfg()
    })
    .unwrap();

    let mut row0 = vec![1.0 / v; 10];
    row0[0] = -(1.0 / v);
    let out0 = s
        .adjusted_logits(
            &row0,
            &SamplingContext {
                prompt: &[0, 1],
                generated: &[],
            },
        )
        .to_vec();
    assert!((out0[0] - (-(1.0 / v) * 2.0)).abs() < 1e-7);
    assert!((out0[1] - (1.0 / v) / 2.0).abs() < 1e-7);
    assert_eq!(&out0[2..], &row0[2..]);

    let mut row1 = vec![1.0 / v; 10];
    row1[5] = 4.0 / v;
    let out1 = s
        .adjusted_logits(
            &row1,
            &SamplingContext {
                prompt: &[5],
                generated: &[0],
            },
        )
        .to_vec();
    assert!((out1[0] - (1.0 / v) / 2.0).abs() < 1e-7);
    assert!((out1[5] - (4.0 / v) / 2.0).abs() < 1e-7);
}

/// OpenAI's documented formula:
/// `mu[j] -> mu[j] - c[j] * alpha_frequency - float(c[j] > 0) * alpha_presence`, with c counted
/// over the generated tokens; the repetition penalty (prompt + generated, once per distinct id)
/// applies first, the logit bias last.
#[test]
#[allow(clippy::neg_multiply, clippy::erasing_op)] // the literals spell the formulas out
fn penalties_and_bias_match_the_formulas() {
    let logits = [2.0f32, -1.0, 0.5, 3.0, 0.0, 1.0];
    let prompt = [0u32, 1, 0, 0];
    let generated = [1u32, 2, 2, 4];
    let (rp, ap, af) = (1.5f32, 0.5f32, 0.25f32);
    let bias = vec![(3u32, -1.0f32), (5, 2.0)];
    let mut s = Sampler::new(SamplerConfig {
        repetition_penalty: rp,
        presence_penalty: ap,
        frequency_penalty: af,
        logit_bias: bias,
        ..cfg()
    })
    .unwrap();
    let out = s
        .adjusted_logits(
            &logits,
            &SamplingContext {
                prompt: &prompt,
                generated: &generated,
            },
        )
        .to_vec();
    let expected = [
        2.0 / rp,                    // prompt only: repetition
        -1.0 * rp - (1.0 * af + ap), // both; c = 1
        0.5 / rp - (2.0 * af + ap),  // generated twice
        3.0 - 1.0,                   // bias only
        0.0 * rp - (1.0 * af + ap),  // zero logit: ·p keeps 0
        1.0 + 2.0,                   // bias only
    ];
    for (i, (&o, &e)) in out.iter().zip(&expected).enumerate() {
        assert!((o - e).abs() < 1e-6, "token {i}: {o} vs {e}");
    }
}

#[test]
fn sample_counts_all_history_for_presence_and_frequency() {
    let mut s = Sampler::new(SamplerConfig {
        frequency_penalty: 1.0,
        temperature: 0.0,
        ..cfg()
    })
    .unwrap();
    // Token 0 leads by 1.5; seen twice in history it drops by 2 → token 1 wins.
    assert_eq!(s.sample(&[1.5, 0.0], &[0, 0]), 1);
    // As prompt tokens they do not count for OpenAI's penalties.
    let ctx = SamplingContext {
        prompt: &[0, 0],
        generated: &[],
    };
    assert_eq!(s.sample_with(&[1.5, 0.0], &ctx), 0);
}

#[test]
fn logit_bias_forces_and_bans() {
    let row = [5.0f32, 0.0, -3.0, 4.0];
    let mut force = Sampler::new(SamplerConfig {
        logit_bias: vec![(2, 100.0)],
        ..cfg()
    })
    .unwrap();
    for _ in 0..1000 {
        assert_eq!(force.sample(&row, &[]), 2);
    }
    let mut ban = Sampler::new(SamplerConfig {
        logit_bias: vec![(0, -100.0)],
        temperature: 0.0,
        ..cfg()
    })
    .unwrap();
    assert_eq!(ban.sample(&row, &[]), 3);
}

fn frequencies(s: &mut Sampler, row: &[f32], n: usize) -> Vec<f64> {
    let mut counts = vec![0usize; row.len()];
    for _ in 0..n {
        counts[s.sample(row, &[]) as usize] += 1;
    }
    counts.iter().map(|&c| c as f64 / n as f64).collect()
}

fn softmax(row: &[f64]) -> Vec<f64> {
    let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = row.iter().map(|l| (l - max).exp()).collect();
    let z: f64 = e.iter().sum();
    e.iter().map(|x| x / z).collect()
}

/// Temperature 1 over 4 tokens: empirical frequencies of 20k draws within 1.5 points of the
/// softmax (the standard error is ≤ 0.0035, so this is > 4 sigma).
#[test]
fn empirical_distribution_matches_softmax() {
    let row = [1.0f32, 2.0, 0.5, -0.7];
    let want = softmax(&row.map(f64::from));
    let mut s = Sampler::new(cfg()).unwrap();
    let got = frequencies(&mut s, &row, 20_000);
    for i in 0..4 {
        assert!((got[i] - want[i]).abs() < 0.015, "{got:?} vs {want:?}");
    }
    // Temperature 2 flattens: softmax(l / 2).
    let want_t2 = softmax(&row.map(|l| f64::from(l) / 2.0));
    let mut s = Sampler::new(SamplerConfig {
        temperature: 2.0,
        ..cfg()
    })
    .unwrap();
    let got = frequencies(&mut s, &row, 20_000);
    for i in 0..4 {
        assert!(
            (got[i] - want_t2[i]).abs() < 0.015,
            "{got:?} vs {want_t2:?}"
        );
    }
}

/// p = [0.4, 0.3, 0.2, 0.1]: top-p 0.65 keeps {0.4, 0.3} (the mass above 0.2 is 0.7 ≥ 0.65),
/// renormalised to 4/7 and 3/7; top-k 3 keeps three renormalised over 0.9.
#[test]
fn truncated_distributions_are_renormalised() {
    let row: Vec<f32> = [0.4f32, 0.3, 0.2, 0.1].iter().map(|p| p.ln()).collect();
    let mut s = Sampler::new(SamplerConfig {
        top_p: 0.65,
        ..cfg()
    })
    .unwrap();
    let got = frequencies(&mut s, &row, 20_000);
    let want = [4.0 / 7.0, 3.0 / 7.0, 0.0, 0.0];
    for i in 0..4 {
        assert!((got[i] - want[i]).abs() < 0.015, "{got:?}");
    }
    let mut s = Sampler::new(SamplerConfig { top_k: 3, ..cfg() }).unwrap();
    let got = frequencies(&mut s, &row, 20_000);
    let want = [0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9, 0.0];
    for i in 0..4 {
        assert!((got[i] - want[i]).abs() < 0.015, "{got:?}");
    }
}

#[test]
fn neg_inf_logits_are_never_drawn() {
    let row = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY, 0.0];
    let mut s = Sampler::new(cfg()).unwrap();
    for _ in 0..1000 {
        let id = s.sample(&row, &[]);
        assert!(id == 1 || id == 3);
    }
}

#[test]
fn validate_rejects_out_of_range_values() {
    let bad = [
        SamplerConfig {
            temperature: -0.1,
            ..cfg()
        },
        SamplerConfig {
            temperature: f32::NAN,
            ..cfg()
        },
        SamplerConfig {
            temperature: f32::INFINITY,
            ..cfg()
        },
        SamplerConfig {
            top_p: 0.0,
            ..cfg()
        },
        SamplerConfig {
            top_p: 1.01,
            ..cfg()
        },
        SamplerConfig {
            top_p: f32::NAN,
            ..cfg()
        },
        SamplerConfig {
            min_p: -0.1,
            ..cfg()
        },
        SamplerConfig {
            min_p: 1.5,
            ..cfg()
        },
        SamplerConfig {
            repetition_penalty: 0.0,
            ..cfg()
        },
        SamplerConfig {
            repetition_penalty: f32::NAN,
            ..cfg()
        },
        SamplerConfig {
            presence_penalty: 2.5,
            ..cfg()
        },
        SamplerConfig {
            frequency_penalty: -2.5,
            ..cfg()
        },
        SamplerConfig {
            logit_bias: vec![(0, 101.0)],
            ..cfg()
        },
        SamplerConfig {
            logit_bias: vec![(0, f32::NAN)],
            ..cfg()
        },
    ];
    for c in bad {
        assert!(
            matches!(c.validate(), Err(Error::OutOfRange { .. })),
            "{c:?}"
        );
        assert!(Sampler::new(c).is_err());
    }
    assert!(cfg().validate().is_ok());
    assert!(SamplerConfig::greedy().validate().is_ok());
    let biased = SamplerConfig {
        logit_bias: vec![(10, 1.0)],
        ..cfg()
    };
    assert_eq!(
        biased.validate_for_vocab(10),
        Err(Error::BiasTokenOutOfRange {
            token: 10,
            vocab_size: 10
        })
    );
    assert!(biased.validate_for_vocab(11).is_ok());
}

/// log_softmax([1, 2, 3]) = [1, 2, 3] - ln(e + e² + e³) = [-2.40760596, -1.40760596, -0.40760596].
#[test]
fn logprobs_match_log_softmax() {
    let lp = logprobs(&[1.0, 2.0, 3.0], 0, 2);
    assert!((lp.chosen_logprob - (-2.407_606)).abs() < 1e-5);
    assert_eq!(lp.top.len(), 2);
    assert_eq!(lp.top[0].0, 2);
    assert!((lp.top[0].1 - (-0.407_606)).abs() < 1e-5);
    assert_eq!(lp.top[1].0, 1);
    assert!((lp.top[1].1 - (-1.407_606)).abs() < 1e-5);
}

#[test]
fn logprobs_are_stable_and_sum_to_one() {
    // Huge logits: naive exp overflows; two equal ones get -ln 2 each.
    let lp = logprobs(&[1000.0, 1000.0, -1000.0], 1, 3);
    assert!((lp.chosen_logprob + std::f32::consts::LN_2).abs() < 1e-6);
    assert_eq!(lp.top[0].0, 0, "ties: lower id first");
    assert_eq!(lp.top[1].0, 1);

    let mut rng = Rng::from_seed(5);
    for _ in 0..20 {
        let row = random_row(&mut rng, 3000, 30.0);
        let lp = logprobs(&row, 17, row.len());
        assert_eq!(lp.top.len(), row.len());
        let sum: f64 = lp.top.iter().map(|&(_, l)| f64::from(l).exp()).sum();
        assert!((sum - 1.0).abs() < 1e-5, "{sum}");
        let chosen = lp.top.iter().find(|&&(id, _)| id == 17).unwrap().1;
        assert_eq!(chosen, lp.chosen_logprob);
        assert!(lp.top.windows(2).all(|w| w[0].1 >= w[1].1));
        assert_eq!(lp.top[0].0, reference_argmax(&row));
    }
}

#[test]
fn logprobs_edge_cases() {
    let lp = logprobs(&[0.0, f32::NAN, 0.0], 1, 5);
    assert_eq!(lp.chosen_logprob, f32::NEG_INFINITY);
    assert_eq!(lp.top.len(), 2, "NaN is not listed");
    let lp = logprobs(&[0.0, 0.0], 9, 0);
    assert_eq!(lp.chosen_logprob, f32::NEG_INFINITY);
    assert!(lp.top.is_empty());
    let lp = logprobs(&[], 0, 3);
    assert!(lp.top.is_empty());
}
