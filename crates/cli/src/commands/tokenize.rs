//! `inferno tokenize`: the token ids (and pieces) of a text.

use std::io::Write;

use anyhow::Result;

use super::ModelArgs;
use crate::{load, paths};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text to tokenize.
    pub text: String,
    /// Add the special tokens the tokenizer adds by default (e.g. BOS).
    #[arg(long)]
    pub add_special: bool,
    /// Print JSON: {"ids": [...], "pieces": [...]}.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let path = paths::resolve_model(args.model.model.clone())?;
    let tok = load::load_tokenizer(&path)?;
    let ids = tok.encode(&args.text, args.add_special);
    let pieces: Vec<String> = ids.iter().map(|&id| tok.decode(&[id], false)).collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{}",
            serde_json::json!({ "ids": ids, "pieces": pieces })
        )?;
    } else {
        for (id, piece) in ids.iter().zip(&pieces) {
            writeln!(out, "{id:>8} {piece:?}")?;
        }
        writeln!(out, "{} tokens", ids.len())?;
    }
    Ok(())
}
