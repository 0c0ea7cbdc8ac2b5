//! `WeightSource`: how model loaders get tensors by checkpoint name, whatever the file format.
//! Tensors come back with mapped storage (no copy) and row-major shapes.

use std::ops::Range;
use std::sync::Arc;

use tensor::Tensor;

use crate::{Error, GgufFile, HfModelDir};

/// Drops this process's resident copies of bytes `range` of a tensor the source handed out (see
/// [`WeightSource::page_releaser`]); returns the bytes released (whole pages only; 0 when the
/// tensor is not one of the source's mapped tensors).
pub type PageReleaser = Arc<dyn Fn(&Tensor, Range<usize>) -> usize + Send + Sync>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// GGUF names (`blk.3.attn_q.weight`); Llama q/k rows were permuted by the converter.
    Gguf,
    /// Hugging Face names (`model.layers.3.self_attn.q_proj.weight`).
    HuggingFace,
}

pub trait WeightSource {
    fn kind(&self) -> SourceKind;
    /// The named tensor; a missing one is `Error::TensorNotFound` naming the tensor and the file/dir.
    fn tensor(&self, name: &str) -> Result<Tensor, Error>;
    fn tensor_names(&self) -> Vec<String>;
    fn has(&self, name: &str) -> bool;
    /// For loaders that copy a tensor into another layout and never read the original again:
    /// releases the mapped pages of the copied bytes so that resident memory holds one copy, not
    /// two. Reading released bytes later stays correct (they come back from the file) but costs
    /// memory and time again. `None` when the source cannot release pages (in-memory bytes).
    fn page_releaser(&self) -> Option<PageReleaser> {
        None
    }
}

impl WeightSource for GgufFile {
    fn kind(&self) -> SourceKind {
        SourceKind::Gguf
    }

    fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| Error::TensorNotFound {
                name: name.to_string(),
                source_name: self.source_name(),
            })?;
        self.tensor_by_info(info)
    }

    /// In file order.
    fn tensor_names(&self) -> Vec<String> {
        self.tensors.iter().map(|t| t.name.clone()).collect()
    }

    fn has(&self, name: &str) -> bool {
        self.tensor_info(name).is_some()
    }

    /// Only for a GGUF opened from a file (`from_bytes` maps anonymous memory, which would read
    /// back as zeros).
    fn page_releaser(&self) -> Option<PageReleaser> {
        self.file_page_releaser()
    }
}

impl WeightSource for HfModelDir {
    fn kind(&self) -> SourceKind {
        SourceKind::HuggingFace
    }

    fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        self.tensor_impl(name)
    }

    /// Sorted.
    fn tensor_names(&self) -> Vec<String> {
        self.names()
    }

    fn has(&self, name: &str) -> bool {
        self.contains(name)
    }
}
