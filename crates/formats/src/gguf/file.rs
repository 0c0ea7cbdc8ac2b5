//! `GgufFile`: a parsed GGUF header plus the mapped bytes its tensors point into.

use std::path::Path;
use std::sync::Arc;

use tensor::{Storage, Tensor};

use super::reader;
use super::tensor_info::GgufTensorInfo;
use super::value::GgufValue;
use crate::mapped_file::MappedFile;
use crate::mapping::release_file_pages;
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
    file: MappedFile,
}

const ANON: &str = "<in-memory GGUF>";

impl GgufFile {
    /// Maps and parses the file. Errors name the path and what is wrong (key, tensor, offset).
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, Error> {
        let (header, file) = MappedFile::open(path.as_ref(), ANON, reader::parse)?;
        Ok(GgufFile::from_parts(header, file))
    }

    /// Parses GGUF bytes held in memory; they are copied into an anonymous map only when valid.
    pub fn from_bytes(bytes: &[u8]) -> Result<GgufFile, Error> {
        let (header, file) = MappedFile::from_bytes(bytes, ANON, reader::parse)?;
        Ok(GgufFile::from_parts(header, file))
    }

    fn from_parts(h: reader::Header, file: MappedFile) -> GgufFile {
        GgufFile {
            version: h.version,
            alignment: h.alignment,
            metadata: h.metadata,
            tensors: h.tensors,
            data_offset: h.data_offset,
            file,
        }
    }

    /// The file this was opened from (`None` for `from_bytes`).
    pub fn path(&self) -> Option<&Path> {
        self.file.path()
    }

    /// The path for messages, or `<in-memory GGUF>`.
    pub fn source_name(&self) -> String {
        self.file.source_name()
    }

    pub fn file_size(&self) -> u64 {
        self.file.len() as u64
    }

    pub fn tensor_info(&self, name: &str) -> Option<&GgufTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor (quantized blocks as stored).
    pub fn tensor_data(&self, info: &GgufTensorInfo) -> Result<&[u8], Error> {
        self.file
            .bytes(info.offset, info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))
    }

    /// The tensor with storage pointing into the map (no copy).
    pub fn tensor_by_info(&self, info: &GgufTensorInfo) -> Result<Tensor, Error> {
        let storage = self
            .file
            .storage(info.offset, info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))?;
        Tensor::new(info.dtype, info.shape.clone(), storage).map_err(|e| {
            Error::from(e).context(format!("tensor '{}' in {}", info.name, self.source_name()))
        })
    }

    /// Releases the resident pages of bytes `range` of tensors mapped from this file (see
    /// `WeightSource::page_releaser`); `None` for an in-memory GGUF.
    pub(crate) fn file_page_releaser(&self) -> Option<PageReleaser> {
        self.file.path()?;
        let file_map = Arc::clone(self.file.map());
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

    fn out_of_range(&self, info: &GgufTensorInfo) -> Error {
        Error::InvalidGguf {
            offset: info.offset,
            msg: format!(
                "tensor '{}' data ({} bytes) lies outside the {}-byte file",
                info.name,
                info.n_bytes,
                self.file.len()
            ),
        }
        .in_file(self.source_name())
    }
}
