//! One file per subcommand; `ModelArgs` are the options every model-using command shares.

pub mod bench;
pub mod chat;
pub mod generate;
pub mod inspect;
pub mod quantize;
pub mod serve;
pub mod tokenize;

use std::path::PathBuf;

use sampling::SamplerConfig;

#[derive(clap::Args, Clone)]
pub struct ModelArgs {
    /// A GGUF file or a Hugging Face model directory (config.json, *.safetensors, tokenizer.json).
    /// Default: the default model in the models folder.
    #[arg(short, long, env = "INFERNO_MODEL")]
    pub model: Option<PathBuf>,
    /// Worker threads for the kernels (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// Context size in tokens (KV cache capacity; default: the model's, capped at 4096).
    #[arg(short = 'c', long)]
    pub ctx_size: Option<usize>,
}

impl ModelArgs {
    pub fn threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(1)
            })
            .max(1)
    }

    pub fn ctx_size(&self, model_max: usize) -> usize {
        self.ctx_size.unwrap_or(model_max.min(4096)).max(1)
    }
}

#[derive(clap::Args, Clone)]
pub struct SamplingArgs {
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Keep only the k most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches p (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Drop tokens whose probability is below min_p times the most likely one's (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub min_p: f32,
    /// Repetition penalty over the prompt and the generated tokens (1 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repeat_penalty: f32,
    /// Seed of the sampler's random generator.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl SamplingArgs {
    pub fn config(&self) -> SamplerConfig {
        SamplerConfig {
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repeat_penalty,
            seed: self.seed,
            ..SamplerConfig::default()
        }
    }
}
