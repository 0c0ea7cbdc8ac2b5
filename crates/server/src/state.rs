//! The state every handler shares: configuration, the model once it is loaded (the server
//! listens before loading), the shutdown flag and the HTTP counters.

use std::sync::{Arc, PoisonError, RwLock};

use engine::EngineHandle;
use tokenizer::{ChatTemplate, Tokenizer};

use crate::auth::ApiKeys;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::http_metrics::HttpMetrics;

/// What the loader hands the server: a running engine and the model's text side.
pub struct LoadedModel {
    pub engine: EngineHandle,
    pub tokenizer: Arc<Tokenizer>,
    /// `None` when the model has no chat template (chat completions then answer 400).
    pub template: Option<ChatTemplate>,
}

/// The loaded model as handlers use it.
pub struct Model {
    pub engine: EngineHandle,
    pub tokenizer: Arc<Tokenizer>,
    pub template: Option<ChatTemplate>,
    /// The tokenizer has `<think>` / `</think>`: chat output is split into reasoning/content.
    pub reasoning: bool,
    pub max_model_len: usize,
    pub vocab_size: usize,
    pub max_n: usize,
    pub max_logprobs: usize,
}

impl Model {
    pub fn new(m: LoadedModel) -> Model {
        let reasoning =
            m.tokenizer.id_of("<think>").is_some() && m.tokenizer.id_of("</think>").is_some();
        let max_model_len = m.engine.max_model_len();
        let vocab_size = m.engine.vocab_size();
        let max_n = m.engine.config().max_n;
        let max_logprobs = m.engine.config().max_logprobs;
        Model {
            engine: m.engine,
            tokenizer: m.tokenizer,
            template: m.template,
            reasoning,
            max_model_len,
            vocab_size,
            max_n,
            max_logprobs,
        }
    }
}

#[derive(Clone)]
enum Phase {
    Loading,
    Ready(Arc<Model>),
    Failed(String),
    ShuttingDown(Option<Arc<Model>>),
}

/// Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: ServerConfig,
    keys: ApiKeys,
    phase: RwLock<Phase>,
    http: HttpMetrics,
    /// When the server started (the model card's `created`).
    created: u64,
}

impl AppState {
    pub fn new(cfg: ServerConfig) -> AppState {
        let keys = ApiKeys::new(&cfg.api_keys);
        AppState {
            inner: Arc::new(Inner {
                cfg,
                keys,
                phase: RwLock::new(Phase::Loading),
                http: HttpMetrics::default(),
                created: crate::openai_types::unix_now(),
            }),
        }
    }

    pub fn config(&self) -> &ServerConfig {
        &self.inner.cfg
    }

    pub fn keys(&self) -> &ApiKeys {
        &self.inner.keys
    }

    pub fn http(&self) -> &HttpMetrics {
        &self.inner.http
    }

    pub fn created(&self) -> u64 {
        self.inner.created
    }

    fn phase(&self) -> Phase {
        self.inner
            .phase
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_phase(&self, f: impl FnOnce(&Phase) -> Option<Phase>) {
        let mut p = self
            .inner
            .phase
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = f(&p) {
            *p = next;
        }
    }

    /// The model for an inference route, or the 503 to answer.
    pub fn model(&self) -> Result<Arc<Model>, ApiError> {
        match self.phase() {
            Phase::Ready(m) if m.engine.is_dead() => Err(ApiError::unavailable(
                "the engine has failed; the server must be restarted",
                "engine_failed",
            )),
            Phase::Ready(m) => Ok(m),
            Phase::Loading => Err(ApiError::unavailable(
                "the model is still loading; retry when GET /ready answers 200",
                "model_loading",
            )),
            Phase::Failed(msg) => Err(ApiError::unavailable(
                format!("the model failed to load: {msg}"),
                "model_load_failed",
            )),
            Phase::ShuttingDown(_) => Err(ApiError::unavailable(
                "the server is shutting down",
                "shutting_down",
            )),
        }
    }

    /// The model whatever the phase (for metrics during a drain).
    pub fn model_any_phase(&self) -> Option<Arc<Model>> {
        match self.phase() {
            Phase::Ready(m) | Phase::ShuttingDown(Some(m)) => Some(m),
            _ => None,
        }
    }

    /// Loading finished: the server is ready. When a shutdown began meanwhile, the engine is
    /// stopped at once instead and `None` returned.
    pub fn set_ready(&self, m: LoadedModel) -> Option<Arc<Model>> {
        let mut p = self
            .inner
            .phase
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if matches!(*p, Phase::Loading) {
            let model = Arc::new(Model::new(m));
            *p = Phase::Ready(Arc::clone(&model));
            Some(model)
        } else {
            m.engine.shutdown(std::time::Instant::now());
            None
        }
    }

    pub fn set_failed(&self, msg: String) {
        self.set_phase(|p| match p {
            Phase::Loading => Some(Phase::Failed(msg)),
            _ => None,
        });
    }

    /// From now on inference routes answer 503; returns the model to drain, if loaded.
    pub fn begin_shutdown(&self) -> Option<Arc<Model>> {
        let mut model = None;
        self.set_phase(|p| {
            model = match p {
                Phase::Ready(m) | Phase::ShuttingDown(Some(m)) => Some(Arc::clone(m)),
                _ => None,
            };
            Some(Phase::ShuttingDown(model.clone()))
        });
        model
    }

    /// `/ready`: `Ok` once the model serves.
    pub fn readiness(&self) -> Result<(), ApiError> {
        self.model().map(|_| ())
    }
}
