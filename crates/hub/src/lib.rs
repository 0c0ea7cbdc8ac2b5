//! hub: turns a `--model` argument into local files. The argument is a GGUF file, a Hugging Face
//! model directory, or a hub id — `owner/repo` (the model directory's files: config, tokenizer,
//! safetensors) or `owner/repo:file.gguf` (one file), optionally `@revision` — which is downloaded
//! into a cache folder with resume, sha256 checks and a progress bar, or served from the cache with
//! no network call when every file is already there and verified.
//!
//! ```no_run
//! let opts = hub::ResolveOptions::from_env()?;
//! let model = hub::resolve("Qwen/Qwen3-0.6B", &opts)?;
//! println!("load {}", model.path.display()); // a directory here, a .gguf file for owner/repo:file.gguf
//! # Ok::<(), hub::Error>(())
//! ```
//!
//! Settings (endpoint, token, cache folder, offline mode, timeouts) are read in `options.rs`.

mod cache;
mod client;
mod digest;
mod download;
mod error;
mod model_ref;
mod options;
mod progress;
mod repo_files;
mod resolve;

pub use cache::{Cache, Manifest, MANIFEST_NAME};
pub use error::Error;
pub use model_ref::{HubRef, ModelRef, RepoId, DEFAULT_REVISION};
pub use options::{ResolveOptions, DEFAULT_ENDPOINT};
pub use resolve::{resolve, resolve_ref, Origin, ResolvedModel};
