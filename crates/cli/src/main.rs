//! `inferno`: the command-line entry point. Only this crate prints to stdout.

mod commands;
mod load;
mod paths;
mod session;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "inferno",
    version,
    about = "An LLM inference engine written end to end in Rust",
    long_about = "inferno loads GGUF files and Hugging Face model directories (Qwen3, Llama) and runs them \
                  on its own CPU kernels.\n\nWith no --model, commands use the default model \
                  (SmolLM2-135M-Instruct Q4_1, fetched by scripts/fetch-models.sh into models/; the folder \
                  can be moved with INFERNO_MODELS_DIR)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a completion for a raw text prompt.
    Generate(commands::generate::Args),
    /// Chat with the model through its chat template (a streaming REPL).
    Chat(commands::chat::Args),
    /// Print the token ids of a text.
    Tokenize(commands::tokenize::Args),
    /// Print a model file's metadata and tensor table.
    Inspect(commands::inspect::Args),
    /// Measure prompt processing and generation speed (llama-bench's tests and columns).
    Bench(commands::bench::Args),
    /// Serve the model over an OpenAI-compatible HTTP API.
    Serve(commands::serve::Args),
    /// Write a GGUF (q8_0, q4_0, q4_k, q4_k_m, q6_k, f16, bf16, f32) from a Hugging Face
    /// directory or another GGUF; llama.cpp loads it too.
    Quantize(commands::quantize::Args),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INFERNO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,server=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Generate(a) => commands::generate::run(a),
        Command::Chat(a) => commands::chat::run(a),
        Command::Tokenize(a) => commands::tokenize::run(a),
        Command::Inspect(a) => commands::inspect::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::Serve(a) => commands::serve::run(a),
        Command::Quantize(a) => commands::quantize::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
