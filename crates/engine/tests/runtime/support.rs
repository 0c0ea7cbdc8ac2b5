//! Shared helpers of the runtime tests: real models and tokenizers from the fetched `models/`
//! folder, engine configs, collecting a request's events, and test-only model wrappers (a gate
//! that lets the test run the engine step by step, a model that panics).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::{
    EngineConfig, EngineHandle, EngineStats, Event, FinishReason, GenerateRequest, RequestStream,
    SchedulerConfig, TokenLogprob, Usage,
};
use formats::{GgufFile, GgufValue, HfModelDir, ModelConfig};
use models::{ForwardBatch, KvSpec, KvTensors, Model, TraceFn};
use sampling::SamplerConfig;
use tokenizer::{GgufVocab, Tokenizer};

pub const THREADS: usize = 2;

/// The fetched-models folder (`INFERNO_MODELS_DIR` or `models/` of the repository).
pub fn models_dir() -> PathBuf {
    std::env::var_os("INFERNO_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// A file under the models folder; fails (never skips) when it is absent.
pub fn model_path(rel: &str) -> PathBuf {
    let p = models_dir().join(rel);
    assert!(
        p.exists(),
        "model file {} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)",
        p.display()
    );
    p
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// qwen3-tiny (HF dir, bf16 weights computed in f32) and the real Qwen3 tokenizer with the
/// EOS ids of config.json and generation_config.json.
pub fn tiny() -> (Box<dyn Model>, Arc<Tokenizer>) {
    let dir = model_path("qwen3-tiny");
    let src = HfModelDir::open(&dir).expect("open qwen3-tiny");
    let cfg = src.config().clone();
    let model = models::load(&src, &cfg, THREADS, &mut |_, _| {}).expect("load qwen3-tiny");
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let tok_json = read(&dir.join("tokenizer.json"));
    let tok_cfg = read(&dir.join("tokenizer_config.json"));
    let tok = Tokenizer::from_hf(&tok_json, Some(&tok_cfg))
        .expect("qwen3 tokenizer")
        .with_eos_ids([151645, 151643]);
    (model, Arc::new(tok))
}

/// SmolLM2-135M-Instruct Q4_1 (GGUF) and its GGUF vocabulary.
pub fn smollm() -> (Box<dyn Model>, Arc<Tokenizer>) {
    let path = model_path("SmolLM2-135M-Instruct.Q4_1.gguf");
    let gguf = GgufFile::open(&path).expect("open SmolLM2");
    let cfg = ModelConfig::from_gguf(&gguf).expect("SmolLM2 config");
    let model = models::load(&gguf, &cfg, THREADS, &mut |_, _| {}).expect("load SmolLM2");
    let s = |k: &str| gguf.get_str(k).unwrap_or_default().to_string();
    let id = |k: &str| gguf.get_u64(k).and_then(|v| u32::try_from(v).ok());
    let strings = |k: &str| -> Vec<String> {
        gguf.get_str_array(k)
            .expect(k)
            .into_iter()
            .map(String::from)
            .collect()
    };
    let tok = Tokenizer::from_gguf_vocab(GgufVocab {
        model: s("tokenizer.ggml.model"),
        pre: s("tokenizer.ggml.pre"),
        tokens: strings("tokenizer.ggml.tokens"),
        merges: strings("tokenizer.ggml.merges"),
        token_types: gguf
            .get_i32_array("tokenizer.ggml.token_type")
            .unwrap_or_default(),
        bos: id("tokenizer.ggml.bos_token_id"),
        eos: id("tokenizer.ggml.eos_token_id"),
        add_bos: matches!(
            gguf.get("tokenizer.ggml.add_bos_token"),
            Some(GgufValue::Bool(true))
        ),
    })
    .expect("SmolLM2 tokenizer");
    (model, Arc::new(tok))
}

pub fn config(num_blocks: usize, block_size: usize, max_batched_tokens: usize) -> EngineConfig {
    EngineConfig {
        scheduler: SchedulerConfig {
            max_batched_tokens,
            max_running: 64,
            max_waiting: 256,
            block_size,
            num_blocks,
            enable_prefix_cache: true,
            max_model_len: (num_blocks * block_size).min(4096),
        },
        threads: THREADS,
        ..EngineConfig::default()
    }
}

pub fn greedy(prompt: Vec<u32>, max_tokens: usize) -> GenerateRequest {
    GenerateRequest {
        sampling: SamplerConfig::greedy(),
        ..GenerateRequest::new(prompt, max_tokens)
    }
}

/// The next event, failing the test instead of hanging.
pub fn next_event(s: &mut RequestStream, timeout: Duration) -> Option<Event> {
    thread_local! {
        static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
    }
    RT.with(|rt| rt.block_on(async { tokio::time::timeout(timeout, s.recv()).await }))
        .unwrap_or_else(|_| panic!("no event within {timeout:?}"))
}

/// One choice's result.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Choice {
    pub tokens: Vec<u32>,
    /// The text of each token event.
    pub texts: Vec<String>,
    pub logprobs: Vec<Option<TokenLogprob>>,
    pub reason: Option<FinishReason>,
    pub matched_stop: Option<String>,
    pub usage: Usage,
    /// Choice 0 only: `Event::PromptLogprobs` (first token, entries), when asked for.
    pub prompt_logprobs: Option<(u32, Vec<TokenLogprob>)>,
}

impl Choice {
    pub fn text(&self) -> String {
        self.texts.concat()
    }
}

/// Reads a stream to its end: every choice's tokens and finish. Fails on `Error` and on a
/// token after `Finished`.
pub fn collect(mut s: RequestStream) -> Vec<Choice> {
    let mut choices: Vec<Choice> = Vec::new();
    let mut done: Vec<bool> = Vec::new();
    while let Some(ev) = next_event(&mut s, Duration::from_secs(300)) {
        let grow = |i: usize, choices: &mut Vec<Choice>, done: &mut Vec<bool>| {
            if choices.len() <= i {
                choices.resize(i + 1, Choice::default());
                done.resize(i + 1, false);
            }
        };
        match ev {
            Event::Token {
                choice,
                token,
                text,
                logprob,
            } => {
                grow(choice, &mut choices, &mut done);
                assert!(!done[choice], "token after Finished in choice {choice}");
                let c = &mut choices[choice];
                c.tokens.push(token);
                c.texts.push(text);
                c.logprobs.push(logprob);
            }
            Event::Finished {
                choice,
                reason,
                matched_stop,
                usage,
            } => {
                grow(choice, &mut choices, &mut done);
                assert!(!done[choice], "two Finished for choice {choice}");
                done[choice] = true;
                let c = &mut choices[choice];
                c.reason = Some(reason);
                c.matched_stop = matched_stop;
                c.usage = usage;
            }
            Event::Error(e) => panic!("engine error: {e}"),
            Event::PromptLogprobs {
                first_token,
                logprobs,
            } => {
                grow(0, &mut choices, &mut done);
                assert!(
                    choices.iter().all(|c| c.tokens.is_empty()),
                    "prompt logprobs after a token"
                );
                let old = choices[0].prompt_logprobs.replace((first_token, logprobs));
                assert!(old.is_none(), "prompt logprobs twice");
            }
        }
    }
    assert!(
        done.iter().all(|&d| d),
        "stream ended before every choice finished"
    );
    choices
}

/// Submits and collects one request.
pub fn run(h: &EngineHandle, req: GenerateRequest) -> Vec<Choice> {
    collect(h.submit(req).expect("submit"))
}

/// Waits until the engine is idle (nothing running or waiting) and returns its stats.
pub fn wait_idle(h: &EngineHandle) -> EngineStats {
    let start = Instant::now();
    loop {
        let s = h.stats();
        if s.running == 0 && s.waiting == 0 {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "engine not idle: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until `f(stats)` holds.
pub fn wait_stats(h: &EngineHandle, what: &str, f: impl Fn(&EngineStats) -> bool) -> EngineStats {
    let start = Instant::now();
    loop {
        let s = h.stats();
        if f(&s) {
            return s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}: {s:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Distinct prompts of different lengths from real text.
pub fn prompts(tok: &Tokenizer, n: usize) -> Vec<Vec<u32>> {
    const TEXTS: [&str; 8] = [
        "The quick brown fox jumps over the lazy dog.",
        "Once upon a time, in a kingdom by the sea, there lived",
        "def fibonacci(n):\n    if n < 2:\n        return n\n",
        "The capital of France is",
        "Water boils at one hundred degrees Celsius when",
        "List three colours of the rainbow: red,",
        "In 1969 the first humans walked on the Moon, and",
        "My favourite recipe for pancakes needs flour, eggs and",
    ];
    (0..n)
        .map(|i| {
            let text = TEXTS[i % TEXTS.len()];
            let text = if i < TEXTS.len() {
                text.to_string()
            } else {
                format!("Question {i}: {text}")
            };
            tok.encode(&text, false)
        })
        .collect()
}

/// A model whose every forward reports that it started (`entered`, the batch's token count),
/// waits for a permit from the test (at most 20 s; at once when the permit sender is dropped),
/// runs, and reports that it ran: the test can hold the engine inside a step.
pub struct Gated {
    pub inner: Box<dyn Model>,
    pub permits: mpsc::Receiver<()>,
    pub entered: mpsc::Sender<usize>,
    pub ran: mpsc::Sender<usize>,
}

/// The test's side of a `Gated` model.
pub struct Gate {
    pub permits: Option<mpsc::Sender<()>>,
    pub entered: mpsc::Receiver<usize>,
    pub ran: mpsc::Receiver<usize>,
}

impl Gate {
    /// Lets one forward run.
    pub fn permit(&self) {
        if let Some(p) = &self.permits {
            p.send(()).expect("engine gone");
        }
    }

    /// Lets every forward run from now on.
    pub fn open(&mut self) {
        self.permits = None;
    }

    /// Waits until a forward has started; returns its token count.
    pub fn wait_entered(&self) -> usize {
        self.entered
            .recv_timeout(Duration::from_secs(60))
            .expect("no forward started")
    }

    /// Waits until a forward has finished; returns its token count.
    pub fn wait_ran(&self) -> usize {
        self.ran
            .recv_timeout(Duration::from_secs(60))
            .expect("no forward finished")
    }

    /// Lets one forward run and waits for it (consuming its `entered` and `ran` reports);
    /// returns its token count.
    pub fn step(&self) -> usize {
        self.permit();
        let entered = self.wait_entered();
        assert_eq!(self.wait_ran(), entered);
        entered
    }
}

impl Gated {
    pub fn wrap(inner: Box<dyn Model>) -> (Box<dyn Model>, Gate) {
        let (permit_tx, permits) = mpsc::channel();
        let (entered, entered_rx) = mpsc::channel();
        let (ran, ran_rx) = mpsc::channel();
        (
            Box::new(Gated {
                inner,
                permits,
                entered,
                ran,
            }),
            Gate {
                permits: Some(permit_tx),
                entered: entered_rx,
                ran: ran_rx,
            },
        )
    }
}

impl Model for Gated {
    fn config(&self) -> &ModelConfig {
        self.inner.config()
    }

    fn kv_spec(&self) -> KvSpec {
        self.inner.kv_spec()
    }

    fn forward(&mut self, batch: &ForwardBatch, kv: &mut KvTensors) -> models::Result<&[f32]> {
        let _ = self.entered.send(batch.tokens.len());
        let _ = self.permits.recv_timeout(Duration::from_secs(20));
        let _ = self.ran.send(batch.tokens.len());
        self.inner.forward(batch, kv)
    }

    fn forward_traced(
        &mut self,
        batch: &ForwardBatch,
        kv: &mut KvTensors,
        trace: &mut TraceFn<'_>,
    ) -> models::Result<&[f32]> {
        self.inner.forward_traced(batch, kv, trace)
    }
}

/// A model that fails its `fail_at`-th forward (counting from 0) and every later one: with a
/// panic, or with an error when `panic` is false (then only that one forward fails).
pub struct Faulty {
    pub inner: Box<dyn Model>,
    pub calls: usize,
    pub fail_at: usize,
    pub panic: bool,
}

impl Model for Faulty {
    fn config(&self) -> &ModelConfig {
        self.inner.config()
    }

    fn kv_spec(&self) -> KvSpec {
        self.inner.kv_spec()
    }

    fn forward(&mut self, batch: &ForwardBatch, kv: &mut KvTensors) -> models::Result<&[f32]> {
        let call = self.calls;
        self.calls += 1;
        if self.panic && call >= self.fail_at {
            panic!("injected failure in forward {call}");
        }
        if !self.panic && call == self.fail_at {
            return Err(models::Error::Batch(format!(
                "injected error in forward {call}"
            )));
        }
        self.inner.forward(batch, kv)
    }

    fn forward_traced(
        &mut self,
        batch: &ForwardBatch,
        kv: &mut KvTensors,
        trace: &mut TraceFn<'_>,
    ) -> models::Result<&[f32]> {
        self.inner.forward_traced(batch, kv, trace)
    }
}

/// The greedy ids of `qwen3-tiny/expected.json`: (prompt ids, 32 greedy ids) per prompt.
pub fn tiny_greedy_fixtures() -> Vec<(String, Vec<u32>, Vec<u32>)> {
    let path = fixtures_dir().join("qwen3-tiny/expected.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let exp: serde_json::Value = serde_json::from_str(&text).expect("expected.json");
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|x| x.as_u64().expect("id") as u32)
            .collect()
    };
    exp["prompts"]
        .as_array()
        .expect("prompts")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_string(),
                ids(&p["ids"]),
                ids(&p["greedy"]["ids"]),
            )
        })
        .collect()
}
