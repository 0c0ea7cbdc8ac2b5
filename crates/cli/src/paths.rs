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

/// The model to use: the explicit argument, or the default model (which must have been fetched).
pub fn resolve_model(arg: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(p) = arg {
        if !p.exists() {
            bail!("model path {} does not exist", p.display());
        }
        return Ok(p);
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
