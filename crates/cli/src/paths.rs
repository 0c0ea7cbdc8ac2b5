//! Where models live: the `--model` argument, or the default model in the models folder.

use std::path::PathBuf;

use anyhow::{bail, Result};

/// The file name of the default model inside the models folder.
pub const DEFAULT_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// `$INFERNO_MODELS_DIR`, else `./models` when it exists, else the repository's `models/`.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("INFERNO_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models")
}

/// The model to use: the explicit argument (a local GGUF file or Hugging Face directory, or a hub id
/// `owner/repo[:file.gguf][@revision]` fetched into the cache), or the default model (which must have
/// been fetched by scripts/fetch-models.sh).
pub fn resolve_model(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        if p.exists() {
            return Ok(p);
        }
        let opts = hub::ResolveOptions::from_env()?;
        return Ok(hub::resolve(&p.to_string_lossy(), &opts)?.path);
    }
    let p = models_dir().join(DEFAULT_MODEL_FILE);
    if !p.exists() {
        bail!(
            "the default model {} is not there; run scripts/fetch-models.sh smollm2 (or pass --model)",
            p.display()
        );
    }
    Ok(p)
}
