//! `GgufFile`: a parsed GGUF header plus the mapped bytes its tensors point into.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use tensor::{Storage, Tensor};

use super::reader;
use super::tensor_info::GgufTensorInfo;
use super::value::GgufValue;
use crate::mapping::{map_bytes, map_file, release_file_pages};
use crate::weight_source::PageReleaser;
use crate::Error;

/// An opened GGUF file (v2 or v3). Any architecture opens; `ModelConfig::from_gguf` decides support.
#[derive(Debug)]
pub struct GgufFile {
    pub version: u32,
    /// `general.alignment`, or 32.
    pub alignment: u64,
    /// Metadata in file order.
    pub metadata: Vec<(String, GgufValue)>,
    /// Tensor index in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Absolute offset where the (aligned) data section starts.
    pub data_offset: u64,
    map: Arc<Mmap>,
    path: Option<PathBuf>,
}

impl GgufFile {
    /// Maps and parses the file. Errors name the path and what is wrong (key, tensor, offset).
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, Error> {
        let path = path.as_ref();
        let map = map_file(path)?;
        let header = reader::parse(&map).map_err(|e| e.in_file(path))?;
        Ok(GgufFile::from_parts(header, map, Some(path.to_path_buf())))
    }

    /// Parses GGUF bytes held in memory; they are copied into an anonymous map only when valid.
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufFile, Error> {
        let header = reader::parse(bytes)?;
        let map = map_bytes(bytes)?;
        Ok(GgufFile::from_parts(header, map, None))
    }

    fn from_parts(h: reader::Header, map: Arc<Mmap>, path: Option<PathBuf>) -> GgufFile {
        GgufFile {
            version: h.version,
            alignment: h.alignment,
            metadata: h.metadata,
            tensors: h.tensors,
            data_offset: h.data_offset,
            map,
            path,
        }
    }

    /// The file this was opened from (`None` for `from_bytes`).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The path for messages, or `<in-memory GGUF>`.
    pub fn source_name(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<in-memory GGUF>".to_string(),
        }
    }

    pub fn file_size(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor (quantized blocks as stored).
    pub fn tensor_data(&self, info: &GgufTensorInfo) -> Result<&[u8], Error> {
        let (start, len) = self.range_of(info)?;
        self.map
            .get(start..start + len)
            .ok_or_else(|| self.out_of_range(info))
    }

    /// The tensor with storage pointing into the map (no copy).
    pub fn tensor_by_info(&self, info: &GgufTensorInfo) -> Result<Tensor, Error> {
        let (offset, len) = self.range_of(info)?;
        let storage = Storage::Mapped {
            map: Arc::clone(&self.map),
            offset,
            len,
        };
        Tensor::new(info.dtype, info.shape.clone(), storage).map_err(|e| {
            Error::from(e).context(format!("tensor '{}' in {}", info.name, self.source_name()))
        })
    }

    /// Releases the resident pages of bytes `range` of tensors mapped from this file (see
    /// `WeightSource::page_releaser`); `None` for an in-memory GGUF.
    pub(crate) fn file_page_releaser(&self) -> Option<PageReleaser> {
        self.path.as_ref()?;
        let file_map = Arc::clone(&self.map);
        Some(Arc::new(
            move |t: &Tensor, range: std::ops::Range<usize>| {
                let Storage::Mapped { map, offset, len } = &t.storage else {
                    return 0;
                };
                if !Arc::ptr_eq(map, &file_map) || range.start > range.end || range.end > *len {
                    return 0;
                }
                // Advice is only a hint: on failure the pages simply stay resident.
                release_file_pages(map, offset + range.start..offset + range.end).unwrap_or(0)
            },
        ))
    }

    /// Validated `(offset, len)` of `info` inside the map (also guards against edited `tensors`).
    fn range_of(&self, info: &GgufTensorInfo) -> Result<(usize, usize), Error> {
        let start = usize::try_from(info.offset).map_err(|_| self.out_of_range(info))?;
        let end = start
            .checked_add(info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))?;
        if end > self.map.len() {
            return Err(self.out_of_range(info));
        }
        Ok((start, info.n_bytes))
    }

    fn out_of_range(&self, info: &GgufTensorInfo) -> Error {
        Error::InvalidGguf {
            offset: info.offset,
            msg: format!(
                "tensor '{}' data ({} bytes) lies outside the {}-byte file",
                info.name,
                info.n_bytes,
                self.map.len()
            ),
        }
        .in_file(self.source_name())
    }
}
