//! The tokenizer crate's error type.

/// Everything that can go wrong while building a tokenizer or rendering a chat template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `tokenizer.json` / `tokenizer_config.json` / a JSON value is not valid JSON.
    #[error("invalid JSON in {what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// A required field is missing or has the wrong type.
    #[error("{what}: field `{field}` is missing or not {expected}")]
    Field {
        what: String,
        field: String,
        expected: String,
    },

    /// A tokenizer feature we do not implement (named so the user knows what to report).
    #[error("unsupported {what}: {detail}")]
    Unsupported { what: String, detail: String },

    /// A merge rule names a token that is not in the vocabulary, or is malformed.
    #[error("merge rule #{index} ({rule:?}): {reason}")]
    BadMerge {
        index: usize,
        rule: String,
        reason: String,
    },

    /// Token ids in the vocabulary are inconsistent (duplicates, out of range, gaps).
    #[error("vocabulary: {0}")]
    Vocab(String),

    /// A chat template failed to parse or to render.
    #[error("chat template: {0}")]
    Template(#[from] minijinja::Error),
}

impl Error {
    pub(crate) fn field(what: &str, field: &str, expected: &str) -> Error {
        Error::Field {
            what: what.to_string(),
            field: field.to_string(),
            expected: expected.to_string(),
        }
    }

    pub(crate) fn unsupported(what: &str, detail: impl Into<String>) -> Error {
        Error::Unsupported {
            what: what.to_string(),
            detail: detail.into(),
        }
    }
}
