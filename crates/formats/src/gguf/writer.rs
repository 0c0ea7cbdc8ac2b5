//! `GgufWriter`: writes a GGUF v3 file — metadata of every value type, the tensor index, then the
//! tensor data streamed one tensor at a time (each aligned), to `<path>.tmp`, renamed into place by
//! [`GgufWriter::finish`]. Dropping an unfinished writer removes the temporary file.
//!
//! Layout (llama.cpp's `gguf.cpp`): magic `GGUF`, version u32, tensor count u64, metadata count u64,
//! metadata (key string, value type u32, value), tensor infos (name, n_dims u32, `ne` innermost
//! first as u64, type u32, offset u64 relative to the data section), padding to the alignment, data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use quant::GgmlType;

use super::value::{GgufArray, GgufValue};
use crate::Error;

/// The alignment written as `general.alignment` and used for the data section and every tensor.
pub const GGUF_DEFAULT_ALIGNMENT: u64 = 32;

/// One tensor of the index to be written. `shape` is row-major (outermost first), as everywhere in
/// inferno; it is reversed into GGUF's `ne` order when written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufTensorSpec {
    pub name: String,
    pub dtype: GgmlType,
    pub shape: Vec<usize>,
}

impl GgufTensorSpec {
    /// Bytes the tensor's data takes; an error when the innermost dimension is not a whole number
    /// of `dtype` blocks or the size overflows.
    pub fn n_bytes(&self) -> Result<u64, Error> {
        let bad = |msg: String| Error::Config(format!("tensor '{}': {msg}", self.name));
        let ne0 = *self
            .shape
            .last()
            .ok_or_else(|| bad("has no dimensions".into()))?;
        let row = self.dtype.row_bytes(ne0).ok_or_else(|| {
            bad(format!(
                "row length {ne0} is not a multiple of the {} block size {}",
                self.dtype,
                self.dtype.block_size()
            ))
        })?;
        let rows = self
            .shape
            .iter()
            .rev()
            .skip(1)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad("size overflows".into()))?;
        let total = rows
            .checked_mul(row)
            .ok_or_else(|| bad("size overflows".into()))?;
        Ok(total as u64)
    }
}

/// A GGUF file being written. Create it with the complete metadata and tensor index, then hand it
/// each tensor's bytes in index order ([`write_tensor`](Self::write_tensor) or the chunked
/// [`write_tensor_part`](Self::write_tensor_part)), then [`finish`](Self::finish).
pub struct GgufWriter {
    out: Option<BufWriter<File>>,
    tmp_path: PathBuf,
    path: PathBuf,
    tensors: Vec<(GgufTensorSpec, u64)>,
    /// Index of the tensor being written and the bytes of it written so far.
    current: usize,
    current_written: u64,
    /// Bytes written to the file so far.
    pos: u64,
    alignment: u64,
    /// Set once the file is renamed into place; until then Drop removes the temporary file.
    renamed: bool,
}

fn pad_len(pos: u64, alignment: u64) -> u64 {
    (alignment - pos % alignment) % alignment
}

impl GgufWriter {
    /// Creates `<path>.tmp` and writes the header. `general.alignment` is set to 32 (replacing any
    /// value in `metadata`); keys must be unique, tensor names unique and non-empty.
    pub fn create(
        path: impl AsRef<Path>,
        metadata: &[(String, GgufValue)],
        tensors: &[GgufTensorSpec],
    ) -> Result<GgufWriter, Error> {
        let path = path.as_ref().to_path_buf();
        let alignment = GGUF_DEFAULT_ALIGNMENT;

        let mut meta: Vec<(&str, GgufValue)> = Vec::with_capacity(metadata.len() + 1);
        for (k, v) in metadata {
            if k == "general.alignment" {
                continue;
            }
            if meta.iter().any(|(seen, _)| seen == k) {
                return Err(Error::Config(format!("metadata key '{k}' given twice")));
            }
            meta.push((k, v.clone()));
        }
        // After general.architecture when present (llama.cpp reads it from anywhere; keep it early).
        let at = usize::from(
            meta.first()
                .is_some_and(|(k, _)| *k == "general.architecture"),
        );
        meta.insert(
            at,
            (
                "general.alignment",
                GgufValue::U32(GGUF_DEFAULT_ALIGNMENT as u32),
            ),
        );

        let mut sized = Vec::with_capacity(tensors.len());
        let mut offset = 0u64;
        for (i, t) in tensors.iter().enumerate() {
            if t.name.is_empty() {
                return Err(Error::Config(format!("tensor #{i} has an empty name")));
            }
            if tensors[..i].iter().any(|o| o.name == t.name) {
                return Err(Error::Config(format!("tensor '{}' given twice", t.name)));
            }
            if t.shape.is_empty() || t.shape.len() > 4 {
                return Err(Error::Config(format!(
                    "tensor '{}' has {} dimensions (GGUF allows 1 to 4)",
                    t.name,
                    t.shape.len()
                )));
            }
            if t.shape.contains(&0) {
                return Err(Error::Config(format!(
                    "tensor '{}' has an empty dimension: {:?}",
                    t.name, t.shape
                )));
            }
            let n = t.n_bytes()?;
            sized.push((t.clone(), offset));
            offset = offset
                .checked_add(n + pad_len(n, alignment))
                .ok_or_else(|| Error::Config("total tensor size overflows".into()))?;
        }

        let mut header = Vec::new();
        header.extend_from_slice(b"GGUF");
        put_u32(&mut header, 3);
        put_u64(&mut header, sized.len() as u64);
        put_u64(&mut header, meta.len() as u64);
        for (k, v) in &meta {
            put_str(&mut header, k);
            put_u32(&mut header, v.value_type().id());
            put_value(&mut header, v);
        }
        for (t, off) in &sized {
            put_str(&mut header, &t.name);
            put_u32(&mut header, t.shape.len() as u32);
            for &d in t.shape.iter().rev() {
                put_u64(&mut header, d as u64);
            }
            put_u32(&mut header, t.dtype.id());
            put_u64(&mut header, *off);
        }
        let pad = pad_len(header.len() as u64, alignment);
        header.resize(header.len() + pad as usize, 0);

        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp_path = PathBuf::from(tmp_name);
        let file = File::create(&tmp_path).map_err(|source| Error::Io {
            path: tmp_path.clone(),
            source,
        })?;
        let mut w = GgufWriter {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp_path,
            path,
            tensors: sized,
            current: 0,
            current_written: 0,
            pos: 0,
            alignment,
            renamed: false,
        };
        w.raw(&header)?;
        Ok(w)
    }

    /// The tensors of the index, with their data offsets relative to the data section.
    pub fn tensors(&self) -> impl Iterator<Item = (&GgufTensorSpec, u64)> {
        self.tensors.iter().map(|(t, o)| (t, *o))
    }

    /// Writes the whole data of the next tensor, which must be `name`.
    pub fn write_tensor(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        self.write_tensor_part(name, bytes)?;
        let need = self.expected(name)?;
        if self.current_written != need {
            return Err(Error::Config(format!(
                "tensor '{name}': got {} bytes, its type and shape need {need}",
                self.current_written
            )));
        }
        Ok(())
    }

    /// Appends `bytes` to the data of tensor `name` (the current one, or the next once the current
    /// one is complete). Lets a large tensor be produced and written in slabs of rows.
    pub fn write_tensor_part(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let mut need = self.expected_current()?;
        if self.current_written == need && self.current_written > 0 {
            // The current tensor is complete: pad, move to the next.
            self.current += 1;
            self.current_written = 0;
            let pad = pad_len(self.pos, self.alignment);
            self.raw(&vec![0u8; pad as usize])?;
            need = self.expected_current()?;
        }
        let (spec, _) = self
            .tensors
            .get(self.current)
            .ok_or_else(|| Error::Config(format!("tensor '{name}' is past the index")))?;
        if spec.name != name {
            return Err(Error::Config(format!(
                "tensor data out of order: expected '{}', got '{name}'",
                spec.name
            )));
        }
        let after = self.current_written + bytes.len() as u64;
        if after > need {
            return Err(Error::Config(format!(
                "tensor '{name}': {after} bytes written, its type and shape need {need}"
            )));
        }
        self.raw(bytes)?;
        self.current_written = after;
        Ok(())
    }

    /// Flushes, syncs and renames the temporary file into place. Every tensor must be complete.
    pub fn finish(mut self) -> Result<PathBuf, Error> {
        let complete = match self.tensors.len() {
            0 => true,
            n => self.current + 1 == n && self.current_written == self.expected_current()?,
        };
        if !complete {
            let name = self
                .tensors
                .get(self.current)
                .map(|(t, _)| t.name.clone())
                .unwrap_or_default();
            return Err(Error::Config(format!(
                "GGUF not finished: tensor '{name}' (#{}) of {} has {} bytes",
                self.current,
                self.tensors.len(),
                self.current_written
            )));
        }
        let pad = pad_len(self.pos, self.alignment);
        self.raw(&vec![0u8; pad as usize])?;
        let out = self.out.take();
        let io = |source| Error::Io {
            path: self.tmp_path.clone(),
            source,
        };
        if let Some(out) = out {
            let file = out.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&self.tmp_path, &self.path).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })?;
        self.renamed = true;
        Ok(self.path.clone())
    }

    fn expected(&self, name: &str) -> Result<u64, Error> {
        match self.tensors.get(self.current) {
            Some((t, _)) if t.name == name => t.n_bytes(),
            _ => Err(Error::Config(format!(
                "tensor '{name}' is not being written"
            ))),
        }
    }

    fn expected_current(&self) -> Result<u64, Error> {
        match self.tensors.get(self.current) {
            Some((t, _)) => t.n_bytes(),
            None => Ok(0),
        }
    }

    fn raw(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::Config("GGUF writer already finished".into()))?;
        out.write_all(bytes).map_err(|source| Error::Io {
            path: self.tmp_path.clone(),
            source,
        })?;
        self.pos += bytes.len() as u64;
        Ok(())
    }
}

impl Drop for GgufWriter {
    fn drop(&mut self) {
        drop(self.out.take());
        if !self.renamed {
            // Unfinished (an error or a panic on the way): leave no half-written file behind.
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u64(b, s.len() as u64);
    b.extend_from_slice(s.as_bytes());
}

/// The value's bytes without its type id.
fn put_value(b: &mut Vec<u8>, v: &GgufValue) {
    use GgufValue as V;
    match v {
        V::U8(x) => b.push(*x),
        V::I8(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::U16(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::I16(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::U32(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::I32(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::U64(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::I64(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::F32(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::F64(x) => b.extend_from_slice(&x.to_le_bytes()),
        V::Bool(x) => b.push(u8::from(*x)),
        V::String(s) => put_str(b, s),
        V::Array(a) => put_array(b, a),
    }
}

/// Element type id, count, elements. A nested array element carries its own type and count; an
/// empty array of arrays is written with element type `array`.
fn put_array(b: &mut Vec<u8>, a: &GgufArray) {
    use GgufArray as A;
    put_u32(b, a.elem_type().id());
    put_u64(b, a.len() as u64);
    match a {
        A::U8(v) => b.extend_from_slice(v),
        A::I8(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::U16(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::I16(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::U32(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::I32(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::U64(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::I64(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::F32(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::F64(v) => v.iter().for_each(|x| b.extend_from_slice(&x.to_le_bytes())),
        A::Bool(v) => v.iter().for_each(|x| b.push(u8::from(*x))),
        A::String(v) => v.iter().for_each(|s| put_str(b, s)),
        A::Array(v) => v.iter().for_each(|inner| put_array(b, inner)),
    }
}
