//! `EngineStats`: the engine's gauges, counters and latency histograms. The engine thread keeps
//! one and publishes a copy once per step; `EngineHandle::stats` reads that copy.
//! `render_prometheus` writes the text exposition format, so the server only serves it.

use std::fmt::Write as _;

use crate::FinishReason;

/// Time to first token (seconds).
pub const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0,
];
/// Inter-token latency (seconds).
pub const ITL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
    5.0, 10.0, 20.0, 80.0,
];
/// End-to-end latency and queue time (seconds).
pub const REQUEST_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0,
    60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
];

/// A Prometheus histogram: `cumulative[i]` observations `<= bounds[i]`; `count` (the `+Inf`
/// bucket) and `sum` over all.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub bounds: &'static [f64],
    pub cumulative: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            cumulative: vec![0; bounds.len()],
            count: 0,
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        for (c, &b) in self.cumulative.iter_mut().zip(self.bounds) {
            if v <= b {
                *c += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

/// Choices finished, by reason; `error` counts requests failed by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinishedCounts {
    pub stop: u64,
    pub length: u64,
    pub abort: u64,
    pub error: u64,
}

impl FinishedCounts {
    pub fn add(&mut self, reason: FinishReason) {
        match reason {
            FinishReason::Stop => self.stop += 1,
            FinishReason::Length => self.length += 1,
            FinishReason::Abort => self.abort += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.stop + self.length + self.abort + self.error
    }
}

/// A snapshot of the engine (as of its last step).
#[derive(Debug, Clone, PartialEq)]
pub struct EngineStats {
    /// The engine thread is up and accepting (false once it failed or exited).
    pub alive: bool,
    /// Sequences holding blocks (forked choices count each).
    pub running: usize,
    /// Sequences waiting (new or preempted), plus requests submitted and not yet queued.
    pub waiting: usize,
    pub kv_blocks_total: usize,
    pub kv_blocks_used: usize,
    pub kv_blocks_free: usize,
    /// Blocks held by the prefix cache (some also by running requests).
    pub kv_blocks_cached: usize,
    /// Prefix-cache blocks that nobody else holds (evictable): with no request live,
    /// `kv_blocks_used == kv_blocks_cached_only`.
    pub kv_blocks_cached_only: usize,
    /// Tokens looked up in the prefix cache at admissions, and those found.
    pub prefix_query_tokens: u64,
    pub prefix_hit_tokens: u64,
    pub preemptions: u64,
    /// Copy-on-write block copies (a shared, partly filled block written by one holder).
    pub block_copies: u64,
    /// Prompt tokens of admitted requests (once per request, whatever `n`).
    pub prompt_tokens: u64,
    /// Prompt positions run through the model (cache hits excluded; recomputation after a
    /// preemption included).
    pub prompt_tokens_computed: u64,
    /// Generated tokens, all choices.
    pub generation_tokens: u64,
    /// Forward passes and the tokens they ran.
    pub steps: u64,
    pub batched_tokens: u64,
    pub finished: FinishedCounts,
    pub time_to_first_token: Histogram,
    pub inter_token_latency: Histogram,
    pub e2e_latency: Histogram,
    pub queue_time: Histogram,
}

impl EngineStats {
    pub fn new(kv_blocks_total: usize) -> Self {
        Self {
            alive: true,
            running: 0,
            waiting: 0,
            kv_blocks_total,
            kv_blocks_used: 0,
            kv_blocks_free: kv_blocks_total,
            kv_blocks_cached: 0,
            kv_blocks_cached_only: 0,
            prefix_query_tokens: 0,
            prefix_hit_tokens: 0,
            preemptions: 0,
            block_copies: 0,
            prompt_tokens: 0,
            prompt_tokens_computed: 0,
            generation_tokens: 0,
            steps: 0,
            batched_tokens: 0,
            finished: FinishedCounts::default(),
            time_to_first_token: Histogram::new(TTFT_BUCKETS),
            inter_token_latency: Histogram::new(ITL_BUCKETS),
            e2e_latency: Histogram::new(REQUEST_BUCKETS),
            queue_time: Histogram::new(REQUEST_BUCKETS),
        }
    }

    /// Prometheus text exposition (version 0.0.4), every metric named `{prefix}_...`.
    pub fn render_prometheus(&self, prefix: &str) -> String {
        let mut out = String::new();
        let mut scalar = |name: &str, kind: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {prefix}_{name} {help}");
            let _ = writeln!(out, "# TYPE {prefix}_{name} {kind}");
            let _ = writeln!(out, "{prefix}_{name} {}", fmt_f64(v));
        };
        scalar(
            "engine_alive",
            "gauge",
            "1 while the engine thread accepts requests.",
            f64::from(u8::from(self.alive)),
        );
        scalar(
            "num_requests_running",
            "gauge",
            "Sequences holding KV blocks.",
            self.running as f64,
        );
        scalar(
            "num_requests_waiting",
            "gauge",
            "Sequences waiting to run (new or preempted).",
            self.waiting as f64,
        );
        scalar(
            "kv_cache_blocks_total",
            "gauge",
            "Blocks in the KV pool.",
            self.kv_blocks_total as f64,
        );
        scalar(
            "kv_cache_blocks_used",
            "gauge",
            "KV blocks held by requests or the prefix cache.",
            self.kv_blocks_used as f64,
        );
        scalar(
            "kv_cache_blocks_free",
            "gauge",
            "KV blocks free.",
            self.kv_blocks_free as f64,
        );
        scalar(
            "kv_cache_blocks_cached",
            "gauge",
            "KV blocks held by the prefix cache.",
            self.kv_blocks_cached as f64,
        );
        let usage = if self.kv_blocks_total == 0 {
            0.0
        } else {
            self.kv_blocks_used as f64 / self.kv_blocks_total as f64
        };
        scalar(
            "kv_cache_usage_ratio",
            "gauge",
            "Fraction of the KV pool in use (1 = full).",
            usage,
        );
        scalar(
            "prefix_cache_queries_total",
            "counter",
            "Prompt tokens looked up in the prefix cache.",
            self.prefix_query_tokens as f64,
        );
        scalar(
            "prefix_cache_hits_total",
            "counter",
            "Prompt tokens found in the prefix cache.",
            self.prefix_hit_tokens as f64,
        );
        scalar(
            "num_preemptions_total",
            "counter",
            "Sequences preempted (recomputed later) for lack of KV blocks.",
            self.preemptions as f64,
        );
        scalar(
            "kv_cache_block_copies_total",
            "counter",
            "Copy-on-write copies of shared, partly filled KV blocks.",
            self.block_copies as f64,
        );
        scalar(
            "prompt_tokens_total",
            "counter",
            "Prompt tokens of admitted requests.",
            self.prompt_tokens as f64,
        );
        scalar(
            "prompt_tokens_computed_total",
            "counter",
            "Prompt tokens run through the model (prefix-cache hits excluded).",
            self.prompt_tokens_computed as f64,
        );
        scalar(
            "generation_tokens_total",
            "counter",
            "Generated tokens.",
            self.generation_tokens as f64,
        );
        scalar(
            "engine_steps_total",
            "counter",
            "Batched forward passes.",
            self.steps as f64,
        );
        scalar(
            "batched_tokens_total",
            "counter",
            "Tokens run through the model.",
            self.batched_tokens as f64,
        );

        let name = format!("{prefix}_request_success_total");
        let _ = writeln!(
            out,
            "# HELP {name} Finished sequences by finish reason (error: failed by the engine)."
        );
        let _ = writeln!(out, "# TYPE {name} counter");
        let f = &self.finished;
        for (reason, v) in [
            ("stop", f.stop),
            ("length", f.length),
            ("abort", f.abort),
            ("error", f.error),
        ] {
            let _ = writeln!(out, "{name}{{finished_reason=\"{reason}\"}} {v}");
        }

        for (metric, help, h) in [
            (
                "time_to_first_token_seconds",
                "Time from submission to the first token.",
                &self.time_to_first_token,
            ),
            (
                "inter_token_latency_seconds",
                "Time between consecutive tokens of a sequence.",
                &self.inter_token_latency,
            ),
            (
                "e2e_request_latency_seconds",
                "Time from submission to the end of the request.",
                &self.e2e_latency,
            ),
            (
                "request_queue_time_seconds",
                "Time from submission to the first scheduled step.",
                &self.queue_time,
            ),
        ] {
            write_histogram(&mut out, &format!("{prefix}_{metric}"), help, h);
        }
        out
    }
}

fn write_histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (&b, &c) in h.bounds.iter().zip(&h.cumulative) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{}\"}} {c}", fmt_f64(b));
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum {}", fmt_f64(h.sum));
    let _ = writeln!(out, "{name}_count {}", h.count);
}

/// Prometheus float text: integers without a fraction, others in Rust's shortest form.
fn fmt_f64(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 3.0] {
            h.observe(v);
        }
        assert_eq!(h.cumulative, vec![2, 3]);
        assert_eq!(h.count, 4);
        assert!((h.sum - 3.65).abs() < 1e-12);
    }

    #[test]
    fn exposition_has_help_type_and_buckets() {
        let mut s = EngineStats::new(64);
        s.kv_blocks_used = 16;
        s.finished.add(FinishReason::Length);
        s.time_to_first_token.observe(0.03);
        let text = s.render_prometheus("inferno");
        assert!(text.contains(
            "# TYPE inferno_kv_cache_blocks_used gauge\ninferno_kv_cache_blocks_used 16\n"
        ));
        assert!(text.contains("inferno_kv_cache_usage_ratio 0.25\n"));
        assert!(text.contains("inferno_request_success_total{finished_reason=\"length\"} 1\n"));
        assert!(text.contains("# TYPE inferno_time_to_first_token_seconds histogram\n"));
        assert!(text.contains("inferno_time_to_first_token_seconds_bucket{le=\"0.02\"} 0\n"));
        assert!(text.contains("inferno_time_to_first_token_seconds_bucket{le=\"0.04\"} 1\n"));
        assert!(text.contains("inferno_time_to_first_token_seconds_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("inferno_time_to_first_token_seconds_count 1\n"));
        // Every sample line belongs to a metric announced by HELP and TYPE.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            let base = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_sum")
                .trim_end_matches("_count");
            assert!(
                text.contains(&format!("# TYPE {name} "))
                    || text.contains(&format!("# TYPE {base} ")),
                "{line}"
            );
        }
    }
}
