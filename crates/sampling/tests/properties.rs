//! Whatever the row and the (valid) configuration, the sampled token satisfies each filter's
//! definition, checked from first principles on the adjusted row.

use proptest::prelude::*;
use sampling::{Sampler, SamplerConfig, SamplingContext};

fn row() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(
        prop_oneof![
            20 => -8.0f32..8.0,
            1 => Just(f32::NAN),
            1 => Just(2.0f32), // ties
        ],
        1..300,
    )
}

fn config() -> impl Strategy<Value = SamplerConfig> {
    (
        prop_oneof![Just(0.0f32), 0.05f32..3.0],
        prop_oneof![Just(0usize), 1usize..20],
        prop_oneof![Just(1.0f32), 0.01f32..1.0],
        prop_oneof![Just(0.0f32), 0.0f32..0.5],
        prop_oneof![Just(1.0f32), 0.5f32..2.0],
        (-2.0f32..2.0, -2.0f32..2.0),
        any::<u64>(),
    )
        .prop_map(
            |(temperature, top_k, top_p, min_p, rep, (pres, freq), seed)| SamplerConfig {
                temperature,
                top_k,
                top_p,
                min_p,
                repetition_penalty: rep,
                presence_penalty: pres,
                frequency_penalty: freq,
                logit_bias: vec![(3, 1.5), (7, -4.0)],
                seed: Some(seed),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn sampled_token_satisfies_every_filter(
        logits in row(),
        cfg in config(),
        prompt in prop::collection::vec(0u32..400, 0..20),
        generated in prop::collection::vec(0u32..400, 0..20),
    ) {
        prop_assume!(logits.iter().any(|l| !l.is_nan()));
        let ctx = SamplingContext { prompt: &prompt, generated: &generated };
        let mut s = Sampler::new(cfg.clone()).unwrap();
        let adjusted = s.adjusted_logits(&logits, &ctx).to_vec();
        prop_assume!(adjusted.iter().any(|l| !l.is_nan()));
        let id = s.try_sample_with(&logits, &ctx).unwrap() as usize;
        prop_assert!(id < logits.len());
        let lc = adjusted[id];
        prop_assert!(!lc.is_nan());

        // Tokens ranked above the chosen one: higher adjusted logit, or equal and lower id.
        let above = |j: usize, l: f32| l > lc || (l == lc && j < id);
        let ranked_above: Vec<usize> = adjusted
            .iter()
            .enumerate()
            .filter(|&(j, &l)| !l.is_nan() && above(j, l))
            .map(|(j, _)| j)
            .collect();
        if cfg.is_greedy() {
            prop_assert!(ranked_above.is_empty(), "greedy took a non-argmax");
            return Ok(());
        }
        if cfg.top_k > 0 {
            prop_assert!(ranked_above.len() < cfg.top_k, "outside top-k");
        }
        // The top-k set, temperature-scaled weights relative to the max.
        let mut order: Vec<usize> = (0..adjusted.len()).filter(|&j| !adjusted[j].is_nan()).collect();
        order.sort_by(|&a, &b| adjusted[b].partial_cmp(&adjusted[a]).unwrap().then(a.cmp(&b)));
        if cfg.top_k > 0 {
            order.truncate(cfg.top_k);
        }
        let max = adjusted[order[0]];
        let w = |j: usize| f64::from((adjusted[j] - max) / cfg.temperature).exp();
        let z: f64 = order.iter().map(|&j| w(j)).sum();
        let mass_above: f64 = ranked_above.iter().filter(|j| order.contains(j)).map(|&j| w(j)).sum();
        prop_assert!(
            mass_above / z < f64::from(cfg.top_p) + 1e-5,
            "outside the nucleus: {} >= {}", mass_above / z, cfg.top_p
        );
        prop_assert!(w(id) >= f64::from(cfg.min_p) * (1.0 - 1e-5), "below min-p");
    }
}
