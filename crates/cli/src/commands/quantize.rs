//! `inferno quantize IN OUT --type T`: writes a GGUF that inferno and llama.cpp both load, from a
//! Hugging Face directory (as convert_hf_to_gguf.py would, then llama-quantize's mix for the k-quant
//! types) or from another GGUF (dequantized and requantized, as llama-quantize does).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use formats::gguf_export::{
    pre_tokenizer_for_hash, python_list_repr, write_plan, ExportPlan, FileType, CHKTXT,
};
use formats::{GgufFile, HfModelDir, WeightSource};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokenizer::Tokenizer;

#[derive(clap::Args)]
#[command(
    after_help = "Types (as llama.cpp names them; per-tensor rules follow llama-quantize):\n  \
    f32, f16, bf16  every weight matrix in that float type\n  \
    q8_0            8-bit blocks of 32 (what convert_hf_to_gguf.py --outtype q8_0 writes)\n  \
    q4_0            4-bit blocks of 32; output/tied embedding Q6_K\n  \
    q4_k            Q4_K_S: 4-bit k-quant; first 4 attn_v and first 1/8 ffn_down Q5_K, output Q6_K\n  \
    q4_k_m          Q4_K_M: like q4_k but half of attn_v and ffn_down Q6_K, output Q6_K\n  \
    q6_k            6-bit k-quant\n\
Norms and other 1-D tensors stay F32. A row length that a k-quant block (256) does not divide falls\n\
back as llama.cpp does (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0; F16 when 32 does not divide it either).\n\n\
Examples:\n  \
    inferno quantize models/qwen3-tiny qwen3-tiny-q8_0.gguf --type q8_0\n  \
    inferno quantize SmolLM2-135M-Instruct.Q4_1.gguf smollm2-q4_k_m.gguf --type q4_k_m"
)]
pub struct Args {
    /// The input: a Hugging Face model directory (config.json, *.safetensors, tokenizer.json;
    /// Qwen3 or Llama) or a GGUF file.
    pub input: PathBuf,
    /// The GGUF file to write (written to OUTPUT.tmp, renamed when complete).
    pub output: PathBuf,
    /// Output type: f32, f16, bf16, q8_0, q4_0, q4_k (= Q4_K_S), q4_k_m, q6_k.
    #[arg(long = "type", value_name = "TYPE")]
    pub file_type: String,
    /// Worker threads (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
    /// `tokenizer.ggml.pre` for a Hugging Face tokenizer llama.cpp's table does not know
    /// (default: found the way convert_hf_to_gguf.py finds it, from a hash of its tokenization).
    #[arg(long, value_name = "NAME")]
    pub tokenizer_pre: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let start = Instant::now();
    let file_type = FileType::parse(&args.file_type)?;
    let threads = args
        .threads
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    if same_file(&args.input, &args.output) {
        bail!("the output {} is the input", args.output.display());
    }

    let (source, plan): (Box<dyn WeightSource>, ExportPlan) = if args.input.is_dir() {
        let dir = HfModelDir::open(&args.input)?;
        let pre = match &args.tokenizer_pre {
            Some(p) => p.clone(),
            None => detect_pre_tokenizer(&dir)?,
        };
        tracing::info!(pre, "tokenizer.ggml.pre");
        let plan = ExportPlan::from_hf(&dir, file_type, &pre)?;
        (Box::new(dir), plan)
    } else {
        let gguf = GgufFile::open(&args.input)?;
        let plan = ExportPlan::from_gguf(&gguf, file_type)?;
        (Box::new(gguf), plan)
    };

    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &plan.tensors {
        *counts.entry(t.dtype.name()).or_default() += 1;
        tracing::debug!(
            tensor = %t.name,
            source = %t.source_name,
            shape = ?t.shape,
            from = %t.src_dtype,
            to = %t.dtype,
            row_order = ?t.row_order,
            "planned"
        );
    }
    tracing::info!(
        input = %args.input.display(),
        output = %args.output.display(),
        %file_type,
        tensors = plan.tensors.len(),
        ?counts,
        threads,
        "quantizing"
    );

    let bar = ProgressBar::new(plan.output_bytes()).with_style(
        ProgressStyle::with_template(
            "quantizing [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed}, eta {eta})",
        )
        .map_err(|e| anyhow!("{e}"))?,
    );
    let written = write_plan(source.as_ref(), &plan, &args.output, threads, &mut |p| {
        bar.set_position(p.bytes_done);
        bar.set_message(format!(
            "{}/{} {} → {}",
            p.tensor + 1,
            p.n_tensors,
            p.name,
            p.dtype
        ));
        if p.tensor_done {
            tracing::info!(tensor = p.name, dtype = %p.dtype, "written");
        }
    })
    .with_context(|| format!("writing {}", args.output.display()))?;
    bar.finish_and_clear();

    let size = std::fs::metadata(&written).map(|m| m.len()).unwrap_or(0);
    let mix: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    writeln!(
        std::io::stdout().lock(),
        "wrote {} ({:.1} MiB, {file_type}: {} tensors = {}) in {:.1}s",
        written.display(),
        size as f64 / (1024.0 * 1024.0),
        plan.tensors.len(),
        mix.join(", "),
        start.elapsed().as_secs_f64()
    )?;
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// convert_hf_to_gguf.py's `get_vocab_base_pre`: tokenize its check text, hash Python's `str()`
/// of the ids, look the hash up in llama.cpp's table.
fn detect_pre_tokenizer(dir: &HfModelDir) -> Result<String> {
    let tok_path = dir
        .tokenizer_json_path()
        .ok_or_else(|| anyhow!("{} has no tokenizer.json", dir.dir().display()))?;
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let tok_json = read(tok_path)?;
    let cfg_json = dir.tokenizer_config_path().map(read).transpose()?;
    let tokenizer = Tokenizer::from_hf(&tok_json, cfg_json.as_deref())?;
    let ids = tokenizer.encode(CHKTXT, true);
    let hash = Sha256::digest(python_list_repr(&ids).as_bytes());
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    match pre_tokenizer_for_hash(&hex) {
        Some(pre) => Ok(pre.to_string()),
        None => bail!(
            "llama.cpp does not know this tokenizer's pre-tokenizer (check hash {hex}); \
             name it with --tokenizer-pre (e.g. qwen2, llama-bpe, smollm)"
        ),
    }
}
