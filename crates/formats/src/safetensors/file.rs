//! `SafetensorsFile`: a parsed safetensors header plus the mapped bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use tensor::{Storage, Tensor};

use super::header::{self, SafetensorsTensorInfo};
use crate::mapping::{map_bytes, map_file};
use crate::Error;

#[derive(Debug)]
pub struct SafetensorsFile {
    /// `__metadata__` entries (sorted by key), empty when absent.
    pub metadata: Vec<(String, String)>,
    /// Tensor index sorted by data offset.
    pub tensors: Vec<SafetensorsTensorInfo>,
    /// Absolute offset of the data section (8 + header length).
    pub data_offset: u64,
    map: Arc<Mmap>,
    path: Option<PathBuf>,
}

impl SafetensorsFile {
    pub fn open(path: impl AsRef<Path>) -> Result<SafetensorsFile, Error> {
        let path = path.as_ref();
        let map = map_file(path)?;
        let h = header::parse(&map).map_err(|e| e.in_file(path))?;
        Ok(SafetensorsFile::from_parts(
            h,
            map,
            Some(path.to_path_buf()),
        ))
    }

    /// Parses safetensors bytes held in memory (copied into an anonymous map when valid).
    pub fn from_bytes(bytes: &[u8]) -> Result<SafetensorsFile, Error> {
        let h = header::parse(bytes)?;
        let map = map_bytes(bytes)?;
        Ok(SafetensorsFile::from_parts(h, map, None))
    }

    fn from_parts(h: header::Header, map: Arc<Mmap>, path: Option<PathBuf>) -> SafetensorsFile {
        SafetensorsFile {
            metadata: h.metadata,
            tensors: h.tensors,
            data_offset: h.data_offset,
            map,
            path,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn source_name(&self) -> String {
        match &self.path {
            Some(p) => p.display().to_string(),
            None => "<in-memory safetensors>".to_string(),
        }
    }

    pub fn file_size(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn tensor_info(&self, name: &str) -> Option<&SafetensorsTensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The raw bytes of a tensor.
    pub fn tensor_data(&self, info: &SafetensorsTensorInfo) -> Result<&[u8], Error> {
        let (start, len) = self.range_of(info)?;
        self.map
            .get(start..start + len)
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
        let (offset, len) = self.range_of(info)?;
        let storage = Storage::Mapped {
            map: Arc::clone(&self.map),
            offset,
            len,
        };
        Tensor::new(dtype, info.shape.clone(), storage).map_err(|e| {
            Error::from(e).context(format!("tensor '{}' in {}", info.name, self.source_name()))
        })
    }

    fn range_of(&self, info: &SafetensorsTensorInfo) -> Result<(usize, usize), Error> {
        let start = usize::try_from(info.offset).map_err(|_| self.out_of_range(info))?;
        let end = start
            .checked_add(info.n_bytes)
            .ok_or_else(|| self.out_of_range(info))?;
        if end > self.map.len() {
            return Err(self.out_of_range(info));
        }
        Ok((start, info.n_bytes))
    }

    fn out_of_range(&self, info: &SafetensorsTensorInfo) -> Error {
        Error::InvalidSafetensors(format!(
            "tensor '{}' data ({} bytes at {}) lies outside the {}-byte file",
            info.name,
            info.n_bytes,
            info.offset,
            self.map.len()
        ))
        .in_file(self.source_name())
    }
}
