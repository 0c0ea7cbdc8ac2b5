//! The safetensors header: 8-byte little-endian length, then a JSON object mapping tensor names to
//! `{dtype, shape, data_offsets}` (offsets relative to the data section), plus an optional
//! `__metadata__` string map. Every entry is validated against the data section.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::dtype::SafetensorsDtype;
use crate::Error;

/// Header lengths above this are rejected before reading the JSON (real headers are < 1 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafetensorsTensorInfo {
    pub name: String,
    pub dtype: SafetensorsDtype,
    /// Row-major, as stored.
    pub shape: Vec<usize>,
    /// Absolute offset in the file.
    pub offset: u64,
    pub n_bytes: usize,
}

pub(crate) struct Header {
    pub metadata: Vec<(String, String)>,
    /// Sorted by offset.
    pub tensors: Vec<SafetensorsTensorInfo>,
    pub data_offset: u64,
}

/// A JSON object kept as an ordered list of entries, so duplicate keys are seen instead of merged.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    v.push(entry);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn invalid(msg: String) -> Error {
    Error::InvalidSafetensors(msg)
}

pub(crate) fn parse(buf: &[u8]) -> Result<Header, Error> {
    let len_bytes: [u8; 8] = buf
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            invalid(format!(
                "file has {} bytes, fewer than the 8-byte header length",
                buf.len()
            ))
        })?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "header length {header_len} exceeds the limit of {MAX_HEADER_BYTES} bytes"
        )));
    }
    let file_len = buf.len() as u64;
    let data_offset = 8 + header_len;
    if data_offset > file_len {
        return Err(invalid(format!(
            "header length {header_len} runs past the end of the {file_len}-byte file"
        )));
    }
    let json = buf
        .get(8..data_offset as usize)
        .ok_or_else(|| invalid("header out of range".to_string()))?;
    let Entries(entries) = serde_json::from_slice(json)
        .map_err(|e| invalid(format!("header is not a valid JSON object: {e}")))?;

    let data_len = file_len - data_offset;
    let mut metadata = Vec::new();
    let mut tensors = Vec::with_capacity(entries.len());
    let mut seen = HashSet::with_capacity(entries.len());
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(invalid(format!("duplicate header key '{name}'")));
        }
        if name == "__metadata__" {
            metadata = parse_metadata(value)?;
            continue;
        }
        let t = parse_entry(&name, &value, data_offset, data_len)
            .map_err(|e| e.context(format!("tensor '{name}'")))?;
        tensors.push(t);
    }
    tensors.sort_by_key(|t| t.offset);
    for pair in tensors.windows(2) {
        if let [a, b] = pair {
            let a_end = a.offset + a.n_bytes as u64;
            if b.n_bytes > 0 && a.n_bytes > 0 && b.offset < a_end {
                return Err(invalid(format!(
                    "tensor '{}' data overlaps tensor '{}' (relative offsets {} < {})",
                    b.name,
                    a.name,
                    b.offset - data_offset,
                    a_end - data_offset
                )));
            }
        }
    }
    Ok(Header {
        metadata,
        tensors,
        data_offset,
    })
}

fn parse_metadata(value: Value) -> Result<Vec<(String, String)>, Error> {
    let Value::Object(map) = value else {
        return Err(invalid("__metadata__ is not an object".to_string()));
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(invalid(format!(
                "__metadata__ value of '{k}' is not a string: {other}"
            ))),
        })
        .collect()
}

fn as_usize(v: &Value) -> Option<usize> {
    v.as_u64().and_then(|x| usize::try_from(x).ok())
}

fn parse_entry(
    name: &str,
    v: &Value,
    data_offset: u64,
    data_len: u64,
) -> Result<SafetensorsTensorInfo, Error> {
    let obj = v
        .as_object()
        .ok_or_else(|| invalid(format!("entry is not an object: {v}")))?;
    let dtype_str = obj
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("missing or non-string 'dtype'".to_string()))?;
    let dtype = SafetensorsDtype::parse(dtype_str).ok_or_else(|| Error::UnsupportedDtype {
        tensor: name.to_string(),
        dtype: dtype_str.to_string(),
    })?;
    let shape_v = obj
        .get("shape")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("missing or non-array 'shape'".to_string()))?;
    let shape = shape_v
        .iter()
        .map(as_usize)
        .collect::<Option<Vec<usize>>>()
        .ok_or_else(|| {
            invalid(format!(
                "shape {} has a value that is not a non-negative integer",
                Value::Array(shape_v.clone())
            ))
        })?;
    let offsets = obj
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("missing or non-array 'data_offsets'".to_string()))?;
    let (begin, end) = match offsets.as_slice() {
        [b, e] => (b.as_u64(), e.as_u64()),
        _ => (None, None),
    };
    let (Some(begin), Some(end)) = (begin, end) else {
        return Err(invalid(format!(
            "data_offsets {} is not two non-negative integers",
            Value::Array(offsets.clone())
        )));
    };
    if begin > end || end > data_len {
        return Err(invalid(format!(
            "data_offsets [{begin}, {end}] are not inside the {data_len}-byte data section"
        )));
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| invalid(format!("element count of shape {shape:?} overflows")))?;
    let n_bytes = dtype.n_bytes(numel).ok_or_else(|| {
        invalid(format!(
            "{numel} {dtype} elements are not a whole number of bytes"
        ))
    })?;
    if n_bytes as u64 != end - begin {
        return Err(invalid(format!(
            "shape {shape:?} of {dtype} needs {n_bytes} bytes but data_offsets [{begin}, {end}] hold {}",
            end - begin
        )));
    }
    Ok(SafetensorsTensorInfo {
        name: name.to_string(),
        dtype,
        shape,
        offset: data_offset + begin,
        n_bytes,
    })
}
