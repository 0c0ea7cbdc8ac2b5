//! `SafetensorsFile`: a parsed safetensors header plus the mapped bytes.

use std::path::Path;

use tensor::Tensor;

use super::header::{self, SafetensorsTensorInfo};
use crate::mapped_file::MappedFile;
use crate::Error;

#[derive(Debug)]
pub struct SafetensorsFile {
    /// `__metadata__` entries (sorted by key), empty when absent.
    pub metadata: Vec<(String, String)>,
    /// Tensor index sorted by data offset.
    pub tensors: Vec<SafetensorsTensorInfo>,
    /// Absolute offset of the data section (8 + header length).
    pub data_offset: u64,
    file: MappedFile,
}

const ANON: &str = "<in-memory safetensors>";

impl SafetensorsFile {
    pub fn open(path: impl AsRef<Path>) -> Result<SafetensorsFile, Error> {
        let (header, file) = MappedFile::open(path.as_ref(), ANON, header::parse)?;
        Ok(SafetensorsFile::from_parts(header, file))
    }

    /// Parses safetensors bytes held in memory (copied into an anonymous map when valid).
    pub fn from_bytes(bytes: &[u8]) -> Result<SafetensorsFile, Error> {
        let (header, file) = MappedFile::from_bytes(bytes, ANON, header::parse)?;
        Ok(SafetensorsFile::from_parts(header, file))
    }

    fn from_parts(h: header::Header, file: MappedFile) -> SafetensorsFile {
        SafetensorsFile {
            metadata: h.metadata,
            tensors: h.tensors,
            data_offset: h.data_offset,
            file,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.file.path()
    }

    pub fn source_name(&self) -> String {
        self.file.source_name()
    }

    pub fn file_size(&self) -> u64 {
        self.file.len() as u64
    }

    pub fn tensor_info(&self, name: &str) -> Option<&SafetensorsTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor.
    pub fn tensor_data(&self, info: &SafetensorsTensorInfo) -> Result<&[u8], Error> {
        self.file
            .bytes(info.offset, info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))
    }

    /// The named tensor as F32/F16/BF16 with mapped storage (no copy); other dtypes are an error.
    pub fn tensor(&self, name: &str) -> Result<Tensor, Error> {
        let info = self
            .tensor_info(name)
            .ok_or_else(|| Error::TensorNotFound {
                name: name.to_string(),
                source_name: self.source_name(),
            })?;
        self.tensor_by_info(info)
    }

    pub fn tensor_by_info(&self, info: &SafetensorsTensorInfo) -> Result<Tensor, Error> {
        let dtype = info.dtype.ggml_type().ok_or_else(|| {
            Error::UnsupportedDtype {
                tensor: info.name.clone(),
                dtype: info.dtype.name().to_string(),
            }
            .in_file(self.source_name())
        })?;
        let storage = self
            .file
            .storage(info.offset, info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))?;
        Tensor::new(dtype, info.shape.clone(), storage).map_err(|e| {
            Error::from(e).context(format!("tensor '{}' in {}", info.name, self.source_name()))
        })
    }

    fn out_of_range(&self, info: &SafetensorsTensorInfo) -> Error {
        Error::InvalidSafetensors(format!(
            "tensor '{}' data ({} bytes at {}) lies outside the {}-byte file",
            info.name,
            info.n_bytes,
            info.offset,
            self.file.len()
        ))
        .in_file(self.source_name())
    }
}
