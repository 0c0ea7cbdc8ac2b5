//! The formats crate's error type: every variant names what is wrong (key, tensor, offset, path).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A parse error inside a named file; `source` says what went wrong.
    #[error("{path}: {source}")]
    InFile {
        path: PathBuf,
        #[source]
        source: Box<Error>,
    },

    /// Where in the structure an inner error happened (`metadata key 'x'`, `tensor info #3`).
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },

    /// Fewer bytes are left than a field or a declared count needs.
    #[error("truncated: {what} at offset {offset} needs {need} bytes, only {have} left")]
    Truncated {
        what: String,
        offset: u64,
        need: u64,
        have: u64,
    },

    #[error("not a GGUF file: magic is {found:02x?} (expected \"GGUF\")")]
    BadMagic { found: Vec<u8> },

    #[error("unsupported GGUF version {version} (only versions 2 and 3 are supported)")]
    UnsupportedVersion { version: u32 },

    /// The GGUF bytes are structurally invalid.
    #[error("invalid GGUF at offset {offset}: {msg}")]
    InvalidGguf { offset: u64, msg: String },

    /// The safetensors bytes or header are invalid.
    #[error("invalid safetensors: {0}")]
    InvalidSafetensors(String),

    #[error("unsupported dtype {dtype} for tensor '{tensor}'")]
    UnsupportedDtype { tensor: String, dtype: String },

    #[error("tensor '{name}' not found in {source_name}")]
    TensorNotFound { name: String, source_name: String },

    #[error("metadata key '{key}' not found")]
    MissingKey { key: String },

    #[error("metadata key '{key}' has type {found}, expected {expected}")]
    WrongType {
        key: String,
        expected: &'static str,
        found: String,
    },

    #[error("unsupported architecture '{0}' (supported: qwen3, llama)")]
    UnsupportedArchitecture(String),

    /// A model configuration value is missing, malformed or not supported.
    #[error("model config: {0}")]
    Config(String),

    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error(transparent)]
    Tensor(#[from] tensor::Error),
}

impl Error {
    /// Wraps `self` with a description of where it happened.
    pub fn context(self, context: impl Into<String>) -> Error {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// Wraps `self` with the file it came from.
    pub fn in_file(self, path: impl Into<PathBuf>) -> Error {
        Error::InFile {
            path: path.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error, past any `Context` / `InFile` wrappers.
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } | Error::InFile { source, .. } => source.root(),
            other => other,
        }
    }
}
