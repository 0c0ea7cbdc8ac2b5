//! The mapped bytes of an opened checkpoint and where they came from: what `GgufFile` and
//! `SafetensorsFile` share (their headers differ, their tensors point into such a map alike).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use tensor::Storage;

use crate::mapping::{map_bytes, map_file};
use crate::Error;

#[derive(Debug)]
pub(crate) struct MappedFile {
    map: Arc<Mmap>,
    path: Option<PathBuf>,
    /// The name in messages when there is no path (`<in-memory GGUF>`).
    anon_name: &'static str,
}

impl MappedFile {
    /// Maps `path` and parses its header with `parse`; a parse error names the path.
    pub(crate) fn open<H>(
        path: &Path,
        anon_name: &'static str,
        parse: impl FnOnce(&[u8]) -> Result<H, Error>,
    ) -> Result<(H, MappedFile), Error> {
        let map = map_file(path)?;
        let header = parse(&map).map_err(|e| e.in_file(path))?;
        let path = Some(path.to_path_buf());
        Ok((
            header,
            MappedFile {
                map,
                path,
                anon_name,
            },
        ))
    }

    /// Parses `bytes` held in memory with `parse`; they are copied into an anonymous map only
    /// when valid.
    pub(crate) fn from_bytes<H>(
        bytes: &[u8],
        anon_name: &'static str,
        parse: impl FnOnce(&[u8]) -> Result<H, Error>,
    ) -> Result<(H, MappedFile), Error> {
        let header = parse(bytes)?;
        let map = map_bytes(bytes)?;
        Ok((
            header,
            MappedFile {
                map,
                path: None,
                anon_name,
            },
        ))
    }

    /// The file this was opened from (`None` for in-memory bytes).
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The path for messages, or the in-memory name.
    pub(crate) fn source_name(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => self.anon_name.to_string(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn map(&self) -> &Arc<Mmap> {
        &self.map
    }

    /// `(start, n_bytes)` when `n_bytes` at absolute `offset` lie inside the map.
    fn range(&self, offset: u64, n_bytes: usize) -> Option<(usize, usize)> {
        let start = usize::try_from(offset).ok()?;
        (start.checked_add(n_bytes)? <= self.map.len()).then_some((start, n_bytes))
    }

    /// The `n_bytes` at absolute `offset`, or `None` when they are not all inside the map.
    pub(crate) fn bytes(&self, offset: u64, n_bytes: usize) -> Option<&[u8]> {
        let (start, len) = self.range(offset, n_bytes)?;
        self.map.get(start..start + len)
    }

    /// Tensor storage pointing at those bytes (no copy), or `None` as for [`MappedFile::bytes`].
    pub(crate) fn storage(&self, offset: u64, n_bytes: usize) -> Option<Storage> {
        let (offset, len) = self.range(offset, n_bytes)?;
        Some(Storage::Mapped {
            map: Arc::clone(&self.map),
            offset,
            len,
        })
    }
}
