//! `inferno inspect`: metadata and tensor table of a GGUF file or a Hugging Face directory.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::paths;

#[derive(clap::Args)]
pub struct Args {
    /// A GGUF file or a Hugging Face model directory (default: the default model).
    pub path: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let path = paths::resolve_model(args.path)?;
    let text = if path.is_dir() {
        formats::inspect::render_hf(&formats::HfModelDir::open(&path)?)
    } else {
        formats::inspect::render_gguf(&formats::GgufFile::open(&path)?)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}
