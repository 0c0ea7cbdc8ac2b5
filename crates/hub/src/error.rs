//! The hub crate's error: every variant names the argument, repository, file, URL or path involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The argument is neither an existing local path nor a well-formed hub id.
    #[error(
        "'{arg}' is neither an existing local path nor a valid hub id ({reason}); --model takes a \
         GGUF file, a model directory, 'owner/repo' or 'owner/repo:file.gguf', optionally followed \
         by '@revision'"
    )]
    InvalidModelRef { arg: String, reason: String },

    /// The argument looks like a local path (starts with '.', '/' or '~', or names a model file) but
    /// nothing is there.
    #[error("model path {} does not exist{hint}", path.display())]
    LocalPathMissing { path: PathBuf, hint: String },

    /// Offline (INFERNO_OFFLINE=1 or HF_HUB_OFFLINE=1) and the cache does not hold what is asked for.
    #[error(
        "{what} is not in the cache ({}) and downloads are off (offline mode); \
         unset INFERNO_OFFLINE / HF_HUB_OFFLINE on a machine with network to download it",
        dir.display()
    )]
    OfflineMiss { what: String, dir: PathBuf },

    /// 404 from the hub: no such repository, revision or file.
    #[error("{what} was not found at {endpoint} (HTTP 404{code}){hint}")]
    NotFound {
        what: String,
        endpoint: String,
        code: String,
        hint: String,
    },

    /// 401/403 from the hub: private or gated repository, or a refused token.
    #[error("access to {what} was refused by {endpoint} (HTTP {status}{code}): {hint}")]
    AccessDenied {
        what: String,
        endpoint: String,
        status: u16,
        code: String,
        hint: String,
    },

    /// Any other HTTP error status.
    #[error("{url} answered HTTP {status}{code}")]
    HttpStatus {
        url: String,
        status: u16,
        code: String,
    },

    /// The connection failed (DNS, refused, TLS, timeout) before a response arrived.
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },

    /// The body stopped arriving part way; the partial file is kept for the next try to resume.
    #[error(
        "download of {file} was interrupted after {bytes} bytes ({message}); the partial file {} \
         is kept and the next run resumes it",
        part.display()
    )]
    Interrupted {
        file: String,
        bytes: u64,
        part: PathBuf,
        message: String,
    },

    /// The downloaded bytes do not hash to the sha256 the hub announced; the partial is deleted.
    #[error("sha256 mismatch for {file}: the hub announced {expected}, the download hashes to {actual}; the download was deleted")]
    ShaMismatch {
        file: String,
        expected: String,
        actual: String,
    },

    /// The downloaded size differs from the size the hub announced; the partial is deleted.
    #[error("size mismatch for {file}: expected {expected} bytes, got {actual}; the download was deleted")]
    SizeMismatch {
        file: String,
        expected: u64,
        actual: u64,
    },

    /// The repository listing (or a safetensors index) could not be understood.
    #[error("bad answer from {url}: {reason}")]
    BadListing { url: String, reason: String },

    /// A file name from the hub (listing or index) that would escape the cache folder.
    #[error("{repo} lists a file named '{name}', which is not a plain relative path; refusing to write it")]
    UnsafeFileName { repo: String, name: String },

    /// The repository has no Hugging Face model layout (config.json + safetensors).
    #[error("{repo}@{revision} has no {missing}{hint}")]
    NotAModelRepo {
        repo: String,
        revision: String,
        missing: String,
        hint: String,
    },

    /// Local file-system failure, naming the path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An option value (from the environment or the caller) that cannot be used.
    #[error("invalid setting {name}={value}: {reason}")]
    InvalidSetting {
        name: String,
        value: String,
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
